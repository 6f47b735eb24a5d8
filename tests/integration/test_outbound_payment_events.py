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


def _types_since(outbound, account_id, mark):
    return [(e["type"], e["data"]["object"]) for e in gapless(outbound.of(account_id)) if e["sequence"] > mark]


def _last(account_id):
    from functions.core import outbox

    return outbox.last_sequence(account_id)


def test_a_card_change_writes_payment_method_updated_and_a_declined_payment_payment_failed(pay, outbound):
    from local import stripe_js

    account_id, token, _ = pay.owing(5000, card=True)
    updated = [o for t, o in _types_since(outbound, account_id, 0) if t == "payment_method.updated"]
    assert len(updated) == 1 and updated[0]["status"] == "active" and updated[0]["card"]["last4"] == "4242"
    mark = _last(account_id)
    pm = pay.new_card_pm("4000000000000341")
    status, err, _ = pay.pay(account_id, token, {"amount": 1000, "payment_method_id": pm})
    assert status == 402
    ((kind, obj),) = _types_since(outbound, account_id, mark)
    assert kind == "payment.failed" and obj["id"] == err["payment_id"] and obj["status"] == "failed"
    mark = _last(account_id)
    pm = pay.new_card_pm(stripe_js.REQUIRES_AUTHENTICATION)
    status, body, _ = pay.pay(account_id, token, {"amount": 2000, "payment_method_id": pm})
    assert status == 201 and body["status"] == "requires_action"
    ((kind, obj),) = _types_since(outbound, account_id, mark)
    assert kind == "payment.requires_action" and obj["id"] == body["id"] and obj["client_secret"] is None


def test_refunds_and_disputes_write_payment_refunded_and_dispute_created(pay, outbound):
    import uuid

    import requests

    account_id, _, _, row = pay.paid(3000, pay_amount=3000)
    mark = _last(account_id)
    status, refund, _ = pay.api.call(
        "POST",
        f"/v1/accounts/{account_id}/refunds",
        {"amount": 1000, "reason": "goodwill", "payment_id": row.id},
        token=pay.api.admin,
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    assert status == 201, refund
    events = _types_since(outbound, account_id, mark)
    assert [k for k, _ in events] == ["invoice.issued", "payment.refunded"]  # one transaction
    refunded = events[1][1]
    assert (refunded["payment_id"], refunded["amount"], refunded["currency"]) == (row.id, 1000, "usd")
    assert refunded["invoice_id"] == events[0][1]["id"] and events[0][1]["type"] == "refund"
    # a refund made outside billow (the Dashboard), then a dispute
    mark = _last(account_id)
    code, _ = pay.stripe_post("/v1/refunds", {"payment_intent": row.payment_intent_id, "amount": "500"})
    assert code == 200
    event = pay.events_for(row.payment_intent_id, "charge.refunded")[-1]  # the first: billow's own refund
    assert pay.deliver_event(event)[1]["outcome"] == "money_back"
    assert pay.deliver_event(event)[1]["outcome"] == "duplicate"
    (obj,) = [o for k, o in _types_since(outbound, account_id, mark) if k == "payment.refunded"]
    assert (obj["payment_id"], obj["amount"], obj["reason"]) == (row.id, 500, "outside_billow")
    mark = _last(account_id)
    dispute = requests.post(
        f"{pay.stripe.url}/_shim/disputes", data={"payment_intent": row.payment_intent_id}, timeout=5
    ).json()
    (event,) = pay.events_for(row.payment_intent_id, "charge.dispute.created")
    assert pay.deliver_event(event)[1]["outcome"] == "dispute_recorded"
    assert pay.deliver_event(event)[1]["outcome"] == "duplicate"
    created = [o for k, o in _types_since(outbound, account_id, mark) if k == "dispute.created"]
    assert [(o["id"], o["payment_id"]) for o in created] == [(dispute["id"], row.id)]


def test_an_offline_payment_writes_payment_succeeded_and_invoice_paid(pay, outbound):
    import uuid

    account_id, _, (first, _second) = pay.owing(1000, 2000, card=False)
    mark = _last(account_id)
    status, body, _ = pay.api.call(
        "POST",
        f"/v1/accounts/{account_id}/payments",
        {"amount": 1500, "method": "offline", "reference": "wire 42", "received_on": "2026-01-02"},
        token=pay.api.admin,
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    assert status == 201, body
    events = _types_since(outbound, account_id, mark)
    assert sorted(k for k, _ in events) == ["invoice.paid", "payment.succeeded"]
    assert dict(events)["invoice.paid"]["id"] == first
    assert dict(events)["payment.succeeded"]["method"] == "offline"


def test_dunning_writes_collection_failed_then_past_due_and_a_credit_restores_the_account(
    api, client, stripe_server, queues_and_mail, outbound
):
    from datetime import date

    from functions.payments import service as payments
    from local import stripe_js
    from tests.integration.test_collections import Collector, _at

    col = Collector(api, client, stripe_server, queues_and_mail)
    account_id, _ = col.payg(card=stripe_js.DECLINED_AT_CHARGE)
    with _at(date(2026, 11, 10)):
        invoice_id = col.charge(account_id, 2500)
        mark = _last(account_id)
        col.drain()
    for day in (date(2026, 11, 13), date(2026, 11, 17), date(2026, 11, 24)):
        with _at(day):
            payments.collect(account_id, None, day)
    events = _types_since(outbound, account_id, mark)
    failed = [
        (o["id"], o["attempt_count"], o["next_payment_attempt"]) for k, o in events if k == "invoice.collection_failed"
    ]
    assert [f[1] for f in failed] == [1, 2, 3, 4] and {f[0] for f in failed} == {invoice_id}
    assert failed[-1][2] is None and all(f[2] for f in failed[:-1])  # the last: dunning over
    assert [k for k, _ in events if k.startswith("account.")] == ["account.past_due"]
    assert events[-1][0] == "account.past_due" and events[-1][1]["past_due"] is True
    mark = _last(account_id)
    with _at(date(2026, 11, 25)):
        col.api.call(
            "POST",
            f"/v1/accounts/{account_id}/credits",
            {"amount": 2500, "reason": "goodwill"},
            token=col.api.admin,
            headers={"Idempotency-Key": "credit-1"},
        )
    kinds = [k for k, _ in _types_since(outbound, account_id, mark)]
    assert kinds == ["invoice.issued", "invoice.paid", "account.restored"]  # one transaction
