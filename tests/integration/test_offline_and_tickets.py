"""Offline payments by operators (DESIGN §2 v4 routes: applied exactly like a card payment, one
transaction with its idempotency record and audit event), support tickets listed and read by members
(viewers too), and the refusals that point to support (§3 v4 Notices, Paying below the minimum)."""

from __future__ import annotations

import uuid

import pytest

from functions.core import clock
from tests.integration.payments_helpers import Payments


@pytest.fixture
def pay(api, client, stripe_server, queues_and_mail, monkeypatch):
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", "whsec_test_billow")
    return Payments(api, client, stripe_server, queues_and_mail)


def offline(pay, account_id, body, token=None, key=None):
    body = {"method": "offline", "reference": "VIR-2026-001", "received_on": clock.today().isoformat(), **body}
    return pay.api.call(
        "POST",
        f"/v1/accounts/{account_id}/payments",
        body,
        token=token or pay.api.admin,
        headers={"Idempotency-Key": key or str(uuid.uuid4())},
    )


def test_an_offline_payment_settles_the_oldest_invoices_first_in_one_transaction_and_replays(pay):
    from bench.ddb_counter import counting

    account_id, token, (older, newer) = pay.owing(3000, 2000, card=False)
    key = str(uuid.uuid4())
    with counting() as counts:
        status, body, _ = offline(pay, account_id, {"amount": 3500}, key=key)
    assert status == 201, body
    assert counts.calls["TransactWriteItems"] == 1, counts.describe()  # row, ledger, audit, reply: one commit
    assert (body["method"], body["source"], body["status"]) == ("offline", "offline", "succeeded")
    assert (body["reference"], body["card"], body["amount"]) == ("VIR-2026-001", None, 3500)
    assert body["applied_to"] == [{"invoice_id": older, "amount": 3000}, {"invoice_id": newer, "amount": 500}]
    assert pay.balance(account_id).current == 1500
    assert pay.invoice(account_id, older).status == "closed" and pay.invoice(account_id, newer).balance_due == 1500
    again, replayed, headers = offline(pay, account_id, {"amount": 3500}, key=key)
    assert (again, replayed, headers.get("Idempotent-Replayed")) == (201, body, "true")
    assert pay.balance(account_id).current == 1500  # applied once
    _, listed, _ = pay.api.call("GET", f"/v1/accounts/{account_id}/payments", token=token)
    assert [p["id"] for p in listed["data"]] == [body["id"]]  # the customer sees it in the history
    _, events, _ = pay.api.call("GET", f"/v1/accounts/{account_id}/events", token=token)
    assert events["data"][0]["action"] == "payment.offline_recorded"
    pay.audit_ok(account_id)


def test_an_offline_payment_may_target_an_invoice_and_pass_the_balance_leaving_credit(pay):
    account_id, _, (older, newer) = pay.owing(3000, 2000, card=False)
    status, body, _ = offline(pay, account_id, {"amount": 6000, "invoice_id": newer})
    assert status == 201, body
    assert body["applied_to"] == [
        {"invoice_id": newer, "amount": 2000},
        {"invoice_id": older, "amount": 3000},
        {"invoice_id": None, "amount": 1000},
    ]
    balance = pay.balance(account_id)
    assert (balance.current, balance.unapplied_credit) == (-1000, 1000)
    small = offline(pay, account_id, {"amount": 10})  # no Stripe minimum for money already received
    assert small[0] == 201 and pay.balance(account_id).unapplied_credit == 1010
    pay.audit_ok(account_id)


def test_a_customer_cannot_record_an_offline_payment_and_bad_bodies_write_nothing(pay):
    account_id, token, (_inv,) = pay.owing(3000, card=False)
    status, err, _ = offline(pay, account_id, {"amount": 1000}, token=token)
    assert (status, err["code"]) == (403, "offline-payment-not-allowed")
    tomorrow = clock.today().fromordinal(clock.today().toordinal() + 1).isoformat()
    cases = [
        ({"amount": 1000, "reference": None}, 422, "validation-failed"),
        ({"amount": 1000, "received_on": tomorrow}, 422, "validation-failed"),
        ({"amount": 1000, "payment_method_id": "pm_123"}, 422, "validation-failed"),
        ({"amount": 1000, "currency": "eur"}, 422, "currency-mismatch"),
        ({"amount": 0}, 422, "validation-failed"),
        ({"amount": 1000, "invoice_id": "inv_aaaaaaaaaaaaaaaaaaaa"}, 404, "invoice-not-found"),
    ]
    for body, code_status, code in cases:
        got, err, _ = offline(pay, account_id, body)
        assert (got, err["code"]) == (code_status, code), (body, err)
    status, err, _ = pay.pay(account_id, token, {"amount": 1000, "reference": "x"})  # card with offline fields
    assert (status, err["code"]) == (422, "validation-failed")
    assert pay.balance(account_id).current == 3000
    _, page, _ = pay.api.call("GET", f"/v1/accounts/{account_id}/payments", token=token)
    assert page["data"] == []


def test_a_payment_below_the_minimum_says_it_will_be_collected_with_the_next_charge(pay):
    account_id, token, _ = pay.owing(3000)
    status, err, _ = pay.pay(account_id, token, {"amount": 49})
    assert (status, err["code"]) == (422, "amount-below-minimum")
    assert "collected with the next charge" in err["detail"] and "0.50 USD" in err["detail"]
    assert pay.balance(account_id).current == 3000


def _ticket(pay, account_id, token, subject):
    status, body, _ = pay.api.call(
        "POST",
        f"/v1/accounts/{account_id}/support-tickets",
        {"subject": subject, "message": "card 4242 4242 4242 4242 charged twice"},
        token=token,
    )
    assert status == 201, body
    return body["ticket_id"]


def test_members_viewers_included_list_tickets_newest_first_in_pages_and_read_one(pay):
    from datetime import UTC, datetime, timedelta

    account_id, token = pay.account()
    start = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    ids = []
    for n in range(3):
        with clock.frozen(start + timedelta(minutes=n)):
            ids.append(_ticket(pay, account_id, token, f"question {n}"))
    viewer = pay.api.member_token(account_id, sub="viewer-1", role="viewer", scopes=("billing:read",))
    base = f"/v1/accounts/{account_id}/support-tickets"
    status, first, _ = pay.api.call("GET", f"{base}?limit=2", token=viewer)
    assert status == 200, first
    assert [t["id"] for t in first["data"]] == [ids[2], ids[1]] and first["next_cursor"]
    _, second, _ = pay.api.call("GET", f"{base}?limit=2&cursor={first['next_cursor']}", token=viewer)
    assert [t["id"] for t in second["data"]] == [ids[0]]
    status, one, _ = pay.api.call("GET", f"{base}/{ids[0]}", token=viewer)
    assert status == 200 and (one["subject"], one["status"], one["account_id"]) == ("question 0", "open", account_id)
    assert "4242" not in one["message"] and "[redacted card number]" in one["message"]
    other_id, other_token = pay.account()
    foreign = _ticket(pay, other_id, other_token, "theirs")
    status, err, _ = pay.api.call("GET", f"{base}/{foreign}", token=viewer)
    assert (status, err["code"]) == (404, "ticket-not-found")
    status, err, _ = pay.api.call("GET", f"{base}/not-an-id", token=viewer)
    assert (status, err["code"]) == (404, "ticket-not-found")
    status, err, _ = pay.api.call("GET", f"{base}?cursor=forged", token=viewer)
    assert (status, err["code"]) == (400, "invalid-cursor")
    status, err, _ = pay.api.call("GET", base, token=other_token)  # not a member of this account
    assert (status, err["code"]) == (403, "not-a-member")
