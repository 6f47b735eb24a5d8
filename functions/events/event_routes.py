"""Outbound events' entry points: the publisher (the outbox stream's consumer) and GET /v1/events."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from functions.core.auth import ADMIN
from functions.core.http import Call, api
from functions.core.middleware import deployed_worker
from functions.events import publisher, service
from functions.events.schemas import EventsQuery, OutboundEvent, OutboundEventList

bp = Blueprint(__name__)

PUBLISHER = "publish_events"


@deployed_worker
@bp.lambda_function(name=PUBLISHER)
def publish_events(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The outbox table's stream (DynamoDB event source, ReportBatchItemFailures): each new event on the bus."""
    return publisher.publish_records(list(event.get("Records") or []))


@api(bp, "GET", "/v1/events", scope=ADMIN, query=EventsQuery, response=OutboundEventList)
def list_events(call: Call) -> OutboundEventList:
    """Outbound events, newest first; ?type= and ?account_id= filter (operator)"""
    query: EventsQuery = call.query
    rows, next_cursor = service.list_events(query.limit, query.cursor, query.type, query.account_id)
    return OutboundEventList(data=[OutboundEvent.model_validate(r) for r in rows], next_cursor=next_cursor)


@api(bp, "GET", "/v1/events/{event_id}", scope=ADMIN, response=OutboundEvent)
def get_event(call: Call, event_id: str) -> OutboundEvent:
    """One outbound event (operator)"""
    return OutboundEvent.model_validate(service.get_event(event_id))
