"""The monthly run's off-session charge (payments.service.charge_invoice_off_session), through
localstripe and the shim: one PaymentIntent per (invoice, attempt), the invoice settled first."""

from __future__ import annotations

import pytest

from functions.payments import store as payment_store
from functions.payments.service import charge_invoice_off_session
from tests.integration.payments_helpers import Payments


@pytest.fixture
def pay(api, client, stripe_server, queues_and_mail):
    return Payments(api, client, stripe_server, queues_and_mail)


def test_an_off_session_charge_settles_its_invoice_once_however_often_it_is_called(pay):
    account_id, _, (older, newer) = pay.owing(3000, 2000)
    before = len(pay.stripe.requests("POST", "/v1/payment_intents"))

    first = charge_invoice_off_session(account_id, newer, 2000, attempt=1)
    again = charge_invoice_off_session(account_id, newer, 2000, attempt=1)

    assert first.status == "succeeded" and first.payment_id.startswith("pay_")
    assert again == first
    assert len(pay.stripe.requests("POST", "/v1/payment_intents")) - before == 1
    assert pay.invoice(account_id, newer).status == "closed"  # the targeted one, not the oldest
    assert pay.invoice(account_id, older).balance_due == 3000
    assert pay.balance(account_id).current == 3000
    row = payment_store.get_payment(account_id, first.payment_id)
    assert row.source == "off_session" and row.applied_to == [{"invoice_id": newer, "amount": 2000}]
    assert row.receipt_sent_at is None  # no receipt for the monthly run
    pay.audit_ok(account_id)


def test_a_declined_off_session_charge_leaves_the_invoice_open_and_a_new_attempt_is_a_new_payment(pay):
    account_id, token, (inv,) = pay.owing(2500, card=False)
    pay.change_card(account_id, token, number="4000000000000341")  # attaches, declines at charge time

    first = charge_invoice_off_session(account_id, inv, 2500, attempt=1)
    replay = charge_invoice_off_session(account_id, inv, 2500, attempt=1)
    second = charge_invoice_off_session(account_id, inv, 2500, attempt=2)

    assert first.status == "declined" and first.decline_code
    assert replay == first
    assert second.status == "declined" and second.payment_id != first.payment_id
    assert pay.balance(account_id).current == 2500
    assert payment_store.get_payment(account_id, first.payment_id).status == "failed"
    pay.audit_ok(account_id)


def test_an_off_session_charge_of_a_3ds_card_requires_action_with_the_client_secret(pay):
    account_id, token, (inv,) = pay.owing(1800, card=False)
    seti = pay.confirmed_setup_3ds(account_id, token)
    status, body, _ = pay.put(account_id, token, seti)
    assert status == 202, body
    assert pay.deliver(pay.messages()) == {"batchItemFailures": []}

    outcome = charge_invoice_off_session(account_id, inv, 1800, attempt=1)

    assert outcome.status == "requires_action" and outcome.client_secret.startswith("pi_")
    assert outcome.decline_code == "authentication_required"
    assert pay.balance(account_id).current == 1800
    pay.audit_ok(account_id)


def test_no_card_means_no_attempt(pay):
    account_id, _, (inv,) = pay.owing(900, card=False)
    assert charge_invoice_off_session(account_id, inv, 900, attempt=1).status == "no_card"
