"""The local Stripe.js's server side (local/stripe_js_additions.py), over HTTP: the script served is
localstripe's followed by billow's additions, and the publishable-key calls Stripe.js makes with a
PaymentIntent's client secret (confirm, retrieve) check that secret as Stripe does. The browser side is
tests/browser/test_stripe_js.py."""

from __future__ import annotations

import requests

from local.stripe_js_additions import ADDITIONS_JS

SECRET = {"Authorization": "Bearer sk_test_billow_tests"}
PK = "pk_test_billow_tests"


def payment_intent(server, amount: int = 1200) -> dict:
    data = {"amount": amount, "currency": "usd", "payment_method_types[]": "card"}
    return requests.post(f"{server.url}/v1/payment_intents", data=data, headers=SECRET, timeout=5).json()


def test_the_script_is_localstripe_s_then_the_additions(stripe_server):
    response = requests.get(f"{stripe_server.url}/js.stripe.com/v3/", timeout=5)
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("application/javascript")
    script = response.text
    assert script.index("class Element") < script.index(ADDITIONS_JS.read_text()[:200])
    assert "stripe.createPaymentMethod = async" in script and "createPaymentMethod: async () => {}," in script


def test_confirm_with_the_client_secret_and_a_card_charges_it(stripe_server):
    pi = payment_intent(stripe_server)
    confirmed = requests.post(
        f"{stripe_server.url}/v1/payment_intents/{pi['id']}/confirm",
        data={
            "key": PK,
            "client_secret": pi["client_secret"],
            "payment_method_data[type]": "card",
            "payment_method_data[card][number]": "4242424242424242",
            "payment_method_data[card][exp_month]": "12",
            "payment_method_data[card][exp_year]": "2034",
            "payment_method_data[card][cvc]": "123",
        },
        timeout=5,
    )
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["status"] == "succeeded"
    again = requests.post(
        f"{stripe_server.url}/v1/payment_intents/{pi['id']}/confirm",
        data={"key": PK, "client_secret": pi["client_secret"]},
        timeout=5,
    )
    assert again.status_code == 400 and again.json()["error"]["code"] == "payment_intent_unexpected_state"


def test_a_wrong_client_secret_or_no_publishable_key_is_401(stripe_server):
    pi = payment_intent(stripe_server)
    url = f"{stripe_server.url}/v1/payment_intents/{pi['id']}"
    wrong = f"{pi['id']}_secret_wrong"
    assert requests.post(f"{url}/confirm", data={"key": PK, "client_secret": wrong}, timeout=5).status_code == 401
    assert requests.post(f"{url}/confirm", data={"client_secret": pi["client_secret"]}, timeout=5).status_code == 401
    assert requests.get(url, params={"key": PK, "client_secret": wrong}, timeout=5).status_code == 401
    read = requests.get(url, params={"key": PK, "client_secret": pi["client_secret"]}, timeout=5)
    assert read.status_code == 200 and read.json()["status"] == "requires_payment_method"


def test_a_declined_card_is_a_402_card_error_carrying_the_payment_intent(stripe_server):
    pi = payment_intent(stripe_server)
    pm = requests.post(
        f"{stripe_server.url}/v1/payment_methods",
        data={"key": PK, "type": "card", "card[number]": "4000000000000341", "card[exp_month]": "12"}
        | {"card[exp_year]": "2034", "card[cvc]": "123"},
        timeout=5,
    ).json()
    declined = requests.post(
        f"{stripe_server.url}/v1/payment_intents/{pi['id']}/confirm",
        data={"key": PK, "client_secret": pi["client_secret"], "payment_method": pm["id"]},
        timeout=5,
    )
    assert declined.status_code == 402, declined.text
    error = declined.json()["error"]
    assert error["type"] == "card_error" and error["payment_intent"]["id"] == pi["id"]
