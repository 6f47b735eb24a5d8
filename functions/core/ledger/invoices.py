"""Invoices: checked against the amount limits, numbered gaplessly per account, and planned with
their lines, entries and the balance in one transaction (debit invoices consume unapplied credit; a
credit or refund invoice applies its money)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date

from functions.core import clock, ledger_store
from functions.core.ids import new_id
from functions.core.ledger import outbound
from functions.core.ledger.rules import (
    DEBIT_TYPES,
    INVOICE_TYPES,
    MAX_INLINE_LINES,
    AlreadyPostedError,
    AmountTooLargeError,
    allocate,
    read_balance,
)
from functions.core.ledger_store import Application, Balance, Entry, Invoice, Line
from functions.core.money import MAX_AMOUNT
from functions.core.uow import Op, Planned


def _check_limits(lines: Sequence[Line]) -> int:
    """The invoice's total, once every line and the total are known to be within MAX_AMOUNT (DESIGN §3
    v4 Amount limits): what Stripe could never charge is never posted."""
    total = sum(line.amount for line in lines)
    if any(line.amount > MAX_AMOUNT for line in lines) or total > MAX_AMOUNT:
        raise AmountTooLargeError(
            f"an invoice and each of its lines are at most {MAX_AMOUNT} minor units; this one comes to {total}"
        )
    return total


def split_lines(lines: list[Line], limit: int = MAX_AMOUNT) -> list[list[Line]]:
    """Lines (each within `limit`) packed in order into the fewest consecutive parts whose totals stay
    within `limit`: the invoices a total above the limit is split into. No lines: one empty part."""
    parts: list[list[Line]] = [[]]
    total = 0
    for line in lines:
        if line.amount > limit:
            raise AmountTooLargeError(f"a line of {line.amount} is above the limit of {limit} minor units")
        if parts[-1] and total + line.amount > limit:
            parts.append([])
            total = 0
        parts[-1].append(line)
        total += line.amount
    return parts


def invoice_header(
    balance: Balance,
    seq: int,
    invoice_id: str,
    type: str,
    total: int,
    description: str,
    line_count: int,
    posting: Posting,
    at: str,
) -> Invoice:
    today = posting.on or clock.today()
    period = posting.period or (today, today)
    return Invoice(
        account_id=balance.account_id,
        id=invoice_id,
        number=f"{balance.account_number}-{seq:06d}",
        type=type,
        status="open",
        date=today,
        period_start=period[0],
        period_end=period[1],
        currency=balance.currency,
        subtotal=total,
        total=total,  # no tax in v1
        amount_paid=0,
        balance_due=total,
        description=description,
        line_count=line_count,
        balance_before=balance.current,
        balance_after=balance.current,
        created_at=at,
        due_date=posting.due_date if type in DEBIT_TYPES else None,
    )


@dataclass(frozen=True)
class Part:
    """One invoice of a posting: its id, description and lines."""

    invoice_id: str
    description: str
    lines: list[Line]


@dataclass(frozen=True)
class Posting:
    """Invoices ready to plan: checked against the limits, their long line lists written ahead."""

    account_id: str
    type: str
    parts: list[Part]
    totals: list[int]
    inline: bool
    period: tuple[date, date] | None = None
    on: date | None = None
    target_invoice_id: str | None = None
    due_date: date | None = None


def prepare(
    account_id: str,
    *,
    type: str,
    parts: list[Part],
    period: tuple[date, date] | None = None,
    on: date | None = None,
    target_invoice_id: str | None = None,
    due_date: date | None = None,
) -> Posting:
    """Check invoices before any attempt (AmountTooLargeError, 422, nothing written, if a line or an
    invoice's total is above MAX_AMOUNT) and write more than MAX_INLINE_LINES lines ahead by
    BatchWriteItem (the only write outside the invoices' transaction: lines no header points to yet).
    Debit invoices (`parts` may hold several: a split invoice) are dated `on` (default today); a
    credit or refund invoice is one part, its money applied to `target_invoice_id` first. `due_date`:
    the day a send_invoice account's debit invoices are due (accounts.service.due_date)."""
    if type not in (DEBIT_TYPES if len(parts) != 1 else INVOICE_TYPES):
        raise ValueError(f"{len(parts)} {type} invoices cannot be posted together")
    totals = [_check_limits(part.lines) for part in parts]
    for part, total in zip(parts, totals, strict=True):
        if any(line.amount < 0 for line in part.lines) or (total == 0 and type != "recurring"):
            # A Recurring invoice may come to zero (nothing recurred, no usage): it is issued closed,
            # with no entry. Any other invoice moves money.
            raise ValueError("an invoice's lines are positive and its total greater than zero")
    inline = sum(len(part.lines) for part in parts) <= MAX_INLINE_LINES
    if not inline:
        for part in parts:
            ledger_store.write_lines_ahead(account_id, part.invoice_id, part.lines)
    return Posting(account_id, type, parts, totals, inline, period, on, target_invoice_id, due_date)


def already_posted(invoice_id: str) -> Callable[[], AlreadyPostedError]:
    return lambda: AlreadyPostedError(f"invoice {invoice_id} is already posted")


def post_invoices(posting: Posting) -> tuple[list[Op | Planned], list[Invoice]]:
    """Plan debit invoices in ONE transaction: consecutive numbers, headers, lines, one entry each and
    the balance, so a split invoice (DESIGN §3 v4 Amount limits) is all posted or not at all and its
    numbering stays gapless. Each consumes unapplied credit in turn. Returns the ops (the caller adds
    its own and commits; AlreadyPostedError if one was posted before) and the invoices."""
    account_id = posting.account_id
    balance = read_balance(account_id)
    at = clock.iso(clock.now())
    ops: list[Op | Planned] = []
    invoices: list[Invoice] = []
    now = balance
    for part, total in zip(posting.parts, posting.totals, strict=True):
        seq = now.invoice_seq + 1
        inv = invoice_header(
            now, seq, part.invoice_id, posting.type, total, part.description, len(part.lines), posting, at
        )
        use = min(now.unapplied_credit, total)
        taken, lots = ledger_store.take_credit(now.credit_lots, use)
        inv.balance_due, inv.amount_paid = total - use, use
        inv.applications = [Application("unapplied_credit", "unapplied_credit", a, at, o) for o, a in taken]
        inv.status = "open" if inv.balance_due else "closed"
        inv.balance_after = now.current + total
        if inv.status == "open":
            ops.append(ledger_store.put_open(inv))
        entry_seq = now.entry_seq + (1 if total else 0)
        if total:
            entry = Entry(entry_seq, new_id("entry"), at, "invoice", part.invoice_id, total, inv.balance_after)
            ops.append(ledger_store.put_entry(account_id, entry))
        if posting.inline:
            ops.extend(ledger_store.put_lines_ops(account_id, part.invoice_id, part.lines))
        ops.append(ledger_store.put_invoice(inv, already_posted(part.invoice_id)))
        ops.extend(outbound.issued(inv))
        invoices.append(inv)
        now = replace(
            now,
            current=inv.balance_after,
            unapplied_credit=now.unapplied_credit - use,
            credit_lots=lots,
            entry_seq=entry_seq,
            invoice_seq=seq,
        )
    ops.append(ledger_store.update_balance(balance, now))
    return ops, invoices


def post_invoice(posting: Posting) -> tuple[list[Op | Planned], Invoice]:
    """Plan one invoice: a debit invoice consumes unapplied credit; a credit or refund invoice is issued
    closed and its money is applied (target first, then oldest open; the rest becomes unapplied credit,
    which `settle_unapplied_credit` applies further once committed). Returns the ops and the invoice."""
    if posting.type in DEBIT_TYPES:
        ops, (inv,) = post_invoices(posting)
        return ops, inv
    account_id, (part,), (total,) = posting.account_id, posting.parts, posting.totals
    balance = read_balance(account_id)
    at = clock.iso(clock.now())
    seq = balance.invoice_seq + 1
    inv = invoice_header(
        balance, seq, part.invoice_id, posting.type, total, part.description, len(part.lines), posting, at
    )
    ops, applied, rest, cleared = allocate(
        account_id, total, part.invoice_id, posting.type, posting.target_invoice_id, at
    )
    inv.status, inv.balance_due, inv.amount_paid = "closed", 0, total
    inv.applied_to = [{"invoice_id": i, "amount": a} for i, a in applied]
    if rest:
        inv.applied_to.append({"invoice_id": None, "amount": rest})
    inv.balance_after = balance.current - total
    entry = Entry(balance.entry_seq + 1, new_id("entry"), at, "invoice", part.invoice_id, -total, inv.balance_after)
    after = replace(
        balance,
        current=inv.balance_after,
        unapplied_credit=balance.unapplied_credit + rest,
        credit_lots=(*balance.credit_lots, (part.invoice_id, rest)) if rest else balance.credit_lots,
        entry_seq=entry.seq,
        invoice_seq=seq,
    )
    if posting.inline:
        ops.extend(ledger_store.put_lines_ops(account_id, part.invoice_id, part.lines))
    paid = [op for op in ops if isinstance(op, Planned)]  # invoice.paid of what it settled: after its issue
    ops = [op for op in ops if not isinstance(op, Planned)]
    ops += [
        ledger_store.put_invoice(inv, already_posted(part.invoice_id)),
        ledger_store.update_balance(balance, after, past_due_delta=-cleared),
        ledger_store.put_entry(account_id, entry),
        *outbound.issued(inv),
        *paid,
        *outbound.past_due_moved(balance, -cleared),
    ]
    return ops, inv
