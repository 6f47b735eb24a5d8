"""What the Recurring invoice and its preview charge for billing items: one fee line per recurring item."""

from __future__ import annotations

from datetime import date

from functions.billing_items import store
from functions.billing_items.items import device_label
from functions.billing_items.store import Item
from functions.core.ledger import Line


def recurring_lines(account_id: str, period_start: date, period_end: date) -> list[Line]:
    """Fee lines for [period_start, period_end): every active item, and pending cancellations that end
    after the period starts (an anniversary cancellation takes effect first)."""
    return fee_lines(account_id, store.billable_items(account_id), period_start, period_end)


def fee_lines(account_id: str, items: list[Item], period_start: date, period_end: date) -> list[Line]:
    """The fee lines for [period_start, period_end) of `items` (from `billable_items`, as read before the
    run's `end_due_cancellations`): a pending cancellation that takes effect by period_start bills nothing."""
    lines = []
    groups: dict[tuple[str | None, str], str] = {}
    for item in items:
        if not item.recurring_fee:
            continue
        if item.status == "pending_cancellation" and item.cancel_at and item.cancel_at <= period_start:
            continue
        key = (item.device_id, item.category)
        if key not in groups:
            groups[key] = device_label(account_id, item.device_id, item.category)
        fee = item.recurring_fee
        lines.append(
            Line(
                item.description,
                fee,
                period_start,
                period_end,
                group=groups[key],
                item_id=item.id,
                quantity="1",
                unit_amount=str(fee),
            )
        )
    return lines


def billable_items(account_id: str) -> list[Item]:
    """The items a Recurring invoice may bill: active ones and pending cancellations (one Query)."""
    return store.billable_items(account_id)
