"""Account routes: creation and members (operators), devices, the audit trail."""

from __future__ import annotations

from dataclasses import asdict

from chalice import Blueprint

from functions.accounts import service
from functions.accounts.schemas import (
    Account,
    CreateAccount,
    CreateDevice,
    Device,
    DeviceList,
    Event,
    EventList,
    GrantMember,
    Member,
    RevokeMember,
)
from functions.core.audit import Actor
from functions.core.auth import ADMIN, READ
from functions.core.http import Call, api
from functions.core.schemas import PageQuery

bp = Blueprint(__name__)

ACCOUNT = "/v1/accounts/{account_id}"


@api(
    bp,
    "POST",
    "/v1/accounts",
    scope=ADMIN,
    summary="Create an account (operator)",
    body=CreateAccount,
    response=Account,
    status=201,
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
    )
    return _account(record)


def _account(record: service.AccountRecord) -> Account:
    data = asdict(record)
    data["next_recurring_invoice_date"] = data.pop("next_recurring_date")
    data["last_recurring_invoice_date"] = data.pop("last_recurring_date")
    return Account.model_validate(data)


@api(
    bp,
    "POST",
    f"{ACCOUNT}/members",
    scope=ADMIN,
    summary="Grant a caller access to the account (operator)",
    body=GrantMember,
    response=Member,
    status=201,
    guard=service.account_guard(),
)
def grant_member(call: Call, account_id: str) -> Member:
    record = service.grant_member(call.account, call.body.sub, call.body.role)
    return Member.model_validate(asdict(record))


@api(
    bp,
    "DELETE",
    f"{ACCOUNT}/members",
    scope=ADMIN,
    summary="Revoke a caller's access (operator)",
    body=RevokeMember,
    response=Member,
    guard=service.account_guard(),
)
def revoke_member(call: Call, account_id: str) -> Member:
    record = service.revoke_member(call.account, call.body.sub)
    return Member.model_validate(asdict(record))


@api(
    bp,
    "POST",
    f"{ACCOUNT}/devices",
    scope=ADMIN,
    summary="Register a device (operator)",
    body=CreateDevice,
    response=Device,
    status=201,
    guard=service.account_guard("devices"),
)
def create_device(call: Call, account_id: str) -> Device:
    record = service.create_device(call.account, call.body.name, call.body.kind)
    return Device.model_validate(asdict(record))


@api(
    bp,
    "GET",
    f"{ACCOUNT}/devices",
    scope=READ,
    summary="The account's devices",
    query=PageQuery,
    response=DeviceList,
    guard=service.account_guard("devices"),
)
def list_devices(call: Call, account_id: str) -> DeviceList:
    devices, next_cursor = service.list_devices(account_id, call.query.limit, call.query.cursor, "devices")
    return DeviceList(data=[Device.model_validate(asdict(d)) for d in devices], next_cursor=next_cursor)


@api(
    bp,
    "GET",
    f"{ACCOUNT}/events",
    scope=READ,
    summary="The account's audit trail, newest first",
    query=PageQuery,
    response=EventList,
    guard=service.account_guard(),
)
def list_events(call: Call, account_id: str) -> EventList:
    events, next_cursor = service.list_events(account_id, call.query.limit, call.query.cursor, "events")
    return EventList(data=[Event.model_validate(asdict(e)) for e in events], next_cursor=next_cursor)
