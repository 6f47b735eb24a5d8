"""Device links of billing items: one by one, and in bulk (chunks of BULK_CHUNK per transaction)."""

from __future__ import annotations

from dataclasses import replace

from functions.accounts.service import AccountAccess, get_device
from functions.billing_items import schemas, store
from functions.billing_items.items import item_event, item_view, require_item, snapshot
from functions.billing_items.store import Item
from functions.core import audit
from functions.core.errors import ConflictError, ValidationFailedError
from functions.core.idempotency import IdempotencyContext
from functions.core.uow import UnitOfWork

# Items changed per transaction in a bulk call: 25 item puts + their 25 outbound events (billing_item.
# associated|dissociated) + the outbox counter + one audit event + the idempotency record = 53 items, far
# inside DynamoDB's 100-item transaction limit (DESIGN §7: chunks sized so their events fit).
BULK_CHUNK = 25


def _linked(item: Item, device_id: str | None) -> Item:
    if item.status == "cancelled":
        raise ConflictError(f"item {item.id} is cancelled and cannot be linked", code="item-cancelled")
    return replace(item, device_id=device_id)


def link(access: AccountAccess, item_id: str, device_id: str | None) -> schemas.Item:
    """Associate the item with a device of the account (None: dissociate). No change, no write."""
    account_id = access.account.id
    item = require_item(account_id, item_id)
    if device_id is not None:
        get_device(account_id, device_id)
    if item.device_id == device_id:
        return item_view(item)
    after = _linked(item, device_id)
    action = "item.associated" if device_id else "item.dissociated"
    UnitOfWork().add(
        store.put_changed(item, after),
        audit.record(account_id, access.actor, action, item.id, snapshot(item), snapshot(after)),
        item_event(f"billing_{action}", after),
    ).commit()
    return item_view(after)


def bulk(access: AccountAccess, idem: IdempotencyContext, body: schemas.BulkRequest) -> schemas.BulkResponse:
    """Associate or dissociate up to 100 items. Valid items are applied even when others fail, in chunks
    of BULK_CHUNK per transaction with one audit event each. The idempotency record is taken in_progress
    with the first chunk and completed with the last; a retry after a crash re-reads the items and
    applies only what is left, so the results are the same."""
    account_id = access.account.id
    device_id = body.device_id
    if body.action == "associate":
        if device_id is None:
            raise ValidationFailedError("associate needs a device_id", code="validation-failed")
        get_device(account_id, device_id)
    elif device_id is not None:
        raise ValidationFailedError("dissociate takes no device_id", code="validation-failed")
    found = store.get_many(account_id, body.item_ids)
    results: list[schemas.BulkResult] = []
    changes: list[tuple[Item, Item]] = []
    for item_id in body.item_ids:
        item = found.get(item_id)
        if item is None:
            results.append(schemas.BulkResult(item_id=item_id, ok=False, error="item-not-found"))
        elif item.status == "cancelled":
            results.append(schemas.BulkResult(item_id=item_id, ok=False, error="item-cancelled"))
        else:
            results.append(schemas.BulkResult(item_id=item_id, ok=True))
            if item.device_id != device_id:
                changes.append((item, replace(item, device_id=device_id)))
    response = schemas.BulkResponse(results=results)
    chunks = [changes[i : i + BULK_CHUNK] for i in range(0, len(changes), BULK_CHUNK)] or [[]]
    action = f"items.{body.action}d"
    for n, chunk in enumerate(chunks):
        uow = UnitOfWork()
        # The idempotency op goes first: when a duplicate races us, its condition decides the error
        # (a replay or 409 in-progress), not an item's version.
        if n == len(chunks) - 1:
            uow.add(idem.completed(response.model_dump(mode="json")))
        elif n == 0:
            uow.add(idem.started())
        for before, after in chunk:
            uow.add(store.put_changed(before, after), item_event(f"billing_item.{body.action}d", after))
        if chunk:
            uow.add(
                audit.record(
                    account_id,
                    access.actor,
                    action,
                    device_id or "-",
                    None,
                    {
                        "item_ids": [b.id for b, _ in chunk],
                        "device_id": device_id,
                        "chunk": n + 1,
                        "chunks": len(chunks),
                    },
                )
            )
        uow.commit()
    return response
