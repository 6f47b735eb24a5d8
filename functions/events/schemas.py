"""Outbound events' request and response models: GET /v1/events and the OpenAPI `webhooks` payloads."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from functions.core.outbox import EVENT_TYPES
from functions.core.schemas import PageQuery

EventType = Literal[EVENT_TYPES]  # type: ignore[valid-type]


class EventData(BaseModel):
    object: dict[str, Any] = Field(description="the resource as the API shows it, without invoice lines")


class OutboundEvent(BaseModel):
    """An outbound event (DESIGN §7), as published to EventBridge and delivered to webhook endpoints."""

    model_config = ConfigDict(title="OutboundEvent")

    id: str = Field(description="evt_ + 26 characters (audit events have 20): dedupe on it")
    type: EventType
    created_at: str
    account_id: str | None = Field(description="null for billing_run.completed")
    sequence: int = Field(description="gapless per account (billing_run.completed: per run space); order by it")
    data: EventData
    api_version: Literal["v1"]


class OutboundEventList(BaseModel):
    data: list[OutboundEvent]
    next_cursor: str | None


class EventsQuery(PageQuery):
    type: EventType | None = None
    account_id: str | None = Field(None, max_length=64)
