"""`billow audit`: the ledger's invariant recomputed from its records."""

from __future__ import annotations

from dataclasses import dataclass

from functions.core import ledger_store
from functions.core.ledger.rules import read_balance
from functions.core.money import MAX_AMOUNT


@dataclass(frozen=True)
class AuditResult:
    account_id: str
    entries_total: int
    balance_current: int
    open_balance_due: int
    unapplied_credit: int
    problems: list[str]


def audit_account(account_id: str) -> AuditResult:
    """Recompute the invariant from the records: Σ entries, the balance item, Σ open balance_due of the
    invoice headers, the open pointers, and the entry sequence's gaps."""
    balance = read_balance(account_id)
    entries = ledger_store.entries(account_id)
    total = sum(e.amount for e in entries)
    invoices = ledger_store.all_invoices(account_id)
    open_invoices = [i for i in invoices if i.status == "open"]
    open_due = sum(i.balance_due for i in open_invoices)
    pointers = ledger_store.all_open_pointer_ids(account_id)
    problems = []
    if total != balance.current:
        problems.append(f"Σ entries {total} != balance.current {balance.current}")
    if open_due - balance.unapplied_credit != balance.current:
        problems.append(
            f"Σ open balance_due {open_due} - unapplied_credit {balance.unapplied_credit} != "
            f"balance.current {balance.current}"
        )
    if [e.seq for e in entries] != list(range(1, len(entries) + 1)) or len(entries) != balance.entry_seq:
        problems.append(f"entry sequence has gaps: {len(entries)} entries, counter {balance.entry_seq}")
    if sorted(pointers) != sorted(i.id for i in open_invoices):
        problems.append("the open-invoice pointers do not match the open invoices")
    if any(i.balance_due <= 0 for i in open_invoices) or any(i.balance_due for i in invoices if i.status != "open"):
        problems.append("an invoice's status does not match its balance due")
    if any(i.amount_paid + i.balance_due != i.total for i in invoices):
        problems.append("an invoice's amount paid and balance due do not add up to its total")
    marked = sum(1 for i in open_invoices if i.past_due)
    if marked != balance.past_due:
        problems.append(f"{marked} open invoices are marked past due, the balance counts {balance.past_due}")
    if balance.unapplied_credit < 0:
        problems.append(f"unapplied_credit is negative: {balance.unapplied_credit}")
    # DESIGN §3 v4 Amount limits: nothing above what Stripe can charge (MAX_AMOUNT), invoice or line.
    for inv in invoices:
        if inv.total > MAX_AMOUNT:
            problems.append(f"invoice {inv.number} has a total of {inv.total}, above the limit of {MAX_AMOUNT}")
    numbers = {i.id: i.number for i in invoices}
    for invoice_id, amount in ledger_store.lines_above(account_id, MAX_AMOUNT):
        problems.append(
            f"invoice {numbers.get(invoice_id, invoice_id)} has a line of {amount}, above the limit of {MAX_AMOUNT}"
        )
    totals = {i.id: i.total for i in invoices}
    for invoice_id, refunded in sorted(ledger_store.invoice_refunded_totals(account_id).items()):
        if refunded < 0 or refunded > totals.get(invoice_id, 0):
            problems.append(f"invoice {invoice_id} is refunded {refunded} of its total {totals.get(invoice_id, 0)}")
    return AuditResult(account_id, total, balance.current, open_due, balance.unapplied_credit, problems)


def audited_account_ids() -> list[str]:
    return ledger_store.balance_account_ids()
