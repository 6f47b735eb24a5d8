"""Account routes: creation and members (operators), devices, the audit trail."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, TypeVar

from chalice import Blueprint
from pydantic import BaseModel

from functions.accounts import service
from functions.accounts.schemas import (
    Account,
    CreateAccount,
    CreateDevice,
    Device,
    DeviceList,
    EventList,
    GrantMember,
    Member,
    RevokeMember,
    account_view,
)
from functions.core import queues
from functions.core.audit import Actor
from functions.core.auth import ADMIN, READ
from functions.core.http import Call, api
from functions.core.middleware import deployed_worker
from functions.core.resources import SES_FEEDBACK, queue_name
from functions.core.schemas import PageQuery

bp = Blueprint(__name__)

ACCOUNT = "/v1/accounts/{account_id}"
guard = service.account_guard()
devices = service.account_guard("devices")
M = TypeVar("M", bound=BaseModel)


@api(
    bp,
    "POST",
    "/v1/accounts",
    scope=ADMIN,
    summary="Create an account (operator)",
    body=CreateAccount,
    response=Account,
    status=201,
    problems=((422, "collection-not-allowed"),),
)
def create_account(call: Call) -> Account:
    body: CreateAccount = call.body
    assert call.identity is not None
    record = service.create_account(
        Actor(call.identity.sub, "operator"),
        type=body.type,
        linked=body.linked,
        currency=body.currency,
        locale=body.locale,
        name=body.name,
        billing_contact=body.billing_contact.model_dump(mode="json"),
        billing_day=body.billing_day,
        collection=body.collection,
        net_days=body.net_days,
    )
    return _account(record)


def _account(record: service.AccountRecord) -> Account:
    return account_view(record)


@api(bp, "POST", f"{ACCOUNT}/members", scope=ADMIN, body=GrantMember, response=Member, status=201, guard=guard)
def grant_member(call: Call, account_id: str) -> Member:
    """Grant a caller access to the account (operator)"""
    return _view(Member, service.grant_member(call.account, call.body.sub, call.body.role))


@api(
    bp,
    "DELETE",
    f"{ACCOUNT}/members",
    scope=ADMIN,
    body=RevokeMember,
    response=Member,
    guard=guard,
    problems=((404, "member-not-found"),),
)
def revoke_member(call: Call, account_id: str) -> Member:
    """Revoke a caller's access (operator)"""
    return _view(Member, service.revoke_member(call.account, call.body.sub))


@api(bp, "POST", f"{ACCOUNT}/devices", scope=ADMIN, body=CreateDevice, response=Device, status=201, guard=devices)
def create_device(call: Call, account_id: str) -> Device:
    """Register a device (operator)"""
    return _view(Device, service.create_device(call.account, call.body.name, call.body.kind))


@api(bp, "GET", f"{ACCOUNT}/devices", scope=READ, query=PageQuery, response=DeviceList, guard=devices)
def list_devices(call: Call, account_id: str) -> DeviceList:
    """The account's devices"""
    rows, next_cursor = service.list_devices(account_id, call.query.limit, call.query.cursor, "devices")
    return DeviceList(data=[_view(Device, d) for d in rows], next_cursor=next_cursor)


@api(bp, "GET", f"{ACCOUNT}/events", scope=READ, query=PageQuery, response=EventList, guard=guard)
def list_events(call: Call, account_id: str) -> EventList:
    """The account's audit trail, newest first"""
    rows, next_cursor = service.list_events(account_id, call.query.limit, call.query.cursor, "events")
    return EventList(data=rows, next_cursor=next_cursor)


def _view(model: type[M], record: Any) -> M:
    """A service's record (a dataclass) as its response model."""
    return model.model_validate(asdict(record))


@deployed_worker
@bp.on_sqs_message(queue=queue_name(SES_FEEDBACK), batch_size=10, name="ses_feedback", maximum_concurrency=2)
def ses_feedback(event: Any) -> dict[str, Any]:
    """The `ses-feedback` consumer: SES bounces and complaints suppress the address (partial batch failures)."""
    return queues.process_batch(SES_FEEDBACK, event, service.handle_ses_feedback)
