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
from functools import partial

from functions.core import clock, ledger_store, money
from functions.core.errors import (
    ConcurrentUpdateError,
    ConflictError,
    FieldError,
    NotFoundError,
    ValidationFailedError,
)
from functions.core.ids import derived_id, new_id
from functions.core.ledger_store import Application, Balance, Entry, Invoice, Line
from functions.core.money import MAX_AMOUNT
from functions.core.uow import Op, UnitOfWork, retrying

DEBIT_TYPES = ("new", "recurring", "one_time")
CREDIT_TYPES = ("credit", "refund")
INVOICE_TYPES = DEBIT_TYPES + CREDIT_TYPES

# Open invoices settled in one transaction: 2 items each (header + open pointer) stays well inside
# DynamoDB's 100-item limit next to the balance, entry, marker, audit and idempotency items.
MAX_SETTLE_PER_TRANSACTION = 20
# Lines written inside the invoice's transaction; more are written ahead by BatchWriteItem.
MAX_INLINE_LINES = 40
# The apply step moves money Stripe already took: its callers try harder before giving up (the webhook
# and the next read finish it anyway, DESIGN §3 v4 "Payments in flight").
APPLY_ATTEMPTS = 30

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


class AmountTooLargeError(ValidationFailedError):
    """An invoice line or total above MAX_AMOUNT (Stripe's 8 digits): nothing is posted."""

    code = "amount-too-large"
    title = "Amount too large"


@dataclass(frozen=True)
class MoneyIn:
    """Where money that came in went: invoices settled, and what is left as unapplied credit."""

    entry_seq: int
    applied: list[tuple[str, int]]
    unapplied: int
    balance_after: int


def _read_balance(account_id: str) -> Balance:
    balance = ledger_store.get_balance(account_id, consistent=True)
    if balance is None:
        raise NotFoundError(f"no ledger for account {account_id}", code="account-not-found")
    return balance


def allocate(
    account_id: str,
    amount: int,
    source: str,
    kind: str,
    target_invoice_id: str | None,
    at: str,
    *,
    release_target: int = 0,
    lots: tuple[ledger_store.CreditLot, ...] | None = None,
) -> tuple[list[Op], list[tuple[str, int]], int]:
    """The application rule (DESIGN §3), for every caller: money settles the targeted invoice first,
    then open invoices oldest first, at most MAX_SETTLE_PER_TRANSACTION of them; returns the ops,
    what went where, and the rest (which becomes unapplied credit). `release_target`: the payment's
    reservation on the targeted invoice, released in the same transaction (DESIGN §3 v4). Unapplied
    credit being applied passes its `lots`: each application then names the lot it came from
    (`origin`), oldest first."""
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
        if lots is None:
            applications = [Application(source, kind, take, at)]
        else:
            parts, lots = ledger_store.take_credit(lots, take)
            applications = [Application(source, kind, part, at, origin) for origin, part in parts]
        after = replace(
            inv,
            balance_due=inv.balance_due - take,
            amount_paid=inv.amount_paid + take,
            status="closed" if inv.balance_due == take else "open",
            applications=[*inv.applications, *applications],
        )
        release = release_target if invoice_id == target_invoice_id else 0
        ops.append(ledger_store.settle_invoice(inv, after, in_flight_delta=-release))
        if after.status == "closed":
            ops.append(ledger_store.delete_open(inv))
        applied.append((invoice_id, take))
        remaining -= take
    if release_target and target_invoice_id and target_invoice_id not in {i for i, _ in applied}:
        ops += ledger_store.release_in_flight(account_id, release_target, target_invoice_id, with_balance=False)
    return ops, applied, remaining


class ReservationMovedError(ConcurrentUpdateError):
    """The balance or the invoice moved between the read and the reservation's commit: read again."""


def _reservation_moved() -> ConcurrentUpdateError:
    return ReservationMovedError("the balance changed while this payment was reserved; retry")


def room(account_id: str, invoice_id: str | None = None) -> tuple[Balance, Invoice | None, int]:
    """What a new payment may take now (DESIGN §3 v4 "Payments in flight"): the balance less what is in
    flight, and with an invoice, also at most its balance due less what is in flight for it. Reads the
    balance first, then the invoice, so any write in between makes the reservation's conditions fail."""
    balance = _read_balance(account_id)
    available = balance.current - balance.in_flight
    invoice = None
    if invoice_id is not None:
        invoice = ledger_store.get_invoice(account_id, invoice_id)
        if invoice is None or invoice.status != "open":
            return balance, invoice, 0
        available = min(available, invoice.balance_due - invoice.in_flight)
    return balance, invoice, max(available, 0)


def reserve(account_id: str, amount: int, invoice_id: str | None = None) -> list[Op]:
    """The ops that reserve `amount` for a payment in flight, to commit with the payment's `creating`
    row; a payment above what is owed less what is in flight → 422 `amount-exceeds-balance`. When the
    commit is cancelled by ReservationMovedError, call again (it reads afresh)."""
    balance, invoice, available = room(account_id, invoice_id)
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


def _header(
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


def prepare(
    account_id: str,
    *,
    type: str,
    parts: list[Part],
    period: tuple[date, date] | None = None,
    on: date | None = None,
    target_invoice_id: str | None = None,
) -> Posting:
    """Check invoices before any attempt (AmountTooLargeError, 422, nothing written, if a line or an
    invoice's total is above MAX_AMOUNT) and write more than MAX_INLINE_LINES lines ahead by
    BatchWriteItem (the only write outside the invoices' transaction: lines no header points to yet).
    Debit invoices (`parts` may hold several: a split invoice) are dated `on` (default today); a
    credit or refund invoice is one part, its money applied to `target_invoice_id` first."""
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
    return Posting(account_id, type, parts, totals, inline, period, on, target_invoice_id)


def _already_posted(invoice_id: str) -> Callable[[], AlreadyPostedError]:
    return lambda: AlreadyPostedError(f"invoice {invoice_id} is already posted")


def post_invoices(posting: Posting) -> tuple[list[Op], list[Invoice]]:
    """Plan debit invoices in ONE transaction: consecutive numbers, headers, lines, one entry each and
    the balance, so a split invoice (DESIGN §3 v4 Amount limits) is all posted or not at all and its
    numbering stays gapless. Each consumes unapplied credit in turn. Returns the ops (the caller adds
    its own and commits; AlreadyPostedError if one was posted before) and the invoices."""
    account_id = posting.account_id
    balance = _read_balance(account_id)
    at = clock.iso(clock.now())
    ops: list[Op] = []
    invoices: list[Invoice] = []
    now = balance
    for part, total in zip(posting.parts, posting.totals, strict=True):
        seq = now.invoice_seq + 1
        inv = _header(now, seq, part.invoice_id, posting.type, total, part.description, len(part.lines), posting, at)
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
        ops.append(ledger_store.put_invoice(inv, _already_posted(part.invoice_id)))
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


def post_invoice(posting: Posting) -> tuple[list[Op], Invoice]:
    """Plan one invoice: a debit invoice consumes unapplied credit; a credit or refund invoice is issued
    closed and its money is applied (target first, then oldest open; the rest becomes unapplied credit,
    which `settle_unapplied_credit` applies further once committed). Returns the ops and the invoice."""
    if posting.type in DEBIT_TYPES:
        ops, (inv,) = post_invoices(posting)
        return ops, inv
    account_id, (part,), (total,) = posting.account_id, posting.parts, posting.totals
    balance = _read_balance(account_id)
    at = clock.iso(clock.now())
    seq = balance.invoice_seq + 1
    inv = _header(balance, seq, part.invoice_id, posting.type, total, part.description, len(part.lines), posting, at)
    ops, applied, rest = allocate(account_id, total, part.invoice_id, posting.type, posting.target_invoice_id, at)
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
    ops += [
        ledger_store.put_invoice(inv, _already_posted(part.invoice_id)),
        ledger_store.update_balance(balance, after),
        ledger_store.put_entry(account_id, entry),
    ]
    return ops, inv


def apply_payment(
    account_id: str,
    *,
    payment_id: str,
    amount: int,
    target_invoice_id: str | None = None,
    reserved: int = 0,
    kind: str = "payment",
) -> tuple[list[Op], MoneyIn]:
    """Plan a payment Stripe accepted: entry -amount and the money applied, once per payment id (the
    commit raises AlreadyPostedError the second time, whatever the order of webhooks and replies).
    `reserved`: what the payment holds in flight (on the balance, and on the targeted invoice),
    released in the same transaction. `kind` names other money in that is applied the same way:
    `money_back_reversed` (a refund to a card that failed after the fact), `dispute_won` (a disputed
    payment given back); nothing is reserved for those. Once committed, `settle_unapplied_credit`."""
    if amount <= 0:
        raise ValueError("a payment is greater than zero")
    balance = _read_balance(account_id)
    at = clock.iso(clock.now())
    ops, applied, rest = allocate(account_id, amount, payment_id, kind, target_invoice_id, at, release_target=reserved)
    entry = Entry(balance.entry_seq + 1, new_id("entry"), at, kind, payment_id, -amount, balance.current - amount)
    after = replace(
        balance,
        current=entry.balance_after,
        unapplied_credit=balance.unapplied_credit + rest,
        credit_lots=(*balance.credit_lots, (payment_id, rest)) if rest else balance.credit_lots,
        entry_seq=entry.seq,
    )

    def posted() -> AlreadyPostedError:
        return AlreadyPostedError(f"payment {payment_id} is already applied")

    ops += [
        ledger_store.put_ref(account_id, payment_id, entry.seq, posted),
        ledger_store.put_entry(account_id, entry),
        ledger_store.update_balance(balance, after, in_flight_delta=-reserved),
    ]
    return ops, MoneyIn(entry.seq, applied, rest, entry.balance_after)


@dataclass(frozen=True)
class MoneyBack:
    """Where money refunded to a card was placed: unapplied credit used, invoices reopened, and the
    One-time invoice "Payment refunded" that took what could be placed nowhere else (if any)."""

    entry_seq: int
    credit_used: int
    reopened: list[tuple[str, int]]
    balance_after: int
    invoice_id: str | None = None


# The description (and only line) of the One-time invoice that takes money back placed nowhere else.
PAYMENT_REFUNDED = "Payment refunded"


class PlacementMovedError(ConcurrentUpdateError):
    """Another delivery placed part of this money back since it was read: read again, place the rest."""


def held_by(inv: Invoice, payment_id: str) -> int:
    """What of `payment_id`'s money is on `inv`: applied by it directly, or through the unapplied
    credit it left (applications whose `origin` is it), less what money back already took from it."""
    held = sum(a.amount for a in inv.applications if payment_id in (a.source, a.origin))
    return max(0, min(held, inv.amount_paid))


def _paid_by(account_id: str, payment_id: str | None, hint_ids: Sequence[str], need: int) -> list[str]:
    """The debit invoices `payment_id`'s money is on, newest first (date, number): a walk of the date
    index, page after page — never only the newest N invoices — until what they hold covers `need`;
    plus `hint_ids` (what the payment recorded it settled) should the index lag behind."""
    if not payment_id or need <= 0:
        return []
    found: dict[str, tuple[date, str]] = {}
    covered, last_key = 0, None
    while covered < need:
        page, last_key = ledger_store.list_invoices(account_id, limit=100, last_key=last_key, types=list(DEBIT_TYPES))
        for inv in page:
            if (held := held_by(inv, payment_id)) > 0:
                found[inv.id] = (inv.date, inv.number)
                covered += held
        if last_key is None:
            break
    if covered < need:
        missing = [i for i in hint_ids if i not in found]
        found |= {inv.id: (inv.date, inv.number) for inv in ledger_store.get_invoices(account_id, missing)}
    return sorted(found, key=lambda i: found[i], reverse=True)


def _reopen(
    account_id: str, amount: int, payment_id: str | None, candidates: Sequence[str], refund_id: str, at: str
) -> tuple[list[Op], list[tuple[str, int]], set[str]]:
    """Take up to `amount` back from the invoices `payment_id`'s money is on (`candidates`, newest first),
    at most MAX_SETTLE_PER_TRANSACTION of them, each read again (consistently) and guarded by its state.
    Each reopened invoice owes again: an application {source: payment, kind: money_back, -x, origin:
    the refund}. Returns the ops, what was taken where, and the candidates this step leaves with nothing."""
    ops: list[Op] = []
    reopened: list[tuple[str, int]] = []
    spent: set[str] = set()
    remaining = amount
    if not payment_id:
        return ops, reopened, spent
    for start in range(0, len(candidates), MAX_SETTLE_PER_TRANSACTION):
        if remaining == 0 or len(reopened) == MAX_SETTLE_PER_TRANSACTION:
            break
        batch = list(candidates[start : start + MAX_SETTLE_PER_TRANSACTION])
        invoices = {inv.id: inv for inv in ledger_store.get_invoices(account_id, batch)}
        for invoice_id in batch:
            inv = invoices.get(invoice_id)
            available = held_by(inv, payment_id) if inv else 0
            if remaining == 0 or len(reopened) == MAX_SETTLE_PER_TRANSACTION:
                break
            if inv is None or available <= 0:
                spent.add(invoice_id)
                continue
            take = min(remaining, available)
            after = replace(
                inv,
                status="open",
                balance_due=inv.balance_due + take,
                amount_paid=inv.amount_paid - take,
                applications=[*inv.applications, Application(payment_id, "money_back", -take, at, refund_id)],
            )
            ops.append(ledger_store.settle_invoice(inv, after))
            if inv.status != "open":
                ops.append(ledger_store.put_open(inv))
            reopened.append((inv.id, take))
            if take == available:
                spent.add(invoice_id)
            remaining -= take
    return ops, reopened, spent


@dataclass(frozen=True)
class _Unplaced:
    """What a step found it cannot place: `left` of the money back, with its placement so far."""

    progress: ledger_store.Placement | None
    total: int
    left: int


@dataclass(frozen=True)
class _Step:
    """One planned step of a money back: its ops, the result so far, the candidates it leaves with
    nothing, and whether it completes the placement."""

    ops: list[Op]
    result: MoneyBack
    spent: set[str]
    done: bool


def _place_step(
    account_id: str, refund_id: str, amount: int, payment_id: str | None, candidates: Sequence[str], so_far: MoneyBack
) -> _Step | _Unplaced:
    """Plan one transaction of a money back: entry +x for what it places — unapplied credit first (the
    payment's own lot before the others), then invoices the payment's money is on — with the balance,
    the reopened invoices and the placement marker (conditional on what was placed before: never
    twice); or, when nothing more can be placed, what is left."""
    progress = ledger_store.get_placement(account_id, refund_id)
    if progress is not None and progress.done:
        raise AlreadyPostedError(f"refund {refund_id} is already posted")
    total = progress.amount if progress else amount
    left = total - (progress.placed if progress else 0)
    balance = _read_balance(account_id)
    at = clock.iso(clock.now())
    use = min(max(balance.unapplied_credit, 0), left)
    lots = ledger_store.take_credit(balance.credit_lots, use, first=payment_id)[1]
    ops, reopened, spent = _reopen(account_id, left - use, payment_id, candidates, refund_id, at)
    placed = use + sum(take for _, take in reopened)
    if placed == 0:
        return _Unplaced(progress, total, left)
    entry = Entry(balance.entry_seq + 1, new_id("entry"), at, "money_back", refund_id, placed, balance.current + placed)
    after = replace(
        balance,
        current=entry.balance_after,
        unapplied_credit=balance.unapplied_credit - use,
        credit_lots=lots,
        entry_seq=entry.seq,
    )
    placement = ledger_store.Placement(total, total - left + placed, entry.seq)
    result = MoneyBack(
        entry.seq, so_far.credit_used + use, [*so_far.reopened, *reopened], entry.balance_after, so_far.invoice_id
    )
    ops += [
        ledger_store.put_placement(account_id, refund_id, progress, placement, _conflict_error),
        ledger_store.put_entry(account_id, entry),
        ledger_store.update_balance(balance, after),
    ]
    return _Step(ops, result, spent, placement.done)


def _step(
    account_id: str, refund_id: str, amount: int, payment_id: str | None, candidates: Sequence[str], so_far: MoneyBack
) -> _Step | _Unplaced:
    """A step planned, and committed here unless it is the last (the capped continuation, DESIGN §3)."""
    step = _place_step(account_id, refund_id, amount, payment_id, candidates, so_far)
    if isinstance(step, _Step) and not step.done:
        UnitOfWork().add(*step.ops).commit()
        return replace(step, ops=[])
    return step


def _conflict_error() -> ConcurrentUpdateError:
    return ConcurrentUpdateError("the money back was placed further while this request ran; retry")


def _post_unplaced(
    account_id: str, refund_id: str, unplaced: _Unplaced, so_far: MoneyBack
) -> tuple[list[Op], MoneyBack]:
    """What no credit and no invoice of the payment can take becomes a One-time invoice "Payment
    refunded" (entry +left), planned with the placement marker completed."""
    invoice_id = derived_id("inv", account_id, refund_id, "money-back")
    entry_seq = unplaced.progress.entry_seq if unplaced.progress else 0
    placement = ledger_store.Placement(unplaced.total, unplaced.total, entry_seq, invoice_id)

    def moved() -> PlacementMovedError:
        return PlacementMovedError(f"refund {refund_id} was placed further while this request ran")

    today = clock.today()
    lines = [Line(PAYMENT_REFUNDED, unplaced.left, today, today)]
    posting = prepare(account_id, type="one_time", parts=[Part(invoice_id, PAYMENT_REFUNDED, lines)])
    ops, inv = post_invoice(posting)
    ops.append(ledger_store.put_placement(account_id, refund_id, unplaced.progress, placement, moved))
    return ops, MoneyBack(so_far.entry_seq, so_far.credit_used, so_far.reopened, inv.balance_after, inv.id)


def money_back(
    account_id: str,
    *,
    refund_id: str,
    amount: int,
    payment_id: str | None = None,
    settled_invoice_ids: Sequence[str] = (),
) -> tuple[list[Op], MoneyBack]:
    """Money refunded to a card (+R, DESIGN §3 v4 "Money back, placed whatever happened since"): it
    first consumes unapplied credit, then reopens the invoices the refunded payment's money is on —
    settled directly (`settled_invoice_ids` and its applications) or through the credit it left —
    newest first, MAX_SETTLE_PER_TRANSACTION per transaction, each an entry +x keeping the invariant;
    what still cannot be placed becomes a One-time invoice "Payment refunded". It never fails for want
    of a place. Returns the ops of the step that completes it (the caller adds its own and commits) and
    the result; the steps before it are committed here, one transaction each (the capped continuation).

    Once per Stripe refund id: the REF#<refund id> marker records how much is placed, each step is
    conditional on it, so a call after a crash half-way finishes the placement and never doubles it;
    a call once it is complete raises AlreadyPostedError. A refund made outside billow
    (`charge.refunded`) is exactly this."""
    if amount <= 0:
        raise ValueError("money back is greater than zero")
    progress = ledger_store.get_placement(account_id, refund_id)
    if progress is not None and progress.done:
        raise AlreadyPostedError(f"refund {refund_id} is already posted")
    left = (progress.amount - progress.placed) if progress else amount
    balance = _read_balance(account_id)
    candidates = _paid_by(account_id, payment_id, settled_invoice_ids, left - max(balance.unapplied_credit, 0))
    result = MoneyBack(progress.entry_seq if progress else 0, 0, [], balance.current)
    rewalked = False
    while True:
        step = retrying(partial(_step, account_id, refund_id, amount, payment_id, candidates, result))
        if isinstance(step, _Unplaced):
            if not rewalked:  # the credit went elsewhere meanwhile: look further back before giving up
                rewalked, candidates = True, _paid_by(account_id, payment_id, settled_invoice_ids, step.left)
                if candidates:
                    continue
            return _post_unplaced(account_id, refund_id, step, result)
        if step.done:
            return step.ops, step.result
        result, candidates = step.result, [c for c in candidates if c not in step.spent]


def refund_to_card(
    account_id: str, *, invoice_id: str, refund_id: str, amount: int, description: str
) -> tuple[list[Op], Invoice]:
    """Plan a refund to a card through billow, after Stripe accepted it (DESIGN §3): a closed Refund
    invoice (entry -amount) whose money goes to unapplied credit, and the money back (entry +amount,
    deduped on the Stripe refund id) consuming it — one transaction. They net to zero and touch no
    other invoice. Returns the ops and the invoice."""
    if amount <= 0:
        raise ValueError("a refund is greater than zero")
    today = clock.today()
    lines = [Line(description=description, amount=amount, period_start=today, period_end=today)]
    balance = _read_balance(account_id)
    at = clock.iso(clock.now())
    seq = balance.invoice_seq + 1
    posting = Posting(account_id, "refund", [Part(invoice_id, description, lines)], [amount], True)
    inv = _header(balance, seq, invoice_id, "refund", amount, description, 1, posting, at)
    inv.status, inv.amount_paid, inv.balance_due = "closed", amount, 0
    inv.applied_to = [{"invoice_id": None, "amount": amount}]
    credit = Entry(balance.entry_seq + 1, new_id("entry"), at, "invoice", invoice_id, -amount, balance.current - amount)
    back = Entry(balance.entry_seq + 2, new_id("entry"), at, "money_back", refund_id, amount, balance.current)
    after = replace(balance, entry_seq=back.seq, invoice_seq=seq)

    def posted() -> AlreadyPostedError:
        return AlreadyPostedError(f"refund {refund_id} is already posted")

    ops = [
        *ledger_store.put_lines_ops(account_id, invoice_id, lines),
        ledger_store.put_invoice(inv, _already_posted(invoice_id)),
        ledger_store.put_entry(account_id, credit),
        ledger_store.put_entry(account_id, back),
        ledger_store.put_ref(account_id, refund_id, back.seq, posted),
        ledger_store.update_balance(balance, after),
    ]
    return ops, inv


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
            account_id,
            balance.unapplied_credit,
            "unapplied_credit",
            "unapplied_credit",
            None,
            at,
            lots=balance.credit_lots,
        )
        if not applied:
            return total_applied
        used = balance.unapplied_credit - rest
        lots = ledger_store.take_credit(balance.credit_lots, used)[1]
        try:
            UnitOfWork().add(
                *ops, ledger_store.update_balance(balance, replace(balance, unapplied_credit=rest, credit_lots=lots))
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
