"""The monthly run (DESIGN §4).

- `fan_out(run_date)`: the daily schedule sends one message per shard to `billing-run`.
- `dispatch_shard(shard, run_date)`: a shard worker pages through the sparse due index (accounts whose
  recurring date, or dunning retry, is on or before the run date) and sends one message per account to
  `billing-account`, in batches of 10.
- `bill_account(account_id, run_date)`: every period that starts on or before the run date, oldest
  first (a late run catches up in one go; a re-run of the date bills nothing more). Per period: the
  Recurring invoice (fees in advance for active items after anniversary cancellations, usage of the
  past period in arrears, unapplied credit consumed), posted with an id derived from (account, period)
  in ONE transaction with the cycle advance (conditional on the billed date) and the usage seal; then
  the off-session charge, the PDF and one notice, each recorded as done so a redelivery finishes
  without repeating any step.
- `retry_account(account_id, run_date)`: dunning — charge again on the configured days (3, 7, 14 after
  the invoice by default) with reminders; past due after the last failure, until paid.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from functions.accounts.service import (
    SHARDS,
    AccountAccess,
    AccountRecord,
    RetryEntry,
    advance_cycle,
    clear_retry,
    due_accounts,
    get_account,
    get_retry,
    mark_past_due,
    next_recurring_date,
    previous_recurring_date,
    schedule_retry,
)
from functions.billing_items.service import billable_items, end_due_cancellations, fee_lines
from functions.billing_run import emails, store
from functions.core import email, ledger, queues
from functions.core.audit import Actor
from functions.core.errors import ConflictError, NotFoundError
from functions.core.ids import recurring_invoice_id
from functions.core.logs import get_logger
from functions.core.money import minimum_charge
from functions.core.resources import BILLING_ACCOUNT, BILLING_RUN
from functions.core.settings import get_settings
from functions.core.uow import UnitOfWork, retrying
from functions.invoices.service import store_pdf
from functions.payments.service import (
    ChargeableCard,
    charge_invoice_off_session,
    chargeable_card,
    off_session_attempt,
)
from functions.usage.service import check_shard, seal_period, usage_lines

RUN_QUEUE = BILLING_RUN
ACCOUNT_QUEUE = BILLING_ACCOUNT
PAGE = 100


def retry_days() -> tuple[int, ...]:
    """Days after the invoice when a failed charge is tried again (BILLOW_DUNNING_DAYS, default 3,7,14)."""
    return get_settings().dunning_days


@dataclass(frozen=True)
class Outcome:
    account_id: str
    result: str  # invoiced | skipped | charged | declined | requires_action | ...
    invoice_id: str | None = None


# ---- fan-out ------------------------------------------------------------------------------------


def fan_out(run_date: date) -> int:
    """One message per shard; the run date travels in the messages."""
    for shard in range(SHARDS):
        queues.send(RUN_QUEUE, {"shard": shard, "run_date": run_date.isoformat()})
    return SHARDS


def dispatch_shard(shard: int, run_date: date) -> int:
    """Send one message per due account (and per dunning retry) of a shard; returns how many."""
    sent = 0
    for kind in ("due", "retry"):
        last_key: dict[str, Any] | None = None
        while True:
            ids, last_key = due_accounts(kind, shard, run_date, PAGE, last_key)
            bodies = [{"account_id": i, "run_date": run_date.isoformat(), "kind": kind} for i in ids]
            for start in range(0, len(bodies), 10):
                queues.send_batch(ACCOUNT_QUEUE, bodies[start : start + 10])
            sent += len(bodies)
            if last_key is None:
                break
    check_shard(shard)  # the daily budget check of the shard's accounts with a budget (issue 17)
    return sent


def handle_account_message(body: dict[str, Any]) -> Outcome:
    run_date = date.fromisoformat(body["run_date"])
    if body.get("kind") == "retry":
        return retry_account(body["account_id"], run_date)
    return bill_account(body["account_id"], run_date)


# ---- the Recurring invoice ----------------------------------------------------------------------


# A Recurring invoice whose total would pass the amount limit (MAX_AMOUNT) is split into at most this
# many invoices, all posted in one transaction (4 items each, with the balance, the cycle and the seal).
MAX_PARTS = 20


def recurring_parts(account_id: str, billed_on: date, period_end: date, lines: list[ledger.Line]) -> list[ledger.Part]:
    """The Recurring invoice of [billed_on, period_end) as posted: one invoice, or — when its total would
    pass the amount limit — several, each within it, each with its own deterministic id (DESIGN §3 v4)."""
    split = ledger.split_lines(lines)
    if len(split) > MAX_PARTS:
        raise ValueError(f"account {account_id}: {len(split)} invoices for one period; more than {MAX_PARTS}")
    description = f"Recurring: {billed_on.isoformat()} to {period_end.isoformat()}"
    return [
        ledger.Part(
            recurring_invoice_id(account_id, billed_on, n),
            description if len(split) == 1 else f"{description} ({n} of {len(split)})",
            part_lines,
        )
        for n, part_lines in enumerate(split, 1)
    ]


def bill_account(account_id: str, run_date: date) -> Outcome:
    """Every period of the account that starts on or before `run_date`, oldest first, in one go (a
    run late by several periods catches up; DESIGN §4 v4 "Catching up"). A re-run of the date finds
    nothing left to bill, whatever the lag, and only finishes what a crash may have left undone.
    Returns the outcome of the latest period billed (or, on a re-run, of the last one billed)."""
    try:
        account = get_account(account_id)
    except NotFoundError:
        return Outcome(account_id, "skipped")
    if account.type == "lite" or account.next_recurring_date is None:
        return Outcome(account_id, "skipped")
    if account.past_due:
        balance = ledger.get_balance(account_id)
        if balance is not None and balance.current <= 0:
            UnitOfWork().add(mark_past_due(account_id, False)).commit()  # paid since the last failed retry
    outcome = _finish_last(account, run_date)
    while account.next_recurring_date is not None and account.next_recurring_date <= run_date:
        billed_on = account.next_recurring_date
        outcome = _bill_period(account, billed_on, run_date)
        account = get_account(account_id)  # advanced by the posting (ours or another worker's)
        if account.next_recurring_date is None or account.next_recurring_date <= billed_on:
            break  # not advanced past the period: nothing more this run can bill
    return outcome or Outcome(account_id, "skipped")


def _finish_last(account: AccountRecord, run_date: date) -> Outcome | None:
    """The last period billed, finished if a crash left one of its steps undone (a redelivery, maybe
    in the middle of a catch-up). When nothing is left to bill its outcome is the run's answer."""
    last = account.last_recurring_date
    runs = store.get_parts(account.id, last) if last else []
    if not runs or last is None:
        return None
    more = account.next_recurring_date is not None and account.next_recurring_date <= run_date
    if more and all(run.charge is not None and run.pdf_stored and run.notice_sent for run in runs):
        return None  # complete: go on with the periods still due
    return _finish_parts(account, last, runs)


def _bill_period(account: AccountRecord, billed_on: date, run_date: date) -> Outcome:
    """One period: the Recurring invoice starting `billed_on` with the cycle advance, then its steps."""
    account_id = account.id
    period_end = next_recurring_date(account.billing_day, billed_on)
    usage_start = previous_recurring_date(account.billing_day, billed_on)
    items = billable_items(account_id)
    end_due_cancellations(items, billed_on)  # an anniversary cancellation takes effect first
    lines = fee_lines(account_id, items, billed_on, period_end) + usage_lines(
        account_id, account.currency, usage_start, billed_on
    )
    parts = recurring_parts(account_id, billed_on, period_end, lines)
    invoice_id = parts[0].invoice_id
    # dated on its recurring date, even when the run is late or replayed
    posting = ledger.prepare(account_id, type="recurring", parts=parts, period=(billed_on, period_end), on=billed_on)

    def attempt() -> list[ledger.Invoice]:
        ops, invoices = ledger.post_invoices(posting)
        UnitOfWork().add(
            *ops,
            advance_cycle(account, billed_on),
            seal_period(account_id, usage_start, invoice_id),
            *(store.put_new(account_id, billed_on, p.invoice_id, run_date, n) for n, p in enumerate(parts, 1)),
        ).commit()
        return invoices

    try:
        invoices = retrying(attempt)
    except ConflictError:
        # Another worker posted it (already-posted / already-billed): finish its steps from the records.
        runs = store.get_parts(account_id, billed_on)
        return _finish_parts(account, billed_on, runs) if runs else Outcome(account_id, "skipped")
    fresh = [
        store.Run(account_id, billed_on, p.invoice_id, None, None, False, False, n) for n, p in enumerate(parts, 1)
    ]
    return _finish_parts(account, billed_on, fresh, invoices, [p.lines for p in parts])


def _finish_parts(
    account: AccountRecord,
    billed_on: date,
    runs: list[store.Run],
    invoices: list[ledger.Invoice] | None = None,
    lines: list[list[ledger.Line]] | None = None,
) -> Outcome:
    """_finish for each invoice of the period (one, or the parts of a split), in order. The outcome is
    the first part's, unless a later part's charge did not go through."""
    outcomes = [
        _finish(account, billed_on, run, invoices[i] if invoices else None, lines[i] if lines else None)
        for i, run in enumerate(runs)
    ]
    return next((o for o in outcomes[1:] if o.result in ("declined", "requires_action")), outcomes[0])


def _finish(
    account: AccountRecord,
    billed_on: date,
    run: store.Run,
    inv: ledger.Invoice | None = None,
    lines: list[ledger.Line] | None = None,
) -> Outcome:
    """The steps after the invoice, each once: charge, PDF, notice. A first pass uses what it just
    posted; a redelivery reads the run record and the invoice."""
    redelivered = inv is None
    inv = inv or ledger.get_invoice(account.id, run.invoice_id)
    if inv is None:
        return Outcome(account.id, "skipped")
    card = chargeable_card(account.id)
    charge, payment_id = run.charge, run.payment_id
    made = off_session_attempt(account.id, inv.id, 1) if charge is None and redelivered else None
    if made is not None:  # the charge of a run that failed before recording it (it may have paid the invoice)
        charge, payment_id = made.status, made.payment_id
    elif charge is None:
        charge, payment_id = _charge(account, inv, 1, card)
        # One retry entry per account: a later part of a split invoice keeps the first part's (the retry
        # charges the other parts still open after it).
        if charge in ("declined", "requires_action") and retry_days() and not _earlier_part_retried(run):
            retry = RetryEntry(account.id, billed_on + timedelta(days=retry_days()[0]), 2, inv.id)
            UnitOfWork().add(schedule_retry(retry)).commit()
    due = _due_at_issue(inv)
    if not run.pdf_stored:
        if charge in ("succeeded", "processing"):
            inv = ledger.get_invoice(account.id, inv.id) or inv  # the PDF shows the payment applied
        access = AccountAccess(account, Actor("billing-run", "system"), "operator")
        store_pdf(access, inv, lines)
    if run.charge is None or not run.pdf_stored:
        store.mark(account.id, billed_on, run.part, charge=charge, payment_id=payment_id, pdf_stored="yes")
    if not run.notice_sent:
        retry_on = billed_on + timedelta(days=retry_days()[0]) if retry_days() else None
        link = payment_page(account.id, payment_id) if charge == "requires_action" and payment_id else ""
        _send(account, inv, charge, retry=retry_on, due=due, card=card, link=link)
        store.mark(account.id, billed_on, run.part, notice_sent="yes")
    return Outcome(account.id, charge, inv.id)


def _earlier_part_retried(run: store.Run) -> bool:
    """Whether the account's retry entry is for an earlier part of the same split invoice."""
    if run.part == 1:
        return False
    entry = get_retry(run.account_id)
    earlier = {recurring_invoice_id(run.account_id, run.billed_on, n) for n in range(1, run.part)}
    return entry is not None and entry.invoice_id in earlier


def _open_parts(account_id: str, inv: ledger.Invoice) -> list[ledger.Invoice]:
    """The parts of the split Recurring invoice that come after `inv` and are still owed (none when it
    was not split): a retry charges them after `inv`."""
    ids = [r.invoice_id for r in store.get_parts(account_id, inv.date)] if inv.type == "recurring" else []
    later = ids[ids.index(inv.id) + 1 :] if inv.id in ids else []
    parts = [ledger.get_invoice(account_id, i) for i in later]
    return [p for p in parts if p is not None and p.balance_due > 0]


def _charge(
    account: AccountRecord, inv: ledger.Invoice, attempt: int, card: ChargeableCard | None
) -> tuple[str, str | None]:
    if inv.balance_due <= 0:
        return "nothing_due", None
    if account.type == "subscription" and card is None:
        return "no_card", None  # subscription accounts without a card pay invoices themselves
    if inv.balance_due < minimum_charge(account.currency):
        return "below_minimum", None  # carried forward, never dunned
    result = charge_invoice_off_session(account.id, inv.id, inv.balance_due, attempt)
    return result.status, result.payment_id


def payment_page(account_id: str, payment_id: str) -> str:
    """The console's page for a payment, where Stripe.js completes 3-D Secure with the payment's
    client_secret (GET /v1/accounts/{id}/payments/{payment_id} gives it to the console)."""
    return f"{get_settings().console_url}/accounts/{account_id}/payments/{payment_id}"


def _due_at_issue(inv: ledger.Invoice) -> int:
    """What the invoice left to pay when it was issued (after unapplied credit, before any payment):
    what the notice says was charged or is due, the same on a redelivery after the charge."""
    return inv.total - sum(a.amount for a in inv.applications if a.kind == "unapplied_credit")


def _send(
    account: AccountRecord,
    inv: ledger.Invoice,
    outcome: str,
    retry: date | None = None,
    link: str = "",
    due: int | None = None,
    card: ChargeableCard | None = None,
) -> None:
    contact = account.billing_contact or {}
    notice = emails.Notice(
        to=contact.get("email", ""),
        contact_name=contact.get("name", ""),
        account_name=account.name,
        locale=account.locale,
        seller=get_settings().seller_name,
        number=inv.number,
        date=inv.date,
        currency=inv.currency,
        total=inv.total,
        due=inv.balance_due if due is None else due,
        outcome=outcome,
        card=f"{card.brand} •••• {card.last4}" if card else "",
        retry=retry,
        link=link,
    )
    if notice.to:
        email.send(emails.build(notice))


# ---- dunning ------------------------------------------------------------------------------------


def retry_account(account_id: str, run_date: date) -> Outcome:
    """A scheduled retry: charge again (attempt n), or stop when the invoice was paid meanwhile."""
    entry = get_retry(account_id)
    if entry is None or entry.on > run_date:
        return Outcome(account_id, "skipped")
    account = get_account(account_id)
    first = ledger.get_invoice(account_id, entry.invoice_id)
    # The invoice, then the later parts of its split (if it was split at the amount limit) still owed.
    owed = []
    if first is not None:
        owed = ([first] if first.balance_due > 0 else []) + _open_parts(account_id, first)
    if not owed:
        UnitOfWork().add(clear_retry(account_id), mark_past_due(account_id, False)).commit()
        return Outcome(account_id, "paid", entry.invoice_id)
    card = chargeable_card(account_id)
    for inv in owed:
        outcome, payment_id = _charge(account, inv, entry.attempt, card)
        if outcome not in ("succeeded", "processing", "nothing_due"):
            break
    days = retry_days()
    if outcome in ("succeeded", "processing", "nothing_due"):
        UnitOfWork().add(clear_retry(account_id), mark_past_due(account_id, False)).commit()
        return Outcome(account_id, outcome, inv.id)
    # Attempt 1 was the run's own charge; attempt n (n >= 2) happens days[n - 2] days after the invoice.
    next_index = entry.attempt - 1
    if next_index < len(days):
        on = inv.date + timedelta(days=days[next_index])
        UnitOfWork().add(schedule_retry(RetryEntry(account_id, on, entry.attempt + 1, inv.id))).commit()
        link = payment_page(account_id, payment_id) if outcome == "requires_action" and payment_id else ""
        _send(account, inv, "requires_action" if link else "reminder", card=card, link=link)
        return Outcome(account_id, outcome, inv.id)
    UnitOfWork().add(clear_retry(account_id), mark_past_due(account_id, True)).commit()
    _send(account, inv, "past_due", card=card)
    get_logger().info("account past due", account_id=account_id, invoice_id=inv.id)
    return Outcome(account_id, "past_due", inv.id)
