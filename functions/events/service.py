"""Outbound events' front door: reading the outbox (GET /v1/events). Events are written by each change
through core (functions/core/outbox.py), never through this module."""

from __future__ import annotations

from typing import Any

from functions.core import cursor, outbox
from functions.core.errors import NotFoundError
from functions.core.ids import is_id, is_outbound_event_id

ROUTE = "events"
_NONE = "-"  # the cursor's owner for the list of every account's events


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
