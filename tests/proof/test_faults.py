"""Fault injection (issue 10, deliverable 3): a failure — an error, or a timeout after the work was done
— at EACH external call of six paths (v4: the collector's too), then the client's retry (same
Idempotency-Key) or the queue's redelivery, ends in exactly the state of the run without a fault:
nothing lost, nothing doubled, and `audit_account` (`billow audit`) clean.

Each path first runs once without a fault to record its sequence of external calls (DynamoDB, SQS,
SES, S3 through botocore; Stripe through the gateway's SDK client: tests/proof/faults.py). Then, for
every call index i and each kind in {error, timeout}: a fresh account (one moto per path), the fault at
call i only, the path, its retry, and the comparison with the no-fault run.

E-mails are at-least-once (docs/payments.md, docs/billing-run.md): a sent marker is written after SES
accepts the message, so a failure between SES accepting it and the marker (a lost SES reply, or the
marker's write failing) sends it once more on the retry. So: exactly the no-fault run's e-mails when
the fault is before the send; one more at most when it is the send's timeout or between the send and
its marker; never fewer.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import pytest
import requests
from moto.core import DEFAULT_ACCOUNT_ID

from functions.core import clock, stripe_gateway
from functions.core.settings import get_settings
from local.queue_pump import sqs_event
from tests.integration.conftest import recreate_tables
from tests.integration.payments_helpers import SK, Payments
from tests.integration.test_billing_run import _at
from tests.integration.test_billing_run import run as run
from tests.proof import state
from tests.proof.faults import KINDS, Injector, installed

PROBLEM = "application/problem+json"
# What a faulted request may answer: the outage (503), or the first attempt still holding the key (409).
OUTAGE_CODES = {"service-unavailable", "idempotency-in-progress"}
RETRIES = 3  # the client's retries (HTTP) or the queue's redeliveries after the faulted attempt
RUN_DATE = date(2026, 12, 1)


@pytest.fixture
def faults(api, client, stripe_server, queues_and_mail, monkeypatch):
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", "whsec_test_billow")
    monkeypatch.setattr(stripe_gateway, "_sleep", lambda _seconds: None)  # the gateway's backoff, not its retries
    with installed(stripe_server.url, SK) as injector:
        yield injector, Payments(api, client, stripe_server, queues_and_mail)


@dataclass
class Report:
    path: str
    calls: list[str]
    outcomes: Counter = field(default_factory=Counter)
    extra_mails: int = 0  # e-mails sent twice (at-least-once), over all cases

    def print(self) -> None:
        cases = sum(self.outcomes.values())
        print(f"\n[faults] {self.path}: {len(self.calls)} external calls {Counter(self.calls)}")
        print(f"[faults] {self.path}: {cases} cases (call x kind), outcomes {dict(sorted(self.outcomes.items()))}")
        print(f"[faults] {self.path}: e-mails sent a second time (at-least-once) in {self.extra_mails} cases")


def _later() -> Any:
    """A moment after the idempotency lease: the client's retry once the first attempt is given up."""
    return clock.frozen(clock.now() + timedelta(seconds=get_settings().idempotency_lease_seconds + 1))


def _http_answer_ok(answer: tuple[int, Any, dict]) -> None:
    status, body, headers = answer
    if status >= 400:
        assert headers.get("Content-Type") == PROBLEM, (status, body)
        assert isinstance(body, dict) and body.get("code") in OUTAGE_CODES, (status, body)


def _http_retry(send: Callable[[], tuple[int, Any, dict]], first: tuple[int, Any, dict]) -> tuple[str, Any]:
    """The client's retries with the same key until a 2xx: immediately, then after the lease if the key
    is still held. Returns (what happened, the final body)."""
    answer, steps = first, [str(first[0])]
    for _ in range(RETRIES):
        if answer[0] < 300:
            break
        if answer[0] == 409:
            with _later():
                answer = send()
        else:
            answer = send()
        _http_answer_ok(answer)
        steps.append(str(answer[0]))
    assert answer[0] < 300, (steps, answer)
    return "→".join(steps), answer[1]


def _redelivered(deliver: Callable[[], dict[str, Any]], first: dict[str, Any]) -> str:
    """SQS's redelivery of a message the handler reported failed (after the visibility timeout), until
    the handler succeeds; returns what happened."""
    answers = [first]
    while answers[-1]["batchItemFailures"] and len(answers) <= RETRIES:
        answers.append(deliver())
    assert answers[-1] == {"batchItemFailures": []}, answers
    return "→".join("failed" if a["batchItemFailures"] else "ok" for a in answers)


def _mails(to: str = "", subject: str = "") -> int:
    """E-mails SES (moto) accepted to `to` and/or with `subject` in their subject."""
    from moto.ses.models import ses_backends

    sent = ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages
    return sum(1 for m in sent if to in str(m.destinations) and subject in str(m.subject))


def _extra_mails_allowed(calls: list[str], index: int, kind: str) -> int:
    """At-least-once e-mail: one more when the fault hits a send's reply or falls between a send and
    the next write (its sent marker)."""
    for n, label in enumerate(calls):
        if label != "sesv2.SendEmail":
            continue
        if n == index:
            return 1 if kind == "timeout" else 0
        marker = next(
            (m for m in range(n + 1, len(calls)) if calls[m].split(".")[-1] in ("UpdateItem", "TransactWriteItems")),
            len(calls),
        )
        if n < index <= marker:
            return 1
    return 0


def _each_case(
    injector: Injector,
    path: str,
    setup: Callable[[int], Any],
    attempt: Callable[[Any], Any],
    finish: Callable[[Any, Any], str],
    final: Callable[[Any], dict[str, Any]],
    mails: Callable[[Any], int] | None,
) -> Report:
    """Record the no-fault run, then every (call, kind) case; compare each case's final state with it."""
    attempt(setup(-1))  # warm the per-process caches (queue URLs, clients) so every run makes the same calls
    ctx = setup(0)
    mails_before = mails(ctx) if mails else 0
    with injector.recording() as calls:
        first = attempt(ctx)
    finish(ctx, first)
    expected = final(ctx)
    expected_mails = mails(ctx) - mails_before if mails else 0
    assert expected_mails >= 1 or mails is None
    report = Report(path, list(calls))
    assert calls, "the path made no external call"
    number = 1
    for index, label in enumerate(report.calls):
        for kind in KINDS:
            recreate_tables()
            ctx = setup(number)
            number += 1
            mails_before = mails(ctx) if mails else 0
            with injector.fault(index, kind):
                first = attempt(ctx)
            assert injector.fired == label, (index, kind, injector.fired, label)  # the same sequence up to i
            how = finish(ctx, first)
            got = final(ctx)
            case = (path, index, label, kind, how)
            assert got == expected, case
            sent = mails(ctx) - mails_before if mails else 0
            assert expected_mails <= sent <= expected_mails + _extra_mails_allowed(report.calls, index, kind), (
                case,
                sent,
            )
            report.outcomes[f"{kind}:{how}"] += 1
            report.extra_mails += sent - expected_mails
    report.print()
    return report


def _common(account_id: str) -> dict[str, Any]:
    state.audit_clean(account_id)
    return {
        "account": state.account_state(account_id, numbers=False),
        "payment_intents": len(state.stripe_payment_intents(account_id)),
    }


def _contact(n: int) -> dict[str, Any]:
    return {
        "name": "Ada Lovelace",
        "email": f"case{n}-{uuid.uuid4().hex[:8]}@faults.example",
        "address": {"line1": "1 Main St", "city": "Springfield", "postal_code": "12345", "country": "US"},
    }


def _deliver_stripe_events(pay: Payments, account_id: str) -> None:
    """What Stripe sends after the path (its webhooks about the account's PaymentIntents), once each."""
    for event in state.stripe_events_about(account_id):
        status, body = pay.deliver_event(event)
        assert status == 200, body


# --- 1. POST /payments by card -------------------------------------------------------------------------


def test_a_fault_at_any_call_of_a_card_payment_is_repaired_by_the_clients_retry(faults):
    injector, pay = faults

    def setup(n):
        contact = _contact(n)
        account_id, token, _ = pay.owing(3000, card=False, billing_contact=contact)
        return {"account": account_id, "token": token, "pm": pay.new_card_pm(), "key": str(uuid.uuid4()), **contact}

    def send(ctx):
        return pay.pay(ctx["account"], ctx["token"], {"amount": 3000, "payment_method_id": ctx["pm"]}, key=ctx["key"])

    def finish(ctx, first):
        _http_answer_ok(first)
        how, body = _http_retry(lambda: send(ctx), first)
        assert body["status"] == "succeeded", body
        _deliver_stripe_events(pay, ctx["account"])  # Stripe's payment_intent.succeeded follows, as always
        return how

    def final(ctx):
        key = state.idempotency_status(ctx["account"], "POST /v1/accounts/{account_id}/payments", ctx["key"])
        return {**_common(ctx["account"]), "idempotency_key": key}

    report = _each_case(injector, "payment", setup, send, finish, final, lambda ctx: _mails(to=ctx["email"]))
    assert "stripe.POST /v1/payment_intents" in report.calls


# --- 2. POST /v1/webhooks/stripe: payment_intent.succeeded -----------------------------------------------


def test_a_fault_at_any_call_of_a_payment_webhook_is_repaired_by_stripes_redelivery(faults):
    injector, pay = faults

    def setup(n):
        contact = _contact(n)
        account_id, token, _ = pay.owing(4000, card=False, billing_contact=contact)
        status, body, _ = pay.pay(
            account_id, token, {"amount": 4000, "method": "paypal", "return_url": "http://localhost:3000/back"}
        )
        assert status == 201 and body["status"] == "requires_action", body
        requests.get(body["next_action"]["url"], allow_redirects=False, timeout=5)  # the customer approves
        (event,) = [e for e in state.stripe_events_about(account_id) if e["type"] == "payment_intent.succeeded"]
        return {"account": account_id, "event": event, **contact}

    def deliver(ctx):
        return pay.deliver_event(ctx["event"])

    def finish(ctx, first):
        answers = [first]
        while answers[-1][0] != 200 and len(answers) <= RETRIES:  # Stripe redelivers until a 2xx
            answers.append(deliver(ctx))
        for status, body in answers:
            assert status in (200, 503), (status, body)
            assert status == 200 or body["code"] == "service-unavailable", body
        assert answers[-1][0] == 200, answers
        _deliver_stripe_events(pay, ctx["account"])  # and the day's other events, later
        return "→".join(str(a[0]) for a in answers)

    final = lambda ctx: _common(ctx["account"])  # noqa: E731
    report = _each_case(injector, "webhook", setup, deliver, finish, final, lambda ctx: _mails(to=ctx["email"]))
    assert "stripe.GET /v1/payment_intents/{id}" in report.calls


# --- 3. the card-validation queue consumer ----------------------------------------------------------------


def test_a_fault_at_any_call_of_card_validation_is_repaired_by_the_queues_redelivery(faults):
    injector, pay = faults
    from functions.payments import store

    def setup(n):
        contact = _contact(n)
        account_id, token = pay.account()
        seti = pay.confirmed_setup(account_id, token)
        status, body, _ = pay.put(account_id, token, seti, contact)
        assert status == 202, body
        mine = [m for m in pay.messages() if json.loads(m["Body"])["account_id"] == account_id]
        assert len(mine) == 1
        return {"account": account_id, "seti": seti, "messages": mine, **contact}

    def deliver(ctx):
        return pay.deliver(ctx["messages"])

    def finish(ctx, first):
        return _redelivered(lambda: deliver(ctx), first)

    def final(ctx):
        account_id = ctx["account"]
        card = store.get_state(account_id, consistent=True).card
        change = store.get_change(account_id, ctx["seti"])
        customer = pay.stripe_get(f"/v1/customers/{pay.customer_of(account_id)}")
        pm = card.payment_method_id if card else None
        return {
            "card": (card.card.last4, card.setup_intent_id == ctx["seti"]) if card else None,
            "change": (change.status, change.email_sent_at is not None),
            "stripe_default_is_the_card": customer["invoice_settings"]["default_payment_method"] == pm,
            "stripe_attached": pay.stripe_get(f"/v1/payment_methods/{pm}")["customer"] == customer["id"],
        }

    report = _each_case(injector, "card-validation", setup, deliver, finish, final, lambda ctx: _mails(to=ctx["email"]))
    assert "sesv2.SendEmail" in report.calls


# --- 4. POST /v1/usage --------------------------------------------------------------------------------------


def test_a_fault_at_any_call_of_posting_usage_is_repaired_by_the_clients_retry(faults, mint):
    injector, pay = faults
    from functions.usage import service as usage

    meter = mint("meter-faults", "billing:usage")
    today = clock.today()

    def setup(n):
        account_id, _token = pay.account()
        # v4: the rate card prices usage (the tables are new for every case)
        rate = {"currency": "usd", "unit_amount_decimal": "0.25", "effective_from": "2020-01-01"}
        status, out, _ = pay.api.call("PUT", "/v1/rates/cdn/gb", rate, token=pay.api.admin)
        assert status == 200 or out["code"] == "effective-from-in-the-past", out  # set by an earlier case
        records = [
            {
                "id": f"rec-{n}-{k}",
                "account_id": account_id,
                "service": "cdn",
                "metric": "gb",
                "quantity": "12.5",
                "occurred_at": f"{today.isoformat()}T00:00:00Z",
            }
            for k in range(3)
        ]
        return {"account": account_id, "records": records}

    def send(ctx):
        return pay.api.call("POST", "/v1/usage", {"records": ctx["records"]}, token=meter)

    def finish(ctx, first):
        _http_answer_ok(first)
        how, body = _http_retry(lambda: send(ctx), first)
        assert {r["status"] for r in body["results"]} <= {"accepted", "duplicate"}, body
        return how

    def final(ctx):
        from functions.accounts.service import get_account

        account = get_account(ctx["account"])
        period = usage.cycle_start(account.billing_day, today)
        aggregates = usage.store.aggregates(ctx["account"], period)
        days = usage.store.parts(ctx["account"], period, "day")  # v4: the view's shares move with the line
        return {
            "aggregates": sorted((a.metric, a.unit_amount, a.quantity_scaled, a.records) for a in aggregates),
            "days": sorted((a.metric, a.day, a.quantity_scaled, a.records) for a in days),
        }

    report = _each_case(injector, "usage", setup, send, finish, final, None)  # sends none
    assert any(c.endswith("TransactWriteItems") for c in report.calls)


# --- 5. the monthly run's bill_account consumer ---------------------------------------------------------------


def test_a_fault_at_any_call_of_billing_an_account_is_repaired_by_the_queues_redelivery(faults, run):
    injector, pay = faults
    from functions.billing_run import store as run_store
    from functions.core.resources import bucket_name

    arn = f"arn:aws:sqs:us-east-1:{DEFAULT_ACCOUNT_ID}:billow-test-billing-account"

    def setup(n):
        contact = _contact(n)
        with _at(date(2026, 11, 10)):
            account_id, token = pay.account(type="payg", billing_day=1, billing_contact=contact)
            pay.change_card(account_id, token)
        item = {"description": "vm", "category": "server", "recurring_fee": 3000}
        run.post(account_id, "billing-items", item, date(2026, 11, 10))
        body = json.dumps({"account_id": account_id, "run_date": RUN_DATE.isoformat(), "kind": "due"})
        message = {"MessageId": str(uuid.uuid4()), "ReceiptHandle": f"rh-{n}", "Body": body}
        return {"account": account_id, "message": message, **contact}

    def deliver(ctx):
        with _at(RUN_DATE):
            return pay.client.lambda_.invoke("bill_account", sqs_event([ctx["message"]], arn, "us-east-1")).payload

    def finish(ctx, first):
        return _redelivered(lambda: deliver(ctx), first)

    def final(ctx):
        import boto3

        account_id = ctx["account"]
        record = run_store.get(account_id, RUN_DATE)
        s3 = boto3.client("s3", region_name="us-east-1")
        pdfs = s3.list_objects_v2(Bucket=bucket_name(), Prefix="").get("Contents", [])
        return {
            **_common(account_id),
            "run": (record.charge, record.pdf_stored, record.notice_sent) if record else None,
            # issue 21: the run stores no PDF (it queues the render, at least once: pdf_stored says so)
            "pdfs": sum(1 for o in pdfs if account_id in o["Key"]),
        }

    report = _each_case(injector, "billing-run", setup, deliver, finish, final, lambda ctx: _mails(to=ctx["email"]))
    # v4: the run charges nothing itself; it requests the account's collection (docs/collections.md)
    # issue 21: the PDF's render is queued (SendMessageBatch to pdf-render), never rendered by the run
    assert {"sqs.SendMessageBatch", "sesv2.SendEmail"} <= set(report.calls) and "s3.PutObject" not in report.calls
    assert "stripe.POST /v1/payment_intents" not in report.calls


# --- 6. the collector's consumer (the one off-session path) ------------------------------------------------------


def test_a_fault_at_any_call_of_a_collection_is_repaired_by_the_queues_redelivery(faults, run):
    # a crash at each step of a collection — its row read, the lease, Stripe, the apply step, the receipt,
    # the close with its due-index entry — ends as the run without a fault: ONE PaymentIntent, the
    # balance collected once, one receipt at least, the collection closed
    injector, pay = faults
    from functions.payments import store as payment_store

    arn = f"arn:aws:sqs:us-east-1:{DEFAULT_ACCOUNT_ID}:billow-test-collections"

    def setup(n):
        contact = _contact(n)
        with _at(date(2026, 11, 10)):
            account_id, token = pay.account(type="payg", billing_day=1, billing_contact=contact)
            pay.change_card(account_id, token)
            pay.charge(account_id, 2600)
            pay.charge(account_id, 1400)
        seq = payment_store.get_collection(account_id).seq
        body = json.dumps({"account_id": account_id, "seq": seq})
        message = {"MessageId": str(uuid.uuid4()), "ReceiptHandle": f"rh-{n}", "Body": body}
        return {"account": account_id, "message": message, **contact}

    def deliver(ctx):
        with _at(date(2026, 11, 10)):
            return pay.client.lambda_.invoke("collect", sqs_event([ctx["message"]], arn, "us-east-1")).payload

    def finish(ctx, first):
        return _redelivered(lambda: deliver(ctx), first)

    def final(ctx):
        account_id = ctx["account"]
        row = payment_store.get_collection(account_id)
        paid = [(p.amount, p.status) for p in payment_store.all_payments(account_id) if p.source == "off_session"]
        return {**_common(account_id), "collection": (row.seq, row.state), "payments": paid}

    report = _each_case(injector, "collection", setup, deliver, finish, final, lambda ctx: _mails(to=ctx["email"]))
    assert {"stripe.POST /v1/payment_intents", "sesv2.SendEmail", "dynamodb.TransactWriteItems"} <= set(report.calls)
