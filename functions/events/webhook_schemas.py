"""Request and response models of the webhook endpoint routes (DESIGN §2 v4 routes, §7)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from functions.core.schemas import Page, Request, SingleLine

URL = Field(min_length=1, max_length=4096, description="https:// (local stage: also http://127.0.0.1)")
TYPES = Field(min_length=1, description='event types, or ["*"] for every type (today\'s and later ones)')


class EndpointIn(Request):
    url: str = URL
    event_types: list[str] = TYPES
    description: SingleLine = Field("", max_length=500)


class EndpointPatch(Request):
    """Only the fields sent change (at least one); `enabled: true` re-enables a disabled endpoint."""

    url: str | None = Field(None, min_length=1, max_length=4096)
    event_types: list[str] | None = Field(None, min_length=1)
    description: SingleLine | None = Field(None, max_length=500)
    enabled: bool | None = None


class WebhookEndpoint(BaseModel):
    id: str
    url: str
    event_types: list[str]
    description: str
    enabled: bool
    disabled_reason: str | None
    failing_since: str | None = Field(description="when deliveries started failing (none since), or null")
    previous_secret_expires_at: str | None = Field(description="during a rotation: until when the old secret signs")
    created_at: str
    updated_at: str


class WebhookEndpointWithSecret(WebhookEndpoint):
    secret: str | None = Field(
        description="whsec_…: shown in this answer only (a replay of the same Idempotency-Key shows null)"
    )


class EndpointList(Page[WebhookEndpoint]):
    pass


class DeliveryAttempt(BaseModel):
    event_id: str
    event_type: str
    attempt: int
    status: str = Field(description="delivered | failed")
    status_code: int | None = Field(description="the receiver's HTTP status; null when it did not answer")
    duration_ms: int
    error: str | None = Field(description="http-<code> | redirect | timeout | connection-failed | unsafe-address")
    at: str


class AttemptList(Page[DeliveryAttempt]):
    pass


class RedeliverIn(Request):
    endpoint_id: str | None = Field(None, description="one endpoint; by default every enabled endpoint subscribed")


class Redelivery(BaseModel):
    event_id: str
    endpoint_ids: list[str]
