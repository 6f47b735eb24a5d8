"""The collector (DESIGN §3 v4 Collection; docs/collections.md) over moto and localstripe: every debit
invoice of an automatic account collected off-session by ONE PaymentIntent per collection attempt;
invoices issued close together in one charge; amounts below the minimum carried; dunning with e-mails,
a new card retrying at once, past_due with the balance; redeliveries and races making no second charge."""

from __future__ import annotations

import html
import re
from datetime import UTC, date, datetime

import pytest

from functions.core import clock, ledger
from functions.payments import collection_dunning, collections
from functions.payments import service as payments
from functions.payments import store as payment_store
from local import stripe_js
from tests.integration.payments_helpers import Payments


def _at(day: date):
    return clock.frozen(datetime(day.year, day.month, day.day, 9, 0, tzinfo=UTC))


class Collector(Payments):
    """Payments' helpers (the `collections` queue delivered as Lambda does among them)."""

    def payg(self, card=stripe_js.SUCCEEDS, **overrides):
        account_id, token = self.account(**{"type": "payg", **overrides})
        if card:
            self.change_card(account_id, token, number=card)
        return account_id, token

    def intents_at_stripe(self, account_id):
        from tests.proof import state

        return state.stripe_payment_intents(account_id)

    def subjects(self, address="ada@example.com"):
        return [m.subject for m in self.mails_to(address)]


@pytest.fixture
def col(api, client, stripe_server, queues_and_mail):
    return Collector(api, client, stripe_server, queues_and_mail)


def _provision(col, account_id, fee=3000):
    import uuid

    status, body, _ = col.api.call(
        "POST",
        f"/v1/accounts/{account_id}/billing-items",
        {"description": "vm", "category": "server", "recurring_fee": fee},
        token=col.api.admin,
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    assert status == 201, body
    return body["invoice_id"]


def test_a_new_invoice_on_payg_with_a_card_is_collected_by_one_off_session_charge(col):
    account_id, _ = col.payg()
    before = col.intents()
    invoice_id = _provision(col, account_id)
    assert col.invoice(account_id, invoice_id).status == "open"  # never charged inside the request
    assert col.intents() == before
    assert col.drain() == 1
    assert col.intents() - before == 1
    inv = col.invoice(account_id, invoice_id)
    assert inv.status == "closed" and col.balance(account_id).current == 0
    (row,) = col.collection_payments(account_id)
    assert row.status == "succeeded" and row.amount == inv.total and row.invoice_id is None
    assert payment_store.get_collection(account_id).state == "idle"
    assert any("Payment received" in s for s in col.subjects())  # one receipt
    assert sum("Payment received" in s for s in col.subjects()) == 1
    col.audit_ok(account_id)


def test_an_operator_one_time_charge_is_collected(col):
    account_id, _ = col.payg()
    invoice_id = col.charge(account_id, 1250)
    col.drain()
    assert col.invoice(account_id, invoice_id).status == "closed"
    (row,) = col.collection_payments(account_id)
    assert row.amount == 1250 and row.applied_to == [{"invoice_id": invoice_id, "amount": 1250}]
    col.audit_ok(account_id)


def test_invoices_issued_close_together_ride_in_one_payment_intent(col):
    account_id, _ = col.payg()
    before = col.intents()
    ids = [col.charge(account_id, amount) for amount in (1000, 700, 300)]
    assert payment_store.get_collection(account_id).seq == 1  # the second and third requests did nothing
    assert col.drain() == 1
    assert col.intents() - before == 1
    (row,) = col.collection_payments(account_id)
    assert row.amount == 2000
    assert all(col.invoice(account_id, i).status == "closed" for i in ids)
    col.audit_ok(account_id)


def test_a_remainder_below_the_minimum_is_carried_then_collected_with_the_next_as_one_payment(col):
    account_id, _ = col.payg()
    small = col.charge(account_id, 20)
    before = col.intents()
    col.drain()
    assert col.intents() == before  # nothing charged
    carried = col.invoice(account_id, small)
    assert carried.status == "open" and carried.carried_forward is True
    _, view, _ = col.api.call("GET", f"/v1/accounts/{account_id}/invoices/{small}", token=col.api.admin)
    assert view["carried_forward"] is True  # visible in the invoice's JSON
    assert payment_store.get_collection(account_id).state == "carried"
    assert col.api.call("GET", f"/v1/accounts/{account_id}/summary", token=col.api.admin)[1]["past_due"] is False
    nxt = col.charge(account_id, 3000)
    col.drain()
    assert col.intents() - before == 1
    (row,) = col.collection_payments(account_id)
    assert row.amount == 3020  # the carried 0.20 with the next invoice, one payment
    assert col.invoice(account_id, small).status == "closed" and col.invoice(account_id, nxt).status == "closed"
    col.audit_ok(account_id)


def test_the_notice_of_an_invoice_below_the_minimum_says_it_is_carried_not_charged_shortly(col):
    # found by tests/e2e/test_collections_e2e.py: the 0.20 notice promised "charged shortly", then nothing was
    from tests.integration.test_notices import text

    account_id, _ = col.payg()
    small = col.charge(account_id, 20)
    col.drain()
    nxt = col.charge(account_id, 3000)
    small_number, next_number = (col.invoice(account_id, i).number for i in (small, nxt))
    (small_mail,) = [m for m in col.mails_to("ada@example.com") if small_number in m.subject]
    (next_mail,) = [m for m in col.mails_to("ada@example.com") if next_number in m.subject]
    assert "below the minimum card charge ($0.50)" in text(small_mail), text(small_mail)
    assert "charged to your card Visa •••• 4242 with the next invoice" in text(small_mail)
    assert "charged shortly" not in text(small_mail)
    # the next invoice takes the account to 30.20: that one is charged shortly (the carried 0.20 with it)
    assert "will be charged shortly to your card Visa •••• 4242" in text(next_mail), text(next_mail)


def test_three_small_invoices_then_a_large_one_collect_the_whole_balance_once(col):
    # the case: three 0.40 invoices below the minimum (HKD 4.00), then 30.40 → 31.60 collected once
    account_id, _ = col.payg(currency="hkd")
    before = col.intents()
    small = []
    for _ in range(3):
        small.append(col.charge(account_id, 40))
        col.drain()
    assert col.intents() == before
    assert all(col.invoice(account_id, i).carried_forward for i in small)
    col.charge(account_id, 3040)
    col.drain()
    assert col.intents() - before == 1
    (row,) = col.collection_payments(account_id)
    assert row.amount == 3160 and col.balance(account_id).current == 0
    assert all(col.invoice(account_id, i).status == "closed" for i in small)
    col.audit_ok(account_id)


def test_a_carried_balance_alone_for_60_days_is_written_off_by_a_credit_invoice(col):
    account_id, _ = col.payg()
    with _at(date(2026, 11, 2)):
        small = col.charge(account_id, 30)
        col.drain()
    with _at(date(2026, 12, 31)):
        assert payments.collect(account_id, None, date(2026, 12, 31)) == "waiting"
    with _at(date(2027, 1, 1)):
        assert payments.collect(account_id, None, date(2027, 1, 1)) == "written_off"
    assert col.invoice(account_id, small).status == "closed"
    credits = col.api.call("GET", f"/v1/accounts/{account_id}/invoices?type=credit", token=col.api.admin)[1]["data"]
    assert [c["total"] for c in credits] == [30]
    inv = ledger.get_invoice(account_id, credits[0]["id"])
    assert inv.description == "Below the minimum charge: written off"
    assert col.balance(account_id).current == 0 and payment_store.get_collection(account_id).state == "idle"
    col.audit_ok(account_id)


def test_no_card_enters_dunning_a_new_card_retries_at_once(col):
    account_id, token = col.payg(card=None)
    with _at(date(2026, 11, 10)):
        invoice_id = col.charge(account_id, 2500)  # operator charges are accepted without a card
        col.drain()
    row = payment_store.get_collection(account_id)
    assert row.state == "dunning" and row.reason == "no_card" and row.retry_on == date(2026, 11, 13)
    assert any("Action needed" in s for s in col.subjects())
    before = col.intents()
    col.change_card(account_id, token)  # the validation's success retries at once
    col.drain()
    assert col.intents() - before == 1
    assert col.invoice(account_id, invoice_id).status == "closed"
    assert payment_store.get_collection(account_id).state == "idle"
    _one_receipt_naming(col, account_id, invoice_id)
    col.audit_ok(account_id)


def _one_receipt_naming(col, account_id, invoice_id, subject="Payment received", address="ada@example.com"):
    """Issue 22: the retry that succeeded sent ONE receipt, naming the invoice it paid by its number and
    no internal id."""
    receipts = [m for m in col.mails_to(address) if subject in m.subject]
    assert len(receipts) == 1, [m.subject for m in col.mails_to(address)]
    body = re.sub(r"[ \t\n]+", " ", html.unescape(re.sub(r"<[^>]+>", " ", receipts[0].body))).strip()
    assert col.invoice(account_id, invoice_id).number in body, body
    assert "pay_" not in body and "inv_" not in body, body
    return body


def test_a_declined_card_is_dunned_on_schedule_then_past_due_until_paid_and_a_new_charge_does_not_bring_it_back(col):
    account_id, _ = col.payg(card=stripe_js.DECLINED_AT_CHARGE)
    with _at(date(2026, 11, 10)):
        invoice_id = col.charge(account_id, 2500)
        col.drain()
    assert payment_store.get_collection(account_id).state == "dunning"
    outcomes = []
    for day in (date(2026, 11, 12), date(2026, 11, 13), date(2026, 11, 17), date(2026, 11, 24)):
        with _at(day):
            outcomes.append(payments.collect(account_id, None, day))
    assert outcomes == ["waiting", "dunning", "dunning", "past_due"]
    assert len(col.collection_payments(account_id)) == 4  # the first attempt and three retries
    summary = col.api.call("GET", f"/v1/accounts/{account_id}/summary", token=col.api.admin)[1]
    assert summary["past_due"] is True and col.invoice(account_id, invoice_id).past_due is True
    # paid by an offline route (a credit here): past_due clears in that transaction
    with _at(date(2026, 11, 25)):
        col.api.call(
            "POST",
            f"/v1/accounts/{account_id}/credits",
            {"amount": 2500, "reason": "goodwill"},
            token=col.api.admin,
            headers={"Idempotency-Key": "credit-1"},
        )
    assert col.balance(account_id).past_due == 0
    with _at(date(2026, 11, 26)):
        col.charge(account_id, 100)  # a new charge: dunned afresh, never past due at once
    summary = col.api.call("GET", f"/v1/accounts/{account_id}/summary", token=col.api.admin)[1]
    assert summary["past_due"] is False
    col.audit_ok(account_id)


def test_a_do_not_retry_decline_ends_dunning_at_once(col):
    account_id, _ = col.payg(card=stripe_js.DECLINED_AT_CHARGE)
    # localstripe declines without a decline code: the attempt's row is given Stripe's stolen_card code
    # (as Stripe sends it for 4000000000009979) before its outcome is acted on
    with _at(date(2026, 11, 10)):
        invoice_id = col.charge(account_id, 2500)
        col.drain()
    pay = col.collection_payments(account_id)[0]
    from dataclasses import replace

    from functions.core.uow import UnitOfWork

    row = payment_store.get_collection(account_id)
    assert row.state == "dunning"
    stolen = replace(pay, decline_code="stolen_card")
    UnitOfWork().add(payment_store.save_payment(pay, stolen)).commit()
    back = replace(row, state="open", attempt=1)
    UnitOfWork().add(payment_store.save_collection(row, back)).commit()
    with _at(date(2026, 11, 10)):
        assert collections.outcome_of(back, stolen, date(2026, 11, 10)) == "past_due"
    assert col.invoice(account_id, invoice_id).past_due is True
    assert payment_store.get_collection(account_id).state == "idle"
    assert "stolen_card" in collection_dunning.DO_NOT_RETRY
    col.audit_ok(account_id)


def test_a_retry_cancels_the_previous_payment_intent_waiting_for_authentication(col):
    account_id, token = col.payg(card=None)
    seti = col.confirmed_setup_3ds(account_id, token)
    assert col.put(account_id, token, seti)[0] == 202
    col.deliver(col.messages())
    with _at(date(2026, 11, 10)):
        col.charge(account_id, 1800)
        col.drain()
    (first,) = col.collection_payments(account_id)
    assert first.status == "requires_action"
    assert any("Action needed" in s for s in col.subjects())
    with _at(date(2026, 11, 13)):
        payments.collect(account_id, None, date(2026, 11, 13))
    assert payment_store.get_payment(account_id, first.id).status == "failed"  # cancelled, released
    cancels = col.stripe.requests("POST", f"/v1/payment_intents/{first.payment_intent_id}/cancel")
    assert len(cancels) == 1
    _, second = sorted(col.collection_payments(account_id), key=lambda p: p.created_at)
    assert second.status == "requires_action"  # the retry's own PaymentIntent, waiting in turn
    assert col.balance(account_id).in_flight == 1800  # only the retry's reservation: the first's was released
    col.audit_ok(account_id)


def test_a_refused_cancel_because_the_customer_completed_it_applies_that_money_instead(col):
    account_id, token = col.payg(card=None)
    seti = col.confirmed_setup_3ds(account_id, token)
    assert col.put(account_id, token, seti)[0] == 202
    col.deliver(col.messages())
    with _at(date(2026, 11, 10)):
        invoice_id = col.charge(account_id, 1800)
        col.drain()
    (first,) = col.collection_payments(account_id)
    # the customer completes 3-D Secure in the console; the webhook has not arrived yet
    status, _ = col.stripe_post(
        f"/v1/payment_intents/{first.payment_intent_id}/_authenticate",
        {"success": "true", "client_secret": first.client_secret},
    )
    assert status == 200
    before = col.intents()
    with _at(date(2026, 11, 13)):
        assert payments.collect(account_id, None, date(2026, 11, 13)) in ("nothing_due", "idle")
    assert col.intents() == before  # no second PaymentIntent
    assert payment_store.get_payment(account_id, first.id).status == "succeeded"
    assert col.invoice(account_id, invoice_id).status == "closed"
    _one_receipt_naming(col, account_id, invoice_id)  # issue 22: this success was silent before
    col.audit_ok(account_id)


def test_a_french_retry_on_a_replaced_card_sends_one_receipt_in_french(col):
    """Issue 22: "declined, we will try again on …", then the retry succeeds on the card the customer
    replaced: one receipt, in the account's language, naming the invoice."""
    account_id, token = col.payg(card=stripe_js.DECLINED_AT_CHARGE, locale="fr", currency="eur")
    with _at(date(2026, 11, 10)):
        invoice_id = col.charge(account_id, 2500)
        col.drain()
    assert payment_store.get_collection(account_id).state == "dunning"
    with _at(date(2026, 11, 11)):
        col.change_card(account_id, token)  # a good card: the retry goes at once
        col.drain()
    assert col.invoice(account_id, invoice_id).status == "closed"
    body = _one_receipt_naming(col, account_id, invoice_id, subject="Paiement reçu")
    assert "25,00\u00a0€" in body and "Visa •••• 4242" in body and "il règle la facture" in body, body
    col.audit_ok(account_id)


def test_a_redelivered_message_and_two_concurrent_collectors_make_one_payment_intent(col, monkeypatch):
    # Two collectors of the same collection interleaved at the worst point (moto's in-process tables are
    # not safe under threads, so the interleaving is made deterministic): the second runs whole between
    # the first one's lease and its Stripe call; then SQS redelivers the message.
    from functions.payments import charging

    account_id, _ = col.payg()
    col.charge(account_id, 4200)
    messages = col.collection_messages()
    assert len(messages) == 1
    before = col.intents()
    seq = payment_store.get_collection(account_id).seq
    real_call, inner = charging.call_stripe, []

    def racing_call(row, request):
        if not inner:
            inner.append("running")
            inner[0] = collections.collect(account_id, seq)  # the other collector, start to end
        return real_call(row, request)

    monkeypatch.setattr(charging, "call_stripe", racing_call)
    outer = collections.collect(account_id, seq)
    monkeypatch.setattr(charging, "call_stripe", real_call)
    assert inner == ["succeeded"] and outer == "succeeded"
    assert col.deliver_collections(messages) == {"batchItemFailures": []}  # redelivered after both
    created = [r for r in col.stripe.requests("POST", "/v1/payment_intents") if r.path == "/v1/payment_intents"]
    assert len({r.idempotency_key for r in created[before:]}) == 1  # the same key: one PaymentIntent
    assert len(col.intents_at_stripe(account_id)) == 1
    assert len(col.collection_payments(account_id)) == 1
    assert col.balance(account_id).current == 0 and col.balance(account_id).in_flight == 0
    assert sum("Payment received" in s for s in col.subjects()) >= 1
    col.audit_ok(account_id)


def test_a_console_payment_racing_a_collection_never_takes_more_than_owed(col):
    account_id, token = col.payg()
    col.charge(account_id, 5000)
    pm = col.new_card_pm()
    status, paid, _ = col.pay(account_id, token, {"amount": 3000, "payment_method_id": pm})
    assert status == 201, paid
    col.drain()
    (row,) = col.collection_payments(account_id)
    assert row.amount == 2000  # what was left, not the whole invoice
    assert col.balance(account_id).current == 0 and col.balance(account_id).unapplied_credit == 0
    col.audit_ok(account_id)


def test_a_lost_message_is_found_by_the_daily_run(col):
    from functions.accounts.service import get_retry

    account_id, _ = col.payg()
    with _at(date(2026, 11, 10)):
        invoice_id = col.charge(account_id, 900)
    messages = col.collection_messages()
    from functions.core.queues import queue_url

    col.sqs.delete_message(QueueUrl=queue_url("collections"), ReceiptHandle=messages[0]["ReceiptHandle"])  # lost
    assert get_retry(account_id).on == date(2026, 11, 10)
    from functions.billing_run import service as run

    with _at(date(2026, 11, 11)):
        assert run.handle_account_message({"account_id": account_id, "run_date": "2026-11-11", "kind": "retry"})
    assert col.invoice(account_id, invoice_id).status == "closed"
    assert get_retry(account_id) is None
    col.audit_ok(account_id)


def test_switching_to_send_invoice_cancels_the_collection_in_dunning(col):
    from functions.accounts.service import get_retry

    account_id, _ = col.payg(card=stripe_js.DECLINED_AT_CHARGE, type="subscription", collection="automatic")
    with _at(date(2026, 11, 10)):
        col.charge(account_id, 2500)
        col.drain()
    assert payment_store.get_collection(account_id).state == "dunning"
    status, body, _ = col.api.call(
        "PATCH", f"/v1/accounts/{account_id}", {"collection": "send_invoice"}, token=col.api.admin
    )
    assert status == 200, body
    row = payment_store.get_collection(account_id)
    assert (row.state, row.reason) == ("idle", "cancelled") and get_retry(account_id) is None
    col.charge(account_id, 900)  # a send_invoice account's invoice is not collected
    assert payment_store.get_collection(account_id).seq == row.seq
    col.audit_ok(account_id)
