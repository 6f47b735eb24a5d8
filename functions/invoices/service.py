"""The invoices domain's front door: the billing summary the product shows on its invoices page, the
operator's One-time charges, Credits and Refunds (posted through the core ledger; a refund to a card
through payments' front door), the upcoming Recurring invoice, and `render_invoice_pdf` for the
`pdf-render` queue's worker.

Reading invoices is functions/invoices/views.py; their PDF and CSV documents functions/invoices/documents.py."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from datetime import date

from functions.accounts.service import (
    AccountAccess,
    AccountRecord,
    capabilities,
    current_period,
    due_date,
    next_recurring_date,
    previous_recurring_date,
    require_open,
)
from functions.billing_items.service import recurring_lines, recurring_total
from functions.core import audit, clock, ledger, suppressions
from functions.core.errors import FieldError, ValidationFailedError
from functions.core.idempotency import IdempotencyContext
from functions.core.ledger import Invoice, Line
from functions.core.uow import Op, UnitOfWork, retrying
from functions.invoices import schemas
from functions.invoices.closure import finish_closure as finish_closure  # the run's last invoice of a closing account
from functions.invoices.rendering import render_invoice_pdf as render_invoice_pdf  # the pdf-render worker
from functions.invoices.views import invoice_view, require_invoice
from functions.payments import service as payments
from functions.usage.service import usage_lines, usage_total


def account_summary(access: AccountAccess) -> schemas.Summary:
    """Balances as stored by the ledger, dates and state from the account, capabilities by type."""
    account = access.account
    balance = ledger.get_balance(account.id)
    current = balance.current if balance else 0
    unapplied = balance.unapplied_credit if balance else 0
    next_estimated = current + recurring_total(account.id) + _usage_so_far(account)
    return schemas.Summary.model_validate(
        {
            **asdict(account),  # number, name, type, linked, currency, locale as they are
            "account_id": account.id,
            "balance": {"current": current, "unapplied_credit": unapplied, "next_estimated": next_estimated},
            **payments.card_summary(account.id, account.collection, account.net_days),
            "last_recurring_invoice_date": account.last_recurring_date,
            "next_recurring_invoice_date": account.next_recurring_date,
            # DESIGN §3 v4: past due while an invoice that finished dunning (or 14 days past its due date)
            # is open — the ledger counts them on the balance, and closing the last one clears it
            "past_due": bool(balance and balance.past_due > 0),
            "capabilities": capabilities(account),
            "billing_contact_suppressed": suppressions.is_suppressed(
                str((account.billing_contact or {}).get("email", ""))
            ),
        }
    )


def _usage_so_far(account: AccountRecord) -> int:
    if account.next_recurring_date is None:
        return 0
    return usage_total(account.id, account.currency, current_period(account)[0])


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

    account_id = access.account.id
    part = ledger.Part(invoice_id, description, lines)
    due = due_date(access.account, today)
    posting = ledger.prepare(account_id, type=type, parts=[part], target_invoice_id=target_invoice_id, due_date=due)

    def attempt() -> Invoice:
        ops, inv = ledger.post_invoice(posting)
        view = invoice_view(inv, lines)
        after = {"invoice_id": inv.id, "number": inv.number, "amount": amount, "currency": inv.currency}
        uow = UnitOfWork().add(
            *ops,
            audit.record(account_id, access.actor, action, inv.id, None, after),
            idem.completed(view.model_dump(mode="json")),
            *extra,
        )
        uow.commit()  # the invoice's outbound events (invoice.issued, invoice.paid) are in `ops` (core.ledger)
        return inv

    inv = retrying(attempt)
    if type in ledger.CREDIT_TYPES:
        ledger.settle_unapplied_credit(account_id)
    payments.invoice_issued(account_id, [inv], account=access.account)  # notice; a debit's collection requested
    return invoice_view(inv, lines)


def post_charge(
    access: AccountAccess, idem: IdempotencyContext, description: str, amount: int, currency: str | None
) -> schemas.Invoice:
    """An operator's One-time charge: a One-time invoice for `amount`, open until paid (409
    `account-closed` while the account is closing or closed)."""
    require_open(access.account, "charging it")
    check_currency(access, currency)
    return _post(access, idem, type="one_time", description=description, amount=amount, action="charge.posted")


def post_credit(
    access: AccountAccess, idem: IdempotencyContext, amount: int, reason: str, currency: str | None
) -> schemas.Invoice:
    """An operator's Credit: a closed Credit invoice whose money settles open invoices, oldest first."""
    check_currency(access, currency)
    return _post(access, idem, type="credit", description=reason, amount=amount, action="credit.posted")


# ---- upcoming ------------------------------------------------------------------------------------


def upcoming_invoice(access: AccountAccess) -> schemas.UpcomingInvoice:
    """The next Recurring invoice as it stands now: the billing items' fees for the next period, the
    usage of the current one so far, and the unapplied credit it would consume. An account with neither
    items nor usage gets a preview with no lines and a zero total."""
    account = access.account
    balance = ledger.get_balance(account.id)
    unapplied = balance.unapplied_credit if balance else 0
    start = account.next_recurring_date
    end = next_recurring_date(account.billing_day, start) if start else None
    lines = upcoming_lines(account.id, start, end, account.currency)
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


def upcoming_lines(account_id: str, start: date | None, end: date | None, currency: str) -> list[schemas.UpcomingLine]:
    """Lines of the next Recurring invoice: the billing items' fees for the next period in advance
    (anniversary cancellations taking effect first), and the usage of the current period so far."""
    if start is None or end is None:
        return []
    usage_start = previous_recurring_date(start.day, start)
    lines = recurring_lines(account_id, start, end) + usage_lines(account_id, currency, usage_start, start)
    return [schemas.UpcomingLine.model_validate(asdict(line)) for line in lines]


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
        target = require_invoice(access.account.id, invoice_id)
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
    payments.invoice_issued(access.account.id, [inv], account=access.account)
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
