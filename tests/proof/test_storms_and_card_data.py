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

import io
import json
import math
import re
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes
from email.message import EmailMessage
from typing import Any
from urllib.parse import unquote_plus

import boto3
import pytest
import requests
from pypdf import PdfReader

from functions.core.card_data import CARD_RUN as _CARD_RUN
from functions.core.card_data import holds_card_number
from functions.core.card_data import luhn as _luhn
from tests.e2e.conftest import LocalStack
from tests.e2e.stack_flows import (
    balance,
    list_all,
    new_account,
    owing_account,
    paypal_payment_approved,
    summary,
)
from tests.pdf_links import pdf_link

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("proof-stack")]

STORM_REQUESTS = 50  # concurrent identical requests per storm
CONNECT_ATTEMPTS = 10  # the local server's listen backlog is 5: a refused/reset connection is retried
BULK_ITEMS = 30  # more than one bulk chunk (functions/billing_items/service.py BULK_CHUNK = 25)
MIN_TABLES, MIN_ITEMS, MIN_CARRIED, MIN_EMAILS, MIN_LOG_LINES = 8, 100, 10, 5, 300  # the scan reads at least

PDF_INVOICES = 3  # invoice PDFs rendered (to S3) in the end-to-end run
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
    deadline = time.monotonic() + 10  # (in progress only if the work's own connection was reset)
    while (final := _send(url, body, headers)[0]).status_code == 409 and time.monotonic() < deadline:
        time.sleep(0.2)
    out.final = final

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


# ---- 2. no card data anywhere -------------------------------------------------------------------

# Random hex identifiers (UUIDs, SHA-256 and MD5 digests, receipt handles) hold Luhn-valid 13-19 digit
# runs by chance (about 1 SHA-256 digest in 250): a token of 20 or more hex digits (dashes allowed)
# with at least one letter a-f is an identifier, not a card number, and is blanked before the check.
_HEX_TOKEN = re.compile(r"(?<![0-9A-Za-z])[0-9A-Fa-f](?:-?[0-9A-Fa-f]){19,}(?![0-9A-Za-z])")


def card_numbers(text: str) -> list[str]:
    """The card-number-like digit runs in `text`: the rule of functions/core/card_numbers.py
    (`holds_card_number`: 13-19 digits, single spaces or dashes between them, Luhn-valid)."""
    runs = []
    for variant in (text, unquote_plus(text)):  # as written, and URL-decoded (a query string, a form)
        variant = _HEX_TOKEN.sub(lambda m: "#" if re.search("[A-Fa-f]", m.group()) else m.group(), variant)
        if holds_card_number(variant):
            runs += [m.group() for m in _CARD_RUN.finditer(variant) if _luhn(re.sub(r"[ -]", "", m.group()))]
    return list(dict.fromkeys(runs))


def pdf_text(data: bytes) -> str:
    """What a PDF says (its streams are compressed: the bytes themselves hide digits), and its metadata
    but the renderer's timestamps (D:YYYYMMDDHHmmSS, 14 digits that pass Luhn one time in ten)."""
    reader = PdfReader(io.BytesIO(data))
    meta = {k: v for k, v in (reader.metadata or {}).items() if k not in ("/CreationDate", "/ModDate")}
    return "\n".join([*(page.extract_text() for page in reader.pages), json.dumps(meta, default=str)])


def pdf_saying(text: str, created: datetime | None = None) -> bytes:
    """A one-line PDF (fpdf2, as billow renders invoices: compressed streams)."""
    from fpdf import FPDF

    pdf = FPDF()
    if created is not None:
        pdf.set_creation_date(created)
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.cell(text=text)
    return bytes(pdf.output())


def mime_text(raw: str | bytes) -> str:
    """Every part of a MIME message decoded (base64, quoted-printable), with its headers."""
    message = message_from_bytes(raw.encode() if isinstance(raw, str) else raw)
    parts = [str(message.items())]
    for part in message.walk():
        payload = part.get_payload(decode=True)
        if isinstance(payload, bytes):
            parts.append(payload.decode(part.get_content_charset() or "utf-8", errors="replace"))
    return "\n".join(parts)


def _dynamodb_json(item: Any) -> str:
    return json.dumps(item, default=lambda b: b.decode("latin-1") if isinstance(b, bytes) else sorted(b))


@dataclass
class Scan:
    """What was read, by kind, and every card-number-like run found, by place."""

    counts: dict[str, int] = field(default_factory=dict)
    findings: list[tuple[str, str]] = field(default_factory=list)
    redacted: dict[str, int] = field(default_factory=dict)  # support tickets' redaction markers seen

    def read(self, kind: str, where: str, text: str) -> None:
        from functions.payments.tickets import REDACTED

        self.counts[kind] = self.counts.get(kind, 0) + 1
        self.redacted[kind] = self.redacted.get(kind, 0) + text.count(REDACTED)
        self.findings += [(where, run) for run in card_numbers(text)]

    def places(self) -> set[str]:
        return {where for where, _ in self.findings}

    def report(self, planted: set[str]) -> str:
        counts = ", ".join(f"{n} {kind}s" for kind, n in self.counts.items())
        found = len(self.places() & planted)
        others = sorted({(w, r) for w, r in self.findings if w not in planted})
        return f"scanned {counts}; planted card numbers found in {found}/{len(planted)} places; others: {others}"


def scan_stack(stack: LocalStack, logs: Iterable[tuple[str, str]]) -> Scan:
    """Every DynamoDB item, SQS message (queues and DLQs), S3 object, SES e-mail, file of the stack's
    local dir and log line of the stack (its run.log, plus `logs`: (name, captured output))."""
    scan = Scan()
    ddb, sqs, s3 = _aws(stack, "dynamodb"), _aws(stack, "sqs"), _aws(stack, "s3")
    for table in (t for page in ddb.get_paginator("list_tables").paginate() for t in page["TableNames"]):
        scan.read("table", f"dynamodb {table}", table)
        for page in ddb.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
            for item in page["Items"]:
                scan.read("dynamodb item", f"dynamodb {table}", _dynamodb_json(item))
    for url in sqs.list_queues(MaxResults=1000).get("QueueUrls", []):
        scan.read("queue", f"sqs {url}", url)
        while True:  # every message, each received once (hidden meanwhile, not deleted)
            got = sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=10,
                VisibilityTimeout=300,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            if not got:
                break
            for m in got:
                scan.read("queued message", f"sqs {url}", m["Body"] + json.dumps(m.get("MessageAttributes", {})))
    # moto's own record of its models (/moto-api/data.json) keeps every SQS message the queues carried,
    # consumed ones included, and every e-mail SES accepted (moto keeps an e-mail's HTML part as its body)
    moto = requests.get(f"{stack.info['moto_url']}/moto-api/data.json", timeout=60).json()
    for m in moto.get("sqs", {}).get("Message", []):
        scan.read("carried message", f"sqs message {m['id']}", m["body"] + json.dumps(m.get("message_attributes")))
    ses = moto.get("ses", {})
    for m in ses.get("Message", []):
        scan.read("e-mail", f"ses {m['id']}", json.dumps([m["subject"], m["body"], m.get("destinations")]))
    for m in ses.get("RawMessage", []):
        scan.read("e-mail", f"ses {m['id']}", mime_text(m["raw_data"]))
    for bucket in (b["Name"] for b in s3.list_buckets()["Buckets"]):
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for obj in page.get("Contents", []):
                got = s3.get_object(Bucket=bucket, Key=obj["Key"])
                data = got["Body"].read()
                text = pdf_text(data) if data.startswith(b"%PDF") else data.decode("utf-8", errors="replace")
                scan.read("s3 object", f"s3 {bucket}/{obj['Key']}", f"{obj['Key']}\n{got['Metadata']}\n{text}")
    for path in sorted(p for p in stack.local_dir.rglob("*") if p.is_file() and p != stack.log):
        scan.read("file", f"file {path.name}", path.read_text(errors="replace"))
    for name, output in [("run.log", stack.output()), *logs]:
        for n, line in enumerate(output.splitlines(), 1):
            scan.read("log line", f"{name}:{n}", line)
    return scan


PLANTED = "proof-planted-card"


def plant_card_numbers(stack: LocalStack, number: str) -> set[str]:
    """A card number where the scan must find it: a DynamoDB item, an SQS message, an S3 object (a
    compressed PDF) and an SES e-mail, each in a place of its own. Returns those places."""
    ddb, sqs, s3, ses = _aws(stack, "dynamodb"), _aws(stack, "sqs"), _aws(stack, "s3"), _aws(stack, "sesv2")
    ddb.create_table(
        TableName=PLANTED,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    ddb.put_item(TableName=PLANTED, Item={"pk": {"S": "planted"}, "note": {"S": f"card {number}"}})
    queue = sqs.create_queue(QueueName=PLANTED)["QueueUrl"]
    sqs.send_message(QueueUrl=queue, MessageBody=json.dumps({"card": number}))
    s3.create_bucket(Bucket=PLANTED)
    s3.put_object(Bucket=PLANTED, Key="planted.pdf", Body=pdf_saying(f"Card {number}"))
    sent = ses.send_email(
        FromEmailAddress=stack.info["resources"]["email_sender"],
        Destination={"ToAddresses": ["planted@e2e.example"]},
        Content={"Simple": {"Subject": {"Data": "planted"}, "Body": {"Html": {"Data": f"<p>{number}</p>"}}}},
    )
    message = next(
        m
        for m in requests.get(f"{stack.info['moto_url']}/moto-api/data.json", timeout=60).json()["sqs"]["Message"]
        if number in m["body"]
    )
    return {
        f"dynamodb {PLANTED}",
        f"sqs {queue}",
        f"sqs message {message['id']}",
        f"s3 {PLANTED}/planted.pdf",
        f"ses {sent['MessageId']}",
    }


def test_the_scanner_finds_card_numbers_in_every_shape_it_reads():
    """The scanner can fail: card numbers as customers and systems write them are found; identifiers
    that merely hold Luhn-valid digits, and digit runs that are not card numbers, are not."""
    from local import stripe_js

    for text in [
        f"paid with {stripe_js.SUCCEEDS}.",
        *PASTED_CARDS,
        json.dumps({"note": {"S": f"card={stripe_js.DECLINED}"}}),
        f"payment_method_data[card][number]={stripe_js.REQUIRES_AUTHENTICATION}&key=pk_test",
        '"GET /v1/accounts/x/payments?card=4242%204242%204242%204242 HTTP/1.1" 422',
        "card=5555+5555+5555+4444",
        "amex 378282246310005, visa 4111 1111 1111 1111",
    ]:
        assert card_numbers(text), text
    data = pdf_saying(f"Card {PASTED_CARDS[0]}")
    assert PASTED_CARDS[0] not in data.decode("latin-1") and card_numbers(pdf_text(data))  # compressed: read it
    # a PDF created at a moment whose 14 digits (D:YYYYMMDDHHmmSS) pass Luhn is not a card number
    moment = next(
        m
        for m in (datetime(2026, 11, 27, 16, 42, s, tzinfo=UTC) for s in range(60))
        if card_numbers(f"{m:%Y%m%d%H%M%S}")
    )
    assert not card_numbers(pdf_text(pdf_saying("Invoice", created=moment)))
    mail = EmailMessage()
    mail.set_content(f"card {stripe_js.SUCCEEDS}", cte="base64")
    assert not card_numbers(mail.as_string()) and card_numbers(mime_text(mail.as_bytes()))
    sha = "3f4242424242424242e5a7c0d1b2" + "0" * 36  # a digest whose digits happen to pass Luhn
    assert card_numbers("4242424242424242") and card_numbers(sha[2:18])
    for text in [
        f'{{"request_hash": "{sha}", "request_id": "6f1e2d3c-4242-4242-4242-424242424242"}}',
        "4242424242424241 (not Luhn-valid) 424242424242 (12 digits) 42424242424242424242 (20 digits)",
        "2026-11-27 16:27:06,171+0000 amount 15000 seq 0000000012 epoch 1795796828355",
    ]:
        assert not card_numbers(text), text


def test_no_card_number_anywhere_after_an_end_to_end_run(local_stack: LocalStack):
    from local import stripe_js
    from local.stack import DEMO_CARD_CONTACT, ApiClient, seed_card_on_file

    stack, admin = local_stack, _admin(local_stack)
    api, stripe = stack.api, stack.info["stripe"]
    account_id = owing_account(api, admin, [4000, 2500, 1500], name="Card data end to end")
    base = f"/v1/accounts/{account_id}"
    # a card change through the real flow: SetupIntent, Stripe.js confirmation with 4242…, PUT, the
    # card-validation queue (the stack's pump), the confirmation e-mail
    client = ApiClient(api, stack.info["tokens"]["admin"]["token"])
    contact = DEMO_CARD_CONTACT | {"email": "holder@e2e.example"}
    card = seed_card_on_file(client, account_id, stripe["url"], contact)
    assert (card["last4"], card["status"]) == ("4242", "active")
    # card payments: the card on file, a new card from Stripe.js, a new card declined at the charge
    on_file = _post(stack, f"{base}/payments", {"amount": 1000}, key=str(uuid.uuid4()))
    pm = stripe_js.create_payment_method(stripe["url"], stripe["publishable_key"], number=stripe_js.SUCCEEDS)
    _post(stack, f"{base}/payments", {"amount": 500, "payment_method_id": pm}, key=str(uuid.uuid4()))
    bad = stripe_js.create_payment_method(stripe["url"], stripe["publishable_key"], number=stripe_js.DECLINED_AT_CHARGE)
    declined = requests.post(
        f"{api}{base}/payments",
        json={"amount": 500, "payment_method_id": bad},
        headers=admin | {"Idempotency-Key": str(uuid.uuid4())},
        timeout=30,
    )
    assert declined.status_code == 402, declined.text
    # PayPal: approved at the shim's URL, applied by the signed webhook
    paypal_payment_approved(api, admin, account_id, 1500)
    # a support ticket quoting card numbers: stored and e-mailed redacted
    ticket = {
        "subject": f"Card {PASTED_CARDS[1]} charged twice",
        "message": f"My card {PASTED_CARDS[0]} was charged twice; my old card was {PASTED_CARDS[2]}.",
        "payment_id": on_file["id"],
    }
    _post(stack, f"{base}/support-tickets", ticket)
    # a customer pasting a card number where an id or a filter goes: refused, and not logged either
    for path in (
        f"/v1/accounts/{PASTED_CARDS[2]}/summary",
        f"{base}/payments/{PASTED_CARDS[2]}?card={PASTED_CARDS[0]}",
    ):
        pasted = requests.get(f"{api}{path}", headers=admin, timeout=30)
        assert pasted.status_code in (400, 403, 404, 422), pasted.text
    # a refund to the card, then invoice PDFs (rendered once by the pdf-render worker, kept in S3; a 409
    # pdf-not-ready while it renders is followed as a client does)
    _post(
        stack, f"{base}/refunds", {"amount": 300, "reason": "Goodwill", "payment_id": on_file["id"]}, str(uuid.uuid4())
    )
    invoices = list_all(api, f"{base}/invoices", admin)[:PDF_INVOICES]
    for invoice in invoices:
        link = pdf_link(f"{api}{base}/invoices/{invoice['id']}/pdf", admin)
        assert link.status_code == 200, link.text
    # the billing run for the day this account's recurring invoice is due, then the ledger audit
    due = summary(api, account_id, admin)["next_recurring_invoice_date"]
    outputs = []
    for command in (["bill", "--date", due, "--timeout", "60"], ["audit"]):
        run = subprocess.run([BILLOW, *command], env=stack.env, capture_output=True, text=True, timeout=120)
        outputs.append((f"billow {command[0]}", run.stdout + run.stderr))
        assert run.returncode == 0, run.stdout + run.stderr
    assert "0 with differences" in outputs[-1][1]

    planted = plant_card_numbers(stack, stripe_js.SUCCEEDS)
    scan = scan_stack(stack, outputs)
    report = scan.report(planted)
    print(f"\n[card data] {report}")
    FIGURES["card data"] = report
    assert scan.places() == planted, report  # every planted number found, and nothing else
    c = scan.counts
    assert c["table"] >= MIN_TABLES and c["dynamodb item"] >= MIN_ITEMS, report
    assert c["queue"] >= 7 and c["carried message"] >= MIN_CARRIED, report  # 3 queues, 3 DLQs, the planted one
    assert c["s3 object"] >= len(invoices) + 1 and c["e-mail"] >= MIN_EMAILS, report
    assert c["log line"] >= MIN_LOG_LINES, report
    # the ticket was stored (subject and message) and e-mailed with its card numbers redacted
    assert scan.redacted["dynamodb item"] >= 2 and scan.redacted["e-mail"] >= 1, report
