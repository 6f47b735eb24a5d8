"""Invoice-side behaviour: the billing summary the product shows on its invoices page, and the
operator's One-time charges and Credits, posted through the core ledger."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date

from functions.accounts.service import AccountAccess, capabilities
from functions.core import audit, clock, ledger
from functions.core.errors import ValidationFailedError
from functions.core.idempotency import IdempotencyContext
from functions.core.ledger import Invoice, Line
from functions.invoices import schemas


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


def upcoming_recurring_total(account_id: str) -> int:
    """What the next Recurring invoice would add today. No billing items exist before the billing-items
    capability lands, so nothing recurs yet; that capability feeds its fees in here."""
    return 0


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
        next_estimated=current + upcoming_recurring_total(account.id),
        payment_method=None,  # the card-on-file capability supplies it
        last_recurring_invoice_date=account.last_recurring_date,
        next_recurring_invoice_date=account.next_recurring_date,
        past_due=account.past_due,
        capabilities=capabilities(account),
    )


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
    access: AccountAccess, idem: IdempotencyContext, *, type: str, description: str, amount: int, action: str
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
        ]

    inv = ledger.post_invoice(
        access.account.id, invoice_id=invoice_id, type=type, lines=lines, description=description, extra_ops=with_record
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
