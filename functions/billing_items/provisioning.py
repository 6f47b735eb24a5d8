"""Provisioning a billing item with its New invoice: the setup fee plus the recurring fee prorated to
the account's next recurring date, in one transaction with the item and the audit event."""

from __future__ import annotations

from datetime import date

from functions.accounts.service import AccountAccess, AccountRecord, current_period, due_date, get_device, require_open
from functions.billing_items import schemas, store
from functions.billing_items.items import device_label, item_event, item_view, snapshot
from functions.billing_items.store import Item
from functions.core import audit, clock, ledger
from functions.core.errors import ValidationFailedError
from functions.core.idempotency import IdempotencyContext
from functions.core.ledger import Invoice, Line
from functions.core.money import prorate
from functions.core.uow import Op, UnitOfWork, retrying
from functions.payments.service import chargeable_card, invoice_issued


def provision(access: AccountAccess, idem: IdempotencyContext, body: schemas.ProvisionItem) -> schemas.ProvisionedItem:
    """Create an item and post its New invoice: the setup fee plus the recurring fee prorated from the
    start to the account's next recurring date, in one transaction with the item and the audit event."""
    account = access.account
    _check_account(account, body)
    period_start, period_end = current_period(account)
    starts_on = _start_date(body, period_end)
    item_id = idem.derive("item")
    invoice_id = idem.derive("inv")
    days_in_period = (period_end - period_start).days
    prorated = prorate(body.recurring_fee, (period_end - starts_on).days, days_in_period)
    lines = _new_invoice_lines(account.id, body, item_id, starts_on, period_end, prorated)
    item = _new_item(account, body, item_id, starts_on, period_end, prorated, invoice_id if lines else None)

    def response(inv: Invoice | None) -> schemas.ProvisionedItem:
        return schemas.ProvisionedItem(
            item=item_view(item),
            invoice_id=inv.id if inv else None,
            invoice_number=inv.number if inv else None,
            invoice_total=inv.total if inv else 0,
        )

    def ops(inv: Invoice | None) -> list[Op]:
        return [*_item_ops(access, item, inv), idem.completed(response(inv).model_dump(mode="json"))]

    if not lines:
        UnitOfWork().add(*ops(None)).commit()
        return response(None)
    part = ledger.Part(invoice_id, f"New: {body.description}", lines)
    due = due_date(account, clock.today())
    posting = ledger.prepare(account.id, type="new", parts=[part], period=(starts_on, period_end), due_date=due)

    def attempt() -> Invoice:
        planned, inv = ledger.post_invoice(posting)
        uow = UnitOfWork().add(*planned, *ops(inv))  # billing_item.provisioned + invoice.issued (ledger)
        uow.commit()
        return inv

    inv = retrying(attempt)
    invoice_issued(account.id, [inv], account=account)  # its notice; its collection requested (DESIGN §3 v4)
    return response(inv)


def _check_account(account: AccountRecord, body: schemas.ProvisionItem) -> None:
    """The account may take this item: open (409 `account-closed` while closing or closed), its currency,
    a valid card on file for paid items of an account collected automatically (payg, or a subscription
    with `collection: automatic`; DESIGN §3 v4), and the device, when one is named, is the account's."""
    require_open(account, "provisioning items")
    if body.currency is not None and body.currency != account.currency:
        raise ValidationFailedError(f"this account is billed in {account.currency}", code="currency-mismatch")
    paid = bool(body.recurring_fee or body.setup_fee)
    if paid and account.collection == "automatic" and chargeable_card(account.id) is None:
        raise ValidationFailedError(
            f"{account.type} accounts collected automatically need a valid card on file before paid items are"
            " provisioned",
            code="payment-method-required",
        )
    if body.device_id is not None:
        get_device(account.id, body.device_id)


def _start_date(body: schemas.ProvisionItem, period_end: date) -> date:
    """The item's first day: today by default, and never before today nor on or after the next recurring date."""
    today = clock.today()
    starts_on = body.starts_on or today
    if not today <= starts_on < period_end:
        raise ValidationFailedError(
            f"starts_on must be between today ({today}) and the day before the next recurring date ({period_end})",
            code="invalid-start-date",
        )
    return starts_on


def _new_invoice_lines(
    account_id: str, body: schemas.ProvisionItem, item_id: str, starts_on: date, period_end: date, prorated: int
) -> list[Line]:
    """The New invoice's lines: the setup fee, and the recurring fee prorated to the next recurring date."""
    group = device_label(account_id, body.device_id, body.category)
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
    return lines


def _new_item(
    account: AccountRecord,
    body: schemas.ProvisionItem,
    item_id: str,
    starts_on: date,
    period_end: date,
    prorated: int,
    invoice_id: str | None,
) -> Item:
    """The item as provisioned, billed by its New invoice (`invoice_id`, None when nothing was invoiced)."""
    return Item(
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
        billed_invoice_id=invoice_id,
        new_invoice_id=invoice_id,
    )


def _item_ops(access: AccountAccess, item: Item, inv: Invoice | None) -> list[Op]:
    """The item, the account's recurring total and the audit event, written with the New invoice."""
    return [
        store.put_new(item),
        store.adjust_totals(item.account_id, item.recurring_fee, 1),
        audit.record(
            item.account_id,
            access.actor,
            "item.provisioned",
            item.id,
            None,
            {
                **snapshot(item),
                "description": item.description,
                "recurring_fee": item.recurring_fee,
                "setup_fee": item.setup_fee,
                "invoice_id": inv.id if inv else None,
            },
        ),
        item_event("billing_item.provisioned", item),
    ]
