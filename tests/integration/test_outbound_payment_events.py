"""Outbound events of money in (DESIGN §7): a payment Stripe accepted writes payment.succeeded and the
invoice.paid of each invoice it closes, in the apply step's transaction; the publisher puts them on the bus."""

from __future__ import annotations

import pytest

from tests.integration.payments_helpers import Payments


@pytest.fixture
def pay(api, client, stripe_server, queues_and_mail, monkeypatch):
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", "whsec_test_billow")
    return Payments(api, client, stripe_server, queues_and_mail)


def gapless(events):
    assert [e["sequence"] for e in events] == list(range(1, len(events) + 1)), events
    return events


def test_a_card_payment_writes_payment_succeeded_and_invoice_paid_in_its_transaction(pay, outbound):
    account_id, _, invoices, row = pay.paid(1000, 700, pay_amount=1200)
    events = gapless(outbound.of(account_id))
    after_issue = [e for e in events if e["type"] in ("payment.succeeded", "invoice.paid")]
    succeeded = [e for e in after_issue if e["type"] == "payment.succeeded"]
    (payment,) = (e["data"]["object"] for e in succeeded)
    assert payment["id"] == row.id and payment["status"] == "succeeded" and payment["amount"] == 1200
    assert payment["client_secret"] is None
    assert payment["applied_to"] == [
        {"invoice_id": invoices[0], "amount": 1000},
        {"invoice_id": invoices[1], "amount": 200},
    ]
    paid = [e["data"]["object"]["id"] for e in after_issue if e["type"] == "invoice.paid"]
    assert paid == [invoices[0]]  # the second is still open (500 due)
    # the payment's events are consecutive: one transaction took both numbers
    seqs = sorted(e["sequence"] for e in after_issue)
    assert seqs == list(range(seqs[0], seqs[0] + 2))
    published = outbound.published()
    assert sorted(e["id"] for e in published) == sorted(e["id"] for e in events)
    assert {e["id"]: e for e in published} == {e["id"]: e for e in events}
