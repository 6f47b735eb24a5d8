"""The event types an endpoint may subscribe to (DESIGN §7). The outbox (core) is the source of the events
themselves; this list is what registration validates against, and `"*"` means every type, today's and
later ones."""

from __future__ import annotations

EVENT_TYPES: tuple[str, ...] = (
    "account.created",
    "account.updated",
    "account.upgraded",
    "account.closed",
    "account.past_due",
    "account.restored",
    "invoice.issued",
    "invoice.paid",
    "invoice.collection_failed",
    "invoice.carried_forward",
    "payment.succeeded",
    "payment.failed",
    "payment.requires_action",
    "payment.refunded",
    "payment_method.updated",
    "payment_method.validation_failed",
    "billing_item.provisioned",
    "billing_item.associated",
    "billing_item.dissociated",
    "billing_item.cancellation_scheduled",
    "billing_item.cancellation_undone",
    "billing_item.cancelled",
    "usage.budget_threshold_crossed",
    "billing_run.completed",
    "dispute.created",
)
ALL = "*"
# More entries than there are types (each at most once, or "*" alone) is refused before anything is read.
MAX_EVENT_TYPES = len(EVENT_TYPES)
