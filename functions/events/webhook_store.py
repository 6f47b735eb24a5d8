"""The webhooks table (owner: events). Models never leave this module: it gives records and Ops.

    pk = ENDPOINTS          sk = <endpoint id>             an endpoint: URL, types, encrypted secrets, health
    pk = EVENT#<event id>   sk = <endpoint id>             one (event, endpoint) delivery: the event, its state
    pk = ATTEMPTS#<endpoint> sk = <at>#<event id>#<n>       one attempt (never the response body)

Endpoints are few (operators register them) and share one partition: fan-out reads them in one Query.
Deliveries and attempts expire after 30 days (TTL `expires_at`)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from pynamodb.attributes import BooleanAttribute, UnicodeAttribute
from pynamodb.exceptions import UpdateError
from pynamodb.models import Model

from functions.core import clock
from functions.core.db import IntegerAttribute, get_or_none, meta, one_page
from functions.core.errors import NotFoundError
from functions.core.uow import Op, put_if_absent

ENDPOINTS = "ENDPOINTS"
KEEP_SECONDS = 30 * 86400


class EndpointModel(Model):
    Meta = meta("webhooks")
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    url = UnicodeAttribute()
    event_types = UnicodeAttribute()  # JSON list
    description = UnicodeAttribute(default="")
    enabled = BooleanAttribute()
    secrets = UnicodeAttribute()  # JSON [{ciphertext, created_at, expires_at|null}], newest first
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    failing_since = IntegerAttribute(null=True)  # epoch seconds of the first failure since the last success
    disabled_reason = UnicodeAttribute(null=True)
    version = IntegerAttribute(default=0)


class DeliveryModel(Model):
    Meta = meta("webhooks")
    pk = UnicodeAttribute(hash_key=True)  # EVENT#<event id>
    sk = UnicodeAttribute(range_key=True)  # endpoint id
    event = UnicodeAttribute()  # the event as sent (JSON)
    status = UnicodeAttribute()  # pending | delivered | failed | abandoned
    attempts = IntegerAttribute(default=0)
    last_attempt_at = UnicodeAttribute(null=True)
    last_status_code = IntegerAttribute(null=True)
    last_error = UnicodeAttribute(null=True)
    expires_at = IntegerAttribute()


class AttemptModel(Model):
    Meta = meta("webhooks")
    pk = UnicodeAttribute(hash_key=True)  # ATTEMPTS#<endpoint id>
    sk = UnicodeAttribute(range_key=True)  # <at>#<event id>#<attempt, 3 digits>
    event_id = UnicodeAttribute()
    event_type = UnicodeAttribute()
    attempt = IntegerAttribute()
    status = UnicodeAttribute()  # delivered | failed
    status_code = IntegerAttribute(null=True)
    duration_ms = IntegerAttribute()
    error = UnicodeAttribute(null=True)
    at = UnicodeAttribute()
    expires_at = IntegerAttribute()


@dataclass(frozen=True)
class StoredSecret:
    ciphertext: str
    created_at: str
    expires_at: int | None  # epoch seconds; None = the current secret


@dataclass(frozen=True)
class Endpoint:
    id: str
    url: str
    event_types: tuple[str, ...]
    description: str
    enabled: bool
    secrets: tuple[StoredSecret, ...]
    created_at: str
    updated_at: str
    failing_since: int | None = None
    disabled_reason: str | None = None
    version: int = 0

    def subscribed(self, event_type: str) -> bool:
        return "*" in self.event_types or event_type in self.event_types


@dataclass(frozen=True)
class Delivery:
    event_id: str
    endpoint_id: str
    event: dict[str, Any]
    status: str
    attempts: int = 0
    last_attempt_at: str | None = None
    last_status_code: int | None = None
    last_error: str | None = None


@dataclass(frozen=True)
class AttemptRecord:
    endpoint_id: str
    event_id: str
    event_type: str
    attempt: int
    status: str
    status_code: int | None
    duration_ms: int
    error: str | None
    at: str = field(default="")


def _endpoint(m: EndpointModel) -> Endpoint:
    secrets = tuple(StoredSecret(**s) for s in json.loads(m.secrets))
    return Endpoint(
        m.sk,
        m.url,
        tuple(json.loads(m.event_types)),
        m.description,
        bool(m.enabled),
        secrets,
        m.created_at,
        m.updated_at,
        m.failing_since,
        m.disabled_reason,
        m.version,
    )


def _endpoint_model(e: Endpoint) -> EndpointModel:
    return EndpointModel(
        ENDPOINTS,
        e.id,
        url=e.url,
        event_types=json.dumps(list(e.event_types)),
        description=e.description,
        enabled=e.enabled,
        secrets=json.dumps([s.__dict__ for s in e.secrets]),
        created_at=e.created_at,
        updated_at=e.updated_at,
        failing_since=e.failing_since,
        disabled_reason=e.disabled_reason,
        version=e.version,
    )


def not_found(endpoint_id: str) -> NotFoundError:
    return NotFoundError(f"no webhook endpoint {endpoint_id}", code="webhook-endpoint-not-found")


def create_endpoint(endpoint: Endpoint) -> Op:
    return put_if_absent(_endpoint_model(endpoint), label="webhook-endpoint")


def replace_endpoint(endpoint: Endpoint) -> Op:
    """Write `endpoint` (its version + 1) only if nobody changed it since it was read."""
    model = _endpoint_model(endpoint)
    model.version = endpoint.version + 1
    return Op("put", model, condition=EndpointModel.version == endpoint.version, label="webhook-endpoint")


def delete_endpoint(endpoint: Endpoint) -> Op:
    model = _endpoint_model(endpoint)
    return Op("delete", model, condition=EndpointModel.version == endpoint.version, label="webhook-endpoint")


def get_endpoint(endpoint_id: str) -> Endpoint | None:
    found = get_or_none(EndpointModel, ENDPOINTS, endpoint_id, consistent_read=True)
    return None if found is None else _endpoint(found)


def endpoints_page(limit: int, last_key: dict[str, Any] | None) -> tuple[list[Endpoint], dict[str, Any] | None]:
    result = EndpointModel.query(ENDPOINTS, limit=limit, last_evaluated_key=last_key)
    models, last = one_page(result, EndpointModel)
    return [_endpoint(m) for m in models], last


def all_endpoints() -> list[Endpoint]:
    """Every endpoint (one Query page per 1 MB: a handful of items in practice)."""
    return [_endpoint(m) for m in EndpointModel.query(ENDPOINTS)]


def mark_failing(endpoint_id: str, since: int) -> None:
    """Remember when an endpoint started failing (kept while it keeps failing; a success clears it)."""
    try:
        EndpointModel(ENDPOINTS, endpoint_id).update(
            actions=[EndpointModel.failing_since.set(since)],
            condition=EndpointModel.pk.exists() & EndpointModel.failing_since.does_not_exist(),
        )
    except UpdateError:
        pass  # already failing (or deleted): nothing to remember


def clear_failing(endpoint_id: str) -> None:
    try:
        EndpointModel(ENDPOINTS, endpoint_id).update(
            actions=[EndpointModel.failing_since.remove()], condition=EndpointModel.failing_since.exists()
        )
    except UpdateError:
        pass  # was not failing


def disable(endpoint_id: str, reason: str) -> bool:
    """Disable an enabled endpoint; True only for the one caller that did it (it e-mails the operators)."""
    try:
        EndpointModel(ENDPOINTS, endpoint_id).update(
            actions=[
                EndpointModel.enabled.set(False),
                EndpointModel.disabled_reason.set(reason),
                EndpointModel.updated_at.set(clock.iso(clock.now())),
                EndpointModel.version.add(1),
            ],
            condition=EndpointModel.enabled == True,  # noqa: E712 - a DynamoDB condition, not a Python test
        )
    except UpdateError:
        return False
    return True


def get_delivery(event_id: str, endpoint_id: str) -> Delivery | None:
    found = get_or_none(DeliveryModel, f"EVENT#{event_id}", endpoint_id, consistent_read=True)
    return None if found is None else _delivery(found)


def deliveries_of(event_id: str) -> list[Delivery]:
    return [_delivery(m) for m in DeliveryModel.query(f"EVENT#{event_id}", consistent_read=True)]


def _delivery(m: DeliveryModel) -> Delivery:
    return Delivery(
        m.pk.removeprefix("EVENT#"),
        m.sk,
        json.loads(m.event),
        m.status,
        m.attempts,
        m.last_attempt_at,
        m.last_status_code,
        m.last_error,
    )


def save_delivery(d: Delivery) -> None:
    DeliveryModel(
        f"EVENT#{d.event_id}",
        d.endpoint_id,
        event=json.dumps(d.event, sort_keys=True),
        status=d.status,
        attempts=d.attempts,
        last_attempt_at=d.last_attempt_at,
        last_status_code=d.last_status_code,
        last_error=d.last_error,
        expires_at=clock.epoch_seconds() + KEEP_SECONDS,
    ).save()


def save_attempt(a: AttemptRecord) -> None:
    AttemptModel(
        f"ATTEMPTS#{a.endpoint_id}",
        f"{a.at}#{a.event_id}#{a.attempt:03d}",
        event_id=a.event_id,
        event_type=a.event_type,
        attempt=a.attempt,
        status=a.status,
        status_code=a.status_code,
        duration_ms=a.duration_ms,
        error=a.error,
        at=a.at,
        expires_at=clock.epoch_seconds() + KEEP_SECONDS,
    ).save()


def attempts_page(
    endpoint_id: str, limit: int, last_key: dict[str, Any] | None
) -> tuple[list[AttemptRecord], dict[str, Any] | None]:
    """One page of an endpoint's attempts, newest first."""
    result = AttemptModel.query(
        f"ATTEMPTS#{endpoint_id}", scan_index_forward=False, limit=limit, last_evaluated_key=last_key
    )
    models, last = one_page(result, AttemptModel)
    records = [
        AttemptRecord(
            endpoint_id, m.event_id, m.event_type, m.attempt, m.status, m.status_code, m.duration_ms, m.error, m.at
        )
        for m in models
    ]
    return records, last
