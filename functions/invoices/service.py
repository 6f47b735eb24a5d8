"""Invoice-side views of an account: the billing summary the product shows on its invoices page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from functions.accounts.service import AccountAccess, capabilities
from functions.core import ledger


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
