"""Marks on open debit invoices (DESIGN §3 v4 Collection), planned like any ledger change:

- `past_due`: the invoice finished dunning, or is 14 days past its due date. The balance counts the open
  invoices so marked (`Balance.past_due`); the account is past due while the count is above zero. The
  ledger's own application and money-back code keep the count in the transaction that closes (-1) or
  reopens (+1) a marked invoice, so the flag clears exactly when the last such invoice is paid, and
  never comes back with a new charge.
- `carried_forward`: the invoice's amount was below the minimum charge when it was collected; the next
  collection includes it (the collectable amount is the balance, not an invoice).

Both stay on the header once the invoice is closed (its history)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from functions.core import ledger_store
from functions.core.errors import ConcurrentUpdateError
from functions.core.ledger import outbound
from functions.core.ledger.rules import DEBIT_TYPES
from functions.core.ledger_store import Invoice
from functions.core.uow import Op, Planned


class MarkMovedError(ConcurrentUpdateError):
    """An invoice was closed or marked between the read and the commit: read again."""


def _moved() -> ConcurrentUpdateError:
    return MarkMovedError("an invoice was paid or marked while it was being marked; retry")


def _unmarked(account_id: str, invoice_ids: Sequence[str], mark: str) -> list[Invoice]:
    invoices = ledger_store.get_invoices(account_id, list(invoice_ids))
    return [
        inv
        for inv in sorted(invoices, key=lambda i: (i.date, i.number))
        if inv.status == "open" and inv.type in DEBIT_TYPES and not getattr(inv, mark)
    ]


def mark_past_due(account_id: str, invoice_ids: Sequence[str]) -> list[Op | Planned]:
    """The ops that mark the open debit invoices among `invoice_ids` past due (those closed, or marked
    already, are left out) and add them to the balance's count — to commit in one transaction, with the
    caller's own rows; a mark that moved meanwhile cancels it (MarkMovedError: read again, `retrying`).
    No invoice left to mark: no ops. The account becoming past due is its event (account.past_due)."""
    invoices = _unmarked(account_id, invoice_ids, "past_due")
    if not invoices:
        return []
    ops = [ledger_store.mark_invoice(inv, "past_due", _moved) for inv in invoices]
    balance = ledger_store.get_balance(account_id, consistent=True)
    read = balance.past_due if balance is not None else 0
    ops.append(ledger_store.add_past_due(account_id, len(invoices), read))
    if balance is not None:
        ops.extend(outbound.past_due_moved(balance, len(invoices)))
    return ops


def mark_carried_forward(account_id: str, invoice_ids: Sequence[str]) -> list[Op | Planned]:
    """The ops that mark the open debit invoices among `invoice_ids` `carried_forward` (below the minimum:
    the next collection includes them), each with its event invoice.carried_forward. Nothing moves on
    the balance."""
    invoices = _unmarked(account_id, invoice_ids, "carried_forward")
    ops: list[Op | Planned] = [ledger_store.mark_invoice(inv, "carried_forward", _moved) for inv in invoices]
    events = [outbound.invoice_event("invoice.carried_forward", replace(inv, carried_forward=True)) for inv in invoices]
    return [*ops, *events]


def open_invoices(account_id: str, limit: int) -> list[Invoice]:
    """The oldest open debit invoices, at most `limit`, in order (consistent reads)."""
    return _headers(account_id, ledger_store.open_invoice_ids(account_id, limit))


def all_open_invoices(account_id: str) -> list[Invoice]:
    """Every open debit invoice of the account, oldest first (consistent reads)."""
    return _headers(account_id, ledger_store.all_open_pointer_ids(account_id))


def _headers(account_id: str, ids: list[str]) -> list[Invoice]:
    invoices = {inv.id: inv for inv in ledger_store.get_invoices(account_id, ids)}
    return [invoices[i] for i in ids if i in invoices and invoices[i].status == "open"]
