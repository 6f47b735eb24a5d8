"""The off-session path (v4: the collector, payments/collections.py — the one off-session path;
v3's charge_invoice_off_session is gone), through localstripe and the shim: one PaymentIntent per
(account, collection, attempt), keyed by them; applied like any payment (oldest first, no target)."""

from __future__ import annotations

from datetime import date

import pytest

from functions.payments import collections
from functions.payments import store as payment_store
from tests.integration.payments_helpers import Payments


@pytest.fixture
def pay(api, client, stripe_server, queues_and_mail):
    return Payments(api, client, stripe_server, queues_and_mail)


def _collect(account_id, on=None):
    return collections.collect(account_id, payment_store.get_collection(account_id).seq, on)


def _off_session(account_id):
    return sorted(
        (p for p in payment_store.all_payments(account_id) if p.source == "off_session"), key=lambda p: p.created_at
    )


def test_a_collection_settles_the_oldest_invoices_once_however_often_it_is_called(pay):
    account_id, _, (older, newer) = pay.owing(3000, 2000)
    before = len([r for r in pay.stripe.requests("POST", "/v1/payment_intents") if r.path == "/v1/payment_intents"])
    seq = payment_store.get_collection(account_id).seq

    first = collections.collect(account_id, seq)
    again = collections.collect(account_id, seq)

    assert (first, again) == ("succeeded", "idle")
    created = [r for r in pay.stripe.requests("POST", "/v1/payment_intents") if r.path == "/v1/payment_intents"]
    assert len(created) - before == 1
    assert created[-1].idempotency_key == f"pi:collection:{account_id}:{seq}:1"
    (row,) = _off_session(account_id)
    assert row.id == collections.payment_id_of(account_id, seq, 1)
    assert row.applied_to == [{"invoice_id": older, "amount": 3000}, {"invoice_id": newer, "amount": 2000}]
    assert pay.balance(account_id).current == 0
    pay.audit_ok(account_id)


def test_a_declined_collection_is_retried_as_a_new_payment_with_a_new_key(pay):
    account_id, token, _ = pay.owing(2500, card=False)
    pay.change_card(account_id, token, number="4000000000000341")  # attaches, declines at charge time

    assert _collect(account_id, date(2026, 11, 10)) == "dunning"
    row = payment_store.get_collection(account_id)
    assert collections.collect(account_id, row.seq, row.retry_on) == "dunning"

    first, second = _off_session(account_id)
    assert first.status == second.status == "failed" and first.id != second.id
    assert second.id == collections.payment_id_of(account_id, row.seq, 2)
    assert pay.balance(account_id).current == 2500 and pay.balance(account_id).in_flight == 0
    pay.audit_ok(account_id)


def test_a_collection_from_a_3ds_card_requires_action_with_the_client_secret(pay):
    account_id, token, _ = pay.owing(1800, card=False)
    seti = pay.confirmed_setup_3ds(account_id, token)
    status, body, _ = pay.put(account_id, token, seti)
    assert status == 202, body
    assert pay.deliver(pay.messages()) == {"batchItemFailures": []}

    assert _collect(account_id) == "dunning"

    (row,) = _off_session(account_id)
    assert row.status == "requires_action" and row.client_secret.startswith("pi_")
    assert row.decline_code == "authentication_required"
    assert payment_store.get_collection(account_id).reason == "authentication_required"
    assert pay.balance(account_id).current == 1800
    pay.audit_ok(account_id)


def test_no_card_means_no_attempt_and_dunning(pay):
    account_id, _, _ = pay.owing(900, card=False)
    assert _collect(account_id) == "dunning"
    assert _off_session(account_id) == []
    assert payment_store.get_collection(account_id).reason == "no_card"
