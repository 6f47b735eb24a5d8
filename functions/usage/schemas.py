"""Request and response models of POST /v1/usage and of the usage view."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field


def _quantity(value: int | str) -> int | str:
    # The size (at most MAX_QUANTITY) is checked by the service, which answers `quantity-too-large`.
    if isinstance(value, bool):
        raise ValueError("a non-negative integer or decimal string")
    if isinstance(value, int):
        if value < 0:
            raise ValueError("a non-negative integer")
        return value
    if not re.fullmatch(r"[0-9]{1,64}(\.[0-9]{1,6})?", value):
        raise ValueError("a non-negative integer or decimal string with at most 6 decimal places")
    return value


Name = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:/-]+$")]


class UsageRecord(BaseModel):
    """One metered record (validated strictly from JSON: a float quantity is refused). No price: the rate
    card prices usage at invoice time."""

    model_config = {"extra": "forbid"}

    id: str = Field(min_length=1, max_length=128)
    account_id: str = Field(min_length=1, max_length=64)
    service: Name
    metric: Name
    quantity: Annotated[int | str, AfterValidator(_quantity)]
    occurred_at: datetime
    device_id: str | None = Field(None, min_length=1, max_length=64)


class UsageBatch(BaseModel):
    model_config = {"extra": "forbid"}
    # Records are validated one by one by the service, so one bad record never rejects the batch.
    records: list[dict] = Field(min_length=1, max_length=500)


class RecordResult(BaseModel):
    index: int
    id: str | None
    status: Literal["accepted", "duplicate", "rejected"]
    reason: str | None = None
    period_start: str | None = None


class UsageResult(BaseModel):
    accepted: int
    duplicates: int
    rejected: int
    results: list[RecordResult]


# ---- the usage view ---------------------------------------------------------------------------------


class UsageQuery(BaseModel):
    model_config = {"extra": "forbid"}
    period: str = Field("current", pattern=r"^(current|[0-9]{4}-(0[1-9]|1[0-2]))$", description="current or YYYY-MM")
    group_by: Literal["service", "metric", "device", "day"] = "metric"


class Period(BaseModel):
    start: date
    end: date


class UsageLine(BaseModel):
    service: str | None = None
    metric: str | None = None
    description: str | None = None
    device_id: str | None = None
    day: date | None = None
    quantity: str | None = None  # None on service groups (metrics of a service do not add up)
    included: str | None = None
    billable: str | None = None
    amount: int


class UsageView(BaseModel):
    account_id: str
    period: Period
    currency: str
    group_by: str
    lines: list[UsageLine]
    total: int


# ---- budgets ------------------------------------------------------------------------------------------


def _thresholds(value: list[int]) -> list[int]:
    if len(set(value)) != len(value):
        raise ValueError("each threshold once")
    return sorted(value)


class BudgetIn(BaseModel):
    model_config = {"extra": "forbid"}
    amount: int = Field(gt=0, le=99_999_999, description="the monthly budget, minor units of the account's currency")
    thresholds: Annotated[list[Annotated[int, Field(ge=1, le=1000)]], AfterValidator(_thresholds)] = Field(
        default_factory=lambda: [50, 80, 100], min_length=1, max_length=10, description="percent of the budget"
    )
    currency: str | None = Field(None, description="the account's currency, if given")


class BudgetView(BaseModel):
    account_id: str
    currency: str
    amount: int | None  # None: no budget set (the estimate is shown all the same)
    thresholds: list[int]
    period: Period
    period_estimate: int  # this period's recurring fees + its usage so far, priced as it will be invoiced
    crossed: list[int]  # the thresholds crossed in this period
    updated_at: str | None


class BudgetDeleted(BaseModel):
    account_id: str
    deleted: bool  # False: there was no budget (nothing changed)
