"""Billing items' front door: what routes and other domains call. Provisioning with its New invoice
(provisioning.py), device links one by one and in bulk (links.py), views (items.py), cancellation now
or at the anniversary (cancellation.py), and the fee lines of the Recurring invoice (recurring.py)."""

from __future__ import annotations

from functions.billing_items.cancellation import (
    cancel,
    cancel_all,
    end_due_cancellations,
    last_billed,
    undo_cancellation,
    unused_amount,
)
from functions.billing_items.items import (
    get_item,
    has_active_items,
    item_view,
    list_items,
    recurring_total,
    require_item,
)
from functions.billing_items.links import BULK_CHUNK, bulk, link
from functions.billing_items.provisioning import provision
from functions.billing_items.recurring import billable_items, fee_lines, recurring_lines
from functions.billing_items.schemas import Item as Item  # outbound events' payload (events/schemas.py)

__all__ = [
    "BULK_CHUNK",
    "billable_items",
    "bulk",
    "cancel",
    "cancel_all",
    "end_due_cancellations",
    "fee_lines",
    "get_item",
    "has_active_items",
    "item_view",
    "last_billed",
    "link",
    "list_items",
    "provision",
    "recurring_lines",
    "recurring_total",
    "require_item",
    "undo_cancellation",
    "unused_amount",
]
