"""Billing items: provisioning with its New invoice, device links (one by one and in bulk), views,
and cancellation (now, with a Refund invoice for the unused part, or at the anniversary)."""

from __future__ import annotations

from dataclasses import asdict, replace
from datetime import date
from typing import Any

from functions.accounts.service import AccountAccess, AccountRecord, current_period, get_device
from functions.billing_items import schemas, store
from functions.billing_items.store import Item
from functions.core import audit, clock, cursor, ledger
from functions.core.audit import Actor
from functions.core.errors import ConcurrentUpdateError, ConflictError, NotFoundError, ValidationFailedError
from functions.core.idempotency import IdempotencyContext
from functions.core.ids import is_id, recurring_invoice_id
from functions.core.ledger import Invoice, Line
from functions.core.money import prorate
from functions.core.uow import Op, UnitOfWork
from functions.payments.service import chargeable_card

# Items changed per transaction in a bulk call: 25 item puts + one audit event + the idempotency
# record stay far inside DynamoDB's 100-item transaction limit.
BULK_CHUNK = 25


def item_view(item: Item) -> schemas.Item:
    return schemas.Item.model_validate({k: v for k, v in asdict(item).items() if k in schemas.Item.model_fields})


def _snapshot(item: Item) -> dict[str, Any]:
    view = item_view(item).model_dump(mode="json")
    return {k: view[k] for k in ("device_id", "status", "cancel_at", "cancelled_on", "cancel_reason")}


def _changed(before: Item, after: Item) -> list[Op]:
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


def require_item(account_id: str, item_id: str) -> Item:
    item = store.get(account_id, item_id) if is_id(item_id, "item") else None
    if item is None:
        raise NotFoundError(f"no billing item {item_id} on this account", code="item-not-found")
    return item


def _device_label(account_id: str, device_id: str | None, category: str) -> str:
    """How an item's lines are grouped on invoices: by device, or by category when unassigned."""
    if device_id is None:
        return f"Unassigned · {category}"
    try:
        return f"Device: {get_device(account_id, device_id).name}"
    except NotFoundError:
        return f"Device {device_id}"


# ---- provisioning --------------------------------------------------------------------------------


def provision(access: AccountAccess, idem: IdempotencyContext, body: schemas.ProvisionItem) -> schemas.ProvisionedItem:
    """Create an item and post its New invoice: the setup fee plus the recurring fee prorated from the
    start to the account's next recurring date, in one transaction with the item and the audit event."""
    account = access.account
    if body.currency is not None and body.currency != account.currency:
        raise ValidationFailedError(f"this account is billed in {account.currency}", code="currency-mismatch")
    if account.type == "payg" and (body.recurring_fee or body.setup_fee) and chargeable_card(account.id) is None:
        raise ValidationFailedError(
            "pay-as-you-go accounts need a valid card on file before paid items are provisioned",
            code="payment-method-required",
        )
    if body.device_id is not None:
        get_device(account.id, body.device_id)
    period_start, period_end = current_period(account)
    today = clock.today()
    starts_on = body.starts_on or today
    if not today <= starts_on < period_end:
        raise ValidationFailedError(
            f"starts_on must be between today ({today}) and the day before the next recurring date ({period_end})",
            code="invalid-start-date",
        )
    item_id = idem.derive("item")
    invoice_id = idem.derive("inv")
    days_in_period = (period_end - period_start).days
    prorated = prorate(body.recurring_fee, (period_end - starts_on).days, days_in_period)
    group = _device_label(account.id, body.device_id, body.category)
    lines = []
    if body.setup_fee:
        lines.append(
            Line(f"{body.description} · setup", body.setup_fee, starts_on, starts_on, group=group, item_id=item_id)
        )
    if prorated:
        lines.append(
            Line(
                body.description,
                prorated,
                starts_on,
                period_end,
                group=group,
                item_id=item_id,
                quantity="1",
                unit_amount=str(prorated),
            )
        )
    item = Item(
        account_id=account.id,
        id=item_id,
        description=body.description,
        category=body.category,
        currency=account.currency,
        recurring_fee=body.recurring_fee,
        setup_fee=body.setup_fee,
        device_id=body.device_id,
        status="active",
        starts_on=starts_on,
        created_at=clock.iso(clock.now()),
        billed_from=starts_on,
        billed_to=period_end,
        billed_amount=prorated,
        billed_invoice_id=invoice_id if lines else None,
        new_invoice_id=invoice_id if lines else None,
    )

    def response(inv: Invoice | None) -> schemas.ProvisionedItem:
        return schemas.ProvisionedItem(
            item=item_view(item),
            invoice_id=inv.id if inv else None,
            invoice_number=inv.number if inv else None,
            invoice_total=inv.total if inv else 0,
        )

    def ops(inv: Invoice | None) -> list[Op]:
        return [
            store.put_new(item),
            store.adjust_totals(account.id, item.recurring_fee, 1),
            audit.record(
                account.id,
                access.actor,
                "item.provisioned",
                item.id,
                None,
                {
                    **_snapshot(item),
                    "description": item.description,
                    "recurring_fee": item.recurring_fee,
                    "setup_fee": item.setup_fee,
                    "invoice_id": inv.id if inv else None,
                },
            ),
            idem.completed(response(inv).model_dump(mode="json")),
        ]

    if not lines:
        UnitOfWork().add(*ops(None)).commit()
        return response(None)
    posted = ledger.post_invoice(
        account.id,
        invoice_id=invoice_id,
        type="new",
        lines=lines,
        description=f"New: {body.description}",
        period=(starts_on, period_end),
        extra_ops=lambda inv: ops(inv),  # type: ignore[arg-type]
    )
    return response(posted)


# ---- views ---------------------------------------------------------------------------------------


def list_items(access: AccountAccess, query: schemas.ItemQuery, route: str) -> schemas.ItemList:
    account_id = access.account.id
    if query.device_id is not None:
        if query.view == "dissociated":
            raise ValidationFailedError("dissociated items have no device: drop device_id or use another view")
        get_device(account_id, query.device_id)
    filters = {"view": query.view, "device_id": query.device_id, "status": query.status, "category": query.category}
    last_key = cursor.decode(query.cursor, account_id, route, filters)
    items, last = store.list_items(
        account_id,
        view=query.view,
        device_id=query.device_id,
        status=query.status,
        category=query.category,
        limit=query.limit,
        last_key=last_key,
    )
    return schemas.ItemList(
        data=[item_view(i) for i in items], next_cursor=cursor.encode(account_id, route, filters, last)
    )


def get_item(access: AccountAccess, item_id: str) -> schemas.Item:
    return item_view(require_item(access.account.id, item_id))


# ---- links ---------------------------------------------------------------------------------------


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
        audit.record(account_id, access.actor, action, item.id, _snapshot(item), _snapshot(after)),
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
            uow.add(store.put_changed(before, after))
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
        idem.resumed = True  # the next transactions find the record in_progress
    return response


# ---- cancellation --------------------------------------------------------------------------------


def cancel(
    access: AccountAccess, idem: IdempotencyContext, item_id: str, when: str, reason: str | None
) -> schemas.Cancellation:
    """Cancel now (status cancelled, billing stops today, a Refund invoice for what was invoiced for the
    period minus what was used) or at the anniversary (pending_cancellation until the next recurring date)."""
    account = access.account
    item = require_item(account.id, item_id)
    if item.status == "cancelled":
        raise ConflictError(f"item {item.id} is already cancelled", code="item-cancelled")
    today = clock.today()
    if when == "anniversary":
        if item.status == "pending_cancellation":
            raise ConflictError(
                f"item {item.id} is already set to end on {item.cancel_at}", code="cancellation-pending"
            )
        after = replace(
            item, status="pending_cancellation", cancel_at=account.next_recurring_date, cancel_reason=reason
        )
        result = schemas.Cancellation(item=item_view(after), refund_invoice_id=None, refund_amount=0)
        UnitOfWork().add(
            *_changed(item, after),
            audit.record(
                account.id, access.actor, "item.cancellation_scheduled", item.id, _snapshot(item), _snapshot(after)
            ),
            idem.completed(result.model_dump(mode="json")),
        ).commit()
        return result
    item = last_billed(account, item)
    refund = unused_amount(item, today)
    after = replace(
        item,
        status="cancelled",
        cancelled_on=today,
        cancel_at=None,
        cancel_reason=reason,
        billed_to=today if item.billed_to and today < item.billed_to else item.billed_to,
        billed_amount=item.billed_amount - refund,
    )
    refund_id = idem.derive("inv") if refund else None
    result = schemas.Cancellation(item=item_view(after), refund_invoice_id=refund_id, refund_amount=refund)

    def ops(_: object) -> list[Op]:
        return [
            *_changed(item, after),
            audit.record(
                account.id,
                access.actor,
                "item.cancelled",
                item.id,
                _snapshot(item),
                {**_snapshot(after), "refund_amount": refund, "refund_invoice_id": refund_id},
            ),
            idem.completed(result.model_dump(mode="json")),
        ]

    if not refund or refund_id is None or item.billed_from is None or item.billed_to is None:
        UnitOfWork().add(*ops(None)).commit()
        return result
    line = Line(
        f"Unused {item.description}",
        refund,
        today,
        item.billed_to,
        group=_device_label(account.id, item.device_id, item.category),
        item_id=item.id,
    )
    ledger.post_invoice(
        account.id,
        invoice_id=refund_id,
        type="refund",
        lines=[line],
        description=f"Cancelled: {item.description}",
        period=(today, item.billed_to),
        target_invoice_id=item.billed_invoice_id,
        extra_ops=ops,
    )
    return result


def last_billed(account: AccountRecord, item: Item) -> Item:
    """The item as its last invoice billed it. The item records what its New invoice billed; each
    Recurring invoice since then billed the whole fee for [last recurring date, next recurring date)
    (the run does not rewrite every item), so an item billed only up to a recurring date that has been
    invoiced since is billed by that Recurring invoice."""
    last, upcoming = account.last_recurring_date, account.next_recurring_date
    if not item.recurring_fee or item.billed_to is None or last is None or upcoming is None or item.billed_to > last:
        return item
    return replace(
        item,
        billed_from=last,
        billed_to=upcoming,
        billed_amount=item.recurring_fee,
        billed_invoice_id=recurring_invoice_id(account.id, last),
    )


def unused_amount(item: Item, today: date) -> int:
    """What was invoiced for the current period minus what was used up to today (today not used)."""
    if item.billed_from is None or item.billed_to is None or today >= item.billed_to or not item.billed_amount:
        return 0
    start = max(today, item.billed_from)
    remaining_days = (item.billed_to - start).days
    invoiced_days = (item.billed_to - item.billed_from).days
    return prorate(item.billed_amount, remaining_days, invoiced_days)


def undo_cancellation(access: AccountAccess, item_id: str) -> schemas.Item:
    """Withdraw a pending anniversary cancellation; the item stays active."""
    account_id = access.account.id
    item = require_item(account_id, item_id)
    if item.status != "pending_cancellation":
        raise ConflictError(f"item {item.id} has no pending cancellation", code="no-pending-cancellation")
    after = replace(item, status="active", cancel_at=None, cancel_reason=None)
    UnitOfWork().add(
        *_changed(item, after),
        audit.record(
            account_id, access.actor, "item.cancellation_withdrawn", item.id, _snapshot(item), _snapshot(after)
        ),
    ).commit()
    return item_view(after)


# ---- what the recurring invoice and its preview charge -------------------------------------------


def recurring_lines(account_id: str, period_start: date, period_end: date) -> list[Line]:
    """Fee lines for [period_start, period_end): every active item, and pending cancellations that end
    after the period starts (an anniversary cancellation takes effect first)."""
    return _fee_lines(account_id, store.billable_items(account_id), period_start, period_end)


def _fee_lines(account_id: str, items: list[Item], period_start: date, period_end: date) -> list[Line]:
    lines = []
    groups: dict[tuple[str | None, str], str] = {}
    for item in items:
        if not item.recurring_fee:
            continue
        if item.status == "pending_cancellation" and item.cancel_at and item.cancel_at <= period_start:
            continue
        key = (item.device_id, item.category)
        if key not in groups:
            groups[key] = _device_label(account_id, item.device_id, item.category)
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


def end_due_cancellations(items: list[Item], on: date) -> None:
    """End the anniversary cancellations among `items` that take effect by `on` (the run, before it
    bills the period starting `on`): one transaction each, idempotent (another worker may end one first)."""
    for item in items:
        if item.status != "pending_cancellation" or item.cancel_at is None or item.cancel_at > on:
            continue
        after = replace(item, status="cancelled", cancelled_on=item.cancel_at)
        try:
            UnitOfWork().add(
                *_changed(item, after),
                audit.record(
                    item.account_id,
                    Actor("billing-run", "system"),
                    "item.cancelled",
                    item.id,
                    _snapshot(item),
                    _snapshot(after),
                ),
            ).commit()
        except ConcurrentUpdateError:
            continue  # another worker ended it first


def fee_lines(account_id: str, items: list[Item], period_start: date, period_end: date) -> list[Line]:
    """The fee lines of the Recurring invoice for [period_start, period_end) from `billable_items`, as
    read before `end_due_cancellations` (a cancellation that takes effect by period_start bills nothing)."""
    return _fee_lines(account_id, items, period_start, period_end)
