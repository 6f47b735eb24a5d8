"""Payments in flight (DESIGN §3 v4, issue 14 hole 0): a payment's first transaction reserves its amount
on the balance (and on the invoice it targets); the apply step or the failure releases it. So a payment
that waits (3-D Secure, PayPal) holds what it will take, a second payment or the monthly run's
off-session charge cannot take the same money, and everything is given back when it fails.
(The concurrent storms over the running stack are in tests/proof/test_payment_races.py.)"""

from __future__ import annotations

import pytest

from functions.core import ledger
from functions.payments import collections
from functions.payments import store as payment_store
from local import stripe_js
from tests.integration.payments_helpers import Payments


@pytest.fixture
def pay(api, client, stripe_server, queues_and_mail, monkeypatch):
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", "whsec_test_billow")
    return Payments(api, client, stripe_server, queues_and_mail)


def _three_ds(pay, account_id, token, amount, **extra):
    pm = pay.new_card_pm(stripe_js.REQUIRES_AUTHENTICATION)
    status, body, _ = pay.pay(account_id, token, {"amount": amount, "payment_method_id": pm, **extra})
    assert status == 201 and body["status"] == "requires_action", body
    return body


def _pi_creates(pay):
    return len(pay.stripe.requests("POST", "/v1/payment_intents"))


def test_a_payment_waiting_for_3ds_holds_its_amount_and_a_second_one_cannot_take_it(pay):
    account_id, token, _ = pay.owing(5000)
    _three_ds(pay, account_id, token, 4000)
    assert (pay.balance(account_id).current, pay.balance(account_id).in_flight) == (5000, 4000)
    before = _pi_creates(pay)

    status, err, _ = pay.pay(account_id, token, {"amount": 2000})

    assert (status, err["code"]) == (422, "amount-exceeds-balance"), err
    assert err["errors"] == [{"field": "amount", "message": "at most 1000"}]
    assert "in progress" in err["detail"]
    assert _pi_creates(pay) == before  # refused before Stripe
    status, ok, _ = pay.pay(account_id, token, {"amount": 1000})
    assert status == 201 and ok["status"] == "succeeded", ok
    balance = pay.balance(account_id)
    assert (balance.current, balance.in_flight) == (4000, 4000)  # the apply released the second one's 1000
    pay.audit_ok(account_id)


def test_a_failed_payment_gives_its_reservation_back(pay):
    account_id, token, _ = pay.owing(5000)
    body = _three_ds(pay, account_id, token, 5000)
    pi = body["client_secret"].split("_secret_")[0]
    code, _ = pay.stripe_post(
        f"/v1/payment_intents/{pi}/_authenticate",
        {"client_secret": body["client_secret"], "success": "false", "key": "pk_test_billow_tests"},
    )
    assert code == 200
    event = {"id": f"evt_fail_{pi}", "type": "payment_intent.payment_failed", "data": {"object": {"id": pi}}}
    assert pay.deliver_event(event)[0] == 200
    assert pay.deliver_event(event)[0] == 200  # a duplicate releases nothing twice

    row = payment_store.get_payment(account_id, body["id"])
    assert row.status == "failed" and row.reserved == 0
    assert (pay.balance(account_id).current, pay.balance(account_id).in_flight) == (5000, 0)
    status, ok, _ = pay.pay(account_id, token, {"amount": 5000})
    assert status == 201 and ok["status"] == "succeeded", ok
    assert (pay.balance(account_id).current, pay.balance(account_id).in_flight) == (0, 0)
    pay.audit_ok(account_id)


def test_a_payment_of_one_invoice_holds_that_invoice(pay):
    account_id, token, (older, newer) = pay.owing(4000, 2000)
    _three_ds(pay, account_id, token, 2000, invoice_id=newer)
    assert ledger.get_invoice(account_id, newer).in_flight == 2000

    status, err, _ = pay.pay(account_id, token, {"amount": 1000, "invoice_id": newer})
    assert (status, err["code"]) == (422, "amount-exceeds-balance"), err
    status, ok, _ = pay.pay(account_id, token, {"amount": 4000, "invoice_id": older})
    assert status == 201 and ok["status"] == "succeeded", ok
    assert ledger.get_invoice(account_id, older).in_flight == 0
    assert ledger.get_invoice(account_id, newer).in_flight == 2000
    pay.audit_ok(account_id)


def _collect(account_id):
    """The account's open collection (its One-time invoices requested it), collected now (v4: the
    collector is the one off-session path)."""
    return collections.collect(account_id, payment_store.get_collection(account_id).seq)


def test_the_off_session_charge_leaves_what_a_waiting_payment_holds(pay):
    account_id, token, _ = pay.owing(3000)
    _three_ds(pay, account_id, token, 1000)
    before = _pi_creates(pay)

    outcome = _collect(account_id)

    assert outcome == "succeeded"
    (row,) = [p for p in payment_store.all_payments(account_id) if p.source == "off_session"]
    assert row.amount == 2000 and _pi_creates(pay) == before + 1  # 3000 owed - 1000 in flight
    balance = pay.balance(account_id)
    assert (balance.current, balance.in_flight) == (1000, 1000)
    pay.audit_ok(account_id)


def test_no_off_session_charge_while_a_payment_holds_everything(pay):
    account_id, token, (inv,) = pay.owing(3000)
    _three_ds(pay, account_id, token, 3000, invoice_id=inv)
    before = _pi_creates(pay)

    outcome = _collect(account_id)

    assert outcome == "nothing_due"
    assert not [p for p in payment_store.all_payments(account_id) if p.source == "off_session"]
    assert _pi_creates(pay) == before
    assert pay.balance(account_id).current == 3000


def test_a_payment_intent_that_disagrees_with_its_row_is_held_not_applied(pay):
    from dataclasses import replace

    from functions.core import stripe_gateway
    from functions.payments import charging

    account_id, token, _ = pay.owing(5000)
    body = _three_ds(pay, account_id, token, 2000)
    pi = stripe_gateway.get_payment_intent(body["client_secret"].split("_secret_")[0])
    tampered = replace(pi, status="succeeded", amount=200000, amount_received=200000)

    held = charging.apply_accepted(account_id, body["id"], tampered)
    again = charging.apply_accepted(account_id, body["id"], replace(tampered, currency="eur", amount=2000))

    assert held.status == "held" and held.failure_code == "amount-mismatch" and again.status == "held"
    balance = pay.balance(account_id)
    assert (balance.current, balance.in_flight) == (5000, 2000)  # nothing applied; the money stays reserved
    _, shown, _ = pay.api.call("GET", f"/v1/accounts/{account_id}/payments/{body['id']}", token=token)
    assert shown["status"] == "held" and shown["failure"]["code"] == "amount-mismatch"
    from functions.payments import store

    assert store.get_state(account_id).collection_paused_by == (f"held {body['id']}",)
    (alarm,) = pay.mails_to("billing-ops@billow.example")  # once: the second call found it held
    assert body["id"] in str(alarm.subject)
    pay.audit_ok(account_id)
