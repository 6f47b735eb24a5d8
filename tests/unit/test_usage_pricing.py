"""Tier arithmetic (functions/usage/pricing.py) against a straightforward reference implementation in
fractions: flat, graduated and volume rates, allowances, tier boundaries, zero usage, an allowance
larger than the usage, and the amount limit's quantity bound (issue 17)."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from functions.core.money import MAX_AMOUNT
from functions.usage.pricing import Price, Tier, max_quantity_scaled, price


def _reference(rate: Price, quantity: Fraction) -> int:
    """The line's amount, the slow and obvious way: exact fractions, each tier's overlap, half up once."""
    billable = max(Fraction(0), quantity - Fraction(rate.included))
    if billable == 0:
        exact = Fraction(0)
    elif rate.tiers_mode is None:
        exact = billable * Fraction(Decimal(rate.unit_amount_decimal))
    else:
        bounds = [Fraction(0)] + [Fraction(t.up_to) if t.up_to is not None else None for t in rate.tiers]
        exact = Fraction(0)
        for i, tier in enumerate(rate.tiers):
            low, high = bounds[i], bounds[i + 1]
            unit = Fraction(Decimal(tier.unit_amount_decimal))
            if rate.tiers_mode == "graduated":
                top = billable if high is None else min(billable, high)
                if top > low:
                    exact += (top - low) * unit + tier.flat_amount
            elif billable > low and (high is None or billable <= high):
                exact = billable * unit + tier.flat_amount
    whole, rest = divmod(exact, 1)
    return int(whole) + (1 if rest >= Fraction(1, 2) else 0)


GRADUATED = Price(
    included=Decimal(100),
    tiers_mode="graduated",
    tiers=(Tier(Decimal(1000), "2"), Tier(Decimal(10000), "1.5", 500), Tier(None, "0.25")),
)


DOCS = Price(
    included=Decimal(50),
    tiers_mode="graduated",
    tiers=(Tier(Decimal(1000), "2.3"), Tier(Decimal(10000), "1.8", 500), Tier(None, "1.2")),
)


def test_the_worked_example_of_docs_usage():
    line = price(DOCS, Decimal(12050))
    assert (line.included, line.billable) == (50, 12000)
    assert [(p.quantity, p.amount) for p in line.tiers] == [(1000, 2300), (9000, 16700), (2000, 2400)]
    assert line.amount == 21400
    volume = Price(included=Decimal(50), tiers_mode="volume", tiers=DOCS.tiers)
    assert price(volume, Decimal(12050)).amount == 14400
    assert price(volume, Decimal(1050)).amount == 2300  # 1,000 billable: the first tier's bound, inclusive
    assert price(volume, Decimal("1051.5")).amount == 2303  # 1,001.5 x 1.8 + 500 = 2,302.7


def test_tiers_with_an_allowance():
    # 12,100 GB with 100 included: 12,000 billable = 1,000 x 2 + 9,000 x 1.5 + 500 flat + 2,000 x 0.25
    line = price(GRADUATED, Decimal(12100))
    assert (line.quantity, line.included, line.billable) == (12100, 100, 12000)
    assert [(p.quantity, p.amount) for p in line.tiers] == [(1000, 2000), (9000, 14000), (2000, 500)]
    assert line.amount == 16500
    volume = Price(tiers_mode="volume", tiers=GRADUATED.tiers, included=Decimal(100))
    assert price(volume, Decimal(12100)).amount == 12000 * 0.25  # all of it at the tier reached
    assert price(volume, Decimal(1100)).amount == 2000  # 1,000 billable: the first tier (up_to inclusive)
    assert price(volume, Decimal(1101)).amount == 2002  # 1,001 x 1.5 + 500 = 2,001.5 -> 2,002 half up


def test_zero_and_an_allowance_larger_than_the_usage_cost_nothing():
    flat_fee = Price(tiers_mode="graduated", tiers=(Tier(None, "0", 700),))
    assert price(flat_fee, Decimal(0)).amount == 0  # billable 0 costs 0, even with a flat amount
    assert price(flat_fee, Decimal("0.000001")).amount == 700
    line = price(Price(included=Decimal(50), unit_amount_decimal="3"), Decimal(20))
    assert (line.billable, line.amount) == (0, 0)


def test_rounding_is_once_per_line():
    line = price(Price(unit_amount_decimal="0.5"), Decimal("0.999999"))
    assert (line.exact, line.amount) == (Decimal("0.4999995"), 0)


_units = st.decimals(min_value=0, max_value=1000, places=4).map(str)
_quantities = st.decimals(min_value=0, max_value=10**7, places=6)


@st.composite
def rates(draw):
    included = draw(st.decimals(min_value=0, max_value=10**5, places=2))
    mode = draw(st.sampled_from([None, "graduated", "volume"]))
    if mode is None:
        return Price(included=included, unit_amount_decimal=draw(_units))
    bounds = sorted(set(draw(st.lists(st.integers(1, 10**6), min_size=0, max_size=4))))
    tiers = [Tier(Decimal(b), draw(_units), draw(st.integers(0, 10**4))) for b in bounds]
    tiers.append(Tier(None, draw(_units), draw(st.integers(0, 10**4))))
    return Price(included=included, tiers_mode=mode, tiers=tuple(tiers))


@settings(max_examples=400, deadline=None)
@given(rates(), _quantities)
def test_pricing_matches_the_reference(rate, quantity):
    assert price(rate, quantity).amount == _reference(rate, Fraction(quantity))


@settings(max_examples=200, deadline=None)
@given(rates(), st.sampled_from([Decimal(0), Decimal(1)]))
def test_tier_boundaries_match_the_reference(rate, offset):
    for tier in rate.tiers:
        if tier.up_to is not None:
            for q in (tier.up_to + rate.included - offset, tier.up_to + rate.included + offset):
                assert price(rate, q).amount == _reference(rate, Fraction(q))


@settings(max_examples=100, deadline=None)
@given(rates())
def test_the_quantity_bound_is_the_largest_within_the_amount_limit(rate):
    scale, ceiling = 10**6, 10**15 * 10**6
    bound = max_quantity_scaled(rate, scale, ceiling)
    if bound is None:
        assert price(rate, Decimal(ceiling) / scale).amount <= MAX_AMOUNT
    else:
        assert price(rate, Decimal(bound) / scale).amount <= MAX_AMOUNT
        assert price(rate, Decimal(bound + 1) / scale).amount > MAX_AMOUNT
