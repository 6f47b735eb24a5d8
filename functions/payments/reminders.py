"""send_invoice accounts (DESIGN §3 v4 Collection): their debit invoices carry a `due_date` (issue +
`net_days`, set when posted: accounts.service.due_date) and are paid by the customer — in the console
(card, PayPal) or by bank transfer, booked by an operator as an offline payment. This module keeps
the dates after issue, for every open invoice that has a due date:

  due - 3 days    a reminder "due on …" (skipped when the invoice was issued later than that)
  due + 7 days    a reminder "overdue"
  due + 14 days   the invoice is marked past due in the ledger: the account is `past_due` until the
                  last such invoice is closed (core ledger, DESIGN §3 v4 past_due)

One entry per account on the due index (kind "remind") holds the next of these dates over all its open
invoices: `schedule_reminders` brings it forward when an invoice is issued, the shard workers of the daily run
find it on its day and `remind_invoices` does what is due, then moves the entry to the next date (or removes it).
Each reminder is sent once, never lost (its marker written after SES accepted it); a paid invoice gets none.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import date, timedelta

from functions.accounts.service import AccountRecord, get_account, schedule, unschedule
from functions.core import clock, email, ledger
from functions.core.errors import ConcurrentUpdateError, ConflictError
from functions.core.ledger import Invoice
from functions.core.links import invoice_page
from functions.core.uow import UnitOfWork, retrying
from functions.payments import emails, store

REMIND = "remind"
BEFORE_DAYS = 3
AFTER_DAYS = 7
PAST_DUE_DAYS = 14


def steps(due: date) -> list[tuple[date, str]]:
    """What happens to an open invoice due on `due`, and when."""
    return [
        (due - timedelta(days=BEFORE_DAYS), "before"),
        (due + timedelta(days=AFTER_DAYS), "after"),
        (due + timedelta(days=PAST_DUE_DAYS), "past_due"),
    ]


def schedule_reminders(account_id: str, invoices: Iterable[Invoice]) -> None:
    """Bring the account's reminder entry forward to the first step of these newly issued invoices (an
    entry already dated earlier stays)."""
    today = clock.today()
    dates = [
        max(on, today) for inv in invoices if inv.due_date and inv.status == "open" for on, _ in steps(inv.due_date)
    ]
    if not dates:
        return
    try:
        UnitOfWork().add(schedule(REMIND, account_id, min(dates), only_if_earlier=True)).commit()
    except ConflictError:
        pass  # an earlier date is already scheduled: that visit reschedules from every open invoice


def give_due_dates(account_id: str, switched_on: date, net_days: int) -> int:
    """An account switched to send_invoice: its open debit invoices without a due date become due
    `net_days` after the switch (DESIGN §3 v4), one invoice per write (each is idempotent: an invoice
    closed or dated meanwhile is left alone); then their reminders are scheduled. Returns how many."""
    due = switched_on + timedelta(days=net_days)
    dated = []
    for inv in ledger.all_open_invoices(account_id):
        if inv.due_date is not None or inv.type not in ledger.DEBIT_TYPES:
            continue
        try:
            UnitOfWork().add(ledger.set_due_date(inv, due)).commit()
        except ConcurrentUpdateError:
            continue  # paid or dated meanwhile
        dated.append(replace(inv, due_date=due))
    schedule_reminders(account_id, dated)
    return len(dated)


def remind_invoices(account_id: str, today: date) -> int:
    """The steps due on or before `today` for the account's open invoices with a due date; then the entry
    moves to the next step (or goes). Returns how many reminders were sent. Idempotent (sent markers;
    the past-due mark is set once by the ledger)."""
    account = get_account(account_id)
    sent, upcoming = 0, []
    for inv, due in _open_with_due_date(account_id):
        for on, step in steps(due):
            if on > today:
                upcoming.append(on)
            elif step == "past_due":
                retrying(lambda inv_id=inv.id: UnitOfWork().add(*ledger.mark_past_due(account_id, [inv_id])).commit())
            elif not (step == "before" and today >= due):
                sent += _send_once(account, inv, due, step)
    next_on = min(upcoming, default=None)
    UnitOfWork().add(schedule(REMIND, account_id, next_on) if next_on else unschedule(REMIND, account_id)).commit()
    return sent


def _open_with_due_date(account_id: str) -> list[tuple[Invoice, date]]:
    return [(inv, inv.due_date) for inv in ledger.all_open_invoices(account_id) if inv.due_date]


def _send_once(account: AccountRecord, inv: Invoice, due: date, step: str) -> int:
    what = f"remind-{step}"
    if store.notice_marked(inv.account_id, inv.id, what):
        return 0
    past_due_on = due + timedelta(days=PAST_DUE_DAYS)
    email.send(emails.invoice_reminder(account, inv, step, invoice_page(inv.account_id, inv.id), past_due_on))
    store.mark_notice(inv.account_id, inv.id, clock.iso(clock.now()), what)
    return 1
