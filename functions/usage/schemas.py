"""Request and response models of POST /v1/usage."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field

# ASCII digits only, the whole string: `\d` would take other scripts' digits (Arabic-Indic "12" is 12
# to Decimal) and `$` a trailing newline.
_DECIMAL = re.compile(r"[0-9]{1,12}(\.[0-9]{1,12})?")


def _unit_amount(value: str) -> str:
    if not _DECIMAL.fullmatch(value):
        raise ValueError('a non-negative decimal string of minor units with at most 12 decimal places, e.g. "0.25"')
    return value


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
    """One metered record (validated strictly from JSON: a float quantity is refused)."""

    model_config = {"extra": "forbid"}

    id: str = Field(min_length=1, max_length=128)
    account_id: str = Field(min_length=1, max_length=64)
    service: Name
    metric: Name
    quantity: Annotated[int | str, AfterValidator(_quantity)]
    unit_amount_decimal: Annotated[str, AfterValidator(_unit_amount)]
    occurred_at: datetime


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
