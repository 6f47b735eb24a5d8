"""Stripe webhooks (signature, dedupe, any order, unknown objects), refunds to a card through billow and
outside it (the Dashboard), disputes and support tickets — through localstripe behind the shim."""

from __future__ import annotations

import json
import time
import uuid

import pytest

from functions.core import ledger
from functions.payments import store as payment_store
from tests.integration.payments_helpers import Payments


@pytest.fixture
def pay(api, client, stripe_server, queues_and_mail, monkeypatch):
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", "whsec_test_billow")
    return Payments(api, client, stripe_server, queues_and_mail)


def _refund(pay, account_id, body):
    return pay.api.call(
        "POST",
        f"/v1/accounts/{account_id}/refunds",
        body,
        token=pay.api.admin,
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )


def test_bad_stale_and_reserialised_signatures_are_400_and_change_nothing(pay):
    account_id, token, _ = pay.owing(4000, card=False)
    status, body, _ = pay.pay(
        account_id, token, {"amount": 4000, "method": "paypal", "return_url": "http://localhost:3000/back"}
    )
    import requests

    requests.get(body["next_action"]["url"], allow_redirects=False, timeout=5)
    pi = payment_store.get_payment(account_id, body["id"]).payment_intent_id
    (event,) = pay.events_for(pi, "payment_intent.succeeded")
    raw, signature = pay.signed(event)

    wrong_secret = pay.signed(event, secret="whsec_other")[1]
    stale = pay.signed(event, at=int(time.time()) - 3600)[1]
    reserialised = json.dumps(json.loads(raw), indent=2).encode()
    for body_bytes, sig in [
        (raw, wrong_secret),
        (raw, stale[0:0] + stale),
        (reserialised, signature),
        (raw, "t=abc,v1=00"),
        (raw, ""),
    ]:
        status, err = pay.webhook(body_bytes, sig)
        assert (status, err["code"]) == (400, "invalid-signature"), (sig, err)
    assert pay.balance(account_id).current == 4000
    assert payment_store.get_event_marker(event["id"]) is None

    assert pay.webhook(raw, signature) == (200, {"received": True, "event": event["id"], "outcome": "applied"})
    assert pay.balance(account_id).current == 0
    pay.audit_ok(account_id)


def test_a_webhook_for_an_unknown_payment_intent_is_recorded_and_changes_nothing(pay):
    account_id, _token, _ = pay.owing(3000)
    pm = pay.stripe_get(f"/v1/customers/{pay.customer_of(account_id)}")["invoice_settings"]["default_payment_method"]
    code, pi = pay.stripe_post(
        "/v1/payment_intents",
        {
            "amount": "700",
            "currency": "usd",
            "payment_method": pm,
            "confirm": "true",
            "customer": pay.customer_of(account_id),
        },
    )
    assert code == 200 and pi["status"] == "succeeded", pi
    (event,) = pay.events_for(pi["id"], "payment_intent.succeeded")

    status, body = pay.deliver_event(event)

    assert (status, body["outcome"]) == (200, "unknown")
    assert payment_store.get_event_marker(event["id"])["outcome"] == "unknown"
    assert pay.balance(account_id).current == 3000
    fake = {"id": "evt_made_up_1", "type": "customer.created", "data": {"object": {"id": "cus_x"}}}
    assert pay.deliver_event(fake)[1]["outcome"] == "ignored"


def test_a_payment_failed_event_marks_a_pending_payment_failed(pay):
    account_id, token, _ = pay.owing(5000, card=False)
    pm = pay.new_card_pm("4000002760003184")
    _status, body, _ = pay.pay(account_id, token, {"amount": 2000, "payment_method_id": pm})
    assert body["status"] == "requires_action"
    pi = body["client_secret"].split("_secret_")[0]
    code, _ = pay.stripe_post(
        f"/v1/payment_intents/{pi}/_authenticate",
        {"client_secret": body["client_secret"], "success": "false", "key": "pk_test_billow_tests"},
    )
    assert code == 200
    failed = {"id": f"evt_fail_{pi}", "type": "payment_intent.payment_failed", "data": {"object": {"id": pi}}}

    assert pay.deliver_event(failed)[1]["outcome"] == "failed"
    assert payment_store.get_payment(account_id, body["id"]).status == "failed"
    assert pay.balance(account_id).current == 5000
    pay.audit_ok(account_id)


def test_a_refund_outside_billow_is_money_back_reopening_what_the_payment_settled(pay):
    account_id, _, (older, newer), row = pay.paid(3000, 2000, pay_amount=5000)
    assert pay.balance(account_id).current == 0

    code, _ = pay.stripe_post("/v1/refunds", {"payment_intent": row.payment_intent_id, "amount": "2500"})
    assert code == 200
    (event,) = pay.events_for(row.payment_intent_id, "charge.refunded")
    assert pay.deliver_event(event)[1]["outcome"] == "money_back"

    assert pay.balance(account_id).current == 2500
    assert pay.invoice(account_id, newer).balance_due == 2000  # newest first
    assert pay.invoice(account_id, older).balance_due == 500
    assert pay.invoice(account_id, older).status == "open"
    assert [e.kind for e in ledger.ledger_store.entries(account_id)][-1] == "money_back"
    pay.audit_ok(account_id)


def test_a_refund_to_a_card_through_billow_nets_to_zero_and_its_webhook_is_recognised(pay):
    account_id, _, (inv,), row = pay.paid(3000, pay_amount=3000)
    before = pay.balance(account_id)

    status, refund_inv, _ = _refund(pay, account_id, {"amount": 1200, "reason": "goodwill", "payment_id": row.id})

    assert status == 201, refund_inv
    assert refund_inv["type"] == "refund" and refund_inv["total"] == 1200 and refund_inv["status"] == "closed"
    after = pay.balance(account_id)
    assert (after.current, after.unapplied_credit) == (before.current, before.unapplied_credit)
    assert pay.invoice(account_id, inv).status == "closed"  # touched no other invoice
    assert [(e.kind, e.amount) for e in ledger.ledger_store.entries(account_id)][-2:] == [
        ("invoice", -1200),
        ("money_back", 1200),
    ]
    refunds = pay.stripe_get(f"/v1/refunds?payment_intent={row.payment_intent_id}")["data"]
    assert [(r["amount"], r["metadata"]["billow_payment_id"]) for r in refunds] == [(1200, row.id)]
    (event,) = pay.events_for(row.payment_intent_id, "charge.refunded")
    assert pay.deliver_event(event)[1]["outcome"] == "own_refund"
    assert pay.balance(account_id).current == before.current
    # at most what is left of that payment
    status, err, _ = _refund(pay, account_id, {"amount": 1801, "reason": "too much", "payment_id": row.id})
    assert (status, err["code"]) == (422, "refund-exceeds-remaining")
    status, _, _ = _refund(pay, account_id, {"amount": 1800, "reason": "the rest", "payment_id": row.id})
    assert status == 201
    assert payment_store.get_payment(account_id, row.id).refunded == 3000
    status, err, _ = _refund(pay, account_id, {"amount": 100, "reason": "x", "payment_id": "pay_aaaaaaaaaaaaaaaaaaaa"})
    assert (status, err["code"]) == (404, "payment-not-found")
    pay.audit_ok(account_id)


def test_a_dispute_is_recorded_and_the_operator_emailed(pay):
    account_id, _, _, row = pay.paid(3000, pay_amount=3000)
    import requests

    dispute = requests.post(
        f"{pay.stripe.url}/_shim/disputes", data={"payment_intent": row.payment_intent_id}, timeout=5
    ).json()
    (event,) = pay.events_for(row.payment_intent_id, "charge.dispute.created")

    assert pay.deliver_event(event)[1]["outcome"] == "dispute_recorded"
    assert pay.deliver_event(event)[1]["outcome"] == "duplicate"
    assert payment_store.get_payment(account_id, row.id).dispute_id == dispute["id"]
    assert payment_store.get_dispute(account_id, dispute["id"])["payment_id"] == row.id
    assert len(pay.mails_to("billing-ops@billow.example")) == 1
    pay.audit_ok(account_id)


def test_a_support_ticket_is_stored_redacted_in_the_events_and_emailed(pay):
    account_id, token, _ = pay.owing(1000, card=False)
    status, body, _ = pay.api.call(
        "POST",
        f"/v1/accounts/{account_id}/support-tickets",
        {"subject": "Charged twice?", "message": "My card 4242-4242-4242-4242 was charged; order 12345."},
        token=token,
    )
    assert status == 201, body
    stored = payment_store.get_ticket(account_id, body["ticket_id"])
    assert "4242" not in stored["message"] and "[redacted card number]" in stored["message"]
    assert "order 12345" in stored["message"]
    _, events, _ = pay.api.call("GET", f"/v1/accounts/{account_id}/events", token=token)
    assert events["data"][0]["action"] == "support_ticket.opened"
    (mail,) = pay.mails_to("support@billow.example")
    assert "4242" not in str(mail.body)
    status, err, _ = pay.api.call(
        "POST",
        f"/v1/accounts/{account_id}/support-tickets",
        {"subject": "x", "message": "y", "payment_id": "pay_aaaaaaaaaaaaaaaaaaaa"},
        token=token,
    )
    assert (status, err["code"]) == (404, "payment-not-found")


def test_a_ticket_subject_with_line_breaks_cannot_add_an_email_header(pay):
    """Issue 14 hole 6: a subject "Help\\r\\nBcc: …" reached the SES Subject unchanged. Single-line
    fields collapse line breaks on the way in; the multi-line message keeps its lines."""
    account_id, token, _ = pay.owing(1000, card=False)
    subject = "Help\r\nBcc: attacker@evil.example\r\n\r\nX-Injected:\tyes"
    status, body, _ = pay.api.call(
        "POST",
        f"/v1/accounts/{account_id}/support-tickets",
        {"subject": subject, "message": "line 1\r\nline 2\n\tline 3"},
        token=token,
    )
    assert status == 201, body
    flat = "Help Bcc: attacker@evil.example X-Injected: yes"
    stored = payment_store.get_ticket(account_id, body["ticket_id"])
    assert (stored["subject"], stored["message"]) == (flat, "line 1\r\nline 2\n\tline 3")
    (mail,) = pay.mails_to("support@billow.example")
    assert mail.subject == f"[billow ticket {body['ticket_id']}] {flat}"
    assert "evil" not in str(mail.destinations)


def test_every_email_subject_is_one_line_whoever_built_it(pay):
    """The e-mail gateway itself flattens the Subject: text stored before the input rule (an account
    name with a line break) or any future sender cannot add a header either."""
    from functions.core import email

    message = email.Email(
        to="ada@example.com\r\nBcc: attacker@evil.example",
        subject="Payment received for Acme\r\nBcc: attacker@evil.example\u2028\u0085x",
        text="Hello,\r\n\r\nThe body keeps its lines.\r\n",
        html="<p>Hello,</p>\r\n<p>The body keeps its lines.</p>\r\n",
    )
    email.send(message)
    (mail,) = pay.mails_to("ada@example.com")
    assert mail.subject == "Payment received for Acme Bcc: attacker@evil.example x"
    assert mail.destinations["ToAddresses"] == ["ada@example.com Bcc: attacker@evil.example"]
    assert mail.body == message.html  # the body is not a header: it keeps its lines


def test_a_refund_stripe_refuses_is_a_final_422_replayed_with_its_key_not_a_key_stuck_in_progress(pay):
    from functions.core.idempotency import IdempotencyModel

    account_id, _, _, row = pay.paid(3000, pay_amount=3000)
    # refunded in full in the Dashboard, before billow hears of it: Stripe refuses billow's refund
    assert pay.stripe_post("/v1/refunds", {"payment_intent": row.payment_intent_id, "amount": "3000"})[0] == 200
    key = str(uuid.uuid4())
    body = {"amount": 1000, "reason": "goodwill", "payment_id": row.id}

    def refund():
        return pay.api.call(
            "POST", f"/v1/accounts/{account_id}/refunds", body, token=pay.api.admin, headers={"Idempotency-Key": key}
        )

    status, first, headers = refund()
    assert status == 422, first
    assert (status, first["code"], headers["Content-Type"]) == (422, "payment-rejected", "application/problem+json")
    status, again, headers = refund()  # at once, inside what was the lease
    assert (status, again, headers.get("Idempotent-Replayed")) == (422, first, "true")
    record = IdempotencyModel.get(f"{account_id}|POST /v1/accounts/{{account_id}}/refunds|{key}")
    assert record.status == "completed"
    refunds = pay.stripe_get(f"/v1/refunds?payment_intent={row.payment_intent_id}")["data"]
    assert [r["amount"] for r in refunds] == [3000]  # the Dashboard's only
    assert payment_store.get_payment(account_id, row.id).refunded == 0
    assert pay.balance(account_id).current == 0
    pay.audit_ok(account_id)


def _dashboard_refund_of_a_payment_that_settled_25_invoices(pay):
    """Issue 14 hole 9: 25 charges of 10.00, one payment of 250.00 (20 invoices settled in its own
    transaction, 5 through the credit it left), 20 newer unpaid charges of 5.00, then the whole payment
    refunded in Stripe's Dashboard."""
    account_id, _, paid_invoices, row = pay.paid(*[1000] * 25, pay_amount=25_000)
    direct = [a["invoice_id"] for a in row.applied_to if a["invoice_id"]]
    assert len(direct) == 20 and {"invoice_id": None, "amount": 5000} in row.applied_to, row.applied_to
    assert all(pay.invoice(account_id, i).status == "closed" for i in paid_invoices)
    newer = [pay.charge(account_id, 500) for _ in range(20)]
    assert pay.balance(account_id).current == 10_000
    code, refund = pay.stripe_post("/v1/refunds", {"payment_intent": row.payment_intent_id, "amount": "25000"})
    assert code == 200, refund
    (event,) = pay.events_for(row.payment_intent_id, "charge.refunded")
    return account_id, paid_invoices, newer, row, event


def _ledger_state(pay, account_id):
    invoices = sorted(
        (i.id, i.status, i.balance_due, len(i.applications)) for i in ledger.ledger_store.all_invoices(account_id)
    )
    return pay.balance(account_id), ledger.ledger_store.entries(account_id), invoices


def test_a_dashboard_refund_of_a_payment_that_settled_many_invoices_reopens_them_all(pay):
    account_id, paid_invoices, newer, row, event = _dashboard_refund_of_a_payment_that_settled_25_invoices(pay)

    status, body = pay.deliver_event(event)

    assert (status, body["outcome"]) == (200, "money_back"), body
    balance = pay.balance(account_id)
    assert (balance.current, balance.unapplied_credit) == (35_000, 0)
    for invoice_id in paid_invoices:  # directly or through the payment's credit: every one owes again
        inv = pay.invoice(account_id, invoice_id)
        assert (inv.status, inv.balance_due, inv.amount_paid) == ("open", 1000, 0), inv
    assert all(pay.invoice(account_id, i).balance_due == 500 for i in newer)  # untouched
    invoices = ledger.ledger_store.all_invoices(account_id)
    assert len(invoices) == 45 and not [i for i in invoices if i.description == "Payment refunded"]
    assert sum(e.amount for e in ledger.ledger_store.entries(account_id) if e.kind == "money_back") == 25_000
    assert payment_store.get_payment(account_id, row.id).refunded == 25_000
    pay.audit_ok(account_id)

    before = _ledger_state(pay, account_id)
    assert pay.deliver_event(event) == (200, {"received": True, "event": event["id"], "outcome": "duplicate"})
    assert _ledger_state(pay, account_id) == before
    assert payment_store.get_payment(account_id, row.id).refunded == 25_000


def test_a_dashboard_refund_placement_that_crashed_half_way_is_finished_by_the_redelivery(pay, monkeypatch):
    from functions.core import uow

    account_id, paid_invoices, _, row, event = _dashboard_refund_of_a_payment_that_settled_25_invoices(pay)
    real_commit, commits = uow.UnitOfWork.commit, []

    def crash_on_the_second_placement_step(self):
        if any(op.label == "placement" for op in self.ops):
            commits.append(len(self.ops))
            if len(commits) == 2:
                raise RuntimeError("the process died here")
        return real_commit(self)

    monkeypatch.setattr(uow.UnitOfWork, "commit", crash_on_the_second_placement_step)
    status, body = pay.deliver_event(event)
    assert status == 500, body
    half = pay.balance(account_id)
    assert half.current == 30_000  # the first step (20 invoices) committed, keeping the invariant
    pay.audit_ok(account_id)
    assert payment_store.get_event_marker(event["id"]) is None  # so Stripe delivers it again

    status, body = pay.deliver_event(event)  # Stripe's redelivery finishes the placement, once

    assert (status, body["outcome"]) == (200, "money_back"), body
    assert pay.balance(account_id).current == 35_000
    assert all(pay.invoice(account_id, i).balance_due == 1000 for i in paid_invoices)
    assert sum(e.amount for e in ledger.ledger_store.entries(account_id) if e.kind == "money_back") == 25_000
    assert payment_store.get_payment(account_id, row.id).refunded == 25_000
    pay.audit_ok(account_id)
    before = _ledger_state(pay, account_id)
    assert pay.deliver_event(event)[1]["outcome"] == "duplicate"
    assert _ledger_state(pay, account_id) == before
