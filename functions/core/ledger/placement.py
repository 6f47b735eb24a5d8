"""Money back (DESIGN §3 v4 "Money back, placed whatever happened since"): money refunded to a card,
or disputed, placed on unapplied credit, then on the invoices the payment's money is on, then on a
One-time invoice "Payment refunded" — once per Stripe refund id, whatever crashed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from functools import partial

from functions.core import clock, ledger_store
from functions.core.errors import ConcurrentUpdateError
from functions.core.ids import derived_id, new_id
from functions.core.ledger import outbound
from functions.core.ledger.invoices import Part, post_invoice, prepare
from functions.core.ledger.rules import (
    DEBIT_TYPES,
    MAX_SETTLE_PER_TRANSACTION,
    AlreadyPostedError,
    MoneyBack,
    read_balance,
)
from functions.core.ledger_store import Application, Entry, Invoice, Line
from functions.core.uow import Op, UnitOfWork, retrying

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
) -> tuple[list[Op], list[tuple[str, int]], set[str], int]:
    """Take up to `amount` back from the invoices `payment_id`'s money is on (`candidates`, newest first),
    at most MAX_SETTLE_PER_TRANSACTION of them, each read again (consistently) and guarded by its state.
    Each reopened invoice owes again: an application {source: payment, kind: money_back, -x, origin:
    the refund}. Returns the ops, what was taken where, the candidates this step leaves with nothing, and
    how many invoices marked past_due it reopens (the balance's count goes up by as many)."""
    ops: list[Op] = []
    reopened: list[tuple[str, int]] = []
    spent: set[str] = set()
    remaining, marked = amount, 0
    if not payment_id:
        return ops, reopened, spent, marked
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
                marked += 1 if inv.past_due else 0
            reopened.append((inv.id, take))
            if take == available:
                spent.add(invoice_id)
            remaining -= take
    return ops, reopened, spent, marked


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
    balance = read_balance(account_id)
    at = clock.iso(clock.now())
    use = min(max(balance.unapplied_credit, 0), left)
    lots = ledger_store.take_credit(balance.credit_lots, use, first=payment_id)[1]
    ops, reopened, spent, marked = _reopen(account_id, left - use, payment_id, candidates, refund_id, at)
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
        ledger_store.update_balance(balance, after, past_due_delta=marked),
        *outbound.past_due_moved(balance, marked),
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
    balance = read_balance(account_id)
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
