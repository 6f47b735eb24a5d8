"""The collector's dunning and carrying forward (DESIGN §3 v4 Collection; docs/collections.md).

- A decline, `authentication_required` or no valid card schedules the next attempt (dunning_days after
  the collection opened: 3, 7, 14), with an e-mail; the retry first cancels the previous PaymentIntent if
  it can still succeed (a refused cancel because it succeeded: that money is applied instead).
- A do-not-retry decline (DO_NOT_RETRY) ends dunning at once; so does the last retry: the collection's
  open invoices are marked past_due (core.ledger.mark_past_due: the flag lives with the balance).
- A new valid card retries at once (`card_added`).
- A balance carried below the minimum, still alone and below it `carry_write_off_days` after its latest
  invoice, is written off by a Credit invoice (reason `below-minimum`): `write_off_below_minimum`.
- v3's dunning (a `retry#` entry naming its invoice) is adopted as a collection in dunning.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

from functions.accounts.service import clear_retry, get_retry
from functions.core import audit, clock, ledger, metrics, outbox, pdf_renders, stripe_gateway
from functions.core.ids import derived_id
from functions.core.links import payment_page
from functions.core.logs import get_logger
from functions.core.money import minimum_charge
from functions.core.settings import get_settings
from functions.core.stripe_gateway import StripeRejectedError
from functions.core.uow import Planned, UnitOfWork, retrying
from functions.payments import charging, collection_emails, receipts, store
from functions.payments.collection_rows import (
    close,
    due_entry,
    notify,
    payment_id_of,
    request,
    send,
    transition,
)
from functions.payments.store import CollectionRecord, PaymentRecord

# Declines Stripe says never to retry (the card is reported lost or stolen, fraud suspected, or the
# issuer refuses this merchant for good): dunning ends at once, the invoices are past due.
DO_NOT_RETRY = frozenset(
    {
        "stolen_card",
        "lost_card",
        "pickup_card",
        "fraudulent",
        "restricted_card",
        "merchant_blacklist",
        "security_violation",
        "revocation_of_authorization",
        "revocation_of_all_authorizations",
        "stop_payment_order",
        "invalid_account",
        "new_account_information_available",
    }
)
BELOW_MINIMUM = "below-minimum"


def failed(row: CollectionRecord, pay: PaymentRecord | None, code: str, on: date) -> str:
    """An attempt that took no money: the next one scheduled (dunning), or — a do-not-retry decline, or
    the last retry — the collection over and its open invoices past due."""
    days = get_settings().dunning_days
    if code in DO_NOT_RETRY or row.attempt > len(days):
        return past_due(row, pay, code)
    # dunning counts from the first attempt (the collection opened ~60 s before it, or when a lost message
    # was found again): a late first attempt never squeezes its retries together
    opened = on if row.attempt == 1 or row.opened_on is None else row.opened_on
    retry_on = max(opened + timedelta(days=days[row.attempt - 1]), on + timedelta(days=1))
    after = replace(
        row,
        opened_on=opened,
        state=store.DUNNING,
        attempt=row.attempt + 1,
        retry_on=retry_on,
        last_payment_id=pay.id if pay else row.last_payment_id,
        reason=code,
        updated_at=clock.iso(clock.now()),
    )
    amount, currency = _owed(row.account_id, pay)
    kind = code if code in ("no_card", "authentication_required") else "declined"
    link = payment_page(row.account_id, pay.id) if kind == "authentication_required" and pay else ""
    kind = "requires_action" if kind == "authentication_required" else kind
    card = receipts.card_label(pay) if pay else ""
    # the e-mail first: a failure is sent again by the redelivery (at least once), never lost
    notify(row.account_id, collection_emails.Message(kind, amount, currency, card, code, retry_on, link))
    events = collection_failed(row.account_id, opened, row.attempt, code, retry_on)
    if transition(row, after, due_entry(row.account_id, retry_on, after.attempt), *events):
        metrics.collection("retrying")
    return "dunning"


def collection_failed(
    account_id: str, opened: date, attempt: int, code: str, retry_on: date | None, invoices: list | None = None
) -> list[Planned]:
    """invoice.collection_failed for each open invoice the failed attempt was collecting (those issued up to
    the collection's opening): the invoice, its attempt count, the failure code and the next attempt's
    day (None: dunning is over)."""
    if invoices is None:
        invoices = ledger.open_invoices(account_id, ledger.MAX_SETTLE_PER_TRANSACTION)
    # dunning over: these invoices are marked past due in the same transaction
    collected = [replace(inv, past_due=retry_on is None or inv.past_due) for inv in invoices if inv.date <= opened]
    extra = {
        "attempt_count": attempt,
        "failure_code": code,
        "next_payment_attempt": retry_on.isoformat() if retry_on else None,
    }
    return [
        outbox.event(account_id, "invoice.collection_failed", ledger.invoice_object(inv) | extra) for inv in collected
    ]


def _owed(account_id: str, pay: PaymentRecord | None) -> tuple[int, str]:
    if pay is not None:
        return pay.amount, pay.currency
    balance = ledger.get_balance(account_id)
    return (max(balance.current - balance.in_flight, 0), balance.currency) if balance else (0, "usd")


def past_due(row: CollectionRecord, pay: PaymentRecord | None, code: str) -> str:
    """Dunning is over: the open invoices issued up to the collection's opening are marked past due (in
    core, with the balance's count), the collection closes and leaves the due index — in one transaction."""
    after = replace(row, state=store.IDLE, retry_on=None, reason=code, updated_at=clock.iso(clock.now()))
    opened = row.opened_on or clock.today()

    def attempt() -> bool:
        invoices = ledger.open_invoices(row.account_id, ledger.MAX_SETTLE_PER_TRANSACTION)
        marks = ledger.mark_past_due(row.account_id, [inv.id for inv in invoices if inv.date <= opened])
        events = collection_failed(row.account_id, opened, row.attempt, code, None, invoices)
        return transition(row, after, *events, *marks, clear_retry(row.account_id))

    amount, currency = _owed(row.account_id, pay)
    notify(row.account_id, collection_emails.Message("past_due", amount, currency, reason=code))  # at least once
    if not retrying(attempt):
        return "past_due"
    metrics.collection("failed")
    get_logger().info("account past due", account_id=row.account_id, reason=code)
    later = [inv for inv in ledger.open_invoices(row.account_id, 100) if inv.date > opened]
    if later:  # invoices issued during dunning get a collection of their own
        request(row.account_id)
    return "past_due"


def cancel_previous(account_id: str, payment_id: str) -> bool:
    """Before a retry: the previous attempt's PaymentIntent, if it can still succeed (waiting for 3-D
    Secure), is cancelled and its row failed (its reservation released). A refused cancel because it
    succeeded applies that money instead (charging's apply step). False while it is still processing."""
    prev = store.get_payment(account_id, payment_id)
    if prev is None or prev.status in store.FINAL or not prev.payment_intent_id:
        return True
    try:
        intent = stripe_gateway.cancel_payment_intent(prev.payment_intent_id, f"pi:cancel:{prev.payment_intent_id}")
    except StripeRejectedError:
        intent = stripe_gateway.get_payment_intent(prev.payment_intent_id)
    if intent is None:
        return True
    if intent.status == "processing":
        return False
    charging.settle(account_id, prev.id, intent)
    return True


def card_added(account_id: str) -> bool:
    """A new valid card: a collection in dunning retries at once (its next attempt brought forward to
    today, and its message sent without delay). Returns whether a retry was sent."""
    row = store.get_collection(account_id)
    if row.state != store.DUNNING:
        return False
    today = clock.today()
    after = replace(row, retry_on=today, updated_at=clock.iso(clock.now()))
    if transition(row, after, due_entry(account_id, today, row.attempt)):
        send(account_id, row.seq)
        return True
    return False


def cancel_collection(account_id: str) -> bool:
    """The account stops being collected (it switched to send_invoice, DESIGN §3 v4): its collection,
    open, in dunning or carried, is closed and leaves the due index; a PaymentIntent of its waiting for
    3-D Secure is cancelled first (one that succeeded meanwhile is applied). Returns whether one was."""
    row = store.get_collection(account_id)
    if row.state == store.IDLE:
        return False
    for payment_id in {row.last_payment_id, payment_id_of(account_id, row.seq, row.attempt)} - {None}:
        cancel_previous(account_id, str(payment_id))
    after = replace(row, state=store.IDLE, retry_on=None, reason="cancelled", updated_at=clock.iso(clock.now()))
    return transition(row, after, clear_retry(account_id))


def carried_due(row: CollectionRecord, on: date) -> str:
    """A carried balance's entry came due: written off when still alone below the minimum; collected
    when it has grown (an invoice request missed); else the entry is simply closed."""
    if row.retry_on is not None and row.retry_on > on:
        return "waiting"
    if write_off_below_minimum(row.account_id, on):
        close(row, "written_off")
        return "written_off"
    balance, _, room = ledger.room(row.account_id)
    if room >= minimum_charge(balance.currency):
        close(row, "carried")  # its _next opens the collection
        return "requested"
    close(row, "carried")
    return "idle"


def write_off_below_minimum(account_id: str, on: date | None = None, *, at_closure: bool = False) -> str | None:
    """Write off a balance below the minimum (DESIGN §3 v4 Below the minimum) by a Credit invoice, reason
    `below-minimum`: when it is still below the minimum `carry_write_off_days` after its latest open
    invoice (no later invoice), or at once `at_closure`. Idempotent: the invoice id derives from the
    latest open invoice. Returns the Credit invoice's id, or None when nothing is written off."""
    on = on or clock.today()

    def attempt() -> str | None:
        balance, _, room = ledger.room(account_id)
        invoices = ledger.open_invoices(account_id, ledger.MAX_SETTLE_PER_TRANSACTION)
        if not invoices or balance.current <= 0 or room <= 0 or room >= minimum_charge(balance.currency):
            return None
        latest = invoices[-1]
        if not at_closure and on < max(i.date for i in invoices) + timedelta(days=get_settings().carry_write_off_days):
            return None
        invoice_id = derived_id("inv", account_id, latest.id, BELOW_MINIMUM)
        today = clock.today()
        description = "Below the minimum charge: written off"
        posting = ledger.prepare(
            account_id,
            type="credit",
            parts=[ledger.Part(invoice_id, description, [ledger.Line(description, room, today, today)])],
        )
        ops, inv = ledger.post_invoice(posting)
        event = audit.record(
            account_id, charging.SYSTEM, "invoice.written_off", inv.id, None, {"reason": BELOW_MINIMUM, "amount": room}
        )
        UnitOfWork().add(*ops, event).commit()  # the Credit invoice's outbound events are in `ops`
        return inv.id

    try:
        written = retrying(attempt)
    except ledger.AlreadyPostedError:
        return None
    if written is not None:
        pdf_renders.issued(account_id, [written])  # no notice for a write-off, but its PDF like any invoice's
    return written


def adopt_v3_retry(account_id: str, row: CollectionRecord, on: date) -> CollectionRecord | None:
    """Migration (docs/collections.md): v3's dunning — a `retry#` entry naming its invoice, attempt n —
    becomes a collection in dunning (attempt n, opened on the invoice's date, the v3 off-session payment
    of attempt n-1 as its previous attempt, so it is cancelled first if it can still succeed)."""
    entry = get_retry(account_id)
    if entry is None or not entry.invoice_id:
        return None
    inv = ledger.get_invoice(account_id, entry.invoice_id)
    opened = inv.date if inv is not None else entry.on
    previous = derived_id("pay", "off_session", account_id, entry.invoice_id, str(max(entry.attempt - 1, 1)))
    after = CollectionRecord(
        account_id,
        row.seq + 1,
        store.DUNNING,
        max(entry.attempt, 2),
        opened,
        entry.on,
        previous,
        "v3",
        clock.iso(clock.now()),
    )
    if not transition(row, after, due_entry(account_id, entry.on, after.attempt)):
        return store.get_collection(account_id)
    return after
