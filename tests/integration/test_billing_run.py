"""The monthly run: due index, shard fan-out, the Recurring invoice (fees in advance, usage in arrears,
anniversary cancellations, unapplied credit), exactly once however often it runs, PDF and one notice."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, date, datetime

import boto3
import pytest

from functions.core import clock
from tests.integration.render_helpers import pdf_link, render_messages
from tests.integration.usage_helpers import set_rates


def _at(day: date):
    return clock.frozen(datetime(day.year, day.month, day.day, 0, 5, tzinfo=UTC))


@pytest.fixture
def run(api, queues_and_mail, mint):
    from functions.core.resources import bucket_name
    from functions.invoices import store

    store.reset_client()
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=bucket_name())
    yield Run(api, queues_and_mail, mint)
    store.reset_client()


class Run:
    def __init__(self, api, sqs, mint):
        self.api, self.sqs, self.usage_token = api, sqs, mint("meter", "billing:usage")
        # v4: usage is priced by the rate card, not by its records (tests/integration/usage_helpers.py)
        set_rates(api, {("cdn", "gb"): "0.015", ("cdn", "transfer"): "1"})

    def account(self, on=date(2026, 11, 10), **kw):
        with _at(on):
            acct = self.api.create_account(**{"type": "subscription", "billing_day": 1, **kw})
        return acct["id"]

    def post(self, account_id, path, body, on):
        with _at(on):
            status, data, _ = self.api.call(
                "POST",
                f"/v1/accounts/{account_id}/{path}",
                body,
                token=self.api.admin,
                headers={"Idempotency-Key": str(uuid.uuid4())},
            )
        assert status in (200, 201), data
        return data

    def usage(self, account_id, records, on):
        with _at(on):
            status, out, _ = self.api.call("POST", "/v1/usage", {"records": records}, token=self.usage_token)
        assert status == 200 and out["rejected"] == 0, out
        return out

    def bill(self, account_id, day):
        from functions.billing_run import service

        with _at(day):
            return service.bill_account(account_id, day)

    def invoices(self, account_id, type="recurring"):
        page = self.api.call("GET", f"/v1/accounts/{account_id}/invoices?type={type}", token=self.api.admin)[1]
        return page["data"]

    def invoice(self, account_id, invoice_id):
        return self.api.call("GET", f"/v1/accounts/{account_id}/invoices/{invoice_id}", token=self.api.admin)[1]

    def summary(self, account_id):
        return self.api.call("GET", f"/v1/accounts/{account_id}/summary", token=self.api.admin)[1]

    def mails(self):
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.ses.models import ses_backends

        return ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages

    def recurring_mails(self, account_id):
        """The e-mails about the account's Recurring invoices (every issued invoice has its notice now:
        the New and Credit notices are left out)."""
        numbers = [i["number"] for i in self.invoices(account_id)]
        return [m for m in self.mails() if any(n in m.subject for n in numbers)]


def test_a_month_with_items_usage_a_cancellation_and_a_credit_makes_one_recurring_invoice(run):
    from functions.core.ledger import audit_account
    from functions.usage.store import records as usage_store

    acct = run.account(on=date(2026, 11, 3))
    run.post(
        acct, "billing-items", {"description": "vm", "category": "server", "recurring_fee": 3000}, date(2026, 11, 10)
    )
    disk = run.post(
        acct, "billing-items", {"description": "disk", "category": "storage", "recurring_fee": 1000}, date(2026, 11, 3)
    )
    run.post(acct, f"billing-items/{disk['item']['id']}/cancellation", {"when": "anniversary"}, date(2026, 11, 20))
    records = [
        {
            "id": f"u{n}",
            "account_id": acct,
            "service": "cdn",
            "metric": "gb",
            "quantity": "333.333333",
            "occurred_at": "2026-11-15T00:00:00Z",
        }
        for n in range(3)
    ]
    run.usage(acct, records, date(2026, 11, 25))
    new_invoices = run.invoices(acct, "new")
    run.post(acct, "credits", {"amount": 3000 + 1000 + 1000, "reason": "welcome"}, date(2026, 11, 26))
    # the credit settled both New invoices (2,100 + 933) and left 1,967 unapplied
    assert run.summary(acct)["balance"]["unapplied_credit"] == 5000 - sum(i["total"] for i in new_invoices)

    outcome = run.bill(acct, date(2026, 12, 1))
    (recurring,) = run.invoices(acct)
    inv = run.invoice(acct, recurring["id"])
    assert outcome.invoice_id == inv["id"] and inv["date"] == "2026-12-01"
    assert (inv["period_start"], inv["period_end"]) == ("2026-12-01", "2027-01-01")
    lines = sorted(
        (line["description"], line["amount"], line["period_start"], line["period_end"]) for line in inv["lines"]
    )
    assert lines == [
        ("cdn · gb", 15, "2026-11-01", "2026-12-01"),  # 999.999999 GB x 0.015 cent
        ("vm", 3000, "2026-12-01", "2027-01-01"),
    ]  # the disk's anniversary cancellation came first
    assert inv["total"] == 3015 and inv["amount_paid"] == 1967 and inv["balance_due"] == 1048
    assert (
        run.api.call("GET", f"/v1/accounts/{acct}/billing-items/{disk['item']['id']}", token=run.api.admin)[1]["status"]
        == "cancelled"
    )
    summary = run.summary(acct)
    assert (summary["last_recurring_invoice_date"], summary["next_recurring_invoice_date"]) == (
        "2026-12-01",
        "2027-01-01",
    )
    assert usage_store.is_sealed(acct, date(2026, 11, 1))
    # v4: the run issues, the collector collects; a new subscription account is send_invoice (pays itself)
    assert outcome.result == "invoiced"
    (mail,) = run.recurring_mails(acct)
    assert mail.destinations["ToAddresses"] == ["ada@example.com"] and inv["number"] in mail.subject
    # v4: a new subscription account pays by invoice (send_invoice): the notice asks it to pay, with the link
    assert "Please pay the amount due" in mail.body and f"/#/invoices/{inv['id']}?account={acct}" in mail.body
    assert len(run.mails()) == 2 + 1 + 1  # v4: the two New invoices and the Credit have their notices too
    # issue 21: the run queued the Recurring invoice's render (with the New invoices' and the Credit's); the
    # pdf-render worker stores it, then the route presigns
    queued = {json.loads(m["Body"])["invoice_id"] for m in render_messages(visibility=0)}
    assert inv["id"] in queued
    assert pdf_link(run.api, f"/v1/accounts/{acct}/invoices/{inv['id']}/pdf", run.api.admin)[0] == 200
    assert audit_account(acct).problems == []


def test_the_same_date_three_times_and_a_late_redelivery_make_one_invoice_and_one_email(run):
    acct = run.account()
    run.post(
        acct, "billing-items", {"description": "vm", "category": "server", "recurring_fee": 3000}, date(2026, 11, 10)
    )
    for _ in range(3):
        run.bill(acct, date(2026, 12, 1))
    run.bill(acct, date(2026, 12, 2))
    assert len(run.invoices(acct)) == 1
    assert len(run.recurring_mails(acct)) == 1 and len(run.mails()) == 2  # and the New invoice's notice
    assert run.summary(acct)["balance"]["current"] == 2100 + 3000


def test_a_second_worker_with_a_stale_account_posts_nothing_more(run, monkeypatch):
    from functions.billing_run import service

    acct = run.account()
    run.post(
        acct, "billing-items", {"description": "vm", "category": "server", "recurring_fee": 3000}, date(2026, 11, 10)
    )
    stale = service.get_account(acct)
    run.bill(acct, date(2026, 12, 1))
    calls = []
    real = service.get_account

    def stale_then_fresh(account_id):
        calls.append(1)
        return stale if len(calls) == 1 else real(account_id)

    monkeypatch.setattr(service, "get_account", stale_then_fresh)
    run.bill(acct, date(2026, 12, 1))  # thinks the account is still due: the posting's conditions refuse it
    assert len(run.invoices(acct)) == 1 and len(run.recurring_mails(acct)) == 1


def test_a_crash_after_posting_is_finished_by_the_redelivery(run, monkeypatch):
    from functions.billing_run import service

    acct = run.account()
    run.post(
        acct, "billing-items", {"description": "vm", "category": "server", "recurring_fee": 3000}, date(2026, 11, 10)
    )
    # (issue 21: the step after posting is invoice_issued — notice, PDF render queued, collection; the run no
    # longer renders)
    monkeypatch.setattr(service, "invoice_issued", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("SQS down")))
    with pytest.raises(RuntimeError):
        run.bill(acct, date(2026, 12, 1))
    assert len(run.invoices(acct)) == 1 and run.recurring_mails(acct) == []
    monkeypatch.undo()
    run.bill(acct, date(2026, 12, 1))
    assert len(run.invoices(acct)) == 1 and len(run.recurring_mails(acct)) == 1


def test_nothing_to_bill_issues_a_closed_zero_invoice_without_a_charge(run):
    acct = run.account()
    outcome = run.bill(acct, date(2026, 12, 1))
    (inv,) = run.invoices(acct)
    assert (inv["total"], inv["status"]) == (0, "closed") and outcome.result == "invoiced"
    from functions.payments import store as payment_store

    assert payment_store.get_collection(acct).seq == 0  # nothing to collect: no collection opened


def test_shards_send_one_message_per_due_account_and_nothing_for_others(run):
    from functions.billing_run import service
    from functions.core.resources import queue_name

    due = [run.account(on=date(2026, 11, 10)) for _ in range(12)]
    later = run.account(on=date(2026, 11, 10), billing_day=15)  # due 2026-11-15
    run.api.create_account(type="lite", linked=False)
    sent = sum(service.dispatch_shard(shard, date(2026, 12, 1)) for shard in range(service.SHARDS))
    assert sent == 12 + 1
    url = run.sqs.get_queue_url(QueueName=queue_name("billing-account"))["QueueUrl"]
    bodies = []
    while True:
        messages = run.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            break
        for m in messages:
            bodies.append(json.loads(m["Body"]))
            run.sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    assert sorted(b["account_id"] for b in bodies) == sorted([*due, later])
    assert {b["run_date"] for b in bodies} == {"2026-12-01"} and {b["kind"] for b in bodies} == {"due"}
    assert sum(service.dispatch_shard(shard, date(2026, 11, 14)) for shard in range(service.SHARDS)) == 0


def test_the_schedule_fans_out_one_message_per_shard(run):
    from chalice.test import Client

    from app import app
    from functions.core.resources import queue_name

    with Client(app) as client, _at(date(2026, 12, 1)):
        client.lambda_.invoke(
            "daily_run",
            client.events.generate_cw_event(
                source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]
            ),
        )
    url = run.sqs.get_queue_url(QueueName=queue_name("billing-run"))["QueueUrl"]
    attrs = run.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    assert int(attrs["Attributes"]["ApproximateNumberOfMessages"]) == 32


@pytest.fixture
def card_run(run, api, client, stripe_server, queues_and_mail):
    from tests.integration.payments_helpers import Payments

    return run, Payments(api, client, stripe_server, queues_and_mail)


def _payg_with_item(run, pay, number=None):
    with _at(date(2026, 11, 10)):
        account_id, token = pay.account(type="payg", billing_day=1)
        if number:
            pay.change_card(account_id, token, number=number)
        else:
            pay.change_card(account_id, token)
    run.post(
        account_id,
        "billing-items",
        {"description": "vm", "category": "server", "recurring_fee": 3000},
        date(2026, 11, 10),
    )
    return account_id, token


def _pi_creates(pay):
    return len([r for r in pay.stripe.requests("POST", "/v1/payment_intents") if r.path == "/v1/payment_intents"])


def test_a_payg_account_is_collected_once_off_session_for_its_recurring_invoice(card_run):
    # v4 (DESIGN §3 v4 Collection): the run issues the invoice and requests its collection; the collector
    # charges the whole balance once — the New invoice, left open by v3, closes with it
    from functions.payments import store as payment_store

    run, pay = card_run
    account_id, _ = _payg_with_item(run, pay)
    before = _pi_creates(pay)
    first = run.bill(account_id, date(2026, 12, 1))
    run.bill(account_id, date(2026, 12, 1))
    assert first.result == "invoiced" and _pi_creates(pay) == before  # the run charges nothing itself
    with _at(date(2026, 12, 1)):
        pay.drain()
    assert _pi_creates(pay) - before == 1
    (recurring,) = run.invoices(account_id)
    assert recurring["status"] == "closed" and recurring["amount_paid"] == 3000
    assert run.summary(account_id)["balance"]["current"] == 0  # the New invoice rode in the same charge
    (row,) = [p for p in payment_store.all_payments(account_id) if p.source == "off_session"]
    assert row.amount == 5100
    assert [m for m in run.mails() if recurring["number"] in m.subject]
    assert pay.audit_ok(account_id)


def test_a_declined_card_is_retried_on_schedule_then_past_due_until_paid(card_run):
    # v4: the dunning retries are the collector's; the shard worker sends the retry# entries to it
    from functions.billing_run import service

    run, pay = card_run
    account_id, _ = _payg_with_item(run, pay, number="4000000000000341")
    with _at(date(2026, 12, 1)):
        assert run.bill(account_id, date(2026, 12, 1)).result == "invoiced"
        pay.drain()
    (recurring,) = run.invoices(account_id)
    assert recurring["status"] == "open"
    with _at(date(2026, 12, 2)):
        assert service.handle_account_message(
            {"account_id": account_id, "run_date": "2026-12-02", "kind": "retry"}
        ).result in ("waiting", "dunning")
    outcomes = []
    for day in (date(2026, 12, 4), date(2026, 12, 8), date(2026, 12, 15)):
        sent = sum(service.dispatch_shard(s, day) for s in range(service.SHARDS))
        assert sent >= 1
        with _at(day):
            message = {"account_id": account_id, "run_date": day.isoformat(), "kind": "retry"}
            outcomes.append(service.handle_account_message(message).result)
    assert outcomes == ["dunning", "dunning", "past_due"]
    assert run.summary(account_id)["past_due"] is True
    subjects = [m.subject for m in run.mails()]
    # the collector's e-mails: the first decline and two retries' declines, then past due
    assert sum("Action needed" in s for s in subjects) == 3 and sum("past due" in s for s in subjects) == 1
    assert sum(recurring["number"] in s for s in subjects) == 1  # the invoice's own notice, once
    owed = run.summary(account_id)["balance"]["current"]
    transfer = {"amount": owed, "method": "offline", "reference": "VIR 4471", "received_on": "2026-12-19"}
    paid = run.post(account_id, "payments", transfer, date(2026, 12, 20))  # v4: a payment, not a Credit
    assert paid["status"] == "succeeded" and {a["invoice_id"] for a in paid["applied_to"]} >= {recurring["id"]}
    assert run.summary(account_id)["past_due"] is False and run.summary(account_id)["balance"]["current"] == 0
    pay.audit_ok(account_id)


def test_a_card_needing_authentication_gets_a_link_to_the_payment_page(card_run):
    run, pay = card_run
    with _at(date(2026, 11, 10)):
        account_id, token = pay.account(type="payg", billing_day=1)
        seti = pay.confirmed_setup_3ds(account_id, token)
        assert pay.put(account_id, token, seti)[0] == 202
        pay.deliver(pay.messages())
    run.post(
        account_id,
        "billing-items",
        {"description": "vm", "category": "server", "recurring_fee": 3000},
        date(2026, 11, 10),
    )
    outcome = run.bill(account_id, date(2026, 12, 1))
    assert outcome.result == "invoiced"
    with _at(date(2026, 12, 1)):
        pay.drain()
    (recurring,) = run.invoices(account_id)
    (notice,) = [m for m in run.mails() if recurring["number"] in m.subject]
    assert f"/#/invoices/{recurring['id']}?account={account_id}" in notice.body  # the invoice notice
    (failure,) = [m for m in run.mails() if "Action needed" in m.subject]
    assert re.search(rf"/#/payments/pay_\w+\?account={account_id}", failure.body)
    assert recurring["status"] == "open"


def test_cancelling_now_after_a_recurring_invoice_refunds_the_unused_part_of_that_invoice(run):
    # Found by the randomized simulation (tests/proof/test_simulation.py): the refund was 0, because
    # the item still said its New invoice (Nov 10 - Dec 1) billed it last.
    from functions.core.ledger import audit_account

    acct = run.account(on=date(2026, 11, 10))
    vm = run.post(
        acct, "billing-items", {"description": "vm", "category": "server", "recurring_fee": 3100}, date(2026, 11, 10)
    )
    run.bill(acct, date(2026, 12, 1))
    (recurring,) = run.invoices(acct)

    out = run.post(acct, f"billing-items/{vm['item']['id']}/cancellation", {"when": "now"}, date(2026, 12, 17))

    assert out["refund_amount"] == 1500  # 15 of December's 31 days unused, of the 3,100 billed on Dec 1
    refund = run.invoice(acct, out["refund_invoice_id"])
    assert refund["applied_to"][0] == {"invoice_id": recurring["id"], "amount": 1500}
    assert (out["item"]["billed_from"], out["item"]["billed_to"]) == ("2026-12-01", "2026-12-17")
    assert audit_account(acct).problems == []


# ---- amount limits (issue 14, hole 4; DESIGN §3 v4 Amount limits) -------------------------------------

MAX_AMOUNT = 99_999_999


def _big_items(run, acct, *fees):
    for n, fee in enumerate(fees):
        item = {"description": f"vm {n}", "category": "server", "recurring_fee": fee}
        run.post(acct, "billing-items", item, date(2026, 11, 10))


def test_a_recurring_invoice_above_the_limit_is_split_into_invoices_within_it(run, monkeypatch):
    from functions.billing_run import service
    from functions.billing_run import store as run_store
    from functions.core.ledger import audit_account

    acct = run.account()
    _big_items(run, acct, 40_000_000, 40_000_000, 40_000_000)  # New invoices of 28,000,000 each (21 of 30 days)
    usage = {"service": "cdn", "metric": "transfer", "occurred_at": "2026-11-15T00:00:00Z"}
    run.usage(acct, [{"id": "u1", "account_id": acct, "quantity": 30_000_000, **usage}], date(2026, 11, 25))
    # the steps of the second part (notice, PDF render queued, collection) fail once: the redelivery finishes
    # that part only (issue 21: the run no longer renders; it was its PDF that failed before)
    real_issued, calls = service.invoice_issued, []

    def flaky_issued(*args, **kwargs):
        calls.append(args)
        if len(calls) == 2:
            raise RuntimeError("SQS down")
        return real_issued(*args, **kwargs)

    monkeypatch.setattr(service, "invoice_issued", flaky_issued)
    with pytest.raises(RuntimeError):
        run.bill(acct, date(2026, 12, 1))
    monkeypatch.undo()
    for day in (date(2026, 12, 1), date(2026, 12, 1), date(2026, 12, 2)):  # redelivery, re-run, late re-run
        outcome = run.bill(acct, day)

    invoices = sorted(run.invoices(acct), key=lambda i: i["number"])
    first, second = (run.invoice(acct, i["id"]) for i in invoices)
    assert [i["id"] for i in invoices] == [service.recurring_invoice_id(acct, date(2026, 12, 1), n) for n in (1, 2)]
    assert [i["total"] for i in invoices] == [80_000_000, 70_000_000]  # 150,000,000 split, each within the limit
    assert all(i["total"] <= MAX_AMOUNT for i in invoices)
    number = int(invoices[0]["number"].split("-")[0])
    assert [i["number"] for i in invoices] == [f"{number}-000004", f"{number}-000005"]  # after the 3 New invoices
    assert [(i["date"], i["period_start"], i["period_end"]) for i in (first, second)] == [
        ("2026-12-01", "2026-12-01", "2027-01-01")
    ] * 2
    assert [i["description"] for i in (first, second)] == [
        "Recurring: 2026-12-01 to 2027-01-01 (1 of 2)",
        "Recurring: 2026-12-01 to 2027-01-01 (2 of 2)",
    ]
    assert [[line["amount"] for line in i["lines"]] for i in (first, second)] == [
        [40_000_000, 40_000_000],
        [40_000_000, 30_000_000],
    ]
    assert outcome.invoice_id == first["id"] and outcome.result == "invoiced"
    assert [r.invoice_id for r in run_store.get_parts(acct, date(2026, 12, 1))] == [first["id"], second["id"]]
    assert run.summary(acct)["balance"]["current"] == 3 * 28_000_000 + 150_000_000
    mails = run.recurring_mails(acct)
    numbers = [n for m in mails for n in (first["number"], second["number"]) if n in m.subject]
    assert sorted(numbers) == [first["number"], second["number"]]
    assert len(mails) == 2  # one notice per invoice, none twice
    for inv in (first, second):
        assert pdf_link(run.api, f"/v1/accounts/{acct}/invoices/{inv['id']}/pdf", run.api.admin)[0] == 200
    assert audit_account(acct).problems == []


def test_a_balance_above_the_amount_limit_is_collected_in_charges_within_it(card_run):
    # v4: a collection charges the balance capped at the amount limit; the rest is the next collection's
    from functions.core import ledger
    from functions.core.money import MAX_AMOUNT
    from functions.payments import store as payment_store

    run, pay = card_run
    with _at(date(2026, 11, 10)):
        account_id, token = pay.account(type="payg", billing_day=1)
        pay.change_card(account_id, token)
    _big_items(run, account_id, 60_000_000, 60_000_000)
    before = _pi_creates(pay)
    outcome = run.bill(account_id, date(2026, 12, 1))
    run.bill(account_id, date(2026, 12, 1))
    assert outcome.result == "invoiced"
    with _at(date(2026, 12, 1)):
        pay.drain()
    rows = [p for p in payment_store.all_payments(account_id) if p.source == "off_session"]
    assert sorted(p.amount for p in rows) == sorted([MAX_AMOUNT, MAX_AMOUNT, 204_000_000 - 2 * MAX_AMOUNT])
    assert _pi_creates(pay) - before == 3
    assert all(i["status"] == "closed" for i in run.invoices(account_id) + run.invoices(account_id, "new"))
    assert ledger.get_balance(account_id).current == 0
    pay.audit_ok(account_id)


def test_a_declined_split_invoice_is_collected_once_a_new_card_is_added(card_run):
    from functions.payments import store as payment_store

    run, pay = card_run
    with _at(date(2026, 11, 10)):
        account_id, token = pay.account(type="payg", billing_day=1)
        pay.change_card(account_id, token, number="4000000000000341")  # attaches, then declines charges
    _big_items(run, account_id, 60_000_000, 60_000_000)
    with _at(date(2026, 12, 1)):
        run.bill(account_id, date(2026, 12, 1))
        pay.drain()
    assert payment_store.get_collection(account_id).state == "dunning"
    with _at(date(2026, 12, 3)):
        pay.change_card(account_id, token)  # a card that pays: the collection retries at once
        pay.drain()
    assert all(i["status"] == "closed" for i in run.invoices(account_id))
    assert payment_store.get_collection(account_id).state == "idle"
    pay.audit_ok(account_id)


def test_a_new_invoice_above_the_limit_is_refused_and_nothing_is_written(run):
    acct = run.account()
    with _at(date(2026, 11, 10)):
        status, problem, _ = run.api.call(
            "POST",
            f"/v1/accounts/{acct}/billing-items",
            {"description": "big", "category": "server", "recurring_fee": MAX_AMOUNT, "setup_fee": MAX_AMOUNT},
            token=run.api.admin,
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )
        items = run.api.call("GET", f"/v1/accounts/{acct}/billing-items?view=all", token=run.api.admin)[1]
    assert (status, problem["code"]) == (422, "amount-too-large")
    assert items["data"] == [] and run.invoices(acct, "new") == []
    assert run.summary(acct)["balance"]["current"] == 0


def test_the_audit_flags_an_invoice_or_a_line_above_the_limit(run, monkeypatch):
    """Invoices posted before the limits (the posting function refused nothing then) are flagged."""
    from functions.core import ledger
    from functions.core.ledger import Line
    from tests.integration import ledger_commit

    acct = run.account()
    assert ledger.audit_account(acct).problems == []
    monkeypatch.setattr(ledger.invoices, "_check_limits", lambda lines: sum(line.amount for line in lines))
    day = date(2026, 11, 10)
    with _at(day):
        ledger_commit.post_invoice(
            acct,
            invoice_id="inv_" + "a" * 20,
            type="one_time",
            lines=[Line("usage", 999_999_999_999_999_999_999_999_000, day, day)],
            description="before the limits",
        )
        ledger_commit.post_invoice(
            acct,
            invoice_id="inv_" + "b" * 20,
            type="one_time",
            lines=[Line("a", 60_000_000, day, day), Line("b", 60_000_000, day, day)],
            description="before the limits",
        )
    monkeypatch.undo()
    problems = ledger.audit_account(acct).problems
    number = ledger.get_invoice(acct, "inv_" + "a" * 20).number
    other = ledger.get_invoice(acct, "inv_" + "b" * 20).number
    assert f"invoice {number} has a total of 999999999999999999999999000, above the limit of 99999999" in problems
    assert f"invoice {number} has a line of 999999999999999999999999000, above the limit of 99999999" in problems
    assert f"invoice {other} has a total of 120000000, above the limit of 99999999" in problems
    assert len(problems) == 3  # the two lines of 60,000,000 are within it; the invariant holds


# ---- issue 14 hole 11: a late run catches up every period in one go; a re-run changes nothing --------

CATCH_UP = [date(2026, 12, 1), date(2027, 1, 1), date(2027, 2, 1), date(2027, 3, 1)]


def test_a_run_four_periods_late_bills_them_all_at_once_and_running_it_again_changes_nothing(card_run):
    # Found driving billow from outside (issue 14): each run of the same late date billed one more period
    # (4 runs -> 4 invoices, 4 charges) and `billow bill` counted 0 invoiced for them.
    from functions.billing_run import service
    from local.cli import billing_run_counts

    run, pay = card_run
    account_id, _ = _payg_with_item(run, pay)  # billing day 1, first recurring date 2026-12-01
    run_date = date(2027, 3, 15)  # the run is late by four periods
    before = _pi_creates(pay)

    first = run.bill(account_id, run_date)
    invoices = sorted(run.invoices(account_id), key=lambda i: i["date"])
    assert [i["date"] for i in invoices] == [d.isoformat() for d in CATCH_UP]  # oldest first, each on its date
    assert [i["id"] for i in invoices] == [service.recurring_invoice_id(account_id, d) for d in CATCH_UP]
    with _at(run_date):
        pay.drain()  # v4: the collector charges the whole balance once
    invoices = sorted(run.invoices(account_id), key=lambda i: i["date"])
    assert [(i["status"], i["total"], i["amount_paid"]) for i in invoices] == [("closed", 3000, 3000)] * 4
    assert _pi_creates(pay) - before == 1  # one collection for the four periods and the New invoice
    assert first.result == "invoiced" and first.invoice_id == invoices[-1]["id"]
    summary = run.summary(account_id)
    assert (summary["last_recurring_invoice_date"], summary["next_recurring_invoice_date"]) == (
        "2027-03-01",
        "2027-04-01",
    )
    assert summary["balance"]["current"] == 0
    assert billing_run_counts(run_date) == {"invoiced": 4, "requested": 4}
    mails = len(run.mails())

    for _ in range(3):  # the same date again: nothing changes, whatever the lag was
        again = run.bill(account_id, run_date)
        assert (again.result, again.invoice_id) == ("invoiced", invoices[-1]["id"])
    run.bill(account_id, date(2027, 2, 10))  # an older date: already billed too
    assert sorted(i["id"] for i in run.invoices(account_id)) == sorted(i["id"] for i in invoices)
    assert _pi_creates(pay) - before == 1
    assert len(run.mails()) == mails and run.summary(account_id)["balance"]["current"] == 0
    assert billing_run_counts(run_date) == {"invoiced": 4, "requested": 4}
    assert billing_run_counts(date(2026, 12, 1)) == {}  # the periods count for the run that billed them
    pay.audit_ok(account_id)


def test_a_crash_in_the_middle_of_a_catch_up_is_finished_by_the_redelivery_then_the_rest_billed(run, monkeypatch):
    from functions.billing_run import service

    acct = run.account()
    run.post(
        acct, "billing-items", {"description": "vm", "category": "server", "recurring_fee": 3000}, date(2026, 11, 10)
    )
    real, calls = service.invoice_issued, []

    def second_fails(*args, **kwargs):  # (issue 21: was the second PDF; the run no longer renders)
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("SQS down")
        return real(*args, **kwargs)

    monkeypatch.setattr(service, "invoice_issued", second_fails)
    with pytest.raises(RuntimeError):
        run.bill(acct, date(2027, 3, 15))
    assert (
        len(run.invoices(acct)) == 2 and len(run.recurring_mails(acct)) == 1
    )  # the second period posted, not finished
    monkeypatch.undo()
    run.bill(acct, date(2027, 3, 15))  # the redelivery
    invoices = run.invoices(acct)
    assert sorted(i["date"] for i in invoices) == [d.isoformat() for d in CATCH_UP]
    assert len(run.recurring_mails(acct)) == 4  # one notice per period, none twice
    assert run.summary(acct)["balance"]["current"] == 2100 + 4 * 3000


def test_a_manual_invocation_runs_the_date_it_names_and_refuses_a_bad_one(run):
    # issue 20: `billow --stage S bill --date D` invokes the daily-run function with a bare {"date": D}
    # (local/deployed.py); Lambda calls the module attribute Chalice names as the handler, which takes both
    # that and the schedule's own event
    from chalice.local import LambdaContext
    from chalice.test import Client

    from app import app
    from functions.billing_run import routes
    from functions.core.resources import queue_name
    from local.deployed import manual_run_event

    (source,) = [e for e in app.event_sources if e.name == "daily_run"]
    assert source.handler_string == "functions.billing_run.routes.daily_run"
    context = LambdaContext("daily_run", memory_size=512)
    scheduled = {
        "version": "0",
        "id": "schedule-1",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": "2026-12-20T00:05:00Z",
        "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/daily"],
        "detail": {},
    }
    url = run.sqs.get_queue_url(QueueName=queue_name("billing-run"))["QueueUrl"]
    with Client(app), _at(date(2026, 12, 20)):
        assert manual_run_event(date(2026, 12, 1)) == {"date": "2026-12-01"}
        answer = routes.daily_run(manual_run_event(date(2026, 12, 1)), context)
        assert answer["run_date"] == "2026-12-01" and answer["shards"] == 32
        assert routes.daily_run(scheduled, context)["run_date"] == "2026-12-20"  # the schedule's: today
        for bad in ({"date": "1 Dec 2026"}, {"date": "2026-13-01"}, {"date": 20261201}, {"date": "2026-12-01", "x": 1}):
            with pytest.raises(ValueError, match="YYYY-MM-DD"):
                routes.daily_run(bad, context)
    bodies = []
    while messages := run.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        bodies += [json.loads(m["Body"]) for m in messages]
        run.sqs.delete_message_batch(
            QueueUrl=url, Entries=[{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(messages)]
        )
    runs = sorted(b["run_date"] for b in bodies)  # nothing sent for the bad ones
    assert runs == ["2026-12-01"] * 32 + ["2026-12-20"] * 32
