"""Request and response models of the rate card routes (DESIGN §3 v4 Rate card)."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field, model_validator

from functions.core.money import MAX_AMOUNT
from functions.core.schemas import Currency, Query, Request, SingleLine

# ASCII digits only, the whole string: `\d` would take other scripts' digits and `$` a trailing newline.
_DECIMAL = re.compile(r"[0-9]{1,12}(\.[0-9]{1,12})?")
_QUANTITY = re.compile(r"[0-9]{1,13}(\.[0-9]{1,6})?")
MAX_QUANTITY = 10**12


def _unit_amount(value: str) -> str:
    if not _DECIMAL.fullmatch(value):
        raise ValueError('a non-negative decimal string of minor units with at most 12 decimal places, e.g. "0.25"')
    return value


def _quantity(value: int | str) -> int | str:
    if isinstance(value, bool):
        raise ValueError("a non-negative integer or decimal string")
    if isinstance(value, int):
        if not 0 <= value <= MAX_QUANTITY:
            raise ValueError(f"an integer from 0 to {MAX_QUANTITY}")
        return value
    if not _QUANTITY.fullmatch(value) or Decimal(value) > MAX_QUANTITY:
        raise ValueError(f"a decimal string from 0 to {MAX_QUANTITY} with at most 6 decimal places")
    return value


UnitAmount = Annotated[str, AfterValidator(_unit_amount), Field(description='minor units per unit, e.g. "0.25"')]
Quantity = Annotated[int | str, AfterValidator(_quantity)]


class TierIn(Request):
    up_to: Quantity | None = Field(description="inclusive upper bound of the billable quantity; null on the last tier")
    unit_amount_decimal: UnitAmount
    flat_amount: int = Field(0, ge=0, le=MAX_AMOUNT, description="minor units added when the tier is reached")


class RateIn(Request):
    """A version of a rate: a flat unit price, or graduated / volume tiers."""

    currency: Currency | None = None
    effective_from: date | None = Field(
        None, description="default today (UTC); ≥ today but for a metric's first version"
    )
    description: SingleLine | None = Field(None, min_length=1, max_length=200)
    included_quantity: Quantity = Field(0, description="the monthly allowance, before any billable quantity")
    unit_amount_decimal: UnitAmount | None = None
    tiers_mode: Literal["graduated", "volume"] | None = None
    tiers: list[TierIn] | None = Field(None, min_length=1, max_length=20)

    @model_validator(mode="after")
    def _one_price(self) -> RateIn:
        if (self.unit_amount_decimal is None) == (self.tiers is None):
            raise ValueError("send unit_amount_decimal or tiers (with tiers_mode), not both")
        if self.tiers is not None:
            if self.tiers_mode is None:
                raise ValueError("tiers need tiers_mode: graduated or volume")
            bounds = [t.up_to for t in self.tiers]
            if bounds[-1] is not None or None in bounds[:-1]:
                raise ValueError("every tier but the last has up_to; the last has up_to null")
            numbers = [Decimal(str(b)) for b in bounds[:-1] if b is not None]
            if any(b <= a for a, b in zip([Decimal(0), *numbers], numbers, strict=False)):
                raise ValueError("up_to must grow from tier to tier and be above 0")
        elif self.tiers_mode is not None:
            raise ValueError("tiers_mode goes with tiers")
        return self


class RetireQuery(Query):
    effective_from: date | None = Field(None, description="default today (UTC); ≥ today")


class Tier(BaseModel):
    up_to: str | None
    unit_amount_decimal: str
    flat_amount: int


class RateVersion(BaseModel):
    service: str
    metric: str
    currency: str
    effective_from: date
    description: str | None
    included_quantity: str | None
    unit_amount_decimal: str | None
    tiers_mode: str | None
    tiers: list[Tier] | None
    retired: bool
    account_id: str | None
    created_at: str


class RateMetric(BaseModel):
    service: str
    metric: str
    versions: list[RateVersion]


class RateCard(BaseModel):
    data: list[RateMetric]
