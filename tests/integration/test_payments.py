"""One-time payments (DESIGN §2 payments, §3 application), through chalice's test client, moto and
localstripe behind the shim: card on file, a Stripe.js card, decline, 3-D Secure, PayPal, the bad
inputs, idempotency and crashes around the Stripe call."""

from __future__ import annotations

import uuid

import pytest

from functions.core import clock, stripe_gateway
from functions.payments import store as payment_store
from local import stripe_js
from tests.integration.payments_helpers import Payments


@pytest.fixture
def pay(api, client, stripe_server, queues_and_mail, monkeypatch):
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", "whsec_test_billow")
    return Payments(api, client, stripe_server, queues_and_mail)


def _pi_creates(pay):
    """PaymentIntents Stripe actually created (replays of a key are not new ones)."""
    return [r for r in pay.stripe.requests("POST", "/v1/payment_intents") if r.status in (200, 402) and not r.replayed]


def test_a_card_on_file_payment_succeeds_settles_the_oldest_invoice_first_and_sends_a_receipt(pay):
    account_id, token, (older, newer) = pay.owing(3000, 2000)

    status, body, _ = pay.pay(account_id, token, {"amount": 3500})

    assert status == 201, body
    assert body["status"] == "succeeded" and body["amount"] == 3500 and body["currency"] == "usd"
    assert body["applied_to"] == [{"invoice_id": older, "amount": 3000}, {"invoice_id": newer, "amount": 500}]
    assert body["card"]["last4"] == "4242" and body["client_secret"] is None
    assert pay.balance(account_id).current == 1500
    assert pay.invoice(account_id, older).status == "closed"
    assert pay.invoice(account_id, newer).balance_due == 1500
    # the receipt (the card confirmation went to grace@), after the two One-time invoices' notices (v4)
    mails = pay.mails_to("ada@example.com")
    assert len(mails) == 3 and mails[-1].subject.startswith("Payment received")
    status, one, _ = pay.api.call("GET", f"/v1/accounts/{account_id}/payments/{body['id']}", token=token)
    assert status == 200 and one == body
    pay.audit_ok(account_id)


def test_a_payment_can_target_an_invoice_and_pay_at_most_its_balance_due(pay):
    account_id, token, (older, newer) = pay.owing(3000, 2000)

    status, err, _ = pay.pay(account_id, token, {"amount": 2001, "invoice_id": newer})
    assert status == 422 and err["code"] == "amount-exceeds-balance"
    status, body, _ = pay.pay(account_id, token, {"amount": 2000, "invoice_id": newer})

    assert status == 201 and body["applied_to"] == [{"invoice_id": newer, "amount": 2000}]
    assert pay.invoice(account_id, older).balance_due == 3000
    pay.audit_ok(account_id)


def test_a_new_card_from_stripe_js_is_charged_once_and_never_attached(pay):
    account_id, token, _ = pay.owing(5000, card=False)
    pm = pay.new_card_pm("4000056655665556")

    status, body, _ = pay.pay(account_id, token, {"amount": 1200, "payment_method_id": pm})

    assert status == 201 and body["status"] == "succeeded", body
    assert body["card"]["last4"] == "5556"
    assert pay.stripe_get(f"/v1/payment_methods/{pm}")["customer"] is None  # details not saved
    assert pay.balance(account_id).current == 3800
    pay.audit_ok(account_id)


def test_another_customers_payment_method_is_404(pay):
    account_id, token, _ = pay.owing(5000)
    other_id, _, _ = pay.owing(100)
    other_customer = pay.customer_of(other_id)
    theirs = pay.stripe_get(f"/v1/customers/{other_customer}")["invoice_settings"]["default_payment_method"]

    status, err, _ = pay.pay(account_id, token, {"amount": 1000, "payment_method_id": theirs})
    status2, err2, _ = pay.pay(account_id, token, {"amount": 1000, "payment_method_id": "pm_doesnotexist"})

    assert (status, err["code"]) == (404, "payment-method-not-found")
    assert (status2, err2["code"]) == (404, "payment-method-not-found")
    assert pay.balance(account_id).current == 5000


def test_bad_input_is_refused_before_anything_is_written(pay):
    account_id, token, _ = pay.owing(5000)
    cases = [
        ({"amount": 49}, 422, "amount-below-minimum"),
        ({"amount": 5001}, 422, "amount-exceeds-balance"),
        ({"amount": 1000, "currency": "eur"}, 422, "currency-mismatch"),
        ({"amount": 10.5}, 422, "validation-failed"),
        (
            {"amount": 1000, "method": "paypal", "return_url": "https://evil.example/back"},
            422,
            "return-url-not-allowed",
        ),
        ({"amount": 1000, "note": "4242 4242 4242 4242"}, 400, "card-data-not-accepted"),
        ({"amount": 1000, "invoice_id": "inv_aaaaaaaaaaaaaaaaaaaa"}, 404, "invoice-not-found"),
    ]
    before = len(_pi_creates(pay))
    for body, status, code in cases:
        got, err, _ = pay.pay(account_id, token, body)
        assert (got, err["code"]) == (status, code), (body, err)
    assert len(_pi_creates(pay)) == before
    status, page, _ = pay.api.call("GET", f"/v1/accounts/{account_id}/payments", token=token)
    assert page == {"data": [], "next_cursor": None}


def test_no_card_on_file_and_no_payment_method_is_422(pay):
    account_id, token, _ = pay.owing(5000, card=False)
    status, err, _ = pay.pay(account_id, token, {"amount": 1000})
    assert (status, err["code"]) == (422, "no-card-on-file")


def test_a_lite_account_cannot_pay(pay):
    account = pay.api.create_account(type="lite", linked=False)
    token = pay.api.member_token(account["id"], sub="lite-owner")
    status, err, _ = pay.pay(account["id"], token, {"amount": 1000})
    assert (status, err["code"]) == (403, "capability-unavailable")


def test_a_declined_card_is_402_with_the_support_path_and_recorded_failed(pay):
    account_id, token, _ = pay.owing(5000, card=False)
    pm = pay.new_card_pm("4000000000000341")
    key = str(uuid.uuid4())

    status, err, _ = pay.pay(account_id, token, {"amount": 1000, "payment_method_id": pm}, key=key)

    assert status == 402 and err["code"] == "card-declined"
    assert err["decline_code"] and "card" in err["detail"].lower()
    assert err["support"]["path"] == f"/v1/accounts/{account_id}/support-tickets"
    assert err["support"]["body"]["payment_id"] == err["payment_id"]
    row = payment_store.get_payment(account_id, err["payment_id"])
    assert row.status == "failed" and row.payment_intent_id
    assert pay.balance(account_id).current == 5000
    again, replay, headers = pay.pay(account_id, token, {"amount": 1000, "payment_method_id": pm}, key=key)
    assert again == 402, replay
    assert replay == err and headers.get("Idempotent-Replayed") == "true"
    # the support path works as given
    status, ticket, _ = pay.api.call(
        "POST", err["support"]["path"], {**err["support"]["body"], "message": "?"}, token=token
    )
    assert status == 201 and ticket["ticket_id"].startswith("tkt_")
    pay.audit_ok(account_id)


def test_3ds_requires_action_with_the_client_secret_then_the_webhook_applies_it(pay):
    account_id, token, _ = pay.owing(5000, card=False)
    pm = pay.new_card_pm(stripe_js.REQUIRES_AUTHENTICATION)

    status, body, _ = pay.pay(account_id, token, {"amount": 2000, "payment_method_id": pm})

    assert status == 201 and body["status"] == "requires_action", body
    assert body["client_secret"].startswith("pi_") and body["next_action"]["type"] == "use_stripe_sdk"
    assert pay.balance(account_id).current == 5000
    _, shown, _ = pay.api.call("GET", f"/v1/accounts/{account_id}/payments/{body['id']}", token=token)
    assert shown["client_secret"] == body["client_secret"]
    # Stripe.js completes the challenge (localstripe's stand-in for confirmCardPayment)
    pi = body["client_secret"].split("_secret_")[0]
    code, _ = pay.stripe_post(
        f"/v1/payment_intents/{pi}/_authenticate",
        {"client_secret": body["client_secret"], "success": "true", "key": "pk_test_billow_tests"},
    )
    assert code == 200
    (event,) = pay.events_for(pi, "payment_intent.succeeded")
    assert pay.deliver_event(event)[0] == 200
    _, shown, _ = pay.api.call("GET", f"/v1/accounts/{account_id}/payments/{body['id']}", token=token)
    assert shown["status"] == "succeeded" and shown["client_secret"] is None
    assert pay.balance(account_id).current == 3000
    pay.audit_ok(account_id)


def test_paypal_requires_action_with_the_approval_url_and_is_applied_after_approval(pay):
    account_id, token, (inv,) = pay.owing(4000, card=False)
    body_in = {"amount": 4000, "method": "paypal", "return_url": "http://localhost:3000/billing/paid"}

    status, body, _ = pay.pay(account_id, token, body_in)

    assert status == 201 and body["status"] == "requires_action", body
    url = body["next_action"]["url"]
    assert body["next_action"]["type"] == "redirect_to_url" and url.startswith(pay.stripe.url)
    assert pay.balance(account_id).current == 4000
    import requests

    approved = requests.get(url, allow_redirects=False, timeout=5)
    assert approved.status_code == 302
    assert approved.headers["Location"].startswith("http://localhost:3000/billing/paid?payment_intent=pi_")
    pi = approved.headers["Location"].split("payment_intent=")[1].split("&")[0]
    assert pay.stripe_get(f"/v1/payment_intents/{pi}")["status"] == "succeeded"
    (event,) = pay.events_for(pi, "payment_intent.succeeded")
    assert pay.deliver_event(event)[0] == 200
    assert pay.balance(account_id).current == 0
    assert pay.invoice(account_id, inv).status == "closed"
    pay.audit_ok(account_id)


def test_paypal_in_a_currency_it_does_not_support_is_method_unavailable(pay):
    account_id, token, _ = pay.owing(5000, card=False, currency="jpy")
    status, err, _ = pay.pay(
        account_id, token, {"amount": 1000, "method": "paypal", "return_url": "http://localhost:3000/x"}
    )
    assert (status, err["code"]) == (422, "method-unavailable")


def test_the_same_key_replays_and_another_body_with_it_is_422(pay):
    account_id, token, _ = pay.owing(5000)
    key = str(uuid.uuid4())
    status, first, _ = pay.pay(account_id, token, {"amount": 1000}, key=key)
    again, replay, headers = pay.pay(account_id, token, {"amount": 1000}, key=key)
    other, err, _ = pay.pay(account_id, token, {"amount": 1100}, key=key)

    assert (status, again) == (201, 201) and replay == first and headers["Idempotent-Replayed"] == "true"
    assert (other, err["code"]) == (422, "idempotency-key-reuse")
    assert pay.balance(account_id).current == 4000


@pytest.mark.parametrize("where", ["before_stripe", "after_stripe"])
def test_a_crash_around_the_stripe_call_then_a_retry_after_the_lease_makes_one_payment_intent(pay, monkeypatch, where):
    account_id, token, _ = pay.owing(5000)
    key = str(uuid.uuid4())
    real = stripe_gateway.create_payment_intent

    def crashing(**kwargs):
        if where == "after_stripe":
            real(**kwargs)
        raise RuntimeError("the Lambda died here")

    monkeypatch.setattr(stripe_gateway, "create_payment_intent", crashing)
    before = len(_pi_creates(pay))
    status, err, _ = pay.pay(account_id, token, {"amount": 1000}, key=key)
    assert status == 500
    monkeypatch.setattr(stripe_gateway, "create_payment_intent", real)
    status, err, _ = pay.pay(account_id, token, {"amount": 1000}, key=key)
    assert (status, err["code"]) == (409, "idempotency-in-progress")  # inside the lease

    later = clock.now().replace(microsecond=0)
    from datetime import timedelta

    with clock.frozen(later + timedelta(seconds=120)):
        status, body, _ = pay.pay(account_id, token, {"amount": 1000}, key=key)

    assert status == 201 and body["status"] == "succeeded", body
    assert len(_pi_creates(pay)) - before == 1
    assert pay.balance(account_id).current == 4000
    pay.audit_ok(account_id)


def test_payments_are_listed_newest_first_in_pages(pay):
    account_id, token, _ = pay.owing(5000)
    ids = [pay.pay(account_id, token, {"amount": 600 + n})[1]["id"] for n in range(3)]

    status, page1, _ = pay.api.call("GET", f"/v1/accounts/{account_id}/payments?limit=2", token=token)
    _, page2, _ = pay.api.call(
        "GET", f"/v1/accounts/{account_id}/payments?limit=2&cursor={page1['next_cursor']}", token=token
    )

    assert status == 200
    assert [p["id"] for p in page1["data"] + page2["data"]] == list(reversed(ids))
    assert page2["next_cursor"] is None
    status, err, _ = pay.api.call("GET", f"/v1/accounts/{account_id}/payments/pay_aaaaaaaaaaaaaaaaaaaa", token=token)
    assert (status, err["code"]) == (404, "payment-not-found")
