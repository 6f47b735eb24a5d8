"""Invoice-side behaviour: the billing summary the product shows on its invoices page, and the
operator's One-time charges and Credits, posted through the core ledger."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import date, timedelta

from functions.accounts.service import (
    AccountAccess,
    AccountRecord,
    capabilities,
    current_period,
    next_recurring_date,
    previous_recurring_date,
)
from functions.billing_items.service import recurring_lines, recurring_total
from functions.core import audit, clock, cursor, ledger
from functions.core.errors import FieldError, NotFoundError, ValidationFailedError
from functions.core.idempotency import IdempotencyContext
from functions.core.ids import is_id
from functions.core.ledger import Invoice, Line
from functions.core.settings import get_settings
from functions.core.uow import Op
from functions.invoices import render, schemas, store
from functions.payments import service as payments
from functions.usage.service import usage_lines, usage_total


@dataclass(frozen=True)
class AccountSummary:
    account_id: str
    number: int
    name: str
    type: str
    linked: bool
    currency: str
    locale: str
    current: int
    unapplied_credit: int
    next_estimated: int
    payment_method: dict | None
    last_recurring_invoice_date: date | None
    next_recurring_invoice_date: date | None
    past_due: bool
    capabilities: dict[str, bool]


def account_summary(access: AccountAccess) -> AccountSummary:
    """Balances as stored by the ledger, dates and state from the account, capabilities by type."""
    account = access.account
    balance = ledger.get_balance(account.id)
    current = balance.current if balance else 0
    unapplied = balance.unapplied_credit if balance else 0
    return AccountSummary(
        account_id=account.id,
        number=account.number,
        name=account.name,
        type=account.type,
        linked=account.linked,
        currency=account.currency,
        locale=account.locale,
        current=current,
        unapplied_credit=unapplied,
        next_estimated=current + recurring_total(account.id) + _usage_so_far(account),
        payment_method=payments.card_summary(account.id),
        last_recurring_invoice_date=account.last_recurring_date,
        next_recurring_invoice_date=account.next_recurring_date,
        # past due after the last failed retry, until paid: once the balance is settled (a payment, a
        # credit) the flag no longer shows, and the next run clears it
        past_due=account.past_due and current > 0,
        capabilities=capabilities(account),
    )


def _usage_so_far(account: AccountRecord) -> int:
    if account.next_recurring_date is None:
        return 0
    return usage_total(account.id, current_period(account)[0])


def invoice_view(inv: Invoice, lines: list[Line]) -> schemas.Invoice:
    data = asdict(inv)
    data["lines"] = [asdict(line) for line in lines]
    return schemas.Invoice.model_validate(data)


def check_currency(access: AccountAccess, currency: str | None) -> None:
    if currency is not None and currency != access.account.currency:
        raise ValidationFailedError(
            f"this account is billed in {access.account.currency}; omit currency or send {access.account.currency}",
            code="currency-mismatch",
        )


def _post(
    access: AccountAccess,
    idem: IdempotencyContext,
    *,
    type: str,
    description: str,
    amount: int,
    action: str,
    target_invoice_id: str | None = None,
    extra: Sequence[Op] = (),
) -> schemas.Invoice:
    today = clock.today()
    lines = [Line(description=description, amount=amount, period_start=today, period_end=today)]
    invoice_id = idem.derive("inv")

    def with_record(inv: object) -> list:
        assert isinstance(inv, Invoice)
        view = invoice_view(inv, lines)
        after = {"invoice_id": inv.id, "number": inv.number, "amount": amount, "currency": inv.currency}
        return [
            audit.record(access.account.id, access.actor, action, inv.id, None, after),
            idem.completed(view.model_dump(mode="json")),
            *extra,
        ]

    inv = ledger.post_invoice(
        access.account.id,
        invoice_id=invoice_id,
        type=type,
        lines=lines,
        description=description,
        target_invoice_id=target_invoice_id,
        extra_ops=with_record,
    )
    return invoice_view(inv, lines)


def post_charge(
    access: AccountAccess, idem: IdempotencyContext, description: str, amount: int, currency: str | None
) -> schemas.Invoice:
    """An operator's One-time charge: a One-time invoice for `amount`, open until paid."""
    check_currency(access, currency)
    return _post(access, idem, type="one_time", description=description, amount=amount, action="charge.posted")


def post_credit(
    access: AccountAccess, idem: IdempotencyContext, amount: int, reason: str, currency: str | None
) -> schemas.Invoice:
    """An operator's Credit: a closed Credit invoice whose money settles open invoices, oldest first."""
    check_currency(access, currency)
    return _post(access, idem, type="credit", description=reason, amount=amount, action="credit.posted")


# ---- invoice views -------------------------------------------------------------------------------


def _require_invoice(account_id: str, invoice_id: str) -> Invoice:
    inv = ledger.get_invoice(account_id, invoice_id) if is_id(invoice_id, "inv") else None
    if inv is None:
        raise NotFoundError(f"no invoice {invoice_id} on this account", code="invoice-not-found")
    return inv


def list_invoices(access: AccountAccess, query: schemas.InvoiceQuery, route: str) -> schemas.InvoiceList:
    """A page of the account's invoices, newest first (one bounded Query on the date index)."""
    account_id = access.account.id
    filters = query.filters()
    last_key = cursor.decode(query.cursor, account_id, route, filters)
    rows, last = ledger.list_invoices(
        account_id,
        limit=query.limit,
        last_key=last_key,
        types=query.types(),
        status=query.status,
        date_from=query.from_,
        date_to=query.to,
    )
    return schemas.InvoiceList(
        data=[schemas.InvoiceRow.model_validate(asdict(inv), from_attributes=False) for inv in rows],
        next_cursor=cursor.encode(account_id, route, filters, last),
    )


def get_invoice(access: AccountAccess, invoice_id: str) -> schemas.Invoice:
    """One invoice with its lines, what was applied to it, and the balance before and after it."""
    inv = _require_invoice(access.account.id, invoice_id)
    return invoice_view(inv, ledger.get_lines(access.account.id, inv.id))


def _party(access: AccountAccess) -> render.Party:
    account = access.account
    return render.Party(name=account.name, account_number=account.number, contact=account.billing_contact)


def _seller() -> render.Seller:
    s = get_settings()
    return render.Seller(name=s.seller_name, address=s.seller_address, email=s.seller_email, tax_id=s.seller_tax_id)


def store_pdf(access: AccountAccess, inv: Invoice, lines: list[Line] | None = None) -> None:
    """Render the invoice's PDF and put it in S3 (the monthly run calls this when it issues one, with
    the lines it has just posted)."""
    if lines is None:
        lines = ledger.get_lines(access.account.id, inv.id)
    pdf = render.render_pdf(inv, lines, _party(access), _seller(), access.account.locale)
    store.put_pdf(access.account.id, inv.id, pdf, f"{inv.number}.pdf")


def invoice_pdf(access: AccountAccess, invoice_id: str) -> schemas.PdfLink:
    """A presigned URL to the invoice's PDF, rendered on first request and kept in S3 afterwards."""
    inv = _require_invoice(access.account.id, invoice_id)
    if not store.pdf_exists(access.account.id, inv.id):
        store_pdf(access, inv)
    seconds = get_settings().pdf_url_seconds
    expires = clock.now() + timedelta(seconds=seconds)
    return schemas.PdfLink(url=store.pdf_url(access.account.id, inv.id, seconds), expires_at=clock.iso(expires))


LINE_COLUMNS = [
    "invoice_number",
    "group",
    "description",
    "period_start",
    "period_end",
    "quantity",
    "unit_amount",
    "currency",
    "amount",
    "amount_minor",
]
LIST_COLUMNS = [
    "number",
    "id",
    "date",
    "type",
    "status",
    "currency",
    "total",
    "amount_paid",
    "balance_due",
    "total_minor",
    "amount_paid_minor",
    "balance_due_minor",
]


def invoice_lines_csv(access: AccountAccess, invoice_id: str) -> str:
    """The invoice's lines as CSV: amounts both as decimals (for people) and minor units (for machines)."""
    inv = _require_invoice(access.account.id, invoice_id)
    lines = ledger.get_lines(access.account.id, inv.id)
    rows = [
        [
            inv.number,
            line.group or "",
            line.description,
            line.period_start.isoformat(),
            line.period_end.isoformat(),
            line.quantity or "1",
            line.unit_amount or "",
            inv.currency,
            render.decimal_amount(line.amount, inv.currency),
            line.amount,
        ]
        for line in lines
    ]
    return render.to_csv(LINE_COLUMNS, rows)


def invoices_csv(access: AccountAccess, query: schemas.InvoiceCsvQuery, route: str) -> tuple[str, str | None]:
    """The filtered list as CSV, up to `limit` rows (pages of 100 read in turn); the cursor of the rest."""
    account_id = access.account.id
    filters = query.filters()
    last_key = cursor.decode(query.cursor, account_id, route, filters)
    rows: list[list[object]] = []
    while True:
        page, last_key = ledger.list_invoices(
            account_id,
            limit=min(100, query.limit - len(rows)),
            last_key=last_key,
            types=query.types(),
            status=query.status,
            date_from=query.from_,
            date_to=query.to,
        )
        for inv in page:
            c = inv.currency
            rows.append(
                [
                    inv.number,
                    inv.id,
                    inv.date.isoformat(),
                    inv.type,
                    inv.status,
                    c,
                    render.decimal_amount(inv.total, c),
                    render.decimal_amount(inv.amount_paid, c),
                    render.decimal_amount(inv.balance_due, c),
                    inv.total,
                    inv.amount_paid,
                    inv.balance_due,
                ]
            )
        if last_key is None or len(rows) >= query.limit:
            break
    return render.to_csv(LIST_COLUMNS, rows), cursor.encode(account_id, route, filters, last_key)


# ---- upcoming ------------------------------------------------------------------------------------


def upcoming_invoice(access: AccountAccess) -> schemas.UpcomingInvoice:
    """The next Recurring invoice as it stands now: recurring fees for the next period and the unapplied
    credit it would consume. Billing items (and usage) feed their lines in here as they land; until an
    account has any, the preview has no lines and a zero total."""
    account = access.account
    balance = ledger.get_balance(account.id)
    unapplied = balance.unapplied_credit if balance else 0
    start = account.next_recurring_date
    end = next_recurring_date(account.billing_day, start) if start else None
    lines = upcoming_lines(account.id, start, end)
    total = sum(line.amount for line in lines)
    used = min(unapplied, total)
    return schemas.UpcomingInvoice(
        account_id=account.id,
        currency=account.currency,
        date=start,
        period_start=start,
        period_end=end,
        lines=lines,
        subtotal=total,
        total=total,
        unapplied_credit_applied=used,
        amount_due=total - used,
    )


def upcoming_lines(account_id: str, start: date | None, end: date | None) -> list[schemas.UpcomingLine]:
    """Lines of the next Recurring invoice: the billing items' fees for the next period in advance
    (anniversary cancellations taking effect first), and the usage of the current period so far."""
    if start is None or end is None:
        return []
    usage_start = previous_recurring_date(start.day, start)
    lines = recurring_lines(account_id, start, end) + usage_lines(account_id, usage_start, start)
    return [
        schemas.UpcomingLine(
            description=line.description,
            amount=line.amount,
            period_start=line.period_start,
            period_end=line.period_end,
            group=line.group,
            item_id=line.item_id,
        )
        for line in lines
    ]


# ---- refunds -------------------------------------------------------------------------------------


def post_refund(
    access: AccountAccess,
    idem: IdempotencyContext,
    amount: int,
    reason: str,
    invoice_id: str | None,
    currency: str | None,
    payment_id: str | None = None,
    *,
    return_credit: bool = False,
) -> schemas.Invoice | schemas.CreditReturn:
    """A Refund invoice (-amount in the ledger), applied to `invoice_id` first; at most what is left of
    that invoice's total (its refunded total is reserved in the same transaction, DESIGN §3 v4).
    With `payment_id`, the money goes back to that payment's card (payments' refund to card): the Refund
    invoice and the money back post together once Stripe accepts the refund, netting to zero. With
    `return_credit` too, only the money back, consuming the account's unapplied credit (no invoice)."""
    check_currency(access, currency)
    if return_credit and payment_id is None:
        raise ValidationFailedError(
            "return_credit sends unapplied credit back to a payment's card: send payment_id",
            errors=[FieldError("payment_id", "required with return_credit")],
        )
    if payment_id is not None:
        if invoice_id is not None:
            raise ValidationFailedError(
                "a refund to a card goes back to the payment, not to an invoice: send payment_id or invoice_id",
                errors=[FieldError("invoice_id", "not with payment_id")],
            )
        return _refund_to_card(access, idem, payment_id, amount, reason, return_credit)
    reserve: list[Op] = []
    if invoice_id is not None:
        target = _require_invoice(access.account.id, invoice_id)
        if target.type not in ledger.DEBIT_TYPES:
            raise ValidationFailedError(
                f"invoice {invoice_id} is a {target.type} invoice; refund a charge", code="invoice-not-refundable"
            )
        reserve.append(ledger.reserve_invoice_refund(target, amount))
    return _post(
        access,
        idem,
        type="refund",
        description=reason,
        amount=amount,
        action="refund.posted",
        target_invoice_id=invoice_id,
        extra=reserve,
    )


def _refund_to_card(
    access: AccountAccess, idem: IdempotencyContext, payment_id: str, amount: int, reason: str, return_credit: bool
) -> schemas.Invoice | schemas.CreditReturn:
    def render(done: payments.RefundRecord, posted: Invoice | None) -> dict:
        """The response stored with the booking: the Refund invoice with its one line (as refund_to_card
        writes it), or the credit return."""
        if posted is None:
            return _credit_return(access, done).model_dump(mode="json")
        return invoice_view(posted, [Line(done.reason, done.amount, posted.date, posted.date)]).model_dump(mode="json")

    done = payments.refund_to_card(access, idem, payment_id, amount, reason, render, return_credit=return_credit)
    if done.return_credit:
        return _credit_return(access, done)
    inv = ledger.get_invoice(access.account.id, done.invoice_id)
    assert inv is not None
    return invoice_view(inv, ledger.get_lines(access.account.id, inv.id))


def _credit_return(access: AccountAccess, done: payments.RefundRecord) -> schemas.CreditReturn:
    return schemas.CreditReturn(
        id=done.id,
        account_id=done.account_id,
        payment_id=done.payment_id,
        amount=done.amount,
        currency=access.account.currency,
        reason=done.reason,
        stripe_refund_id=done.stripe_refund_id or "",
        created_at=done.created_at,
    )
