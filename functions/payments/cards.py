"""The card on file as other flows charge it: whether an account has a card billow may charge
off-session (active, not past its expiry month), with its Stripe customer and payment method ids."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from functions.core import clock
from functions.payments import store
from functions.payments.store import PaymentMethodState


@dataclass(frozen=True)
class ChargeableCard:
    """A card billow may charge off-session: active and not past its expiry month."""

    customer_id: str
    payment_method_id: str
    brand: str
    last4: str
    exp_month: int
    exp_year: int


def is_expired(exp_month: int, exp_year: int, today: date | None = None) -> bool:
    """A card is valid through the last day of its expiry month (UTC)."""
    today = today or clock.today()
    return (today.year, today.month) > (exp_year, exp_month)


def chargeable_card(account_id: str) -> ChargeableCard | None:
    """The account's card on file with its Stripe customer and payment method ids, or None when there is
    no card or it has expired (an expired card counts as no card)."""
    return card_of(store.get_state(account_id))


def card_of(state: PaymentMethodState | None) -> ChargeableCard | None:
    """`chargeable_card` of a card state already read."""
    if state is None or state.card is None or state.customer_id is None:
        return None
    c = state.card.card
    if is_expired(c.exp_month, c.exp_year):
        return None
    return ChargeableCard(
        customer_id=state.customer_id,
        payment_method_id=state.card.payment_method_id,
        brand=c.brand,
        last4=c.last4,
        exp_month=c.exp_month,
        exp_year=c.exp_year,
    )
