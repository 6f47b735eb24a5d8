"""Pricing one usage line (DESIGN §3 v4 Rate card): pure arithmetic, no I/O.

A line is one (service, metric) in one billing period. billable = max(0, quantity - included); a flat
rate prices billable * unit price; graduated tiers price each slice of billable in its own tier (a tier's
`flat_amount` is added when some of the billable quantity falls in it); volume tiers price all of billable
at the tier it falls in (plus that tier's flat amount). Billable 0 costs 0. Everything is exact Decimal
arithmetic; the amount is `round_half_up` ONCE, for the line. `up_to` is inclusive, as Stripe's.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, localcontext

from functions.core.money import MAX_AMOUNT, round_half_up

ZERO = Decimal(0)


@dataclass(frozen=True)
class Tier:
    up_to: Decimal | None  # inclusive upper bound of the billable quantity; None: no bound (the last tier)
    unit_amount_decimal: str
    flat_amount: int = 0


@dataclass(frozen=True)
class Price:
    """What a version of a rate charges: a flat unit price, or tiers ("graduated" | "volume")."""

    included: Decimal = ZERO
    unit_amount_decimal: str | None = None
    tiers_mode: str | None = None
    tiers: tuple[Tier, ...] = ()


@dataclass(frozen=True)
class TierPart:
    """One tier's share of a line: its bounds, the quantity priced in it and what it came to (exact)."""

    first: Decimal  # the tier starts after this billable quantity
    up_to: Decimal | None
    quantity: Decimal
    unit_amount_decimal: str
    flat_amount: int
    amount: Decimal


@dataclass(frozen=True)
class Priced:
    quantity: Decimal
    included: Decimal
    billable: Decimal
    amount: int  # round_half_up of `exact`, minor units
    exact: Decimal
    unit_amount_decimal: str | None  # flat rates (and volume: the unit price of the tier reached)
    tiers: tuple[TierPart, ...] = ()  # tiered rates: the breakdown


def _graduated(billable: Decimal, tiers: tuple[Tier, ...]) -> tuple[Decimal, tuple[TierPart, ...]]:
    total, parts, first = ZERO, [], ZERO
    for tier in tiers:
        if billable <= first:
            break
        top = billable if tier.up_to is None else min(billable, tier.up_to)
        quantity = top - first
        amount = quantity * Decimal(tier.unit_amount_decimal) + tier.flat_amount
        parts.append(TierPart(first, tier.up_to, quantity, tier.unit_amount_decimal, tier.flat_amount, amount))
        total += amount
        if tier.up_to is None:
            break
        first = tier.up_to
    return total, tuple(parts)


def _volume(billable: Decimal, tiers: tuple[Tier, ...]) -> tuple[Decimal, tuple[TierPart, ...]]:
    first = ZERO
    for tier in tiers:
        if tier.up_to is None or billable <= tier.up_to:
            amount = billable * Decimal(tier.unit_amount_decimal) + tier.flat_amount
            return amount, (TierPart(first, tier.up_to, billable, tier.unit_amount_decimal, tier.flat_amount, amount),)
        first = tier.up_to
    raise ValueError("volume tiers must end with an unbounded tier")


def price(rate: Price, quantity: Decimal) -> Priced:
    """The line of `quantity` units under `rate`: quantity, included, billable, the amount (rounded once)."""
    with localcontext() as ctx:
        ctx.prec = 80  # exact for any quantity (≤ 10^21, 6 places) times any price (12 + 12 digits)
        return _price(rate, quantity)


def _price(rate: Price, quantity: Decimal) -> Priced:
    billable = max(ZERO, quantity - rate.included)
    if billable == 0:
        exact, parts = ZERO, ()
    elif rate.tiers_mode == "graduated":
        exact, parts = _graduated(billable, rate.tiers)
    elif rate.tiers_mode == "volume":
        exact, parts = _volume(billable, rate.tiers)
    else:
        assert rate.unit_amount_decimal is not None
        exact, parts = billable * Decimal(rate.unit_amount_decimal), ()
    unit = rate.unit_amount_decimal
    if rate.tiers_mode == "volume" and parts:
        unit = parts[0].unit_amount_decimal
    return Priced(quantity, rate.included, billable, round_half_up(exact), exact, unit, parts)


def max_quantity_scaled(rate: Price, scale: int, ceiling: int) -> int | None:
    """The largest scaled quantity (quantity * scale, an integer ≤ `ceiling`) whose line stays within
    MAX_AMOUNT, or None when even `ceiling` does (no limit to enforce). The amount never decreases as the
    quantity grows (prices and flat amounts are ≥ 0), so a binary search is exact."""

    def fits(scaled: int) -> bool:
        return price(rate, Decimal(scaled) / scale).amount <= MAX_AMOUNT

    if fits(ceiling):
        return None
    low, high = 0, ceiling  # fits(low) is True (0 costs 0), fits(high) False
    while high - low > 1:
        middle = (low + high) // 2
        if fits(middle):
            low = middle
        else:
            high = middle
    return low
