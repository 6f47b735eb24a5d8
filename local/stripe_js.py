"""What the console's Stripe.js does with a SetupIntent, for the demo seeding, the tests and curl users:
`confirmCardSetup` posts the card to Stripe (never to billow) with the publishable key and the
SetupIntent's client secret; a card that needs 3-D Secure answers `requires_action`, and completing
the challenge confirms it again. The requests are the ones Stripe.js sends (form-encoded), with
the parameters localstripe's own Stripe.js stand-in (localstripe-v3.js) uses.

Test cards (https://docs.stripe.com/testing): 4242424242424242 succeeds; 4000000000000002 is declined
at confirmation; 4000002760003184 requires authentication on every setup; 4000000000000341 is saved
but declined when charged.
"""

from __future__ import annotations

from typing import Any

import requests

SUCCEEDS = "4242424242424242"
DECLINED = "4000000000000002"
REQUIRES_AUTHENTICATION = "4000002760003184"
DECLINED_AT_CHARGE = "4000000000000341"


class StripeJsError(RuntimeError):
    def __init__(self, status: int, body: Any) -> None:
        self.status = status
        self.body = body
        message = body.get("error", {}).get("message") if isinstance(body, dict) else body
        super().__init__(f"Stripe answered {status}: {message}")


def _setup_intent_id(client_secret: str) -> str:
    return client_secret.split("_secret_")[0]


def _form(value: Any, prefix: str = "") -> list[tuple[str, str]]:
    """Stripe's form encoding of nested parameters: a[b][c]=v, as Stripe.js sends them."""
    if isinstance(value, dict):
        pairs: list[tuple[str, str]] = []
        for key, inner in value.items():
            pairs += _form(inner, f"{prefix}[{key}]" if prefix else str(key))
        return pairs
    return [(prefix, "true" if value is True else str(value))]


def _post(stripe_url: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = requests.post(f"{stripe_url.rstrip('/')}{path}", data=_form(body), timeout=10)
    data = response.json()
    if response.status_code != 200:
        raise StripeJsError(response.status_code, data)
    return data


def confirm_card_setup(
    stripe_url: str,
    publishable_key: str,
    client_secret: str,
    number: str = SUCCEEDS,
    exp_month: int = 12,
    exp_year: int = 2034,
    cvc: str = "123",
    billing_details: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """stripe.confirmCardSetup(clientSecret, {payment_method: {card, billing_details}}): the SetupIntent
    as Stripe answers (`succeeded`, or `requires_action` for 3-D Secure); StripeJsError on a decline."""
    card = {"number": number, "exp_month": exp_month, "exp_year": exp_year, "cvc": cvc}
    payment_method: dict[str, Any] = {"type": "card", "card": card}
    if billing_details:
        payment_method["billing_details"] = billing_details
    seti = _setup_intent_id(client_secret)
    return _post(
        stripe_url,
        f"/v1/setup_intents/{seti}/confirm",
        {
            "key": publishable_key,
            "use_stripe_sdk": True,
            "client_secret": client_secret,
            "payment_method_data": payment_method,
        },
    )


def complete_authentication(stripe_url: str, publishable_key: str, client_secret: str) -> dict[str, Any]:
    """The customer passes the 3-D Secure challenge: Stripe.js confirms the SetupIntent again."""
    seti = _setup_intent_id(client_secret)
    return _post(
        stripe_url,
        f"/v1/setup_intents/{seti}/confirm",
        {"key": publishable_key, "use_stripe_sdk": True, "client_secret": client_secret},
    )


def create_payment_method(
    stripe_url: str, publishable_key: str, number: str = SUCCEEDS, exp_month: int = 12, exp_year: int = 2034
) -> str:
    """stripe.createPaymentMethod({type: "card", card}): a card PaymentMethod attached to nobody, for a
    one-time payment (POST /v1/accounts/{id}/payments with its id); returns its id."""
    card = {"number": number, "exp_month": exp_month, "exp_year": exp_year, "cvc": "123"}
    return str(_post(stripe_url, "/v1/payment_methods", {"key": publishable_key, "type": "card", "card": card})["id"])
