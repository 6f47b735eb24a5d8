"""Billing items as other parts of the domain see them: the view, the audit snapshot, the writes a state
change needs, lookup by id, device grouping, and the list and detail views."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from functions.accounts.service import AccountAccess, get_device
from functions.billing_items import schemas, store
from functions.billing_items.store import Item
from functions.core import cursor, outbox
from functions.core.errors import NotFoundError, ValidationFailedError
from functions.core.ids import is_id
from functions.core.uow import Op, Planned


def item_view(item: Item) -> schemas.Item:
    return schemas.Item.model_validate({k: v for k, v in asdict(item).items() if k in schemas.Item.model_fields})


def item_event(type: str, item: Item) -> Planned:
    """The outbox row of an item's change (billing_item.*): the item as the API shows it."""
    return outbox.event(item.account_id, type, item_view(item).model_dump(mode="json"))


def snapshot(item: Item) -> dict[str, Any]:
    view = item_view(item).model_dump(mode="json")
    return {k: view[k] for k in ("device_id", "status", "cancel_at", "cancelled_on", "cancel_reason")}


def changes(before: Item, after: Item) -> list[Op]:
    """The item's new state, and the account's recurring total when the item starts or stops counting
    (only active items recur: a pending cancellation ends before the next period starts)."""
    ops = [store.put_changed(before, after)]
    delta = (after.status == "active") - (before.status == "active")
    if delta:
        ops.append(store.adjust_totals(before.account_id, delta * before.recurring_fee, delta))
    return ops


def recurring_total(account_id: str) -> int:
    """What the next Recurring invoice charges in fees: Σ recurring fees of the active items (one read)."""
    return store.recurring_total(account_id)


def has_active_items(account_id: str) -> bool:
    """Whether any item of the account is not cancelled (active, or pending its anniversary cancellation)."""
    return bool(store.billable_items(account_id))


def require_item(account_id: str, item_id: str) -> Item:
    item = store.get(account_id, item_id) if is_id(item_id, "item") else None
    if item is None:
        raise NotFoundError(f"no billing item {item_id} on this account", code="item-not-found")
    return item


def device_label(account_id: str, device_id: str | None, category: str) -> str:
    """How an item's lines are grouped on invoices: by device, or by category when unassigned."""
    if device_id is None:
        return f"Unassigned · {category}"
    try:
        return f"Device: {get_device(account_id, device_id).name}"
    except NotFoundError:
        return f"Device {device_id}"


# ---- views ---------------------------------------------------------------------------------------


def list_items(access: AccountAccess, query: schemas.ItemQuery, route: str) -> schemas.ItemList:
    account_id = access.account.id
    if query.device_id is not None:
        if query.view == "dissociated":
            raise ValidationFailedError("dissociated items have no device: drop device_id or use another view")
        get_device(account_id, query.device_id)
    filters = {"view": query.view, "device_id": query.device_id, "status": query.status, "category": query.category}
    last_key = cursor.decode(query.cursor, account_id, route, filters)
    items, last = store.list_items(account_id, **filters, limit=query.limit, last_key=last_key)
    return schemas.ItemList(
        data=[item_view(i) for i in items], next_cursor=cursor.encode(account_id, route, filters, last)
    )


def get_item(access: AccountAccess, item_id: str) -> schemas.Item:
    return item_view(require_item(access.account.id, item_id))
