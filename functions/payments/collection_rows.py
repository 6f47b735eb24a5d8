"""The collector's row and its moves (DESIGN §3 v4 Collection; docs/collections.md): a collection
opened (`request`: one conditional write allocates its sequence, with its due-index entry, then one
delayed message), closed (one receipt, the next one opened if more became collectable), carried below
the minimum; each move conditional on the row as read, so of two collectors only one acts (and e-mails)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

from functions.accounts.service import RetryEntry, clear_retry, get_account, schedule_retry
from functions.core import clock, email, ledger, metrics, queues
from functions.core.errors import ConcurrentUpdateError
from functions.core.ids import derived_id
from functions.core.money import minimum_charge
from functions.core.resources import COLLECTIONS
from functions.core.settings import get_settings
from functions.core.uow import Op, UnitOfWork, retrying
from functions.payments import collection_emails, receipts, store
from functions.payments.store import CollectionRecord, PaymentRecord

QUEUE = COLLECTIONS


def due_entry(account_id: str, on: date, attempt: int) -> Op:
    """The collection's entry in the accounts' due index (`retry#<shard>`, dated `on`): the shard worker of
    the daily run sends it back to the collector on that day — a lost message, a dunning retry, a
    write-off. `invoice_id` empty: a collection's entry (v3's entries name their invoice)."""
    return schedule_retry(RetryEntry(account_id, on, attempt, ""))


def payment_id_of(account_id: str, seq: int, attempt: int) -> str:
    return derived_id("pay", "collection", account_id, str(seq), str(attempt))


def send(account_id: str, seq: int, delay_seconds: int = 0) -> None:
    queues.send(QUEUE, {"account_id": account_id, "seq": seq}, delay_seconds=delay_seconds)


def request(account_id: str) -> int | None:
    """Open a collection for the account unless one is open or in dunning (then the invoice waits for
    it, or for its next retry). Returns the sequence opened, or None. Never charges: the collector does,
    from the queue, a little later."""
    now = clock.now()

    def attempt() -> int | None:
        row = store.get_collection(account_id)
        if row.under_way:
            return None
        today = now.date()
        after = CollectionRecord(account_id, row.seq + 1, store.OPEN, 1, today, today, None, None, clock.iso(now))
        UnitOfWork().add(store.save_collection(row, after), due_entry(account_id, today, 1)).commit()
        return after.seq

    seq = retrying(attempt)
    if seq is not None:
        metrics.collection("opened")
        send(account_id, seq, get_settings().collection_delay_seconds)
    return seq


def transition(before: CollectionRecord, after: CollectionRecord, *ops: Op) -> bool:
    """Commit the collection's move with `ops`; False when another collector moved it first."""
    try:
        UnitOfWork().add(store.save_collection(before, after), *ops).commit()
    except ConcurrentUpdateError:
        return False
    return True


def close(row: CollectionRecord, outcome: str, pay: PaymentRecord | None = None) -> str:
    """The collection is over (its entry leaves the due index): the payment's ONE receipt — sent by the
    apply step's `charging.finish` (payments/receipts.py); sent here, then marked, BEFORE the close if that
    failed, so a failure is sent again by the redelivery (at least once) — and the next collection opened
    at once if invoices issued meanwhile left more to collect."""
    if pay is not None and pay.receipt_sent_at is None:
        receipts.send_receipt(pay)
    after = replace(row, state=store.IDLE, retry_on=None, reason=outcome, updated_at=clock.iso(clock.now()))
    if transition(row, after, clear_retry(row.account_id)):
        if outcome == "succeeded":
            metrics.collection("succeeded")
        open_next(row.account_id)
    return outcome


def open_next(account_id: str) -> None:
    """Open the next collection when what is collectable now reaches the minimum (invoices issued while
    this one ran)."""
    balance, _, room = ledger.room(account_id)
    if room >= minimum_charge(balance.currency):
        request(account_id)


def carry(row: CollectionRecord, currency: str, on: date) -> str:
    """Below the minimum: nothing charged; the open invoices are marked `carried_forward`, the next
    collection includes them, and the balance is written off if it is still alone and below the minimum
    `carry_write_off_days` after its latest invoice (the due-index entry's date)."""
    invoices = ledger.open_invoices(row.account_id, ledger.MAX_SETTLE_PER_TRANSACTION)
    latest = max((inv.date for inv in invoices), default=on)
    write_off_on = max(latest + timedelta(days=get_settings().carry_write_off_days), on + timedelta(days=1))
    after = replace(
        row, state=store.CARRIED, retry_on=write_off_on, reason="below_minimum", updated_at=clock.iso(clock.now())
    )

    def attempt() -> bool:
        marks = ledger.mark_carried_forward(row.account_id, [inv.id for inv in invoices])
        return transition(row, after, *marks, due_entry(row.account_id, write_off_on, 0))

    retrying(attempt)
    return "carried"


def notify(account_id: str, message: collection_emails.Message) -> None:
    """One e-mail to the billing contact, sent before the move it announces is committed: a failure
    raises (the message is redelivered and the e-mail sent again: at least once, docs/collections.md)."""
    account = get_account(account_id)
    if account.billing_contact.get("email"):
        email.send(collection_emails.build(account, message, get_settings().console_url))
