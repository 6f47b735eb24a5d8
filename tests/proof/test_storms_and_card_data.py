"""Proof suite, one running local stack (issue 10, deliverables 1 and 7).

1. Idempotency storms: for payments, charges, credits, refunds, cancellation and bulk, STORM_REQUESTS
   concurrent identical requests with one `Idempotency-Key`, over HTTP to `chalice local` (moto behind
   its lock, localstripe behind the shim) → exactly one effect, at most one fresh 2xx, every other reply
   that reply replayed (`Idempotent-Replayed: true`, same body) or 409 `idempotency-in-progress`, no 5xx.
2. No card data anywhere: after the storms and an end-to-end run on the same stack (a card change
   through Stripe.js and the card-validation queue, card payments, a PayPal payment and its webhook, a
   support ticket quoting card numbers, a refund, invoice PDFs, `billow bill`), every DynamoDB table,
   SQS queue (and DLQ), S3 object, SES e-mail and log line of the stack is scanned for Luhn-valid 13-19
   digit runs: none. The scanner is first shown to find card numbers planted in each of those places.

The tests run in file order on one stack (module-scoped fixture); `pytest -s` prints one figure per
storm and the scan's counts.
"""

from __future__ import annotations

import math
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
import requests

from tests.e2e.conftest import LocalStack
from tests.e2e.stack_flows import (
    balance,
    list_all,
    new_account,
    owing_account,
)

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("proof-stack")]

STORM_REQUESTS = 50  # concurrent identical requests per storm
CONNECT_ATTEMPTS = 10  # the local server's listen backlog is 5: a refused/reset connection is retried
BULK_ITEMS = 30  # more than one bulk chunk (functions/billing_items/service.py BULK_CHUNK = 25)
MIN_TABLES, MIN_ITEMS, MIN_LOG_LINES, MIN_EMAILS = 8, 300, 300, 5  # the scan must have read at least this

BILLOW = f"{sys.prefix}/bin/billow"
FIGURES: dict[str, str] = {}  # storm → its one-line figure, for the lead's report (printed with -s)

# Card numbers (https://docs.stripe.com/testing) a customer might paste, in the shapes they paste them.
PASTED_CARDS = ["4242 4242 4242 4242", "4000-0566-5566-5556", "5555555555554444"]


# ---- the stack --------------------------------------------------------------------------------


def _admin(stack: LocalStack) -> dict[str, str]:
    return {"Authorization": f"Bearer {stack.info['tokens']['admin']['token']}"}


def _aws(stack: LocalStack, service: str) -> Any:
    """A boto3 client on the stack's moto server (the fake credentials local/stack.py gives the stack)."""
    return boto3.client(
        service,
        endpoint_url=stack.info["moto_url"],
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def _stripe_count(stack: LocalStack, resource: str) -> int:
    """How many `resource` objects (payment_intents, refunds) the Stripe side holds."""
    stripe = stack.info["stripe"]
    listed = requests.get(
        f"{stripe['url']}/v1/{resource}?limit=1",
        headers={"Authorization": f"Bearer {stripe['secret_key']}"},
        timeout=30,
    )
    assert listed.status_code == 200, listed.text
    return int(listed.json()["total_count"])


def _ledger_entries(stack: LocalStack, account_id: str) -> list[dict[str, Any]]:
    """The account's ledger entries, read from the ledger table (functions/core/ledger_store.py)."""
    table = next(t for t in stack.info["resources"]["tables"] if t.endswith("-ledger"))
    ddb = _aws(stack, "dynamodb")
    pages = ddb.get_paginator("query").paginate(
        TableName=table,
        KeyConditionExpression="pk = :a AND begins_with(sk, :e)",
        ExpressionAttributeValues={":a": {"S": account_id}, ":e": {"S": "ENTRY#"}},
        ConsistentRead=True,
    )
    return [
        {"kind": i["kind"]["S"], "amount": int(i["amount"]["N"]), "ref": i["ref"]["S"]}
        for page in pages
        for i in page["Items"]
    ]


def _invoices(stack: LocalStack, account_id: str, type_: str) -> list[dict[str, Any]]:
    return [i for i in list_all(stack.api, f"/v1/accounts/{account_id}/invoices", _admin(stack)) if i["type"] == type_]


def _events(stack: LocalStack, account_id: str, action: str) -> list[dict[str, Any]]:
    return [e for e in list_all(stack.api, f"/v1/accounts/{account_id}/events", _admin(stack)) if e["action"] == action]


def _post(stack: LocalStack, path: str, body: Any, key: str | None = None) -> dict[str, Any]:
    headers = _admin(stack) | ({"Idempotency-Key": key} if key else {})
    response = requests.post(f"{stack.api}{path}", json=body, headers=headers, timeout=30)
    assert response.status_code in (200, 201, 202), f"POST {path}: {response.status_code} {response.text}"
    return dict(response.json())


# ---- the storm --------------------------------------------------------------------------------


@dataclass
class Storm:
    """The replies of one storm, sorted by kind, and the reply every 2xx must be."""

    name: str
    replies: list[requests.Response]
    retries: int
    seconds: float
    fresh: list[requests.Response] = field(default_factory=list)
    replayed: list[requests.Response] = field(default_factory=list)
    in_progress: list[requests.Response] = field(default_factory=list)
    final: requests.Response | None = None  # the same request once more, after the storm

    @property
    def body(self) -> Any:
        assert self.final is not None
        return self.final.json()

    def figure(self, effect: str) -> str:
        line = (
            f"{self.name}: {len(self.replies)} requests, {len(self.fresh)} fresh, {len(self.replayed)} replayed, "
            f"{len(self.in_progress)} in-progress 409, {self.retries} connection retries; effect: {effect}; "
            f"{self.seconds:.1f} s"
        )
        FIGURES[self.name] = line
        print(f"\n[storm] {line}")
        return line


def _send(url: str, body: Any, headers: dict[str, str]) -> tuple[requests.Response, int]:
    """POST, retrying a refused or reset connection with the same Idempotency-Key as any client would.
    A connection reset after the server did the work makes the retry a replay of that work: so a storm
    may count no fresh reply at all, but never more than one."""
    for attempt in range(CONNECT_ATTEMPTS):
        try:
            return requests.post(url, json=body, headers=headers, timeout=120), attempt
        except requests.ConnectionError:
            time.sleep(0.1 * (attempt + 1))
    raise AssertionError(f"the local API refused the connection {CONNECT_ATTEMPTS} times")


def storm(stack: LocalStack, name: str, path: str, body: Any, n: int = STORM_REQUESTS) -> Storm:
    """`n` threads released together POST the same body with one Idempotency-Key; then the same request
    once more (its record must be complete, not stuck in progress). Asserts the reply contract."""
    url = f"{stack.api}{path}"
    headers = _admin(stack) | {"Idempotency-Key": f"storm-{name}-{uuid.uuid4()}"}
    gate = threading.Barrier(n)
    results: list[tuple[requests.Response, int] | None] = [None] * n

    def one(i: int) -> None:
        gate.wait()
        results[i] = _send(url, body, headers)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - started
    assert all(r is not None for r in results), f"{name}: a request thread failed"
    done = [r for r in results if r is not None]
    out = Storm(name, [r for r, _ in done], sum(a for _, a in done), seconds)
    out.final = _send(url, body, headers)[0]

    def show() -> list[tuple[int, str]]:
        return [(r.status_code, r.text[:160]) for r in out.replies]

    assert out.final.status_code < 300 and out.final.headers.get("Idempotent-Replayed") == "true", (
        name,
        out.final.status_code,
        out.final.text,
    )
    for r in out.replies:
        assert r.status_code < 500, (name, show())
        if r.status_code < 300 and r.headers.get("Idempotent-Replayed") == "true":
            out.replayed.append(r)
        elif r.status_code < 300:
            out.fresh.append(r)
        elif r.status_code == 409 and r.json().get("code") == "idempotency-in-progress":
            assert r.headers["Content-Type"].startswith("application/problem+json")
            out.in_progress.append(r)
        else:
            raise AssertionError(f"{name}: a reply that is neither the one reply nor 409 in-progress: {show()}")
    assert len(out.fresh) <= 1, (name, show())
    for r in out.fresh + out.replayed:
        assert (r.status_code, r.json()) == (out.final.status_code, out.body), (name, r.text, out.final.text)
    return out


# ---- 1. the storms ----------------------------------------------------------------------------


@dataclass
class PaymentStorm:
    storm: Storm
    account_id: str
    intents: int  # new PaymentIntents at the Stripe port


@pytest.fixture(scope="module")
def payment_storm(local_stack: LocalStack) -> PaymentStorm:
    """The payments storm (its succeeded payment is the one the refunds storm refunds)."""
    from local import stripe_js

    stack = local_stack
    account_id = owing_account(stack.api, _admin(stack), [5000], name="Storm payments")
    pm = stripe_js.create_payment_method(stack.info["stripe"]["url"], stack.info["stripe"]["publishable_key"])
    before = _stripe_count(stack, "payment_intents")
    s = storm(stack, "payments", f"/v1/accounts/{account_id}/payments", {"amount": 2000, "payment_method_id": pm})
    return PaymentStorm(s, account_id, _stripe_count(stack, "payment_intents") - before)


def test_payment_storm_makes_one_payment_intent(local_stack: LocalStack, payment_storm: PaymentStorm):
    stack, admin = local_stack, _admin(local_stack)
    s, account_id = payment_storm.storm, payment_storm.account_id
    entries = [e for e in _ledger_entries(stack, account_id) if e["kind"] == "payment"]
    payments = list_all(stack.api, f"/v1/accounts/{account_id}/payments", admin)
    figure = s.figure(f"{payment_storm.intents} PaymentIntent, {len(entries)} payment entry, {len(payments)} payment")
    assert s.body["status"] == "succeeded", figure
    assert payment_storm.intents == 1 and len(entries) == 1 and entries[0]["amount"] == -2000, figure
    assert [p["id"] for p in payments] == [s.body["id"]], figure
    assert balance(stack.api, account_id, admin) == 3000, figure


def test_refund_storm_makes_one_stripe_refund(local_stack: LocalStack, payment_storm: PaymentStorm):
    stack, admin = local_stack, _admin(local_stack)
    account_id, payment_id = payment_storm.account_id, payment_storm.storm.body["id"]
    refunds_before = _stripe_count(stack, "refunds")
    balance_before = balance(stack.api, account_id, admin)

    body = {"amount": 500, "reason": "Storm refund", "payment_id": payment_id}
    s = storm(stack, "refunds", f"/v1/accounts/{account_id}/refunds", body)

    refunds = _stripe_count(stack, "refunds") - refunds_before
    invoices = _invoices(stack, account_id, "refund")
    money_back = [e for e in _ledger_entries(stack, account_id) if e["kind"] == "money_back"]
    payment = requests.get(f"{stack.api}/v1/accounts/{account_id}/payments/{payment_id}", headers=admin, timeout=30)
    figure = s.figure(f"{refunds} Stripe Refund, {len(invoices)} Refund invoice, {len(money_back)} money-back entry")
    assert refunds == 1 and len(invoices) == 1 and len(money_back) == 1, figure
    assert invoices[0]["id"] == s.body["id"], figure
    assert money_back[0]["amount"] == 500 and payment.json()["refunded"] == 500, figure
    # the Refund invoice (-500, to unapplied credit) and the money back (+500, consuming it) net out
    assert balance(stack.api, account_id, admin) == balance_before, figure


def test_charge_and_credit_storms_post_one_invoice_each(local_stack: LocalStack):
    stack, admin = local_stack, _admin(local_stack)
    account_id = new_account(stack.api, admin, "Storm charges and credits")
    base = f"/v1/accounts/{account_id}"

    charge = storm(stack, "charges", f"{base}/charges", {"description": "Storm charge", "amount": 1234})
    entries = _ledger_entries(stack, account_id)
    invoices = _invoices(stack, account_id, "one_time")
    figure = charge.figure(f"{len(invoices)} One-time invoice, {len(entries)} ledger entry")
    assert [i["id"] for i in invoices] == [charge.body["id"]], figure
    assert [e["amount"] for e in entries] == [1234], figure
    assert balance(stack.api, account_id, admin) == 1234, figure

    credit = storm(stack, "credits", f"{base}/credits", {"amount": 234, "reason": "Storm credit"})
    entries = _ledger_entries(stack, account_id)
    invoices = _invoices(stack, account_id, "credit")
    figure = credit.figure(f"{len(invoices)} Credit invoice, {len(entries) - 1} new ledger entry")
    assert [i["id"] for i in invoices] == [credit.body["id"]], figure
    assert sorted(e["amount"] for e in entries) == [-234, 1234], figure
    assert balance(stack.api, account_id, admin) == 1000, figure


def test_cancellation_storm_cancels_once(local_stack: LocalStack):
    stack, admin = local_stack, _admin(local_stack)
    account_id = new_account(stack.api, admin, "Storm cancellation", type_="subscription")
    base = f"/v1/accounts/{account_id}"
    item = {"description": "Storm server", "category": "server", "recurring_fee": 30_000}
    item_id = _post(stack, f"{base}/billing-items", item, key=str(uuid.uuid4()))["item"]["id"]
    balance_before = balance(stack.api, account_id, admin)
    entries_before = len(_ledger_entries(stack, account_id))

    s = storm(stack, "cancellation", f"{base}/billing-items/{item_id}/cancellation", {"when": "now"})

    refund = s.body["refund_amount"]
    cancelled = _events(stack, account_id, "item.cancelled")
    refunds = _invoices(stack, account_id, "refund")
    new_entries = len(_ledger_entries(stack, account_id)) - entries_before
    figure = s.figure(
        f"{len(cancelled)} item.cancelled event, {len(refunds)} Refund invoice of {refund}, {new_entries} entry"
    )
    assert s.body["item"]["status"] == "cancelled" and refund > 0, figure
    assert len(cancelled) == 1 and [i["id"] for i in refunds] == [s.body["refund_invoice_id"]], figure
    assert new_entries == 1 and balance(stack.api, account_id, admin) == balance_before - refund, figure
    item_now = requests.get(f"{stack.api}{base}/billing-items/{item_id}", headers=admin, timeout=30).json()
    assert item_now["status"] == "cancelled", figure


def test_bulk_storm_links_once_with_one_event_per_chunk(local_stack: LocalStack):
    from functions.billing_items.service import BULK_CHUNK

    stack, admin = local_stack, _admin(local_stack)
    account_id = new_account(stack.api, admin, "Storm bulk")
    base = f"/v1/accounts/{account_id}"
    device = _post(stack, f"{base}/devices", {"name": "storm-rack-1", "kind": "server"})["id"]
    free = {"description": "Storm add-on", "category": "software", "recurring_fee": 0}
    item_ids = [
        _post(stack, f"{base}/billing-items", free, key=str(uuid.uuid4()))["item"]["id"] for _ in range(BULK_ITEMS)
    ]

    body = {"action": "associate", "item_ids": item_ids, "device_id": device}
    s = storm(stack, "bulk", f"{base}/billing-items/bulk", body)

    events = _events(stack, account_id, "items.associated")
    linked = list_all(stack.api, f"{base}/billing-items?device_id={device}", admin)
    chunks = math.ceil(BULK_ITEMS / BULK_CHUNK)
    figure = s.figure(f"{len(linked)} items linked, {len(events)} items.associated events ({chunks} chunks)")
    assert [r["ok"] for r in s.body["results"]] == [True] * BULK_ITEMS, figure
    assert sorted(i["id"] for i in linked) == sorted(item_ids), figure
    assert len(events) == chunks, figure
    assert sorted(i for e in events for i in e["after"]["item_ids"]) == sorted(item_ids), figure


def test_a_duplicate_that_finishes_between_the_lookup_and_the_work_is_replayed(api, monkeypatch):
    """The storms' narrowest race, made deterministic in-process: a duplicate with the same key runs from
    start to end right after this request found no record, so this request then finds the item already
    cancelled. Its answer must be the duplicate's reply replayed, not 409 `item-cancelled`."""
    from functions.core import idempotency

    account = api.create_account(type="subscription")
    base = f"/v1/accounts/{account['id']}"
    item = {"description": "Race server", "category": "server", "recurring_fee": 3000}
    status, provisioned, _ = api.call(
        "POST", f"{base}/billing-items", item, token=api.admin, headers={"Idempotency-Key": "race-item"}
    )
    assert status == 201, provisioned
    path = f"{base}/billing-items/{provisioned['item']['id']}/cancellation"
    key = {"Idempotency-Key": "race-cancel"}
    real_lookup, duplicate = idempotency.lookup, []

    def lookup_then_a_duplicate_runs(ctx):
        found = real_lookup(ctx)
        if not duplicate:
            duplicate.append("running")
            duplicate.append(api.call("POST", path, {"when": "now"}, token=api.admin, headers=key))
        return found

    monkeypatch.setattr(idempotency, "lookup", lookup_then_a_duplicate_runs)
    status, body, headers = api.call("POST", path, {"when": "now"}, token=api.admin, headers=key)
    first_status, first_body, first_headers = duplicate[1]
    assert first_status == 201 and "Idempotent-Replayed" not in first_headers, first_body
    assert (status, body, headers.get("Idempotent-Replayed")) == (201, first_body, "true")
    status, events, _ = api.call("GET", f"{base}/events?limit=100", token=api.admin)
    assert [e["action"] for e in events["data"]].count("item.cancelled") == 1
