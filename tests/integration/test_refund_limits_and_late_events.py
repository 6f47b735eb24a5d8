"""Issue 14, holes 2, 3 and 10 (DESIGN §3 v4): refund limits reserved before Stripe is called, refunds
finished by their webhook or adopted after Stripe's 24 h key window, refunds that fail after the fact,
disputes as money back, and returning an overpayment — through localstripe behind the shim."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
import requests

from functions.core import clock, ledger
from functions.core.ledger_store import entries
from functions.payments import refunds
from functions.payments import store as payment_store
from functions.payments import store as payments_store
from tests.integration.payments_helpers import Payments


@pytest.fixture
def pay(api, client, stripe_server, queues_and_mail, monkeypatch):
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", "whsec_test_billow")
    return Payments(api, client, stripe_server, queues_and_mail)


def _refund(pay, account_id, body, key=None):
    return pay.api.call(
        "POST",
        f"/v1/accounts/{account_id}/refunds",
        body,
        token=pay.api.admin,
        headers={"Idempotency-Key": key or str(uuid.uuid4())},
    )


def _stripe_refunds(pay, payment_intent_id):
    return pay.stripe_get(f"/v1/refunds?payment_intent={payment_intent_id}")["data"]


def _refund_posts(pay, since):
    return [r for r in pay.stripe.requests("POST", "/v1/refunds", since=since) if r.status == 200]


def _forget_stripe_keys(pay):
    """Stripe forgets an idempotency key after 24 hours (the shim keeps them in real time)."""
    pay.stripe.state.saved.clear()


def _later(hours):
    return clock.frozen(clock.now() + timedelta(hours=hours))


# ---- hole 2: refunds beyond what was paid --------------------------------------------------------------


def test_operator_refunds_of_one_invoice_stop_at_its_total(pay):
    account_id, _token, (inv,) = pay.owing(2100, card=False)

    answers = [_refund(pay, account_id, {"amount": 2100, "reason": "sorry", "invoice_id": inv}) for _ in range(3)]

    assert [a[0] for a in answers] == [201, 422, 422], answers
    assert {a[1]["code"] for a in answers[1:]} == {"refund-exceeds-remaining"}
    refund_invoices = [i for i in ledger.ledger_store.all_invoices(account_id) if i.type == "refund"]
    assert [i.total for i in refund_invoices] == [2100]  # the refused ones wrote nothing
    assert ledger.invoice_refunded(account_id, inv) == 2100
    assert pay.balance(account_id).current == 0
    pay.audit_ok(account_id)


def test_what_is_left_of_a_partly_refunded_invoice_can_be_refunded_and_no_more(pay):
    account_id, _token, (inv,) = pay.owing(2100, card=False)
    assert _refund(pay, account_id, {"amount": 1500, "reason": "r", "invoice_id": inv})[0] == 201
    status, err, _ = _refund(pay, account_id, {"amount": 601, "reason": "r", "invoice_id": inv})
    assert (status, err["code"]) == (422, "refund-exceeds-remaining")
    assert "at most 600" in err["detail"]
    assert _refund(pay, account_id, {"amount": 600, "reason": "r", "invoice_id": inv})[0] == 201
    assert ledger.invoice_refunded(account_id, inv) == 2100
    pay.audit_ok(account_id)


def test_two_card_refunds_racing_cannot_both_pass_the_payment_limit(pay, monkeypatch):
    account_id, _, _, row = pay.paid(3000, pay_amount=3000)
    since = pay.stripe.log_size()
    create_refund = refunds.stripe_gateway.create_refund
    inner: dict = {}

    def racing_create_refund(**kwargs):
        # while the first refund is at Stripe, a second one (another key) arrives
        if not inner:
            inner["answer"] = _refund(pay, account_id, {"amount": 2000, "reason": "second", "payment_id": row.id})
        return create_refund(**kwargs)

    monkeypatch.setattr(refunds.stripe_gateway, "create_refund", racing_create_refund)
    status, first, _ = _refund(pay, account_id, {"amount": 2000, "reason": "first", "payment_id": row.id})

    assert status == 201, first
    status, second, _ = inner["answer"]
    assert (status, second["code"]) == (422, "refund-exceeds-remaining"), second
    assert len(_refund_posts(pay, since)) == 1  # the second never reached Stripe
    assert payment_store.get_payment(account_id, row.id).refunded == 2000
    assert [r["amount"] for r in _stripe_refunds(pay, row.payment_intent_id)] == [2000]
    pay.audit_ok(account_id)
    assert refunds.audit_refunds(account_id) == []


def test_a_refund_stripe_refuses_releases_its_reservation(pay):
    account_id, _, _, row = pay.paid(3000, pay_amount=3000)
    # 2500 refunded in the Dashboard, unknown to billow yet: Stripe refuses billow's 1000
    assert pay.stripe_post("/v1/refunds", {"payment_intent": row.payment_intent_id, "amount": "2500"})[0] == 200

    status, err, _ = _refund(pay, account_id, {"amount": 1000, "reason": "r", "payment_id": row.id})

    assert (status, err["code"]) == (422, "payment-rejected")
    assert payment_store.get_payment(account_id, row.id).refunded == 0
    (event,) = pay.events_for(row.payment_intent_id, "charge.refunded")
    assert pay.deliver_event(event)[1]["outcome"] == "money_back"
    assert payment_store.get_payment(account_id, row.id).refunded == 2500  # outside refunds count too
    status, err, _ = _refund(pay, account_id, {"amount": 501, "reason": "r", "payment_id": row.id})
    assert (status, err["code"]) == (422, "refund-exceeds-remaining")
    assert _refund(pay, account_id, {"amount": 500, "reason": "r", "payment_id": row.id})[0] == 201
    pay.audit_ok(account_id)
    assert refunds.audit_refunds(account_id) == []


def test_the_audit_reports_an_invoice_or_payment_refunded_beyond_its_total(pay, monkeypatch):
    from functions.core.uow import Op, UnitOfWork

    account_id, _, (inv,), row = pay.paid(3000, pay_amount=3000)
    assert _refund(pay, account_id, {"amount": 1000, "reason": "r", "invoice_id": inv})[0] == 201
    assert pay.audit_ok(account_id) and refunds.audit_refunds(account_id) == []
    # damage both totals behind the code's back, as a bug or a hand edit would
    over = ledger.ledger_store.RefundedModel(account_id, ledger.ledger_store.REFUNDED + inv)
    payment = payment_store.PaymentModel(account_id, payment_store.PAY + row.id)
    UnitOfWork().add(
        Op("update", over, actions=[ledger.ledger_store.RefundedModel.refunded.set(3001)]),
        Op("update", payment, actions=[payment_store.PaymentModel.refunded.set(3001)]),
    ).commit()

    assert any(f"invoice {inv} is refunded 3001" in p for p in ledger.audit_account(account_id).problems)
    assert refunds.audit_refunds(account_id) == [f"payment {row.id} is refunded 3001 of 3000"]
    # `billow audit` reports both and exits 1 (pointed at this test's tables instead of a running stack)
    from typer.testing import CliRunner

    from local import cli

    monkeypatch.setattr(cli, "use_running_stack_aws", lambda: None)
    result = CliRunner().invoke(cli.app, ["audit", "--account", account_id])
    assert result.exit_code == 1, result.output
    text = " ".join(result.output.split())
    assert f"payment {row.id} is refunded 3001 of 3000" in text and "1 with differences" in text


# ---- hole 3: a refund to a card can be lost ----------------------------------------------------------------


def _crash_after_stripe(monkeypatch):
    """The process dies after Stripe accepted the refund, before the ledger transaction."""

    def died(*_args, **_kwargs):
        raise RuntimeError("the Lambda was killed")

    monkeypatch.setattr(refunds.ledger, "refund_to_card", died)


def test_a_refund_lost_between_stripe_and_the_ledger_is_finished_by_its_webhook(pay, monkeypatch):
    account_id, _, (inv,), row = pay.paid(3000, pay_amount=3000)
    key = str(uuid.uuid4())
    with monkeypatch.context() as m:
        _crash_after_stripe(m)
        status, _, _ = _refund(pay, account_id, {"amount": 1200, "reason": "goodwill", "payment_id": row.id}, key)
    assert status == 500
    (stripe_refund,) = _stripe_refunds(pay, row.payment_intent_id)
    assert stripe_refund["metadata"]["billow_refund_id"]

    (event,) = pay.events_for(row.payment_intent_id, "charge.refunded")
    assert pay.deliver_event(event)[1]["outcome"] == "own_refund_finished"

    record = payment_store.get_refund(account_id, stripe_refund["metadata"]["billow_refund_id"])
    assert (record.status, record.stripe_refund_id) == ("succeeded", stripe_refund["id"])
    assert [(e.kind, e.amount) for e in entries(account_id)][-2:] == [("invoice", -1200), ("money_back", 1200)]
    assert pay.balance(account_id).current == 0 and pay.invoice(account_id, inv).status == "closed"
    assert payment_store.get_payment(account_id, row.id).refunded == 1200
    assert pay.deliver_event(event)[1]["outcome"] == "duplicate"
    # the request, retried once its lease ran out, answers the refund the webhook booked
    with _later(1):
        status, body, _ = _refund(pay, account_id, {"amount": 1200, "reason": "goodwill", "payment_id": row.id}, key)
    assert (status, body["id"], body["total"]) == (201, record.invoice_id, 1200), body
    assert len(_stripe_refunds(pay, row.payment_intent_id)) == 1
    pay.audit_ok(account_id)
    assert refunds.audit_refunds(account_id) == []


def test_a_refund_still_creating_after_23_hours_adopts_what_stripe_made_and_never_resends_its_key(pay, monkeypatch):
    account_id, _, _, row = pay.paid(3000, pay_amount=3000)
    key = str(uuid.uuid4())
    body = {"amount": 1200, "reason": "goodwill", "payment_id": row.id}
    with monkeypatch.context() as m:
        _crash_after_stripe(m)
        assert _refund(pay, account_id, body, key)[0] == 500
    _forget_stripe_keys(pay)
    since = pay.stripe.log_size()

    with _later(24):
        status, answer, _ = _refund(pay, account_id, body, key)

    assert status == 201, answer
    assert _refund_posts(pay, since) == []  # adopted, not sent again
    assert [r["amount"] for r in _stripe_refunds(pay, row.payment_intent_id)] == [1200]
    assert [(e.kind, e.amount) for e in entries(account_id)][-2:] == [("invoice", -1200), ("money_back", 1200)]
    assert payment_store.get_payment(account_id, row.id).refunded == 1200
    pay.audit_ok(account_id)


def test_a_refund_that_never_reached_stripe_fails_after_23_hours_and_releases_its_reservation(pay, monkeypatch):
    account_id, _, _, row = pay.paid(3000, pay_amount=3000)
    key = str(uuid.uuid4())
    body = {"amount": 1200, "reason": "goodwill", "payment_id": row.id}

    def died(**_kwargs):
        raise RuntimeError("the Lambda was killed before Stripe answered")

    with monkeypatch.context() as m:
        m.setattr(refunds.stripe_gateway, "create_refund", died)
        assert _refund(pay, account_id, body, key)[0] == 500
    assert payment_store.get_payment(account_id, row.id).refunded == 1200  # reserved
    since = pay.stripe.log_size()

    with _later(24):
        status, err, _ = _refund(pay, account_id, body, key)
        again = _refund(pay, account_id, body, key)

    assert (status, err["code"]) == (422, "refund-expired"), err
    assert (again[0], again[1], again[2].get("Idempotent-Replayed")) == (422, err, "true")
    assert _refund_posts(pay, since) == [] and _stripe_refunds(pay, row.payment_intent_id) == []
    assert payment_store.get_payment(account_id, row.id).refunded == 0
    assert pay.balance(account_id).current == 0
    pay.audit_ok(account_id)
    assert refunds.audit_refunds(account_id) == []


def test_a_payment_still_creating_after_23_hours_adopts_its_payment_intent_and_charges_once(pay, monkeypatch):
    from functions.payments import charging

    account_id, token, (inv,) = pay.owing(4000)
    key = str(uuid.uuid4())
    with monkeypatch.context() as m:

        def died(*_args, **_kwargs):
            raise RuntimeError("the Lambda was killed after Stripe charged")

        m.setattr(charging, "record_reply", died)
        assert pay.pay(account_id, token, {"amount": 4000}, key=key)[0] == 500
    _forget_stripe_keys(pay)
    since = pay.stripe.log_size()

    with _later(24):
        status, body, _ = pay.pay(account_id, token, {"amount": 4000}, key=key)

    assert (status, body["status"]) == (201, "succeeded"), body
    assert pay.stripe.requests("POST", "/v1/payment_intents", since=since) == []
    customer = pay.customer_of(account_id)
    intents = pay.stripe_get(f"/v1/payment_intents?customer={customer}")["data"]
    assert [pi["metadata"]["billow_payment_id"] for pi in intents] == [body["id"]]  # charged once
    assert pay.balance(account_id).current == 0 and pay.invoice(account_id, inv).status == "closed"
    pay.audit_ok(account_id)


def test_a_refund_that_fails_at_the_bank_reverses_its_money_back_and_releases_its_reservation(pay):
    account_id, _, _, row = pay.paid(3000, pay_amount=3000)
    status, refund_inv, _ = _refund(pay, account_id, {"amount": 1200, "reason": "goodwill", "payment_id": row.id})
    assert status == 201
    (stripe_refund,) = _stripe_refunds(pay, row.payment_intent_id)

    assert requests.post(f"{pay.stripe.url}/_shim/refunds/{stripe_refund['id']}/fail", timeout=5).status_code == 200
    (event,) = pay.events_for(stripe_refund["id"], "charge.refund.updated")
    assert pay.deliver_event(event)[1]["outcome"] == "refund_failed"
    assert pay.deliver_event(event)[1]["outcome"] == "duplicate"

    # the money never left: the Refund invoice's credit stands as unapplied credit
    assert [(e.kind, e.amount) for e in entries(account_id)][-1] == ("money_back_reversed", -1200)
    balance = pay.balance(account_id)
    assert (balance.current, balance.unapplied_credit) == (-1200, 1200)
    record = payment_store.get_refund(account_id, stripe_refund["metadata"]["billow_refund_id"])
    assert record.status == "failed" and record.invoice_id == refund_inv["id"]
    assert payment_store.get_payment(account_id, row.id).refunded == 0
    pay.audit_ok(account_id)
    assert refunds.audit_refunds(account_id) == []
    # the whole payment can be refunded again
    assert _refund(pay, account_id, {"amount": 3000, "reason": "all", "payment_id": row.id})[0] == 201


def test_a_dashboard_refund_that_fails_gives_its_money_back_back(pay):
    account_id, _, (inv,), row = pay.paid(3000, pay_amount=3000)
    code, stripe_refund = pay.stripe_post("/v1/refunds", {"payment_intent": row.payment_intent_id, "amount": "1000"})
    assert code == 200
    (refunded,) = pay.events_for(row.payment_intent_id, "charge.refunded")
    assert pay.deliver_event(refunded)[1]["outcome"] == "money_back"
    assert pay.balance(account_id).current == 1000

    requests.post(f"{pay.stripe.url}/_shim/refunds/{stripe_refund['id']}/fail", timeout=5)
    (event,) = pay.events_for(stripe_refund["id"], "charge.refund.updated")
    assert pay.deliver_event(event)[1]["outcome"] == "refund_failed"

    assert pay.balance(account_id).current == 0 and pay.invoice(account_id, inv).status == "closed"
    assert payment_store.get_payment(account_id, row.id).refunded == 0
    pay.audit_ok(account_id)


def test_a_dispute_is_money_back_that_pauses_collection_and_a_won_dispute_is_a_payment_again(pay):
    account_id, _, (inv,), row = pay.paid(3000, pay_amount=3000)
    dispute = requests.post(
        f"{pay.stripe.url}/_shim/disputes", data={"payment_intent": row.payment_intent_id}, timeout=5
    ).json()
    (created,) = pay.events_for(row.payment_intent_id, "charge.dispute.created")

    assert pay.deliver_event(created)[1]["outcome"] == "dispute_recorded"
    assert pay.balance(account_id).current == 3000
    assert pay.invoice(account_id, inv).status == "open"
    assert [(e.kind, e.ref, e.amount) for e in entries(account_id)][-1] == ("money_back", dispute["id"], 3000)
    assert payment_store.get_payment(account_id, row.id).refunded == 3000
    assert payments_store.get_state(account_id, consistent=True).collection_paused
    assert pay.deliver_event(created)[1]["outcome"] == "duplicate"
    pay.audit_ok(account_id)
    # no refund can take the disputed money a second time
    status, err, _ = _refund(pay, account_id, {"amount": 100, "reason": "r", "payment_id": row.id})
    assert (status, err["code"]) == (422, "refund-exceeds-remaining")

    closed = requests.post(f"{pay.stripe.url}/_shim/disputes/{dispute['id']}/close", data={"status": "won"}, timeout=5)
    assert closed.status_code == 200
    (event,) = pay.events_for(row.payment_intent_id, "charge.dispute.closed")
    assert pay.deliver_event(event)[1]["outcome"] == "dispute_won"

    assert pay.balance(account_id).current == 0 and pay.invoice(account_id, inv).status == "closed"
    assert [(e.kind, e.amount) for e in entries(account_id)][-1] == ("dispute_won", -3000)
    assert payment_store.get_payment(account_id, row.id).refunded == 0
    assert payment_store.get_dispute(account_id, dispute["id"])["status"] == "won"
    assert not payments_store.get_state(account_id, consistent=True).collection_paused
    pay.audit_ok(account_id)
    assert refunds.audit_refunds(account_id) == []


def test_dispute_events_in_any_order_end_in_the_same_balance(pay):
    account_id, _, (inv,), row = pay.paid(3000, pay_amount=3000)
    dispute = requests.post(
        f"{pay.stripe.url}/_shim/disputes", data={"payment_intent": row.payment_intent_id}, timeout=5
    ).json()
    requests.post(f"{pay.stripe.url}/_shim/disputes/{dispute['id']}/close", data={"status": "won"}, timeout=5)
    (created,) = pay.events_for(row.payment_intent_id, "charge.dispute.created")
    (closed,) = pay.events_for(row.payment_intent_id, "charge.dispute.closed")

    assert pay.deliver_event(closed)[1]["outcome"] == "no_change"
    assert pay.deliver_event(created)[1]["outcome"] == "dispute_won"

    assert pay.balance(account_id).current == 0 and pay.invoice(account_id, inv).status == "closed"
    assert payment_store.get_payment(account_id, row.id).refunded == 0
    assert payment_store.get_dispute(account_id, dispute["id"])["status"] == "won"
    pay.audit_ok(account_id)


# ---- hole 10: returning an overpayment --------------------------------------------------------------------


def _overpaid(pay):
    """An account holding 2500 of unapplied credit that came from a card payment."""
    account_id, _, (inv,), row = pay.paid(2500, pay_amount=2500)
    # the invoice the payment settled is refunded as a Refund invoice: its money is credit now
    assert _refund(pay, account_id, {"amount": 2500, "reason": "not owed", "invoice_id": inv})[0] == 201
    balance = pay.balance(account_id)
    assert (balance.current, balance.unapplied_credit) == (-2500, 2500)
    return account_id, row


def test_returning_an_overpayment_sends_the_credit_back_once(pay):
    account_id, row = _overpaid(pay)

    status, body, _ = _refund(
        pay, account_id, {"amount": 2500, "reason": "overpaid", "payment_id": row.id, "return_credit": True}
    )

    assert status == 201, body
    assert (body["object"], body["amount"], body["payment_id"], body["status"]) == (
        "credit_return",
        2500,
        row.id,
        "succeeded",
    )
    balance = pay.balance(account_id)
    assert (balance.current, balance.unapplied_credit) == (0, 0)  # the credit went back, not kept as well
    assert [(e.kind, e.amount) for e in entries(account_id)][-1] == ("money_back", 2500)
    assert not [i for i in ledger.ledger_store.all_invoices(account_id) if i.type == "refund" and i.total == 2500][1:]
    assert [r["amount"] for r in _stripe_refunds(pay, row.payment_intent_id)] == [2500]
    assert payment_store.get_payment(account_id, row.id).refunded == 2500
    (event,) = pay.events_for(row.payment_intent_id, "charge.refunded")
    assert pay.deliver_event(event)[1]["outcome"] == "own_refund"
    assert pay.balance(account_id).current == 0
    pay.audit_ok(account_id)
    assert refunds.audit_refunds(account_id) == []


def test_returning_more_than_the_unapplied_credit_or_without_a_payment_is_refused(pay):
    account_id, row = _overpaid(pay)
    since = pay.stripe.log_size()
    cases = [
        ({"amount": 2501, "reason": "r", "payment_id": row.id, "return_credit": True}, "refund-exceeds-credit"),
        ({"amount": 100, "reason": "r", "return_credit": True}, "validation-failed"),
    ]
    for body, code in cases:
        status, err, _ = _refund(pay, account_id, body)
        assert (status, err["code"]) == (422, code), err
    assert _refund_posts(pay, since) == []
    assert payment_store.get_payment(account_id, row.id).refunded == 0
    assert pay.balance(account_id).unapplied_credit == 2500
