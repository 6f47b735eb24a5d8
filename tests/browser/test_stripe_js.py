"""The local Stripe.js (local/stripe_js_additions.py + .js) in Chromium: the calls localstripe leaves empty
or ignores, completed as Stripe.js behaves — a PaymentMethod from card details typed into the card
Element, confirmCardPayment with a 3-D Secure card through billow's payment flow and with the card
Element, confirmCardSetup with a PaymentMethod id. Amounts move on accounts of their own, never the
demo account other browser tests read."""

from __future__ import annotations

import time
import uuid

import requests

from local import stripe_js
from tests.browser.harness import screenshot, sign_in
from tests.e2e.stack_flows import owing_account

THREE_D_SECURE = stripe_js.REQUIRES_AUTHENTICATION  # 4000002760003184


def open_card_form(page, console_site):
    sign_in(page, console_site, "customer", base=console_site.fixture_url)
    page.get_by_text("Signed in").wait_for()
    page.evaluate("location.hash = '#/card'")
    page.get_by_text("Card ready").wait_for()


def type_card(page, number: str, month: str = "12", year: str = "34", cvc: str = "123") -> None:
    """Typed key by key, as a person does (the Element moves the focus along by itself)."""
    page.get_by_label("Card number").click()
    page.keyboard.type(number)
    for label, value in (("Expiry month (MM)", month), ("Expiry year (YY)", year), ("CVC", cvc)):
        page.get_by_label(label).fill(value)


def start(page, script: str, arg: str) -> None:
    """Start a Stripe.js call without waiting for it (it waits for the 3-D Secure step); `finish` reads it."""
    keep = "(r) => { window.billowTest.done = r; }"
    page.evaluate(f"(arg) => {{ window.billowTest.done = null; ({script})(arg).then({keep}); }}", arg)


def finish(page) -> dict:
    """The call's result, within the page's default timeout (never a hung test)."""
    return page.wait_for_function("() => window.billowTest.done").json_value()


def stripe_get(console_site, path: str) -> dict:
    secret = console_site.stack.info["stripe"]["secret_key"]
    response = requests.get(
        f"{console_site.config['stripeUrl']}{path}", headers={"Authorization": f"Bearer {secret}"}, timeout=10
    )
    assert response.status_code == 200, response.text
    return response.json()


def test_create_payment_method_from_the_typed_card_gives_a_payment_method_localstripe_knows(page, console_site):
    open_card_form(page, console_site)
    type_card(page, "4242424242424242")
    page.get_by_role("button", name="Create payment method").click()
    result = page.locator("#card-result")
    result.filter(has_text="pm_").wait_for()
    pm = stripe_get(console_site, f"/v1/payment_methods/{result.inner_text()}")
    assert (pm["type"], pm["card"]["last4"], pm["card"]["exp_month"], pm["card"]["exp_year"]) == (
        "card",
        "4242",
        12,
        2034,
    )
    assert pm["customer"] is None  # attached to nobody, as Stripe.js creates it
    screenshot(page, "stripe-js-card-element")


def test_an_incomplete_or_invalid_card_is_refused_before_anything_is_sent(page, console_site):
    open_card_form(page, console_site)
    type_card(page, "4242 4242")
    page.get_by_role("button", name="Create payment method").click()
    page.locator("#card-result").filter(has_text="Your card number is incomplete.").wait_for()
    page.get_by_label("Card number").fill("4242424242424241")  # fails the Luhn check
    page.get_by_role("button", name="Create payment method").click()
    page.locator("#card-result").filter(has_text="Your card number is invalid.").wait_for()


def test_confirm_card_payment_runs_the_3_d_secure_step_of_billow_s_card_payment(page, console_site):
    """The console's path (DESIGN §8): a PaymentMethod from Stripe.js, billow's POST /payments answers
    requires_action, confirmCardPayment(client_secret) shows the 3-D Secure step, and the payment is
    applied when Stripe's webhook arrives."""
    info = console_site.stack.info
    admin = {"Authorization": f"Bearer {info['tokens']['admin']['token']}"}
    account_id = owing_account(info["api_url"], admin, [4200], name="Browser 3DS")
    open_card_form(page, console_site)
    type_card(page, THREE_D_SECURE)
    page.get_by_role("button", name="Create payment method").click()
    page.locator("#card-result").filter(has_text="pm_").wait_for()
    pm = page.locator("#card-result").inner_text()
    payments = f"{info['api_url']}/v1/accounts/{account_id}/payments"
    created = requests.post(
        payments,
        json={"amount": 4200, "payment_method_id": pm},
        headers=admin | {"Idempotency-Key": str(uuid.uuid4())},
        timeout=30,
    )
    assert created.status_code == 201, created.text
    payment = created.json()
    assert payment["status"] == "requires_action" and payment["client_secret"]
    start(page, "(secret) => window.billowTest.stripe.confirmCardPayment(secret)", payment["client_secret"])
    dialog = page.get_by_role("dialog", name="3D Secure")
    dialog.wait_for()
    screenshot(page, "stripe-js-3d-secure")
    dialog.get_by_role("button", name="Complete authentication").press("Enter")  # focused, keyboard only
    result = finish(page)
    assert "error" not in result, result
    assert result["paymentIntent"]["status"] == "succeeded"
    assert settled(payments, payment["id"], admin) == "succeeded"


def test_confirm_card_payment_with_the_card_element_and_a_failed_authentication(page, console_site):
    """confirmCardPayment(secret, {payment_method: {card}}) confirms with the typed card (localstripe's
    ignored it); failing the 3-D Secure step is Stripe.js's payment_intent_authentication_failure."""
    secret_key = console_site.stack.info["stripe"]["secret_key"]
    created = requests.post(
        f"{console_site.config['stripeUrl']}/v1/payment_intents",
        data={"amount": 1500, "currency": "usd", "payment_method_types[]": "card"},
        headers={"Authorization": f"Bearer {secret_key}"},
        timeout=10,
    ).json()
    assert created["status"] == "requires_payment_method"
    open_card_form(page, console_site)
    type_card(page, THREE_D_SECURE)
    with_card = "{payment_method: {card: window.billowTest.card}}"
    confirm = f"(secret) => window.billowTest.stripe.confirmCardPayment(secret, {with_card})"
    start(page, confirm, created["client_secret"])
    page.get_by_role("dialog", name="3D Secure").get_by_role("button", name="Fail authentication").click()
    result = finish(page)
    assert result["error"]["code"] == "payment_intent_authentication_failure"
    assert result["error"]["payment_intent"]["status"] == "requires_payment_method"
    start(page, confirm, created["client_secret"])  # the customer tries again
    page.get_by_role("dialog", name="3D Secure").get_by_role("button", name="Complete authentication").click()
    result = finish(page)
    assert result["paymentIntent"]["status"] == "succeeded", result
    pi = stripe_get(console_site, f"/v1/payment_intents/{created['id']}")
    method = stripe_get(console_site, f"/v1/payment_methods/{pi['payment_method']}")
    assert (pi["status"], method["card"]["last4"]) == ("succeeded", THREE_D_SECURE[-4:])


def test_confirm_card_setup_takes_a_payment_method_id(page, console_site):
    info = console_site.stack.info
    admin = {"Authorization": f"Bearer {info['tokens']['admin']['token']}"}
    account_id = owing_account(info["api_url"], admin, [100], name="Browser setup")
    started = requests.post(
        f"{info['api_url']}/v1/accounts/{account_id}/payment-method/setup", headers=admin, timeout=30
    ).json()
    open_card_form(page, console_site)
    type_card(page, "4242424242424242")
    result = page.evaluate(
        """async (secret) => {
            const s = window.billowTest.stripe;
            const { paymentMethod } = await s.createPaymentMethod({ type: "card", card: window.billowTest.card });
            return s.confirmCardSetup(secret, { payment_method: paymentMethod.id });
        }""",
        started["client_secret"],
    )
    assert result["setupIntent"]["status"] == "succeeded", result
    assert result["setupIntent"]["id"] == started["setup_intent_id"]


def settled(payments: str, payment_id: str, headers: dict[str, str], timeout: float = 20.0) -> str:
    """The payment's status once the webhook has been applied (or what it is after `timeout`)."""
    deadline = time.monotonic() + timeout
    status = ""
    while time.monotonic() < deadline:
        status = requests.get(f"{payments}/{payment_id}", headers=headers, timeout=10).json()["status"]
        if status != "requires_action":
            return status
        time.sleep(0.2)
    return status
