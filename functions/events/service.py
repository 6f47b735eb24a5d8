"""The events domain's front door: what the publisher, the routes and the queue consumer call (other code
uses events only through it, pyproject's `front-door-events` contract).

- Reading the outbox (GET /v1/events): `list_events`, `get_event`. Events are written by each change
  through core (functions/core/outbox.py), never through this module.
- Webhooks: `fan_out(event)` after an event is published; `handle_delivery_message` for each queue
  message; the endpoint operations for the operator routes (webhook_endpoints.py); deliveries and
  redelivery."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from functions.core import audit, clock, cursor, outbox, queues
from functions.core.audit import Actor
from functions.core.errors import ConflictError, NotFoundError
from functions.core.idempotency import IdempotencyContext
from functions.core.ids import is_id, is_outbound_event_id
from functions.core.logs import get_logger
from functions.core.resources import WEBHOOK_DELIVERIES
from functions.core.uow import UnitOfWork
from functions.events import deliverer
from functions.events import webhook_schemas as schemas
from functions.events import webhook_store as store
from functions.events.webhook_endpoints import AUDIT, create, delete, get, list_page, rotate, update, view

__all__ = [
    "QUEUE",
    "create",
    "delete",
    "deliveries",
    "endpoint",
    "fan_out",
    "fan_out_all",
    "get_event",
    "handle_delivery_message",
    "list_events",
    "list_page",
    "redeliver",
    "rotate",
    "update",
]
ROUTE = "events"
_NONE = "-"  # the cursor's owner for the list of every account's events
QUEUE = WEBHOOK_DELIVERIES
BATCH = 10  # SQS SendMessageBatch's limit

# ---- the outbox's reads --------------------------------------------------------------------------


def list_events(
    limit: int, after: str | None, type: str | None = None, account_id: str | None = None
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of events, newest first: every event (by time), or one account's (by sequence); `type`
    filters the page read (pages may be shorter than `limit`, DESIGN §2 Pagination)."""
    filters = {"type": type, "account_id": account_id}
    if account_id is not None and not is_id(account_id, "acct"):
        return [], None  # no such account: nothing to list
    last_key = cursor.decode(after, account_id or _NONE, ROUTE, filters)
    page, next_key = outbox.query_page(account_id, limit, last_key)
    if type is not None:
        page = [e for e in page if e["type"] == type]
    return page, cursor.encode(account_id or _NONE, ROUTE, filters, next_key)


def get_event(event_id: str) -> dict[str, Any]:
    event = outbox.get_event(event_id) if is_outbound_event_id(event_id) else None
    if event is None:
        raise NotFoundError(f"no event {event_id}", code="event-not-found")
    return event


# ---- webhooks -------------------------------------------------------------------------------------


def endpoint(endpoint_id: str) -> schemas.WebhookEndpoint:
    return view(get(endpoint_id))


def fan_out(event: dict[str, Any]) -> int:
    """Queue one delivery of `event` per enabled endpoint subscribed to its type (one Query, then one
    SendMessageBatch per 10 endpoints); returns how many. Safe to call again for the same event (the
    publisher's own retries): a delivery already made is not repeated (deliverer, step 3)."""
    targets = [e.id for e in store.all_endpoints() if e.enabled and e.subscribed(event["type"])]
    bodies = [deliverer.message(event, endpoint_id) for endpoint_id in targets]
    for start in range(0, len(bodies), BATCH):
        queues.send_batch(QUEUE, bodies[start : start + BATCH])
    return len(bodies)


def fan_out_all(events: list[dict[str, Any]]) -> int | None:
    """`fan_out` each event in order (the publisher, after the events are on the bus); the index of the first
    one whose deliveries could not be queued (SQS failed: the publisher reports it, so the stream sends it
    and what follows again), or None when all were."""
    for n, event in enumerate(events):
        try:
            fan_out(event)
        except Exception:
            get_logger().warning("webhook deliveries not queued", event_id=event.get("id"))
            return n
    return None


def handle_delivery_message(body: dict[str, Any]) -> None:
    deliverer.handle(body)


def deliveries(endpoint_id: str, limit: int, after: str | None) -> schemas.AttemptList:
    """One page of the endpoint's delivery attempts, newest first (status, duration, response code)."""
    get(endpoint_id)
    route = "GET /v1/webhook-endpoints/{endpoint_id}/deliveries"
    last_key = cursor.decode(after, endpoint_id, route, {})
    attempts, last = store.attempts_page(endpoint_id, limit, last_key)
    data = [schemas.DeliveryAttempt.model_validate(asdict(a)) for a in attempts]  # all but its endpoint_id
    return schemas.AttemptList(data=data, next_cursor=cursor.encode(endpoint_id, route, {}, last))


def redeliver(
    actor: Actor, event_id: str, endpoint_id: str | None, idem: IdempotencyContext | None
) -> schemas.Redelivery:
    """Send an event again now: to `endpoint_id`, or to every enabled endpoint subscribed to its type. The
    event is read from the outbox (kept 90 days), else from its earlier deliveries (kept 30 days)."""
    known = store.deliveries_of(event_id)
    event = outbox.get_event(event_id) if is_outbound_event_id(event_id) else None
    event = event or (known[0].event if known else None)
    if event is None:
        raise NotFoundError(f"no event {event_id}", code="event-not-found")
    if endpoint_id is not None:
        one = get(endpoint_id)
        if not one.enabled:
            raise ConflictError(
                "this endpoint is disabled: enable it first (PATCH enabled: true)", code="webhook-endpoint-disabled"
            )
        targets = [one]
    else:
        targets = [e for e in store.all_endpoints() if e.enabled and e.subscribed(event["type"])]
    attempts = {d.endpoint_id: d.attempts for d in known}
    now = clock.transport_epoch_seconds()
    for target in targets:  # sent before the record: a retried request sends again (receivers dedupe)
        deliverer.enqueue(deliverer.message(event, target.id, attempts.get(target.id, 0) + 1, 0, True), now)
    answer = schemas.Redelivery(event_id=event_id, endpoint_ids=[t.id for t in targets])
    work = UnitOfWork().add(audit.record(AUDIT, actor, "event.redelivered", event_id, None, answer.model_dump()))
    if idem is not None:
        work.add(idem.completed(answer.model_dump(mode="json")))
    work.commit()
    return answer
