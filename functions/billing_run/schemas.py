"""Messages of the monthly run's queues (validated on receipt; a bad message fails and reaches the DLQ)."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class ShardMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")
    shard: int = Field(ge=0, le=31)
    run_date: date


class AccountMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")
    account_id: str = Field(min_length=1, max_length=64)
    run_date: date
    kind: Literal["due", "retry", "remind"] = "due"
