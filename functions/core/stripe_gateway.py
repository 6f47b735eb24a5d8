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
- SDK objects never leave this module: callers get small frozen dataclasses.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from functions.core import clock
from functions.core.errors import ServiceUnavailableError
from functions.core.secrets import STRIPE_PUBLISHABLE_KEY, STRIPE_SECRET_KEY, get_secret
from functions.core.settings import get_settings

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


@dataclass(frozen=True)
class Card:
    brand: str
    last4: str
    exp_month: int
    exp_year: int


@dataclass(frozen=True)
class PaymentMethod:
    id: str
    customer: str | None
    card: Card | None


@dataclass(frozen=True)
class SetupIntent:
    id: str
    customer: str | None
    status: str
    client_secret: str = field(repr=False)
    payment_method: PaymentMethod | None = None


@dataclass(frozen=True)
class PaymentIntent:
    id: str
    status: str  # requires_payment_method | requires_confirmation | requires_action | processing | succeeded | canceled
    amount: int
    amount_received: int
    currency: str
    customer: str | None
    payment_method: str | None
    metadata: dict[str, str]
    latest_charge: str | None
    next_action: dict[str, Any] | None
    last_payment_error: dict[str, Any] | None
    client_secret: str = field(repr=False)


@dataclass(frozen=True)
class Refund:
    id: str
    status: str
    amount: int
    currency: str
    charge: str | None
    payment_intent: str | None
    metadata: dict[str, str]


@dataclass(frozen=True)
class Charge:
    id: str
    amount: int
    amount_refunded: int
    currency: str
    payment_intent: str | None
    refunds: tuple[Refund, ...]


@dataclass(frozen=True)
class Dispute:
    id: str
    charge: str
    payment_intent: str | None
    amount: int
    currency: str
    reason: str
    status: str


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
                payment_intent=_payment_intent(intent) if isinstance(intent, dict) else None,
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


def _payment_method(obj: Any) -> PaymentMethod | None:
    if obj is None:
        return None
    if isinstance(obj, str):
        return PaymentMethod(id=obj, customer=None, card=None)
    card = getattr(obj, "card", None)
    customer = obj.customer if isinstance(obj.customer, str | None) else obj.customer.id
    return PaymentMethod(
        id=obj.id,
        customer=customer,
        card=Card(
            brand=str(card.brand),
            last4=str(card.last4),
            exp_month=int(card.exp_month),
            exp_year=int(card.exp_year),
        )
        if card is not None
        else None,
    )


def _setup_intent(obj: Any) -> SetupIntent:
    customer = obj.customer if isinstance(obj.customer, str | None) else obj.customer.id
    return SetupIntent(
        id=obj.id,
        customer=customer,
        status=obj.status,
        client_secret=obj.client_secret,
        payment_method=_payment_method(obj.payment_method),
    )


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
    return _setup_intent(obj)


def get_setup_intent(setup_intent_id: str) -> SetupIntent | None:
    """The SetupIntent with its payment method expanded, or None when Stripe does not know it."""
    obj = _retrieve(
        "setup_intents.retrieve",
        lambda c: c.v1.setup_intents.retrieve(setup_intent_id, params={"expand": ["payment_method"]}),
    )
    return None if obj is None else _setup_intent(obj)


# --- payment methods ------------------------------------------------------------------------------


def get_payment_method(payment_method_id: str) -> PaymentMethod | None:
    obj = _retrieve("payment_methods.retrieve", lambda c: c.v1.payment_methods.retrieve(payment_method_id))
    return None if obj is None else _payment_method(obj)


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


def _get(obj: Any, name: str, default: Any = None) -> Any:
    """A field of an SDK object or of a plain dict (error bodies carry plain dicts)."""
    if isinstance(obj, dict):
        return obj.get(name, default)
    try:
        return obj[name] if name in obj else default
    except TypeError:
        return getattr(obj, name, default)


def _id_of(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return str(_get(value, "id"))


def _plain(value: Any) -> Any:
    """SDK objects to plain JSON values (next_action, last_payment_error)."""
    if value is None:
        return None
    to_dict = getattr(value, "to_dict", None)
    return to_dict() if callable(to_dict) else value


def _payment_intent(obj: Any) -> PaymentIntent:
    amount = int(_get(obj, "amount") or 0)
    status = str(_get(obj, "status"))
    received = _get(obj, "amount_received")
    return PaymentIntent(
        id=str(_get(obj, "id")),
        status=status,
        amount=amount,
        amount_received=int(received) if received is not None else (amount if status == "succeeded" else 0),
        currency=str(_get(obj, "currency")),
        customer=_id_of(_get(obj, "customer")),
        payment_method=_id_of(_get(obj, "payment_method")),
        metadata={str(k): str(v) for k, v in dict(_plain(_get(obj, "metadata")) or {}).items()},
        latest_charge=_id_of(_get(obj, "latest_charge")),
        next_action=_plain(_get(obj, "next_action")),
        last_payment_error=_plain(_get(obj, "last_payment_error")),
        client_secret=str(_get(obj, "client_secret") or ""),
    )


def _refund(obj: Any) -> Refund:
    return Refund(
        id=str(_get(obj, "id")),
        status=str(_get(obj, "status")),
        amount=int(_get(obj, "amount") or 0),
        currency=str(_get(obj, "currency")),
        charge=_id_of(_get(obj, "charge")),
        payment_intent=_id_of(_get(obj, "payment_intent")),
        metadata={str(k): str(v) for k, v in dict(_plain(_get(obj, "metadata")) or {}).items()},
    )


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
    return _payment_intent(obj)


def get_payment_intent(payment_intent_id: str) -> PaymentIntent | None:
    """The PaymentIntent as Stripe has it now, or None when Stripe does not know it."""
    obj = _retrieve("payment_intents.retrieve", lambda c: c.v1.payment_intents.retrieve(payment_intent_id))
    return None if obj is None else _payment_intent(obj)


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
    return _refund(obj)


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
    return [_refund(r) for r in _get(page, "data") or ()]


def get_refund(refund_id: str) -> Refund | None:
    obj = _retrieve("refunds.retrieve", lambda c: c.v1.refunds.retrieve(refund_id))
    return None if obj is None else _refund(obj)


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
        data = list(_get(page, "data") or ())
        for obj in data:
            intent = _payment_intent(obj)
            if intent.metadata.get(metadata_key) == value:
                return intent
        if not _get(page, "has_more") or not data:
            return None
        after = str(_get(data[-1], "id"))


def get_charge(charge_id: str) -> Charge | None:
    """The charge with its refunds (as Stripe lists them on the charge), or None when unknown."""
    try:
        obj = _call("charges.retrieve", lambda c: c.v1.charges.retrieve(charge_id))
        refunds = _call("refunds.list", lambda c: c.v1.refunds.list(params={"charge": charge_id, "limit": 100}))
    except StripeRejectedError as exc:
        if exc.http_status == 404:
            return None
        raise
    return Charge(
        id=str(_get(obj, "id")),
        amount=int(_get(obj, "amount") or 0),
        amount_refunded=int(_get(obj, "amount_refunded") or 0),
        currency=str(_get(obj, "currency")),
        payment_intent=_id_of(_get(obj, "payment_intent")),
        refunds=tuple(_refund(r) for r in _get(refunds, "data") or ()),
    )


def get_dispute(dispute_id: str) -> Dispute | None:
    obj = _retrieve("disputes.retrieve", lambda c: c.v1.disputes.retrieve(dispute_id))
    if obj is None:
        return None
    return Dispute(
        id=str(_get(obj, "id")),
        charge=str(_id_of(_get(obj, "charge"))),
        payment_intent=_id_of(_get(obj, "payment_intent")),
        amount=int(_get(obj, "amount") or 0),
        currency=str(_get(obj, "currency")),
        reason=str(_get(obj, "reason") or ""),
        status=str(_get(obj, "status") or ""),
    )
