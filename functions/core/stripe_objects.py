"""What Stripe answers, as billow sees it: small frozen dataclasses built from the SDK's objects (or the
plain dicts of its error bodies). SDK objects never leave functions/core/stripe_gateway.py and this module."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


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


def sdk_field(obj: Any, name: str, default: Any = None) -> Any:
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
    return str(sdk_field(value, "id"))


def _plain(value: Any) -> Any:
    """SDK objects to plain JSON values (next_action, last_payment_error)."""
    if value is None:
        return None
    to_dict = getattr(value, "to_dict", None)
    return to_dict() if callable(to_dict) else value


def _metadata(obj: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in dict(_plain(sdk_field(obj, "metadata")) or {}).items()}


def _money(obj: Any, name: str = "amount") -> int:
    return int(sdk_field(obj, name) or 0)


def _texts(obj: Any, *names: str) -> dict[str, str]:
    return {name: str(sdk_field(obj, name)) for name in names}


def _ids(obj: Any, *names: str) -> dict[str, str | None]:
    """Fields that hold another object, expanded or not: its id."""
    return {name: _id_of(sdk_field(obj, name)) for name in names}


def payment_method_from(obj: Any) -> PaymentMethod | None:
    if obj is None:
        return None
    if isinstance(obj, str):
        return PaymentMethod(id=obj, customer=None, card=None)
    card = getattr(obj, "card", None)
    return PaymentMethod(
        id=obj.id,
        customer=_id_of(obj.customer),
        card=Card(
            brand=str(card.brand),
            last4=str(card.last4),
            exp_month=int(card.exp_month),
            exp_year=int(card.exp_year),
        )
        if card is not None
        else None,
    )


def setup_intent_from(obj: Any) -> SetupIntent:
    return SetupIntent(
        id=obj.id,
        customer=_id_of(obj.customer),
        status=obj.status,
        client_secret=obj.client_secret,
        payment_method=payment_method_from(obj.payment_method),
    )


def payment_intent_from(obj: Any) -> PaymentIntent:
    amount = _money(obj)
    status = str(sdk_field(obj, "status"))
    received = sdk_field(obj, "amount_received")
    return PaymentIntent(
        **_texts(obj, "id", "currency"),
        **_ids(obj, "customer", "payment_method", "latest_charge"),
        status=status,
        amount=amount,
        amount_received=int(received) if received is not None else (amount if status == "succeeded" else 0),
        metadata=_metadata(obj),
        next_action=_plain(sdk_field(obj, "next_action")),
        last_payment_error=_plain(sdk_field(obj, "last_payment_error")),
        client_secret=str(sdk_field(obj, "client_secret") or ""),
    )


def refund_from(obj: Any) -> Refund:
    return Refund(
        **_texts(obj, "id", "status", "currency"),
        **_ids(obj, "charge", "payment_intent"),
        amount=_money(obj),
        metadata=_metadata(obj),
    )


def refunds_from(page: Any) -> list[Refund]:
    """The refunds of one page of a refunds list."""
    return [refund_from(r) for r in sdk_field(page, "data") or ()]


def charge_from(obj: Any, refunds_page: Any) -> Charge:
    return Charge(
        **_texts(obj, "id", "currency"),
        **_ids(obj, "payment_intent"),
        amount=_money(obj),
        amount_refunded=_money(obj, "amount_refunded"),
        refunds=tuple(refunds_from(refunds_page)),
    )


def dispute_from(obj: Any) -> Dispute:
    return Dispute(
        **_texts(obj, "id", "currency"),
        **_ids(obj, "payment_intent"),
        charge=str(_id_of(sdk_field(obj, "charge"))),
        amount=_money(obj),
        reason=str(sdk_field(obj, "reason") or ""),
        status=str(sdk_field(obj, "status") or ""),
    )
