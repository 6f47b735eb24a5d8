"""The local Stripe.js (DESIGN §8): localstripe's Stripe.js stand-in, completed, and the two calls with a
publishable key that Stripe.js makes and localstripe refuses.

localstripe serves `GET /js.stripe.com/v3/` (localstripe-v3.js, GPL-3, from the installed package)
with `createPaymentMethod` an empty stub and a `confirmCardPayment` that ignores the card and always
shows its 3-D Secure pop-up. The local Stripe side serves that file followed by
local/stripe_js_additions.js (billow's, served as a second part of the same script), which replaces
`createPaymentMethod`, `confirmCardPayment`, `confirmCardSetup` and adds `retrievePaymentIntent`, each
naming the Stripe.js behaviour it copies; and it labels the card Element's inputs (keyboard and screen
readers). Nothing of localstripe is copied into this repository.

What the additions call, with `key=pk_…` and the intent's `client_secret` (no secret key, as Stripe.js):

- **Confirm a PaymentIntent** (https://docs.stripe.com/api/payment_intents/confirm, as Stripe.js's
  confirmCardPayment sends it): `POST /v1/payment_intents/<pi>/confirm` with `payment_method=pm_…` or
  `payment_method_data[type]=card&payment_method_data[card][…]`, or neither for one that has its method.
  The card is charged, or the PaymentIntent answers `requires_action` when the card needs 3-D Secure;
  a decline is Stripe's 402 `card_error` with the PaymentIntent in `error.payment_intent`. localstripe
  answers 500 "Not implemented" to a payment_method and accepts only the secret key there.
- **Retrieve a PaymentIntent with its client secret**
  (https://docs.stripe.com/js/payment_intents/retrieve_payment_intent): `GET
  /v1/payment_intents/<pi>?key=pk_…&client_secret=…`; a wrong secret is 401. localstripe needs sk_.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from aiohttp import web

JS_PATHS = ("/js.stripe.com/v3/", "/js.stripe.com/v3")
ADDITIONS_JS = Path(__file__).with_name("stripe_js_additions.js")
_PI_CONFIRM = re.compile(r"^/v1/payment_intents/(pi_\w+)/confirm$")
_PI_ONE = re.compile(r"^/v1/payment_intents/(pi_\w+)$")


def stripe_js() -> str:
    """localstripe's Stripe.js, then billow's additions (one script: the additions wrap what it defines)."""
    import localstripe

    base = (Path(localstripe.__file__).parent / "localstripe-v3.js").read_text()
    return f"{base}\n\n{ADDITIONS_JS.read_text()}"


def _publishable(data: dict[str, Any]) -> None:
    from localstripe.errors import UserError

    key = data.pop("key", None)
    if not (isinstance(key, str) and key.startswith("pk_")):
        raise UserError(401, "Unauthorized")


def _intent_with_secret(pi_id: str, client_secret: Any) -> Any:
    from localstripe.errors import UserError
    from localstripe.resources import PaymentIntent

    pi = PaymentIntent._api_retrieve(pi_id)
    if not isinstance(client_secret, str) or client_secret != pi.client_secret:
        raise UserError(401, "Unauthorized")
    return pi


async def _confirm_payment_intent(request: web.Request, pi_id: str) -> web.Response:
    from localstripe.errors import UserError
    from localstripe.resources import PaymentMethod
    from localstripe.server import get_post_data, json_response

    from local.stripe_additions import _decline_details

    data = dict(await get_post_data(request, remove_auth=False) or {})
    _publishable(data)
    pi = _intent_with_secret(pi_id, data.pop("client_secret", None))
    method, method_data = data.pop("payment_method", None), data.pop("payment_method_data", None)
    for ignored in ("use_stripe_sdk", "return_url", "payment_user_agent", "expand", "setup_future_usage"):
        data.pop(ignored, None)  # what Stripe.js may send and the local side has no use for
    if data:
        raise UserError(400, "Unexpected " + ", ".join(sorted(data)))
    if pi.status not in ("requires_payment_method", "requires_confirmation"):
        message = f"This PaymentIntent's status is {pi.status}: it cannot be confirmed"
        raise UserError(400, message, {"code": "payment_intent_unexpected_state"})
    if isinstance(method_data, dict):
        method = PaymentMethod(**method_data).id
    if method is not None:
        PaymentMethod._api_retrieve(str(method))  # 404 when unknown, as Stripe
        pi.payment_method = str(method)
    if pi.payment_method is None:
        raise UserError(400, "You must provide a payment method to confirm this PaymentIntent")
    try:
        pi._confirm(on_failure_now=pi._report_failure)
    except UserError as exc:
        if exc.code == 402:
            _decline_details(exc)
        raise
    return json_response(pi._export())


def middleware() -> Any:
    """Serves the completed Stripe.js and answers the publishable-key calls (before localstripe's auth)."""

    @web.middleware
    async def additions(request: web.Request, handler: Any) -> web.StreamResponse:
        if request.method == "GET" and request.path in JS_PATHS:
            return web.Response(text=stripe_js(), content_type="application/javascript")
        has_secret_key = bool(request.headers.get("Authorization"))
        confirm = _PI_CONFIRM.match(request.path)
        if confirm and request.method == "POST" and not has_secret_key:
            return await _confirm_payment_intent(request, confirm.group(1))
        one = _PI_ONE.match(request.path)
        if one and request.method == "GET" and not has_secret_key and request.query.get("key", "").startswith("pk_"):
            from localstripe.server import json_response

            return json_response(_intent_with_secret(one.group(1), request.query.get("client_secret"))._export())
        return await handler(request)

    return additions
