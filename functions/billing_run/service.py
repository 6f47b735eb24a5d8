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
  one notice, the invoice's PDF render queued and its collection requested (payments' `invoice_issued`
  hook: the `pdf-render` worker renders it, the collector charges it ~60 s later, with any other invoice
  open — no charging or rendering of the run's own), recorded as done so a redelivery finishes without
  repeating any step (the run record's `pdf_stored` now says "render queued").
- A `retry#` entry of the due index (a collection's dunning retry, a lost collection message, a carried
  balance's write-off date; v3's dunning retries, adopted) goes to the collector (payments.collect).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from functions.accounts.service import (
    CLOSING,
    SHARDS,
    AccountAccess,
    AccountRecord,
    advance_cycle,
    closed_ops,
    due_accounts,
    due_date,
    get_account,
    next_recurring_date,
    previous_recurring_date,
)
from functions.billing_items.service import billable_items, end_due_cancellations, fee_lines
from functions.billing_run import store
from functions.core import ledger, metrics, outbox, queues
from functions.core.audit import Actor
from functions.core.errors import ConflictError, NotFoundError
from functions.core.ids import recurring_invoice_id
from functions.core.resources import BILLING_ACCOUNT, BILLING_RUN
from functions.core.uow import UnitOfWork, retrying
from functions.invoices.service import finish_closure
from functions.payments.service import REMIND, collect, invoice_issued, remind_invoices
from functions.usage.service import check_shard, seal_period, usage_lines

RUN_QUEUE = BILLING_RUN
RUN = Actor("billing-run", "system")
ACCOUNT_QUEUE = BILLING_ACCOUNT
PAGE = 100


@dataclass(frozen=True)
class Outcome:
    account_id: str
    result: str  # invoiced | skipped (a period) | what the collector did (a retry#: dunning, succeeded, ...)
    invoice_id: str | None = None


# ---- fan-out ------------------------------------------------------------------------------------


def manual_run_date(event: dict[str, Any]) -> date | None:
    """The `date` of a manual invocation of the daily run (`{"date": "YYYY-MM-DD"}`); None for the
    schedule's own event. A date that is not YYYY-MM-DD fails the invocation (nothing is sent)."""
    value = event.get("date")
    if value is None:
        return None
    try:
        if not isinstance(value, str) or len(value) != 10:
            raise ValueError
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"the daily run's manual date must be a real date as YYYY-MM-DD, not {value!r}") from None


def fan_out(run_date: date) -> int:
    """One message per shard; the run date travels in the messages."""
    for shard in range(SHARDS):
        queues.send(RUN_QUEUE, {"shard": shard, "run_date": run_date.isoformat()})
    return SHARDS


def dispatch_shard(shard: int, run_date: date) -> int:
    """Send one message per due account (and per dunning retry) of a shard; returns how many."""
    sent = 0
    for kind in ("due", "retry", REMIND):
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
    completed(shard, run_date, sent)
    return sent


def completed(shard: int, run_date: date, dispatched: int) -> bool:
    """billing_run.completed, once per (run date, shard) whatever the redeliveries: every due account,
    dunning retry and reminder of the shard has its message (account_id null, the run's own sequence)."""
    key = f"{run_date.isoformat()}#{shard}"
    done = {
        "object": "billing_run",
        "run_date": run_date.isoformat(),
        "shard": shard,
        "shards": SHARDS,
        "accounts_dispatched": dispatched,
    }
    try:
        UnitOfWork().add(outbox.once(outbox.RUN_SPACE, key), outbox.run_event("billing_run.completed", done)).commit()
    except outbox.AlreadyRecordedError:
        return False
    return True


def handle_account_message(body: dict[str, Any]) -> Outcome:
    run_date = date.fromisoformat(body["run_date"])
    if body.get("kind") == "retry":
        return Outcome(body["account_id"], collect(body["account_id"], None, run_date))
    if body.get("kind") == REMIND:
        sent = remind_invoices(body["account_id"], run_date)
        return Outcome(body["account_id"], f"reminded {sent}")
    try:
        outcome = bill_account(body["account_id"], run_date)
    except Exception:
        metrics.run_account(billed=False)  # the message comes back; a DLQ'd one alarms on its own
        raise
    metrics.run_account(billed=True)
    return outcome


# ---- the Recurring invoice ----------------------------------------------------------------------


# A Recurring invoice whose total would pass the amount limit (MAX_AMOUNT) is split into at most this
# many invoices, all posted in one transaction: per part its header, open pointer, entry and run record and
# its outbound events (invoice.issued, maybe invoice.paid), up to MAX_INLINE_LINES (40) lines in all, the
# balance, the cycle, the seal, the outbox counter: 9 x 6 + 40 + 4 <= 100 (issue 19: 9, was 20 before events).
MAX_PARTS = 9


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
    period = (billed_on, period_end)
    due = due_date(account, billed_on)
    posting = ledger.prepare(account_id, type="recurring", parts=parts, period=period, on=billed_on, due_date=due)

    # A closing account's invoice is its last (DESIGN §3 v4 Closure): it closes the account and takes it
    # off the due index instead of advancing its cycle.
    closing = account.status == CLOSING
    cycle = closed_ops(account, RUN, invoice_id) if closing else [advance_cycle(account, billed_on)]

    def attempt() -> list[ledger.Invoice]:
        ops, invoices = ledger.post_invoices(posting)
        UnitOfWork().add(
            *ops,
            *cycle,
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
    outcome = _finish_parts(account, billed_on, fresh, invoices)
    if closing:
        finish_closure(AccountAccess(account, RUN, "operator"))
    return outcome


def _finish_parts(
    account: AccountRecord,
    billed_on: date,
    runs: list[store.Run],
    invoices: list[ledger.Invoice] | None = None,
) -> Outcome:
    """_finish for each invoice of the period (one, or the parts of a split), in order; the outcome is
    the first part's."""
    outcomes = [_finish(account, billed_on, run, invoices[i] if invoices else None) for i, run in enumerate(runs)]
    return outcomes[0]


def _finish(
    account: AccountRecord,
    billed_on: date,
    run: store.Run,
    inv: ledger.Invoice | None = None,
) -> Outcome:
    """The steps after the invoice, once: its notice, its PDF render queued and its collection requested
    (payments' `invoice_issued`; `charge` records it: "requested"; `pdf_stored`: the render queued). A first
    pass uses what it just posted; a redelivery reads the run record and the invoice."""
    inv = inv or ledger.get_invoice(account.id, run.invoice_id)
    if inv is None:
        return Outcome(account.id, "skipped")
    if not run.pdf_stored or not run.notice_sent or run.charge is None:
        # The invoice notice every issuer sends (payments' invoice_issued: once per invoice, whoever calls
        # it), its PDF render queued and the account's collection requested (a collection already open
        # makes it a no-op).
        invoice_issued(account.id, [inv], account=account, raise_errors=True)
        store.mark(account.id, billed_on, run.part, pdf_stored="yes", notice_sent="yes", charge="requested")
    return Outcome(account.id, "invoiced", inv.id)
