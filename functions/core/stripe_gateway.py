"""The Stripe gateway: every call billow makes to Stripe goes through here, with the official SDK.

- One `stripe.StripeClient` (the `client.v1.*` services), built on first use: `import stripe` costs a
  cold start a noticeable share of its import time, so only code that talks to Stripe pays for it.
  The secret key comes from functions/core/secrets.py; when it rotates the client is rebuilt.
- The API version is pinned (API_VERSION, equal to the SDK's own, which a test checks), so an SDK
  upgrade that moves it is a visible change, not a silent one.
- Every POST carries an explicit idempotency key that the caller derives from the business action
  (`customer:create:<account>`, `pm:attach:<setup intent>`): a retried job sends the same key, and
  Stripe answers the first result again instead of doing the work twice.
- Retries: 429 (rate limited), 409 (a concurrent request holds the same object or key) and network
  errors are retried with exponential backoff and full jitter, up to `stripe_max_attempts`, with the
  same idempotency key. The SDK's own retries are off, so there is one policy. What is still failing
  then is ServiceUnavailableError (503); a refusal by Stripe (400/402/404) is StripeRejectedError for
  the caller to translate.
- Only parameters that both Stripe and localstripe (the local stack's stand-in) accept are sent.
- SDK objects never leave this module and functions/core/stripe_objects.py: callers get small frozen
  dataclasses.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from functions.core import clock
from functions.core.errors import ServiceUnavailableError
from functions.core.secrets import STRIPE_PUBLISHABLE_KEY, STRIPE_SECRET_KEY, get_secret
from functions.core.settings import get_settings
from functions.core.stripe_objects import (
    Charge,
    Dispute,
    PaymentIntent,
    PaymentMethod,
    Refund,
    SetupIntent,
    charge_from,
    dispute_from,
    payment_intent_from,
    payment_method_from,
    refund_from,
    refunds_from,
    sdk_field,
    setup_intent_from,
)

if TYPE_CHECKING:
    import stripe

API_VERSION = "2026-10-28.endive"
# Stripe keeps an idempotency key's result for 24 hours (https://docs.stripe.com/api/idempotent_requests):
# a row still `creating` after this long is never sent again with its key (DESIGN §3 v4).
KEY_WINDOW = timedelta(hours=23)
BACKOFF_BASE_SECONDS = 0.25
BACKOFF_CAP_SECONDS = 4.0

T = TypeVar("T")


class StripeRejectedError(Exception):
    """Stripe refused the request (invalid, declined, unknown object): retrying the same call won't help."""

    def __init__(
        self,
        http_status: int,
        code: str | None,
        message: str,
        *,
        decline_code: str | None = None,
        payment_intent: PaymentIntent | None = None,
    ) -> None:
        super().__init__(f"Stripe answered {http_status} {code or ''}: {message}".strip())
        self.http_status = http_status
        self.code = code
        self.message = message
        # A declined charge (402): Stripe's decline code, and the PaymentIntent the error is about
        # (Stripe puts it in the error when a confirmation fails, with its client_secret).
        self.decline_code = decline_code
        self.payment_intent = payment_intent


_lock = threading.Lock()
_client_state: dict[str, Any] = {"client": None, "key": None}
_sleep: Callable[[float], None] = time.sleep  # tests replace it to skip the waits


def _client() -> stripe.StripeClient:
    import stripe

    # The SDK logs every request in plain text at INFO; billow's logs are structured JSON with ids only.
    logging.getLogger("stripe").setLevel(logging.WARNING)
    key = get_secret(STRIPE_SECRET_KEY)
    with _lock:
        if _client_state["client"] is None or _client_state["key"] != key:
            settings = get_settings()
            _client_state["client"] = stripe.StripeClient(
                key,
                stripe_version=API_VERSION,
                base_addresses={"api": settings.stripe_api_base} if settings.stripe_api_base else None,
                max_network_retries=0,
                http_client=stripe.RequestsClient(timeout=settings.stripe_timeout_seconds),
            )
            _client_state["key"] = key
        return _client_state["client"]


def use_client(client: stripe.StripeClient | None) -> None:
    """Replace the client (tests: a client with a fault-injecting HTTP client); None rebuilds on next use."""
    with _lock:
        _client_state["client"] = client
        _client_state["key"] = get_secret(STRIPE_SECRET_KEY) if client is not None else None


def _backoff(attempt: int) -> float:
    """Full jitter: a random wait up to base * 2^(attempt-1), capped (AWS's and Stripe's advice)."""
    return random.uniform(0, min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** (attempt - 1)))  # noqa: S311


def _call(operation: str, fn: Callable[[stripe.StripeClient], T]) -> T:
    """Run one Stripe call with the retry policy; map the SDK's errors to ours."""
    import stripe

    attempts = get_settings().stripe_max_attempts
    for attempt in range(1, attempts + 1):
        try:
            return fn(_client())
        except (stripe.RateLimitError, stripe.APIConnectionError) as exc:
            failure: Exception = exc
        except stripe.APIError as exc:
            if exc.http_status != 409:  # 5xx: Stripe saved the result under the key; a retry replays it
                raise ServiceUnavailableError(f"Stripe failed on {operation}; retry later") from exc
            failure = exc
        except stripe.CardError as exc:
            error = (exc.json_body or {}).get("error") or {}
            intent = error.get("payment_intent")
            raise StripeRejectedError(
                exc.http_status or 402,
                exc.code,
                exc.user_message or str(exc),
                decline_code=error.get("decline_code") or exc.code,
                payment_intent=payment_intent_from(intent) if isinstance(intent, dict) else None,
            ) from exc
        except stripe.IdempotencyError as exc:
            raise StripeRejectedError(exc.http_status or 400, "idempotency_error", str(exc)) from exc
        except stripe.InvalidRequestError as exc:
            code = exc.code
            raise StripeRejectedError(exc.http_status or 400, code, exc.user_message or str(exc)) from exc
        if attempt < attempts:
            _sleep(_backoff(attempt))
    raise ServiceUnavailableError(f"Stripe did not answer {operation} after {attempts} attempts; retry later") from (
        failure
    )


def _retrieve(operation: str, fn: Callable[[stripe.StripeClient], T]) -> T | None:
    """One retrieve through `_call`; None when Stripe does not know the object (404)."""
    try:
        return _call(operation, fn)
    except StripeRejectedError as exc:
        if exc.http_status == 404:
            return None
        raise


def publishable_key() -> str:
    """The key the console's Stripe.js uses (pk_…); safe to hand to browsers."""
    return get_secret(STRIPE_PUBLISHABLE_KEY)


# --- customers ------------------------------------------------------------------------------------


def create_customer(*, name: str, email: str, metadata: dict[str, str], idempotency_key: str) -> str:
    """A Stripe customer; returns its id. Same key (within Stripe's 24 h) -> the same customer."""
    customer = _call(
        "customers.create",
        lambda c: c.v1.customers.create(
            params={"name": name, "email": email, "metadata": metadata},
            options={"idempotency_key": idempotency_key},
        ),
    )
    return str(customer.id)


def set_default_payment_method(customer_id: str, payment_method_id: str, *, idempotency_key: str) -> None:
    """Make the payment method the customer's default for invoices and off-session charges."""
    _call(
        "customers.update",
        lambda c: c.v1.customers.update(
            customer_id,
            params={"invoice_settings": {"default_payment_method": payment_method_id}},
            options={"idempotency_key": idempotency_key},
        ),
    )


# --- setup intents --------------------------------------------------------------------------------


def create_setup_intent(customer_id: str, *, metadata: dict[str, str], idempotency_key: str) -> SetupIntent:
    """A SetupIntent for saving a card for later off-session charges, confirmed by Stripe.js."""
    obj = _call(
        "setup_intents.create",
        lambda c: c.v1.setup_intents.create(
            params={
                "customer": customer_id,
                "usage": "off_session",
                "payment_method_types": ["card"],
                "metadata": metadata,
            },
            options={"idempotency_key": idempotency_key},
        ),
    )
    return setup_intent_from(obj)


def get_setup_intent(setup_intent_id: str) -> SetupIntent | None:
    """The SetupIntent with its payment method expanded, or None when Stripe does not know it."""
    obj = _retrieve(
        "setup_intents.retrieve",
        lambda c: c.v1.setup_intents.retrieve(setup_intent_id, params={"expand": ["payment_method"]}),
    )
    return None if obj is None else setup_intent_from(obj)


# --- payment methods ------------------------------------------------------------------------------


def get_payment_method(payment_method_id: str) -> PaymentMethod | None:
    obj = _retrieve("payment_methods.retrieve", lambda c: c.v1.payment_methods.retrieve(payment_method_id))
    return None if obj is None else payment_method_from(obj)


def attach_payment_method(payment_method_id: str, customer_id: str, *, idempotency_key: str) -> None:
    """Attach the payment method to the customer, unless it already is (a redelivered job, or real
    Stripe, which attaches a SetupIntent's payment method to its customer by itself)."""
    current = get_payment_method(payment_method_id)
    if current is not None and current.customer == customer_id:
        return
    _call(
        "payment_methods.attach",
        lambda c: c.v1.payment_methods.attach(
            payment_method_id, params={"customer": customer_id}, options={"idempotency_key": idempotency_key}
        ),
    )


def detach_payment_method(payment_method_id: str, customer_id: str, *, idempotency_key: str) -> bool:
    """Detach the payment method if it is still attached to this customer; False when there was
    nothing to do (already detached: Stripe refuses to detach twice, so a redelivered job checks first)."""
    current = get_payment_method(payment_method_id)
    if current is None or current.customer != customer_id:
        return False
    _call(
        "payment_methods.detach",
        lambda c: c.v1.payment_methods.detach(payment_method_id, options={"idempotency_key": idempotency_key}),
    )
    return True


# --- payment intents, refunds, charges, disputes -------------------------------------------------


def create_payment_intent(
    *,
    amount: int,
    currency: str,
    metadata: dict[str, str],
    idempotency_key: str,
    customer: str | None = None,
    payment_method: str | None = None,
    method: str = "card",
    off_session: bool = False,
    return_url: str | None = None,
) -> PaymentIntent:
    """Create and confirm a PaymentIntent: a card (`payment_method`, confirmed now; `off_session` for
    the monthly run) or PayPal (`return_url`: Stripe answers requires_action with the approval URL).
    A decline raises StripeRejectedError (402) carrying the decline code and the PaymentIntent."""
    params: dict[str, Any] = {
        "amount": amount,
        "currency": currency,
        "payment_method_types": [method],
        "metadata": metadata,
        "confirm": True,
    }
    if customer:
        params["customer"] = customer
    if method == "card":
        params["payment_method"] = payment_method
        if off_session:
            params["off_session"] = True
    else:
        params["payment_method_data"] = {"type": method}
        params["return_url"] = return_url
    obj = _call(
        "payment_intents.create",
        lambda c: c.v1.payment_intents.create(params=params, options={"idempotency_key": idempotency_key}),
    )
    return payment_intent_from(obj)


def get_payment_intent(payment_intent_id: str) -> PaymentIntent | None:
    """The PaymentIntent as Stripe has it now, or None when Stripe does not know it."""
    obj = _retrieve("payment_intents.retrieve", lambda c: c.v1.payment_intents.retrieve(payment_intent_id))
    return None if obj is None else payment_intent_from(obj)


def cancel_payment_intent(payment_intent_id: str, idempotency_key: str) -> PaymentIntent:
    """Cancel a PaymentIntent that can still succeed (requires_action, requires_payment_method, …) before
    another one is made for the same money. Stripe refuses (StripeRejectedError) when it cannot be
    cancelled any more — it succeeded or is processing: read it again (`get_payment_intent`) to know."""
    obj = _call(
        "payment_intents.cancel",
        lambda c: c.v1.payment_intents.cancel(payment_intent_id, options={"idempotency_key": idempotency_key}),
    )
    return payment_intent_from(obj)


def create_refund(*, payment_intent_id: str, amount: int, metadata: dict[str, str], idempotency_key: str) -> Refund:
    """Refund part or all of a PaymentIntent's charge to the card it came from."""
    obj = _call(
        "refunds.create",
        lambda c: c.v1.refunds.create(
            params={
                "payment_intent": payment_intent_id,
                "amount": amount,
                "reason": "requested_by_customer",
                "metadata": metadata,
            },
            options={"idempotency_key": idempotency_key},
        ),
    )
    return refund_from(obj)


def key_expired(created_at: str) -> bool:
    """True when a row created at `created_at` (ISO) is past KEY_WINDOW: its key may be forgotten."""
    if not created_at:
        return False
    created = datetime.fromisoformat(created_at.replace("Z", "+00:00"))
    return clock.now() - created > KEY_WINDOW


def list_refunds(payment_intent_id: str) -> list[Refund]:
    """Every refund of a PaymentIntent (its 100 most recent: more refunds than that on one payment is
    not something billow does)."""
    page = _call(
        "refunds.list",
        lambda c: c.v1.refunds.list(params={"payment_intent": payment_intent_id, "limit": 100}),
    )
    return refunds_from(page)


def get_refund(refund_id: str) -> Refund | None:
    obj = _retrieve("refunds.retrieve", lambda c: c.v1.refunds.retrieve(refund_id))
    return None if obj is None else refund_from(obj)


def find_payment_intent(
    customer: str | None, created_since: str, metadata_key: str, value: str
) -> PaymentIntent | None:
    """The PaymentIntent created since `created_since` (ISO; of the customer, when known) whose
    metadata names `value` under `metadata_key`: how a row whose key has expired adopts what it made."""
    since = int(datetime.fromisoformat(created_since.replace("Z", "+00:00")).timestamp()) - 60
    params: dict[str, Any] = {"limit": 100, "created": {"gte": since}}
    if customer:
        params["customer"] = customer
    after: str | None = None
    while True:
        query = dict(params, **({"starting_after": after} if after else {}))
        page = _call("payment_intents.list", lambda c, q=query: c.v1.payment_intents.list(params=q))
        data = list(sdk_field(page, "data") or ())
        for obj in data:
            intent = payment_intent_from(obj)
            if intent.metadata.get(metadata_key) == value:
                return intent
        if not sdk_field(page, "has_more") or not data:
            return None
        after = str(sdk_field(data[-1], "id"))


def get_charge(charge_id: str) -> Charge | None:
    """The charge with its refunds (as Stripe lists them on the charge), or None when unknown."""
    obj = _retrieve("charges.retrieve", lambda c: c.v1.charges.retrieve(charge_id))
    if obj is None:
        return None
    refunds = _retrieve("refunds.list", lambda c: c.v1.refunds.list(params={"charge": charge_id, "limit": 100}))
    return None if refunds is None else charge_from(obj, refunds)


def get_dispute(dispute_id: str) -> Dispute | None:
    obj = _retrieve("disputes.retrieve", lambda c: c.v1.disputes.retrieve(dispute_id))
    return None if obj is None else dispute_from(obj)
