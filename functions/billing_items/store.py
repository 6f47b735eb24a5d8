"""Billing-items table. One item per (account, item id); two sparse-by-design indexes serve the views:

    by_view    view_pk   = <account>#associated | <account>#dissociated   order_sk = <created>#<id>
    by_device  device_pk = <account>#<device id> (associated items only)   order_sk = <created>#<id>

`view=all` queries the base table (pk = account, sk = ITEM#<id>). Every list is ordered by a key that
never changes (created_at + id, or the id): status and category are filters after the read, so an
item whose status, view or device changes while a client pages is neither skipped nor repeated
(DESIGN §4 v4 "Pagination is stable under writes"); a page may be shorter than `limit`. Models never
leave this module.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from pynamodb.attributes import UnicodeAttribute
from pynamodb.models import Model

from functions.core.db import (
    IntegerAttribute,
    SpecIndex,
    get_or_none,
    index_meta,
    meta,
    one_page,
)
from functions.core.errors import BadRequestError, ConcurrentUpdateError
from functions.core.records import stored_attributes
from functions.core.uow import Op, put_if_absent

ITEM = "ITEM#"


@dataclass(frozen=True)
class Item:
    account_id: str
    id: str
    description: str
    category: str
    currency: str
    recurring_fee: int
    setup_fee: int
    device_id: str | None
    status: str  # active | pending_cancellation | cancelled
    starts_on: date
    created_at: str
    billed_from: date | None = None  # the period the last invoice charged this item for
    billed_to: date | None = None
    billed_amount: int = 0
    billed_invoice_id: str | None = None
    new_invoice_id: str | None = None
    cancel_at: date | None = None
    cancelled_on: date | None = None
    cancel_reason: str | None = None
    version: int = 0


class ByView(SpecIndex):
    Meta = index_meta("billing_items", "by_view")
    view_pk = UnicodeAttribute(hash_key=True)
    order_sk = UnicodeAttribute(range_key=True)


class ByDevice(SpecIndex):
    Meta = index_meta("billing_items", "by_device")
    device_pk = UnicodeAttribute(hash_key=True)
    order_sk = UnicodeAttribute(range_key=True)


class ItemModel(stored_attributes(Item, "account_id", "id"), Model):
    Meta = meta("billing_items")
    pk = UnicodeAttribute(hash_key=True)  # account id
    sk = UnicodeAttribute(range_key=True)  # ITEM#<item id>
    item_id = UnicodeAttribute()
    view_pk = UnicodeAttribute()
    device_pk = UnicodeAttribute(null=True)
    order_sk = UnicodeAttribute()  # <created>#<id>: immutable, the order of the views
    by_view = ByView()
    by_device = ByDevice()


TOTALS_SK = "TOTALS"


class TotalsModel(Model):
    """Per account: the recurring fees the next Recurring invoice will charge (active items only),
    kept in the same transaction as every change to an item's status or fee, so the summary reads one
    item instead of every item."""

    Meta = meta("billing_items")
    pk = UnicodeAttribute(hash_key=True)  # account id
    sk = UnicodeAttribute(range_key=True)  # TOTALS
    recurring_total = IntegerAttribute(default=0)
    active_items = IntegerAttribute(default=0)


def _item(m: ItemModel) -> Item:
    return Item(account_id=m.pk, id=m.item_id, **m.record_values())


def _model(item: Item) -> ItemModel:
    view = "associated" if item.device_id else "dissociated"
    return ItemModel(
        item.account_id,
        ITEM + item.id,
        item_id=item.id,
        **ItemModel.values_of(item),
        view_pk=f"{item.account_id}#{view}",
        device_pk=f"{item.account_id}#{item.device_id}" if item.device_id else None,
        order_sk=f"{item.created_at}#{item.id}",
    )


def get(account_id: str, item_id: str) -> Item | None:
    m = get_or_none(ItemModel, account_id, ITEM + item_id, consistent_read=True)
    return None if m is None else _item(m)


def get_many(account_id: str, item_ids: list[str]) -> dict[str, Item]:
    """Up to 100 items of one account in one BatchGetItem; ids of other accounts simply are not found."""
    if not item_ids:
        return {}
    keys = [(account_id, ITEM + i) for i in dict.fromkeys(item_ids)]
    return {m.item_id: _item(m) for m in ItemModel.batch_get(keys, consistent_read=True)}


def recurring_total(account_id: str) -> int:
    m = get_or_none(TotalsModel, account_id, TOTALS_SK)
    return 0 if m is None else m.recurring_total


def adjust_totals(account_id: str, fee_delta: int, count_delta: int) -> Op:
    """Add to the account's recurring total (ADD creates the item at zero the first time)."""
    model = TotalsModel(account_id, TOTALS_SK)
    actions = [TotalsModel.recurring_total.add(fee_delta), TotalsModel.active_items.add(count_delta)]
    return Op("update", model, actions=actions, label="totals")


def put_new(item: Item) -> Op:
    return put_if_absent(_model(item), label="item")


def put_changed(before: Item, after: Item) -> Op:
    """Replace an item with its new state, only if nobody changed it since `before` was read."""
    model = _model(replace(after, version=before.version + 1))
    return Op(
        "put",
        model,
        condition=ItemModel.version == before.version,
        on_conflict=lambda: ConcurrentUpdateError("the item changed while this request ran; retry"),
        label="item",
    )


def list_items(
    account_id: str,
    *,
    view: str,
    device_id: str | None,
    status: str | None,
    category: str | None,
    limit: int,
    last_key: dict[str, Any] | None,
) -> tuple[list[Item], dict[str, Any] | None]:
    """One bounded page for a view, in an order no write changes (see the module docstring): the
    filters on mutable fields (status, category) apply after the read."""
    filter_condition = None
    for condition in (
        ItemModel.status == status if status else None,
        ItemModel.category == category if category else None,
    ):
        if condition is not None:
            filter_condition = condition if filter_condition is None else filter_condition & condition
    common = {
        "filter_condition": filter_condition,
        "limit": limit,
        "page_size": limit,
        "scan_index_forward": False,
    }
    if device_id:
        start = _start(last_key, "device_pk")
        result = ItemModel.by_device.query(f"{account_id}#{device_id}", last_evaluated_key=start, **common)
    elif view in ("associated", "dissociated"):
        start = _start(last_key, "view_pk")
        result = ItemModel.by_view.query(f"{account_id}#{view}", last_evaluated_key=start, **common)
    else:
        start = _start(last_key)
        result = ItemModel.query(
            account_id, ItemModel.sk.startswith(ITEM), consistent_read=True, last_evaluated_key=start, **common
        )
    models, last = one_page(result, ItemModel)
    return [_item(m) for m in models], last


def _start(last_key: dict[str, Any] | None, index_pk: str | None = None) -> dict[str, Any] | None:
    """The cursor's key, if it has the shape of this list's order (pk, sk and, on an index, its
    partition and `order_sk`); a key of another shape (a cursor issued before the order changed) is
    400 `invalid-cursor`, never DynamoDB's 'invalid starting key'."""
    if last_key is None:
        return None
    expected = {"pk", "sk"} | ({index_pk, "order_sk"} if index_pk else set())
    if set(last_key) != expected:
        raise BadRequestError("the cursor is not valid for this list; start again without it", code="invalid-cursor")
    return last_key


def billable_items(account_id: str) -> list[Item]:
    """Every item of the account that is not cancelled (for the recurring invoice and its preview)."""
    condition = ItemModel.status.is_in("active", "pending_cancellation")
    return [
        _item(m)
        for m in ItemModel.query(
            account_id, ItemModel.sk.startswith(ITEM), filter_condition=condition, consistent_read=True
        )
    ]
