"""Failures after the customer's request are e-mailed with the reason and the support path (DESIGN §3
v4 Notices): a PayPal payment cancelled at PayPal, a 3-D Secure authentication that failed (both told by
Stripe's webhook), a card change Stripe refused, and a card change still pending 24 h after its PUT
(`validation-timed-out`, by the daily sweep and by the validator) — GET payment-method shows the last
failed change with its code and message."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta

import pytest
import requests

from functions.core import clock
from local import stripe_js
from tests.integration.payments_helpers import Payments
from tests.integration.test_payment_method import CONTACT


@pytest.fixture
def pay(api, client, stripe_server, queues_and_mail, monkeypatch):
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", "whsec_test_billow")
    return Payments(api, client, stripe_server, queues_and_mail)


def text(mail):
    return re.sub(r"[ \t\n]+", " ", html.unescape(re.sub(r"<[^>]+>", " ", mail.body))).strip()


def _fail_3ds(pay, account_id, token):
    pm = pay.new_card_pm(stripe_js.REQUIRES_AUTHENTICATION)
    _, body, _ = pay.pay(account_id, token, {"amount": 2000, "payment_method_id": pm})
    assert body["status"] == "requires_action", body
    pi = body["client_secret"].split("_secret_")[0]
    code, _ = pay.stripe_post(
        f"/v1/payment_intents/{pi}/_authenticate",
        {"client_secret": body["client_secret"], "success": "false", "key": "pk_test_billow_tests"},
    )
    assert code == 200
    return body, pi


def test_a_failed_3d_secure_authentication_is_emailed_once_with_the_reason_and_the_support_path(pay):
    account_id, token, _ = pay.owing(5000, card=False)
    body, pi = _fail_3ds(pay, account_id, token)
    before = len(pay.mails_to("ada@example.com"))  # the One-time invoice's notice
    failed = {"id": f"evt_fail_{pi}", "type": "payment_intent.payment_failed", "data": {"object": {"id": pi}}}
    assert pay.deliver_event(failed)[1]["outcome"] == "failed"
    assert pay.deliver_event(failed)[1]["outcome"] == "duplicate"  # Stripe redelivers: no second e-mail
    again = {"id": f"evt_cancel_{pi}", "type": "payment_intent.canceled", "data": {"object": {"id": pi}}}
    pay.deliver_event(again)  # another event about the same failure: the row is final already
    (mail,) = pay.mails_to("ada@example.com")[before:]
    body_text = text(mail)
    assert "was not authenticated" in mail.subject
    assert "3-D Secure" in body_text and "$20.00" in body_text and "Visa •••• 3184" in body_text
    assert "nothing was charged" in body_text and "Reason:" in body_text
    # issue 22: a customer's e-mail names no internal id (the payment is told by its amount and card)
    assert "Open a support ticket in the console (Support)." in body_text and body["id"] not in body_text
    assert f"/#/support?account={account_id}" in body_text
    assert pay.balance(account_id).current == 5000


def test_a_paypal_payment_cancelled_at_paypal_is_emailed_in_french(pay):
    account_id, token, _ = pay.owing(4000, card=False, locale="fr", currency="eur")
    body_in = {"amount": 4000, "method": "paypal", "return_url": "http://localhost:3000/billing/paid"}
    status, body, _ = pay.pay(account_id, token, body_in)
    assert status == 201 and body["status"] == "requires_action", body
    before = len(pay.mails_to("ada@example.com"))
    url = body["next_action"]["url"].replace("/approve", "/decline")
    assert requests.get(url, allow_redirects=False, timeout=5).status_code == 302  # the customer cancels
    pi = url.split("/paypal/")[1].split("/")[0]
    (event,) = pay.events_for(pi, "payment_intent.payment_failed")
    assert pay.deliver_event(event)[1]["outcome"] == "failed"
    (mail,) = pay.mails_to("ada@example.com")[before:]
    body_text = text(mail)
    assert mail.subject == "Votre paiement PayPal pour Acme Robotics n'a pas abouti"
    assert "a été annulé ou n'a pas été approuvé : rien n'a été débité" in body_text
    assert "40,00\u00a0€" in body_text and "Ouvrez un ticket de support dans la console" in body_text


def _pending_change(pay, account_id, token, at):
    with clock.frozen(at):
        seti = pay.confirmed_setup(account_id, token, stripe_js.SUCCEEDS)
        status, accepted, _ = pay.put(account_id, token, seti)
    assert status == 202, accepted
    return seti


def test_a_card_change_pending_24_hours_fails_validation_timed_out_by_the_daily_sweep(pay):
    from functions.payments import service

    account_id, token = pay.account()
    put_at = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    seti = _pending_change(pay, account_id, token, put_at)
    pay.messages()  # the validation message is lost (say, in the DLQ): only the sweep can end it
    with clock.frozen(put_at + timedelta(hours=23, minutes=59)):
        assert service.expire_pending_changes() == 0  # not yet 24 h
    assert pay.get(account_id, token)[1]["pending_change"]["setup_intent_id"] == seti
    with clock.frozen(put_at + timedelta(hours=24, minutes=5)):
        assert service.expire_pending_changes() == 1
        assert service.expire_pending_changes() == 0  # the next day's run finds nothing more
    status, shown, _ = pay.get(account_id, token)
    assert status == 200 and shown["pending_change"] is None and shown["card"] is None
    failed = shown["last_failed_change"]
    assert (failed["setup_intent_id"], failed["code"], failed["last4"]) == (seti, "validation-timed-out", "4242")
    assert failed["message"] == "it was not validated within 24 hours"
    (mail,) = [m for m in pay.mails_to(CONTACT["email"]) if "could not be validated" in m.subject]
    body_text = text(mail)
    assert "Visa •••• 4242" in body_text and "it was not validated within 24 hours" in body_text
    assert "The card on file is unchanged" in body_text and "Open a support ticket in the console" in body_text
    _, events, _ = pay.api.call("GET", f"/v1/accounts/{account_id}/events", token=token)
    assert "payment_method.change_failed" in [e["action"] for e in events["data"]]
    messages = pay.messages()  # the lost message comes back late: the change stays failed, no second e-mail
    with clock.frozen(put_at + timedelta(hours=30)):
        pay.deliver(messages)
    assert pay.get(account_id, token)[1]["card"] is None
    assert len([m for m in pay.mails_to(CONTACT["email"]) if "could not be validated" in m.subject]) == 1


def test_the_validator_refuses_a_change_past_its_deadline_and_a_newer_card_clears_the_failure(pay):
    account_id, token = pay.account()
    put_at = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    _pending_change(pay, account_id, token, put_at)
    messages = pay.messages()
    with clock.frozen(put_at + timedelta(hours=25)):
        assert pay.deliver(messages) == {"batchItemFailures": []}
    shown = pay.get(account_id, token)[1]
    assert shown["card"] is None and shown["last_failed_change"]["code"] == "validation-timed-out"
    pay.change_card(account_id, token)  # a new card, validated at once
    shown = pay.get(account_id, token)[1]
    assert shown["card"]["status"] == "active" and shown["last_failed_change"] is None


def test_a_card_change_stripe_refuses_is_failed_shown_and_emailed(pay, monkeypatch):
    from functions.core import stripe_gateway
    from functions.core.stripe_gateway import StripeRejectedError

    account_id, token = pay.account(locale="fr")
    seti = pay.confirmed_setup(account_id, token)
    assert pay.put(account_id, token, seti)[0] == 202

    def refused(*args, **kwargs):  # Stripe refusing the attachment (fault injection at the gateway)
        raise StripeRejectedError(402, "card_declined", "Your card was declined.")

    monkeypatch.setattr(stripe_gateway, "attach_payment_method", refused)
    messages = pay.messages()
    pay.deliver(messages)
    pay.deliver(messages)  # redelivered: already closed, nothing sent again
    monkeypatch.undo()
    failed = pay.get(account_id, token)[1]["last_failed_change"]
    assert (failed["code"], failed["message"]) == ("card_declined", "the bank declined it")
    (mail,) = [m for m in pay.mails_to(CONTACT["email"]) if "n'a pas pu être validée" in m.subject]
    assert "la banque l'a refusée" in text(mail) and "La carte enregistrée est inchangée" in text(mail)
