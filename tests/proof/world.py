"""One seeded world per test module (moto in-process, localstripe, the chalice test client), for the
proof tests that send many requests at the same data: hostile inputs and the authorization matrix.

Account A (payg, linked, usd) has an owner, a revoked member, devices, a card on file, billing items
(linked, unlinked, one with a pending cancellation), One-time invoices, a credit and a card payment;
account B has its own owner, device, item, invoice and payment. Every id is real, so a request with
one of them reaches the handler unless something refuses it first.
"""

from __future__ import annotations

import itertools
import json
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import boto3
import pytest
from pydantic import BaseModel

from bench.ddb_counter import Counts, counting
from functions.accounts.schemas import CreateAccount, CreateDevice, GrantMember, RevokeMember, UpdateAccount
from functions.billing_items import store as items_store
from functions.billing_items.schemas import BulkRequest, CancelRequest, LinkDevice, ProvisionItem
from functions.core import clock, ledger_store
from functions.core.auth import SCOPES
from functions.core.http import RouteSpec
from functions.core.resources import bucket_name
from functions.events.webhook_schemas import EndpointIn, EndpointPatch, RedeliverIn
from functions.invoices.schemas import ChargeRequest, CloseRequest, CreditRequest, RefundRequest
from functions.payments.schemas import CardChangeRequest, PaymentRequest, SupportTicketRequest, UpgradeRequest
from functions.usage.rate_schemas import RateIn
from functions.usage.schemas import BudgetIn, UsageBatch
from tests.integration.conftest import Api, moto_with_tables, queues_and_mail_created
from tests.integration.payments_helpers import Payments
from tests.integration.test_invoices import _post as admin_post
from tests.integration.test_payment_method import CONTACT

ALL_SCOPES = SCOPES  # read, write, admin, usage
OPERATOR = "proof-operator"

# AWS calls that change something (DynamoDB writes are counted as items written).
WRITE_CALLS = {
    ("sqs", "SendMessage"),
    ("sqs", "SendMessageBatch"),
    ("sesv2", "SendEmail"),
    ("ses", "SendEmail"),
    ("ses", "SendRawEmail"),
    ("s3", "PutObject"),
    ("s3", "DeleteObject"),
}


@dataclass
class Tenant:
    """One account and the ids of what it owns."""

    id: str
    owner_sub: str
    owner_token: str
    devices: list[str] = field(default_factory=list)
    items: dict[str, str] = field(default_factory=dict)  # role in the tests -> item id
    invoices: list[str] = field(default_factory=list)
    payments: list[str] = field(default_factory=list)
    tickets: list[str] = field(default_factory=list)
    name: str = ""
    email: str = ""

    def owned_ids(self) -> set[str]:
        return {self.id, *self.devices, *self.items.values(), *self.invoices, *self.payments, *self.tickets}


@dataclass
class World:
    api: Api
    helper: Payments
    a: Tenant
    b: Tenant
    operator: str  # a token with every scope, no membership needed
    revoked_sub: str
    revoked_token: str
    spare_member: str  # a viewer of A, for DELETE members
    fresh_setup_intent: str  # confirmed by Stripe.js, not yet submitted: for PUT payment-method
    # The lifecycle routes act on accounts of their own (a lite account each), so that every positive case
    # succeeds whatever the order: upgrading, closing or unlinking account A would change what the others see.
    account_for: dict[str, str] = field(default_factory=dict)
    upgrade_setup_intent: str = ""  # confirmed for the lite account that POST …/upgrade acts on
    # webhook endpoints: "endpoint" for the routes that read or change one, "doomed" for DELETE; "event" has
    # a delivery to "endpoint" (what POST /v1/events/{event_id}/redeliver sends again)
    webhooks: dict[str, str] = field(default_factory=dict)

    def call(self, method: str, path: str, body: Any = None, **kwargs: Any) -> tuple[int, Any, dict[str, str]]:
        return self.api.call(method, path, body, **kwargs)

    def state(self, account_id: str) -> tuple[Any, ...]:
        """What a refused request must leave unchanged: balance, ledger entries, invoices, items."""
        balance = ledger_store.get_balance(account_id)
        entries = ledger_store.entries(account_id)
        invoices = sorted((i.id, i.total, i.balance_due) for i in ledger_store.all_invoices(account_id))
        items, _ = items_store.list_items(
            account_id, view="all", device_id=None, status=None, category=None, limit=100, last_key=None
        )
        return balance, len(entries), invoices, sorted(repr(i) for i in items)


def _provision(api: Api, account_id: str, fee: int, device_id: str | None = None) -> str:
    body: dict[str, Any] = {"description": "Bare metal server", "category": "server", "recurring_fee": fee}
    if device_id:
        body["device_id"] = device_id
    return admin_post(api, account_id, "billing-items", body)["item"]["id"]


def _tenant(api: Api, helper: Payments, name: str, email: str) -> Tenant:
    contact = {
        "name": "Ada Lovelace",
        "email": email,
        "address": {"line1": "1 Main St", "city": "Springfield", "postal_code": "12345", "country": "US"},
    }
    account_id = api.create_account(name=name, billing_contact=contact)["id"]
    owner = f"owner-{account_id}"
    tenant = Tenant(
        id=account_id, owner_sub=owner, owner_token=api.member_token(account_id, sub=owner), name=name, email=email
    )
    for n in range(2):
        status, device, _ = api.call(
            "POST", f"/v1/accounts/{account_id}/devices", {"name": f"gw-{n}", "kind": "gateway"}, token=api.admin
        )
        assert status == 201, device
        tenant.devices.append(device["id"])
    tenant.invoices += [helper.charge(account_id, 12_000), helper.charge(account_id, 3_000)]
    helper.change_card(account_id, tenant.owner_token)
    tenant.items["linked"] = _provision(api, account_id, 4_000, tenant.devices[0])
    tenant.items["unlinked"] = _provision(api, account_id, 1_000)
    tenant.items["pending"] = _provision(api, account_id, 500, tenant.devices[1])
    tenant.items["cancel"] = _provision(api, account_id, 700)
    tenant.items["bulk"] = _provision(api, account_id, 900)
    status, out, _ = api.call(
        "POST",
        f"/v1/accounts/{account_id}/billing-items/{tenant.items['pending']}/cancellation",
        {"when": "anniversary"},
        token=api.admin,
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    assert status == 201, out
    status, paid, _ = helper.pay(account_id, tenant.owner_token, {"amount": 2_000})
    assert status == 201 and paid["status"] == "succeeded", paid
    tenant.payments.append(paid["id"])
    ticket = {"subject": "Invoice question", "message": "Who do I call?"}
    status, opened, _ = api.call("POST", f"/v1/accounts/{account_id}/support-tickets", ticket, token=tenant.owner_token)
    assert status == 201, opened
    tenant.tickets.append(opened["ticket_id"])
    return tenant


def build_world(api: Api, helper: Payments, mint: Any) -> World:
    a = _tenant(api, helper, "Acme Robotics", "ada@acme.example")
    b = _tenant(api, helper, "Other Corp", "bob@other.example")
    revoked = f"revoked-{a.id}"
    revoked_token = api.member_token(a.id, sub=revoked)
    status, out, _ = api.call("DELETE", f"/v1/accounts/{a.id}/members", {"sub": revoked}, token=api.admin)
    assert status == 200, out
    spare = f"viewer-{a.id}"
    api.member_token(a.id, sub=spare, role="viewer")
    # v4: usage is priced by the rate card (records carry no price)
    rate = {"currency": "usd", "unit_amount_decimal": "1.5", "effective_from": "2020-01-01"}
    for metric in ("vcpu-hours", RATE_METRIC):
        status, out, _ = api.call("PUT", f"/v1/rates/compute/{metric}", rate, token=api.admin)
        assert status == 200, out
    # what the rate and budget routes act on: A's own rate of RATE_METRIC (from tomorrow: its retirement
    # by the matrix's DELETE is dated today) and A's budget (the matrix's DELETE removes it)
    tomorrow = (clock.today() + timedelta(days=1)).isoformat()
    own = {"unit_amount_decimal": "1.2", "effective_from": tomorrow}
    status, out, _ = api.call("PUT", f"/v1/accounts/{a.id}/rates/compute/{RATE_METRIC}", own, token=api.admin)
    assert status == 200, out
    status, out, _ = api.call("PUT", f"/v1/accounts/{a.id}/budget", {"amount": 100_000}, token=api.admin)
    assert status == 200, out
    account_for, upgrade_setup_intent = _lifecycle_accounts(api, helper)
    webhooks = _webhooks(api)
    return World(
        api=api,
        helper=helper,
        a=a,
        b=b,
        operator=mint(OPERATOR, *ALL_SCOPES),
        revoked_sub=revoked,
        revoked_token=revoked_token,
        spare_member=spare,
        fresh_setup_intent=helper.confirmed_setup(a.id, a.owner_token),
        account_for=account_for,
        upgrade_setup_intent=upgrade_setup_intent,
        webhooks=webhooks,
    )


WEBHOOK_URL = "http://127.0.0.1:9/hooks"  # the test stage accepts the loopback receiver; nothing is POSTed


def _webhooks(api: Api) -> dict[str, str]:
    from functions.events import webhook_secrets
    from functions.events import webhook_store as store

    webhook_secrets.reset_client()
    webhook_secrets.create_key()
    ids = {}
    for role in ("endpoint", "doomed"):
        body = {"url": WEBHOOK_URL, "event_types": ["*"]}
        status, out, _ = api.call(
            "POST", "/v1/webhook-endpoints", body, token=api.admin, headers={"Idempotency-Key": str(uuid.uuid4())}
        )
        assert status == 201, out
        ids[role] = out["id"]
    ids["event"] = "evt_" + "w" * 20
    event = {
        "id": ids["event"],
        "type": "invoice.issued",
        "created_at": "2026-12-01T00:00:00.000Z",
        "account_id": None,
        "sequence": 1,
        "data": {"object": {}},
        "api_version": "v1",
    }
    store.save_delivery(store.Delivery(ids["event"], ids["endpoint"], event, "delivered", 1))
    return ids


def _lifecycle_accounts(api: Api, helper: Payments) -> tuple[dict[str, str], str]:
    """A lite account per lifecycle route (upgrade, closure, link, unlink: linked or not as the route
    needs), and a SetupIntent confirmed for the one being upgraded."""
    wanted = {
        "PATCH /v1/accounts/{account_id}": False,
        "POST /v1/accounts/{account_id}/upgrade": False,
        "POST /v1/accounts/{account_id}/closure": False,
        "POST /v1/accounts/{account_id}/link": False,
        "DELETE /v1/accounts/{account_id}/link": True,
    }
    accounts = {op: api.create_account(type="lite", linked=linked)["id"] for op, linked in wanted.items()}
    upgrading = accounts["POST /v1/accounts/{account_id}/upgrade"]
    owner = api.member_token(upgrading, sub=f"owner-{upgrading}")
    return accounts, helper.confirmed_setup(upgrading, owner)


@pytest.fixture(scope="module")
def world(stripe_server, mint) -> Iterator[World]:
    """A module's own moto, tables, queues, mail, test client and seeded accounts A and B."""
    from chalice.test import Client

    from app import app

    with moto_with_tables(), queues_and_mail_created() as sqs, Client(app) as client:
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=bucket_name())  # invoice PDFs
        api = Api(client, mint)
        yield build_world(api, Payments(api, client, stripe_server, sqs), mint)


# Which of account A's billing items a route acts on, so every positive case can succeed in turn.
ITEM_FOR = {
    "DELETE /v1/accounts/{account_id}/billing-items/{item_id}/cancellation": "pending",
    "POST /v1/accounts/{account_id}/billing-items/{item_id}/cancellation": "cancel",
    "DELETE /v1/accounts/{account_id}/billing-items/{item_id}/device": "linked",
    "PUT /v1/accounts/{account_id}/billing-items/{item_id}/device": "unlinked",
}


# The rate routes' (service, metric): a metric of its own, so retiring it leaves the usage route's alone.
RATE_METRIC = "auth-matrix"
_RATE_DAYS = itertools.count(1)


def _rate(w: World) -> dict[str, Any]:
    """A new version each time (versions are immutable): a later effective date every call."""
    start = clock.today() + timedelta(days=365 + next(_RATE_DAYS))
    return {"currency": "usd", "unit_amount_decimal": "1.5", "effective_from": start.isoformat()}


def _usage(w: World) -> dict[str, Any]:
    record = {
        "id": str(uuid.uuid4()),
        "account_id": w.a.id,
        "service": "compute",
        "metric": "vcpu-hours",
        "quantity": 3,
        "occurred_at": clock.iso(clock.now()),  # the clock billow reads (BILLOW_TODAY moves it)
    }
    return {"records": [record]}


# A valid body per body model, for account A of the world.
SAMPLE_BODIES: dict[type[BaseModel], Callable[[World], dict[str, Any]]] = {
    CreateAccount: lambda w: (
        {"type": "payg", "linked": True, "currency": "usd", "name": "New Co"} | {"billing_contact": CONTACT}
    ),
    ProvisionItem: lambda w: {"description": "Block storage", "category": "storage", "recurring_fee": 800},
    BulkRequest: lambda w: {"action": "associate", "item_ids": [w.a.items["bulk"]], "device_id": w.a.devices[1]},
    CancelRequest: lambda w: {"when": "anniversary", "reason": "moving to another plan"},
    LinkDevice: lambda w: {"device_id": w.a.devices[0]},
    ChargeRequest: lambda w: {"description": "Support plan", "amount": 1_500},
    CreditRequest: lambda w: {"amount": 500, "reason": "goodwill"},
    CreateDevice: lambda w: {"name": "gw-new", "kind": "gateway"},
    RevokeMember: lambda w: {"sub": w.spare_member},
    GrantMember: lambda w: {"sub": "new-viewer", "role": "viewer"},
    CardChangeRequest: lambda w: {"setup_intent_id": w.fresh_setup_intent, "billing_contact": CONTACT},
    PaymentRequest: lambda w: {"amount": 1_000},
    RefundRequest: lambda w: {"amount": 100, "reason": "goodwill", "invoice_id": w.a.invoices[1]},
    SupportTicketRequest: lambda w: {"subject": "Help", "message": "Please call me", "payment_id": w.a.payments[0]},
    UsageBatch: _usage,
    RateIn: _rate,
    BudgetIn: lambda w: {"amount": 50_000, "thresholds": [50, 80, 100]},
    UpdateAccount: lambda w: {"locale": "fr", "invoice_emails": False},
    UpgradeRequest: lambda w: {"setup_intent_id": w.upgrade_setup_intent, "billing_contact": CONTACT},
    CloseRequest: lambda w: {"when": "now"},
    EndpointIn: lambda w: {"url": WEBHOOK_URL, "event_types": ["invoice.issued"], "description": "CRM"},
    EndpointPatch: lambda w: {"description": "renamed"},
    RedeliverIn: lambda w: {},
}


@dataclass
class Request:
    method: str
    path: str
    body: dict[str, Any] | None
    headers: dict[str, str]

    def carried(self) -> str:
        return self.path + json.dumps(self.body)


def build_request(spec: RouteSpec, w: World) -> Request:
    """The request the route's declaration describes, with account A's real ids and a valid body."""
    params = {
        "account_id": w.account_for.get(spec.operation, w.a.id),
        "item_id": w.a.items[ITEM_FOR.get(spec.operation, "linked")],
        "invoice_id": w.a.invoices[0],
        "payment_id": w.a.payments[0],
        "ticket_id": w.a.tickets[0],
        "service": "compute",
        "metric": RATE_METRIC,
        "endpoint_id": w.webhooks[
            "doomed" if spec.operation == "DELETE /v1/webhook-endpoints/{endpoint_id}" else "endpoint"
        ],
        "event_id": w.webhooks["event"],
    }
    path = spec.path.format(**params)
    body = None
    if spec.body is not None:
        assert spec.body in SAMPLE_BODIES, f"{spec.operation}: add a valid {spec.body.__name__} to SAMPLE_BODIES"
        body = SAMPLE_BODIES[spec.body](w)
        spec.body.model_validate(body)  # the sample is valid for the model, so only auth can refuse it
    headers = {"Idempotency-Key": str(uuid.uuid4())} if spec.idempotent else {}
    return Request(spec.method, path, body, headers)


@dataclass
class Effects:
    """What a block of requests did outside the process: AWS writes and requests to the Stripe port."""

    aws: list[str] = field(default_factory=list)
    stripe: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.aws or self.stripe)


@contextmanager
def observed(w: World) -> Iterator[Effects]:
    effects = Effects()
    stripe_before = len(w.helper.stripe.requests())
    with counting() as counts:
        yield effects
    effects.aws = writes(counts)
    effects.stripe = [f"{r.method} {r.path}" for r in w.helper.stripe.requests()[stripe_before:]]


def writes(counts: Counts) -> list[str]:
    """The writes a block of requests made: DynamoDB items written, messages sent, objects put."""
    out = [f"dynamodb {op}" for op in ("PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem")]
    found = [name for name in out if counts.calls[name.split()[1]]]
    found += [f"{service} {op}" for (service, op) in counts.other if (service, op) in WRITE_CALLS]
    return found
