"""Payments in flight (DESIGN §3 v4): what a new payment may take, its reservation with its row, its
release; and a refund's reservation of an invoice's refunded total (Refund limits)."""

from __future__ import annotations

from functions.core import ledger_store, money
from functions.core.errors import ConcurrentUpdateError, FieldError, ValidationFailedError
from functions.core.ledger.rules import DEBIT_TYPES, read_balance
from functions.core.ledger_store import Balance, Invoice
from functions.core.uow import Op


class ReservationMovedError(ConcurrentUpdateError):
    """The balance or the invoice moved between the read and the reservation's commit: read again."""


def _reservation_moved() -> ConcurrentUpdateError:
    return ReservationMovedError("the balance changed while this payment was reserved; retry")


def room(account_id: str, invoice_id: str | None = None) -> Room:
    """What a new payment may take now (DESIGN §3 v4 "Payments in flight"): the balance less what is in
    flight, and with an invoice, also at most its balance due less what is in flight for it. Reads the
    balance first, then the invoice, so any write in between makes the reservation's conditions fail."""
    balance = read_balance(account_id)
    available = balance.current - balance.in_flight
    invoice = None
    if invoice_id is not None:
        invoice = ledger_store.get_invoice(account_id, invoice_id)
        if invoice is None or invoice.status != "open":
            return balance, invoice, 0
        available = min(available, invoice.balance_due - invoice.in_flight)
    return balance, invoice, max(available, 0)


Room = tuple[Balance, Invoice | None, int]


def reserve(account_id: str, amount: int, invoice_id: str | None = None, read: Room | None = None) -> list[Op]:
    """The ops that reserve `amount` for a payment in flight, to commit with the payment's `creating`
    row; a payment above what is owed less what is in flight → 422 `amount-exceeds-balance`. `read`:
    the `room` the caller just read, else it is read here. When the commit is cancelled by
    ReservationMovedError, call again (it reads afresh)."""
    balance, invoice, available = read or room(account_id, invoice_id)
    if amount > available:
        what = "the current balance" if invoice is None else f"invoice {invoice.number}'s balance due"
        pending = balance.in_flight if invoice is None else invoice.in_flight
        shown = money.format_amount(available, balance.currency)
        if pending:
            shown += f" once the payments in progress, {money.format_amount(pending, balance.currency)}, are counted"
        raise ValidationFailedError(
            f"the amount is more than {what} ({shown})",
            code="amount-exceeds-balance",
            errors=[FieldError("amount", f"at most {available}")],
        )
    return ledger_store.reserve_in_flight(balance, amount, invoice, _reservation_moved)


def release(account_id: str, amount: int, invoice_id: str | None) -> list[Op]:
    """The ops that give a failed payment's reservation back (commit them with the row's transition)."""
    return ledger_store.release_in_flight(account_id, amount, invoice_id) if amount else []


def reserve_invoice_refund(inv: Invoice, amount: int) -> Op:
    """The op that reserves `amount` of `inv`'s refunded total, for the refund's (first) transaction
    (DESIGN §3 v4 Refund limits): over what is left of the invoice, that transaction is refused 422
    `refund-exceeds-remaining` and writes nothing."""
    if inv.type not in DEBIT_TYPES:
        raise ValueError(f"only a debit invoice is refunded, not a {inv.type} invoice")

    def over() -> ValidationFailedError:
        left = max(0, inv.total - ledger_store.get_invoice_refunded(inv.account_id, inv.id))
        return ValidationFailedError(
            f"at most {left} is left of invoice {inv.number} to refund (total {inv.total})",
            code="refund-exceeds-remaining",
        )

    return ledger_store.reserve_invoice_refund(inv, amount, over)
