"""Cancelling billing items: now (billing stops today, a Refund invoice for the unused part), at the
anniversary (pending until the next recurring date, ended by the billing run), or withdrawn."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date

from functions.accounts.service import AccountAccess, AccountRecord, require_open
from functions.billing_items import schemas, store
from functions.billing_items.items import changes, device_label, item_event, item_view, require_item, snapshot
from functions.billing_items.store import Item
from functions.core import audit, clock, ledger
from functions.core.audit import Actor
from functions.core.errors import ConcurrentUpdateError, ConflictError
from functions.core.idempotency import IdempotencyContext
from functions.core.ids import derived_id, recurring_invoice_id
from functions.core.ledger import Invoice, Line
from functions.core.money import prorate
from functions.core.uow import Op, UnitOfWork, retrying
from functions.payments.service import invoice_issued

# The ops that store a cancellation's reply with it (the request's Idempotency-Key record), or none.
Reply = Callable[[schemas.Cancellation], list[Op]]


def cancel(
    access: AccountAccess, idem: IdempotencyContext, item_id: str, when: str, reason: str | None
) -> schemas.Cancellation:
    """Cancel now (status cancelled, billing stops today, a Refund invoice for what was invoiced for the
    period minus what was used) or at the anniversary (pending_cancellation until the next recurring date)."""
    item = require_item(access.account.id, item_id)
    if item.status == "cancelled":
        raise ConflictError(f"item {item.id} is already cancelled", code="item-cancelled")

    def reply(result: schemas.Cancellation) -> list[Op]:
        return [idem.completed(result.model_dump(mode="json"))]

    if when == "anniversary":
        if item.status == "pending_cancellation":
            raise ConflictError(
                f"item {item.id} is already set to end on {item.cancel_at}", code="cancellation-pending"
            )
        return _cancel_at_anniversary(access, item, reason, reply)
    return _cancel_now(access, item, reason, lambda: idem.derive("inv"), reply)


def cancel_all(access: AccountAccess, when: str, reason: str) -> list[str]:
    """The account's closure (DESIGN §3 v4 Closure): every item not cancelled yet is cancelled `now`
    (each with its prorated Refund invoice, id derived from the account and the item) or at its
    anniversary (`end_of_period`: pending until the next recurring date, ended by the run's last
    invoice). One transaction per item; what is already done is skipped, so a resumed closure finishes
    only what is left. Returns the ids of the items it changed."""
    account_id = access.account.id
    done = []
    for item in store.billable_items(account_id):
        if when == "now":
            _cancel_now(access, item, reason, lambda i=item: derived_id("inv", account_id, "closure", i.id), _no_reply)
        elif item.status == "active":
            _cancel_at_anniversary(access, item, reason, _no_reply)
        else:
            continue
        done.append(item.id)
    return done


def _no_reply(result: schemas.Cancellation) -> list[Op]:
    return []


def _cancel_at_anniversary(access: AccountAccess, item: Item, reason: str | None, reply: Reply) -> schemas.Cancellation:
    """Pending until the next recurring date, when the billing run ends it; nothing is refunded."""
    account = access.account
    after = replace(item, status="pending_cancellation", cancel_at=account.next_recurring_date, cancel_reason=reason)
    result = schemas.Cancellation(item=item_view(after), refund_invoice_id=None, refund_amount=0)
    UnitOfWork().add(
        *changes(item, after),
        audit.record(account.id, access.actor, "item.cancellation_scheduled", item.id, snapshot(item), snapshot(after)),
        item_event("billing_item.cancellation_scheduled", after),
        *reply(result),
    ).commit()
    return result


def _cancel_now(
    access: AccountAccess, item: Item, reason: str | None, derive: Callable[[], str], reply: Reply
) -> schemas.Cancellation:
    """Cancelled today, with a Refund invoice (against the invoice that billed the period; its id from
    `derive`) for the unused part, posted in one transaction with the item, the audit event and the
    stored response (`reply`)."""
    account = access.account
    today = clock.today()
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
    refund_id = derive() if refund else None
    result = schemas.Cancellation(item=item_view(after), refund_invoice_id=refund_id, refund_amount=refund)

    def ops(_: object) -> list[Op]:
        return [
            *changes(item, after),
            audit.record(
                account.id,
                access.actor,
                "item.cancelled",
                item.id,
                snapshot(item),
                {**snapshot(after), "refund_amount": refund, "refund_invoice_id": refund_id},
            ),
            item_event("billing_item.cancelled", after),
            *reply(result),
        ]

    if not refund or refund_id is None or item.billed_from is None or item.billed_to is None:
        UnitOfWork().add(*ops(None)).commit()
        return result
    group = device_label(account.id, item.device_id, item.category)
    line = Line(f"Unused {item.description}", refund, today, item.billed_to, group=group, item_id=item.id)
    posting = ledger.prepare(
        account.id,
        type="refund",
        parts=[ledger.Part(refund_id, f"Cancelled: {item.description}", [line])],
        period=(today, item.billed_to),
        target_invoice_id=item.billed_invoice_id,
    )

    def attempt() -> Invoice:
        planned, inv = ledger.post_invoice(posting)
        uow = UnitOfWork().add(*planned, *ops(inv))  # billing_item.cancelled + the Refund invoice's events
        uow.commit()
        return inv

    inv = retrying(attempt)
    ledger.settle_unapplied_credit(account.id)
    invoice_issued(account.id, [inv], account=account)
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
    require_open(access.account, "keeping its items")
    item = require_item(account_id, item_id)
    if item.status != "pending_cancellation":
        raise ConflictError(f"item {item.id} has no pending cancellation", code="no-pending-cancellation")
    after = replace(item, status="active", cancel_at=None, cancel_reason=None)
    UnitOfWork().add(
        *changes(item, after),
        audit.record(account_id, access.actor, "item.cancellation_withdrawn", item.id, snapshot(item), snapshot(after)),
        item_event("billing_item.cancellation_undone", after),
    ).commit()
    return item_view(after)


def end_due_cancellations(items: list[Item], on: date) -> None:
    """End the anniversary cancellations among `items` that take effect by `on` (the run, before it
    bills the period starting `on`): one transaction each, idempotent (another worker may end one first)."""
    for item in items:
        if item.status != "pending_cancellation" or item.cancel_at is None or item.cancel_at > on:
            continue
        after = replace(item, status="cancelled", cancelled_on=item.cancel_at)
        try:
            UnitOfWork().add(
                *changes(item, after),
                audit.record(
                    item.account_id,
                    Actor("billing-run", "system"),
                    "item.cancelled",
                    item.id,
                    snapshot(item),
                    snapshot(after),
                ),
                item_event("billing_item.cancelled", after),
            ).commit()
        except ConcurrentUpdateError:
            continue  # another worker ended it first
