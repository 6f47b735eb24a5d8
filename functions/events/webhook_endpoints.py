"""Webhook endpoints, the operators' side (DESIGN §7): register, list, read, change, delete, rotate the
secret. Every change is one transaction with its audit event (partition `webhooks`) and, for POSTs,
the Idempotency-Key record. Bad input is refused before anything is read or written: the URL (ssrf.py,
on the DNS answers), the event types (webhook_types.py)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from functions.core import audit, clock, cursor
from functions.core.audit import Actor
from functions.core.errors import FieldError, ValidationFailedError, found
from functions.core.idempotency import IdempotencyContext
from functions.core.ids import is_id, new_id
from functions.core.uow import UnitOfWork, retrying
from functions.events import signing, ssrf, webhook_secrets
from functions.events import webhook_schemas as schemas
from functions.events import webhook_store as store
from functions.events.webhook_types import ALL, EVENT_TYPES, MAX_EVENT_TYPES

AUDIT = "webhooks"  # the audit partition of endpoint changes (they belong to no account)
ROTATION_GRACE_SECONDS = 24 * 3600
LIST_ROUTE = "GET /v1/webhook-endpoints"


def check_url(url: str) -> str:
    try:
        ssrf.check_here(url)
    except ssrf.UnsafeUrl as refused:
        raise ValidationFailedError(
            refused.detail, code=refused.code, errors=[FieldError("url", refused.detail)]
        ) from None
    return url


def check_types(types: list[str]) -> tuple[str, ...]:
    if len(types) > MAX_EVENT_TYPES:
        raise ValidationFailedError(
            f'at most {MAX_EVENT_TYPES} event types (or ["*"] for every type)', code="too-many-event-types"
        )
    if ALL in types:
        if len(types) > 1:
            raise ValidationFailedError('"*" means every type: send it alone', code="unknown-event-type")
        return (ALL,)
    unknown = [t for t in types if t not in EVENT_TYPES]
    if unknown:
        errors = [FieldError("event_types", f"unknown event type {t[:100]!r}") for t in unknown[:10]]
        raise ValidationFailedError(
            f"unknown event type {unknown[0][:100]!r}; see docs/events.md", code="unknown-event-type", errors=errors
        )
    return tuple(dict.fromkeys(types))  # each once, in the order sent


def _iso(epoch: int | None) -> str | None:
    return None if epoch is None else clock.iso(datetime.fromtimestamp(epoch, tz=UTC))


def view(e: store.Endpoint) -> schemas.WebhookEndpoint:
    previous = [s.expires_at for s in e.secrets if s.expires_at is not None]
    return schemas.WebhookEndpoint(
        id=e.id,
        url=e.url,
        event_types=list(e.event_types),
        description=e.description,
        enabled=e.enabled,
        disabled_reason=e.disabled_reason,
        failing_since=_iso(e.failing_since),
        previous_secret_expires_at=_iso(max(previous)) if previous else None,
        created_at=e.created_at,
        updated_at=e.updated_at,
    )


def _audit_view(e: store.Endpoint) -> dict[str, Any]:
    return view(e).model_dump(mode="json")  # never a secret, not even encrypted


def _with_secret(e: store.Endpoint, secret: str, idem: IdempotencyContext | None) -> Any:
    """The answer that shows the secret once: the Idempotency-Key record stores it with `secret: null`
    (a secret never rests in plain text), so a replay of the request answers without it."""
    shown = schemas.WebhookEndpointWithSecret(**view(e).model_dump(), secret=secret)
    return shown, shown.model_copy(update={"secret": None}).model_dump(mode="json")


def _commit(actor: Actor, action: str, ops: list[Any], target: str, before: Any, after: Any, idem: Any, stored: Any):
    work = UnitOfWork().add(*ops, audit.record(AUDIT, actor, action, target, before, after))
    if idem is not None:
        work.add(idem.completed(stored))
    work.commit()
    if idem is not None:
        idem.stored_body = None  # this first answer shows the secret; the record keeps it without


def create(
    actor: Actor, body: schemas.EndpointIn, idem: IdempotencyContext | None
) -> schemas.WebhookEndpointWithSecret:
    """Register an endpoint; its secret is in this answer only."""
    types = check_types(body.event_types)
    url = check_url(body.url)
    endpoint_id = idem.derive("we") if idem is not None else new_id("we")
    secret = signing.new_secret()
    now = clock.iso(clock.now())
    stored = store.StoredSecret(webhook_secrets.encrypt(endpoint_id, secret), now, None)
    endpoint = store.Endpoint(endpoint_id, url, types, body.description, True, (stored,), now, now)
    shown, redacted = _with_secret(endpoint, secret, idem)
    ops = [store.create_endpoint(endpoint)]
    _commit(actor, "webhook_endpoint.created", ops, endpoint_id, None, _audit_view(endpoint), idem, redacted)
    return shown


def get(endpoint_id: str) -> store.Endpoint:
    endpoint = store.get_endpoint(endpoint_id) if is_id(endpoint_id, "we") else None
    return found(endpoint, f"no webhook endpoint {endpoint_id}", code="webhook-endpoint-not-found")


def list_page(limit: int, after: str | None) -> schemas.EndpointList:
    last_key = cursor.decode(after, AUDIT, LIST_ROUTE, {})
    endpoints, last = store.endpoints_page(limit, last_key)
    return schemas.EndpointList(
        data=[view(e) for e in endpoints], next_cursor=cursor.encode(AUDIT, LIST_ROUTE, {}, last)
    )


def update(actor: Actor, endpoint_id: str, changes: dict[str, Any]) -> schemas.WebhookEndpoint:
    """Change the fields sent; `enabled: true` also forgets the failures that disabled it."""
    if not changes:
        raise ValidationFailedError("send at least one field to change", code="validation-failed")
    fields: dict[str, Any] = {}
    if changes.get("event_types") is not None:
        fields["event_types"] = check_types(changes["event_types"])
    if changes.get("url") is not None:
        fields["url"] = check_url(changes["url"])
    if changes.get("description") is not None:
        fields["description"] = changes["description"]
    if changes.get("enabled") is not None:
        fields["enabled"] = changes["enabled"]
        if changes["enabled"]:
            fields.update(failing_since=None, disabled_reason=None)

    def attempt() -> store.Endpoint:
        before = get(endpoint_id)
        after = replace(before, **fields, updated_at=clock.iso(clock.now()))
        ops = [store.replace_endpoint(after)]
        _commit(
            actor, "webhook_endpoint.updated", ops, endpoint_id, _audit_view(before), _audit_view(after), None, None
        )
        return after

    return view(retrying(attempt))


def delete(actor: Actor, endpoint_id: str) -> schemas.WebhookEndpoint:
    """Delete an endpoint: nothing more is sent to it (queued deliveries find it gone and stop)."""

    def attempt() -> store.Endpoint:
        before = get(endpoint_id)
        _commit(
            actor,
            "webhook_endpoint.deleted",
            [store.delete_endpoint(before)],
            endpoint_id,
            _audit_view(before),
            None,
            None,
            None,
        )
        return before

    return view(retrying(attempt))


def rotate(actor: Actor, endpoint_id: str, idem: IdempotencyContext | None) -> schemas.WebhookEndpointWithSecret:
    """A new secret signs from now on; the current one keeps signing for 24 h (both signatures sent). At
    most two secrets: a previous secret still in its grace period is dropped by a second rotation."""
    secret = signing.new_secret()
    ciphertext = webhook_secrets.encrypt(endpoint_id, secret) if is_id(endpoint_id, "we") else ""

    def attempt() -> tuple[Any, Any]:
        before = get(endpoint_id)
        now_epoch = clock.transport_epoch_seconds()
        current = next(s for s in before.secrets if s.expires_at is None)
        kept = replace(current, expires_at=now_epoch + ROTATION_GRACE_SECONDS)
        now = clock.iso(clock.now())
        after = replace(before, secrets=(store.StoredSecret(ciphertext, now, None), kept), updated_at=now)
        shown, redacted = _with_secret(after, secret, idem)
        ops = [store.replace_endpoint(after)]
        _commit(
            actor,
            "webhook_endpoint.secret_rotated",
            ops,
            endpoint_id,
            _audit_view(before),
            _audit_view(after),
            idem,
            redacted,
        )
        return shown

    return retrying(attempt)


def signing_secrets(endpoint: store.Endpoint, now_epoch: int) -> list[str]:
    """The plaintext secrets that sign a delivery now: the current one first, then a rotated one in its
    24 hours."""
    valid = [s for s in endpoint.secrets if s.expires_at is None or s.expires_at > now_epoch]
    valid.sort(key=lambda s: s.expires_at is not None)
    return [webhook_secrets.decrypt(endpoint.id, s.ciphertext) for s in valid]
