"""The ledger: every balance change is an entry, written in the same transaction as the change
(DESIGN §3). One posting function for invoices, one for money in, one application rule for both.

Signs: New, Recurring, One-time invoices +total; Credit and Refund invoices -total; a payment
-amount; money refunded to a card +amount (`money_back`, `refund_to_card`).
Invariant per account: Σ entries = balance.current = Σ open balance_due - unapplied_credit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date

from functions.core import clock, ledger_store
from functions.core.errors import ConcurrentUpdateError, ConflictError, NotFoundError, ValidationFailedError
from functions.core.ids import new_id
from functions.core.ledger_store import Application, Balance, Entry, Invoice, Line
from functions.core.uow import Op, UnitOfWork

DEBIT_TYPES = ("new", "recurring", "one_time")
CREDIT_TYPES = ("credit", "refund")
INVOICE_TYPES = DEBIT_TYPES + CREDIT_TYPES

# Open invoices settled in one transaction: 2 items each (header + open pointer) stays well inside
# DynamoDB's 100-item limit next to the balance, entry, marker, audit and idempotency items.
MAX_SETTLE_PER_TRANSACTION = 20
# Lines written inside the invoice's transaction; more are written ahead by BatchWriteItem.
MAX_INLINE_LINES = 40
_ATTEMPTS = 8

open_balance = ledger_store.open_balance
get_balance = ledger_store.get_balance
get_invoice = ledger_store.get_invoice
get_lines = ledger_store.get_lines
list_invoices = ledger_store.list_invoices
invoice_refunded = ledger_store.get_invoice_refunded

__all__ = ["Application", "Balance", "Entry", "Invoice", "Line"]


class AlreadyPostedError(ConflictError):
    """This invoice, payment or refund was already posted to the ledger (a retry or a duplicate)."""

    code = "already-posted"
    title = "Already posted"


@dataclass(frozen=True)
class MoneyIn:
    """Where money that came in went: invoices settled, and what is left as unapplied credit."""

    entry_seq: int
    applied: list[tuple[str, int]]
    unapplied: int
    balance_after: int


ExtraOps = Callable[[Invoice | MoneyIn], Sequence[Op]]


def _no_ops(_: object) -> Sequence[Op]:
    return ()


def _retrying(work: Callable[[], object]) -> object:
    """Re-read and retry when another writer moved the balance first (the condition rejected us)."""
    for attempt in range(_ATTEMPTS):
        try:
            return work()
        except ConcurrentUpdateError:
            if attempt == _ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


def _read_balance(account_id: str) -> Balance:
    balance = ledger_store.get_balance(account_id, consistent=True)
    if balance is None:
        raise NotFoundError(f"no ledger for account {account_id}", code="account-not-found")
    return balance


def allocate(
    account_id: str, amount: int, source: str, kind: str, target_invoice_id: str | None, at: str
) -> tuple[list[Op], list[tuple[str, int]], int]:
    """The application rule (DESIGN §3), for every caller: money settles the targeted invoice first,
    then open invoices oldest first, at most MAX_SETTLE_PER_TRANSACTION of them; returns the ops,
    what went where, and the rest (which becomes unapplied credit)."""
    ids = ledger_store.open_invoice_ids(account_id, MAX_SETTLE_PER_TRANSACTION)
    if target_invoice_id:
        ids = [target_invoice_id] + [i for i in ids if i != target_invoice_id]
    ids = ids[:MAX_SETTLE_PER_TRANSACTION]
    invoices = {inv.id: inv for inv in ledger_store.get_invoices(account_id, ids)}
    ops: list[Op] = []
    applied: list[tuple[str, int]] = []
    remaining = amount
    for invoice_id in ids:
        inv = invoices.get(invoice_id)
        if remaining == 0 or inv is None or inv.status != "open" or inv.balance_due <= 0:
            continue
        take = min(remaining, inv.balance_due)
        after = replace(
            inv,
            balance_due=inv.balance_due - take,
            amount_paid=inv.amount_paid + take,
            status="closed" if inv.balance_due == take else "open",
            applications=[*inv.applications, Application(source, kind, take, at)],
        )
        ops.append(ledger_store.settle_invoice(inv, after))
        if after.status == "closed":
            ops.append(ledger_store.delete_open(inv))
        applied.append((invoice_id, take))
        remaining -= take
    return ops, applied, remaining


def post_invoice(
    account_id: str,
    *,
    invoice_id: str,
    type: str,
    lines: list[Line],
    description: str,
    period: tuple[date, date] | None = None,
    target_invoice_id: str | None = None,
    extra_ops: ExtraOps = _no_ops,
    on: date | None = None,
) -> Invoice:
    """Post an invoice (dated `on`, default today): number, header, lines, entry and balance in one transaction.

    A debit invoice consumes unapplied credit; a credit or refund invoice is issued closed and its
    money is applied (target first, then oldest open). `extra_ops(invoice)` adds the caller's ops
    (audit event, idempotency record, its own rows) to the same transaction.
    Raises AlreadyPostedError if `invoice_id` was posted before."""
    assert type in INVOICE_TYPES, type
    total = sum(line.amount for line in lines)
    if any(line.amount < 0 for line in lines) or (total == 0 and type != "recurring"):
        # A Recurring invoice may come to zero (nothing recurred, no usage): it is issued closed,
        # with no entry. Any other invoice moves money.
        raise ValueError("an invoice's lines are positive and its total greater than zero")
    if len(lines) > MAX_INLINE_LINES:
        ledger_store.write_lines_ahead(account_id, invoice_id, lines)

    def attempt() -> Invoice:
        balance = _read_balance(account_id)
        today = on or clock.today()
        at = clock.iso(clock.now())
        seq = balance.invoice_seq + 1
        inv = Invoice(
            account_id=account_id,
            id=invoice_id,
            number=f"{balance.account_number}-{seq:06d}",
            type=type,
            status="open",
            date=today,
            period_start=(period or (today, today))[0],
            period_end=(period or (today, today))[1],
            currency=balance.currency,
            subtotal=total,
            total=total,  # no tax in v1
            amount_paid=0,
            balance_due=total,
            description=description,
            line_count=len(lines),
            balance_before=balance.current,
            balance_after=balance.current,
            created_at=at,
        )
        ops: list[Op] = []
        unapplied = balance.unapplied_credit
        if type in DEBIT_TYPES:
            use = min(unapplied, total)
            unapplied -= use
            inv.balance_due = total - use
            inv.amount_paid = use
            if use:
                inv.applications = [Application("unapplied_credit", "unapplied_credit", use, at)]
            inv.status = "open" if inv.balance_due else "closed"
            inv.balance_after = balance.current + total
            if inv.status == "open":
                ops.append(ledger_store.put_open(inv))
        else:
            settle_ops, applied, rest = allocate(account_id, total, invoice_id, type, target_invoice_id, at)
            ops.extend(settle_ops)
            unapplied += rest
            inv.status, inv.balance_due, inv.amount_paid = "closed", 0, total
            inv.applied_to = [{"invoice_id": i, "amount": a} for i, a in applied]
            if rest:
                inv.applied_to.append({"invoice_id": None, "amount": rest})
            inv.balance_after = balance.current - total
        entry = Entry(
            balance.entry_seq + 1,
            new_id("entry"),
            at,
            "invoice",
            invoice_id,
            inv.balance_after - balance.current,
            inv.balance_after,
        )
        entry_seq = entry.seq if total else balance.entry_seq
        after = replace(
            balance, current=inv.balance_after, unapplied_credit=unapplied, entry_seq=entry_seq, invoice_seq=seq
        )
        if len(lines) <= MAX_INLINE_LINES:
            ops.extend(ledger_store.put_lines_ops(account_id, invoice_id, lines))
        ops += [
            ledger_store.put_invoice(inv, lambda: AlreadyPostedError(f"invoice {invoice_id} is already posted")),
            ledger_store.update_balance(balance, after),
        ]
        if total:
            ops.append(ledger_store.put_entry(account_id, entry))
        UnitOfWork().add(*ops, *extra_ops(inv)).commit()
        return inv

    posted = _retrying(attempt)
    assert isinstance(posted, Invoice)
    if posted.type in CREDIT_TYPES:
        settle_unapplied_credit(account_id)
    return posted


def apply_payment(
    account_id: str,
    *,
    payment_id: str,
    amount: int,
    target_invoice_id: str | None = None,
    extra_ops: ExtraOps = _no_ops,
    kind: str = "payment",
) -> MoneyIn:
    """A payment Stripe accepted: entry -amount and the money applied, once per payment id
    (a second call raises AlreadyPostedError, whatever the order of webhooks and replies).
    `kind` names other money in that is applied the same way: `money_back_reversed` (a refund to a
    card that failed after the fact), `dispute_won` (a disputed payment given back)."""
    if amount <= 0:
        raise ValueError("a payment is greater than zero")

    def attempt() -> MoneyIn:
        balance = _read_balance(account_id)
        at = clock.iso(clock.now())
        ops, applied, rest = allocate(account_id, amount, payment_id, kind, target_invoice_id, at)
        entry = Entry(balance.entry_seq + 1, new_id("entry"), at, kind, payment_id, -amount, balance.current - amount)
        after = replace(
            balance, current=entry.balance_after, unapplied_credit=balance.unapplied_credit + rest, entry_seq=entry.seq
        )
        result = MoneyIn(entry.seq, applied, rest, entry.balance_after)
        ops += [
            ledger_store.put_ref(
                account_id,
                payment_id,
                entry.seq,
                lambda: AlreadyPostedError(f"payment {payment_id} is already applied"),
            ),
            ledger_store.put_entry(account_id, entry),
            ledger_store.update_balance(balance, after),
        ]
        UnitOfWork().add(*ops, *extra_ops(result)).commit()
        return result

    result = _retrying(attempt)
    assert isinstance(result, MoneyIn)
    settle_unapplied_credit(account_id)
    return result


@dataclass(frozen=True)
class MoneyBack:
    """Where money refunded to a card came from: unapplied credit used, invoices reopened."""

    entry_seq: int
    credit_used: int
    reopened: list[tuple[str, int]]
    balance_after: int


def _reopen(
    account_id: str, amount: int, payment_id: str | None, settled_invoice_ids: Sequence[str], refund_id: str, at: str
) -> tuple[list[Op], list[tuple[str, int]]]:
    """Take `amount` back from invoices: first those the refunded payment settled (what it still holds on
    each, newest first), then, if the payment's money has since moved on (its unapplied credit paid later
    invoices), the newest invoices that were paid, newest first. Each reopened invoice owes again."""
    ops: list[Op] = []
    reopened: list[tuple[str, int]] = []
    remaining = amount
    own = ledger_store.get_invoices(account_id, list(settled_invoice_ids)[:MAX_SETTLE_PER_TRANSACTION])
    own.sort(key=lambda i: (i.date, i.number), reverse=True)
    candidates: list[tuple[Invoice, int, str]] = []
    for inv in own:
        held = sum(a.amount for a in inv.applications if a.source == payment_id)
        candidates.append((inv, min(held, inv.amount_paid), payment_id or refund_id))
    if remaining > sum(c[1] for c in candidates):
        recent, _ = ledger_store.list_invoices(account_id, limit=MAX_SETTLE_PER_TRANSACTION, last_key=None)
        seen = {inv.id for inv in own}
        candidates += [
            (inv, inv.amount_paid, refund_id)
            for inv in recent
            if inv.type in DEBIT_TYPES and inv.amount_paid > 0 and inv.id not in seen
        ]
    for inv, available, source in candidates:
        if remaining == 0:
            break
        take = min(remaining, available)
        if take <= 0:
            continue
        after = replace(
            inv,
            status="open",
            balance_due=inv.balance_due + take,
            amount_paid=inv.amount_paid - take,
            applications=[*inv.applications, Application(source, "money_back", -take, at)],
        )
        ops.append(ledger_store.settle_invoice(inv, after))
        if inv.status != "open":
            ops.append(ledger_store.put_open(inv))
        reopened.append((inv.id, take))
        remaining -= take
    if remaining:
        raise ValueError(f"money back of {amount}: {remaining} could not be placed on any paid invoice")
    return ops, reopened


def money_back(
    account_id: str,
    *,
    refund_id: str,
    amount: int,
    payment_id: str | None = None,
    settled_invoice_ids: Sequence[str] = (),
    extra_ops: Callable[[MoneyBack], Sequence[Op]] = _no_ops,
) -> MoneyBack:
    """Money refunded to a card (+R, DESIGN §3): entry +amount; it first consumes unapplied credit, then
    reopens the invoices the refunded payment settled (`settled_invoice_ids`, newest first), then — if
    that payment's money has moved on — the newest paid invoices. Once per Stripe refund id (a second
    call raises AlreadyPostedError). A refund made outside billow (`charge.refunded`) is exactly this."""
    if amount <= 0:
        raise ValueError("money back is greater than zero")

    def attempt() -> MoneyBack:
        balance = _read_balance(account_id)
        at = clock.iso(clock.now())
        use = min(balance.unapplied_credit, amount)
        ops, reopened = _reopen(account_id, amount - use, payment_id, settled_invoice_ids, refund_id, at)
        entry = Entry(
            balance.entry_seq + 1, new_id("entry"), at, "money_back", refund_id, amount, balance.current + amount
        )
        after = replace(
            balance, current=entry.balance_after, unapplied_credit=balance.unapplied_credit - use, entry_seq=entry.seq
        )
        result = MoneyBack(entry.seq, use, reopened, entry.balance_after)
        ops += [
            ledger_store.put_ref(
                account_id, refund_id, entry.seq, lambda: AlreadyPostedError(f"refund {refund_id} is already posted")
            ),
            ledger_store.put_entry(account_id, entry),
            ledger_store.update_balance(balance, after),
        ]
        UnitOfWork().add(*ops, *extra_ops(result)).commit()
        return result

    result = _retrying(attempt)
    assert isinstance(result, MoneyBack)
    return result


def refund_to_card(
    account_id: str,
    *,
    invoice_id: str,
    refund_id: str,
    amount: int,
    description: str,
    extra_ops: Callable[[Invoice], Sequence[Op]] = _no_ops,
) -> Invoice:
    """A refund to a card through billow, after Stripe accepted it (DESIGN §3): a closed Refund invoice
    (entry -amount) whose money goes to unapplied credit, and the money back (entry +amount, deduped on
    the Stripe refund id) consuming it — one transaction. They net to zero and touch no other invoice."""
    if amount <= 0:
        raise ValueError("a refund is greater than zero")
    today = clock.today()
    lines = [Line(description=description, amount=amount, period_start=today, period_end=today)]

    def attempt() -> Invoice:
        balance = _read_balance(account_id)
        at = clock.iso(clock.now())
        seq = balance.invoice_seq + 1
        inv = Invoice(
            account_id=account_id,
            id=invoice_id,
            number=f"{balance.account_number}-{seq:06d}",
            type="refund",
            status="closed",
            date=today,
            period_start=today,
            period_end=today,
            currency=balance.currency,
            subtotal=amount,
            total=amount,
            amount_paid=amount,
            balance_due=0,
            description=description,
            line_count=1,
            balance_before=balance.current,
            balance_after=balance.current,
            created_at=at,
            applied_to=[{"invoice_id": None, "amount": amount}],
        )
        credit = Entry(
            balance.entry_seq + 1, new_id("entry"), at, "invoice", invoice_id, -amount, balance.current - amount
        )
        back = Entry(balance.entry_seq + 2, new_id("entry"), at, "money_back", refund_id, amount, balance.current)
        after = replace(balance, entry_seq=back.seq, invoice_seq=seq)
        ops = [
            *ledger_store.put_lines_ops(account_id, invoice_id, lines),
            ledger_store.put_invoice(inv, lambda: AlreadyPostedError(f"invoice {invoice_id} is already posted")),
            ledger_store.put_entry(account_id, credit),
            ledger_store.put_entry(account_id, back),
            ledger_store.put_ref(
                account_id, refund_id, back.seq, lambda: AlreadyPostedError(f"refund {refund_id} is already posted")
            ),
            ledger_store.update_balance(balance, after),
        ]
        UnitOfWork().add(*ops, *extra_ops(inv)).commit()
        return inv

    posted = _retrying(attempt)
    assert isinstance(posted, Invoice)
    return posted


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


def settle_unapplied_credit(account_id: str) -> int:
    """Apply unapplied credit to open invoices, oldest first, a capped number per transaction, until
    either runs out. balance.current does not move (no entry): money only changes place. Each step
    keeps the invariant. Returns the amount applied."""
    total_applied = 0
    while True:
        balance = _read_balance(account_id)
        if balance.unapplied_credit <= 0:
            return total_applied
        at = clock.iso(clock.now())
        ops, applied, rest = allocate(
            account_id, balance.unapplied_credit, "unapplied_credit", "unapplied_credit", None, at
        )
        if not applied:
            return total_applied
        used = balance.unapplied_credit - rest
        try:
            UnitOfWork().add(
                *ops, ledger_store.update_balance(balance, replace(balance, unapplied_credit=rest))
            ).commit()
        except ConcurrentUpdateError:
            continue
        total_applied += used


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
    balance = _read_balance(account_id)
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
    if balance.unapplied_credit < 0:
        problems.append(f"unapplied_credit is negative: {balance.unapplied_credit}")
    totals = {i.id: i.total for i in invoices}
    for invoice_id, refunded in sorted(ledger_store.invoice_refunded_totals(account_id).items()):
        if refunded < 0 or refunded > totals.get(invoice_id, 0):
            problems.append(f"invoice {invoice_id} is refunded {refunded} of its total {totals.get(invoice_id, 0)}")
    return AuditResult(account_id, total, balance.current, open_due, balance.unapplied_credit, problems)


def audited_account_ids() -> list[str]:
    return ledger_store.balance_account_ids()
