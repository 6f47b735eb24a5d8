"""The payments domain's front door: what other domains (and payments' routes) call — the card on
file (`cards`), the collector (`collections`: the one off-session path), refunds to cards (`refunds`).

payments/ by what it does:
  cards        the card on file: setup, change, validation queue, the chargeable card, the summary's view
  one_time     one-time payments (card or PayPal) ── on charges.py's sequence: lease, Stripe, final write
  collections  the collector: THE off-session path ─┤  (charging.py: the payment row, THE apply step)
  refunds      refunds to cards                    ─┘
  collection_dunning  dunning, carrying forward, the below-minimum write-off, v3's retries adopted
  issuing      after an invoice is issued (every issuer calls it): its notice, once; its collection requested
  webhooks     Stripe's events: payments applied or failed, refunds, disputes
  tickets      support tickets
  lifecycle    PATCH of the account (collection needs a card), the lite account's upgrade request
  upgrades     the upgrade's flip when its card validates
  closure      the unapplied credit left at closure, sent back to card payments
  emails       the domain's e-mails
  store/       the payments table: one model per row kind, the records and ops
"""

from __future__ import annotations

from datetime import date
from typing import Any

from functions.accounts.service import AccountAccess
from functions.core import clock
from functions.core.idempotency import IdempotencyContext
from functions.payments import collection_dunning, collection_rows, collections, refunds
from functions.payments.card_deadline import expire_pending_changes as expire_pending_changes
from functions.payments.cards import QUEUE as QUEUE
from functions.payments.cards import CardChangeNotFoundError as CardChangeNotFoundError
from functions.payments.cards import ChangeAccepted as ChangeAccepted
from functions.payments.cards import ChargeableCard as ChargeableCard
from functions.payments.cards import SetupStarted as SetupStarted
from functions.payments.cards import card_summary as card_summary
from functions.payments.cards import chargeable_card as chargeable_card
from functions.payments.cards import handle_validation_message as handle_validation_message
from functions.payments.cards import is_expired as is_expired
from functions.payments.cards import payment_method as payment_method
from functions.payments.cards import request_change as request_change
from functions.payments.cards import start_setup as start_setup
from functions.payments.cards import validate_change as validate_change
from functions.payments.closure import CreditReturned as CreditReturned
from functions.payments.closure import return_leftover_credit as return_leftover_credit
from functions.payments.collection_dunning import DO_NOT_RETRY as DO_NOT_RETRY
from functions.payments.issuing import collection_method as collection_method
from functions.payments.issuing import invoice_issued as invoice_issued
from functions.payments.issuing import invoice_page as invoice_page
from functions.payments.reminders import REMIND as REMIND
from functions.payments.reminders import give_due_dates as give_due_dates
from functions.payments.reminders import remind_invoices as remind_invoices
from functions.payments.reminders import schedule_reminders as schedule_reminders
from functions.payments.schemas import Payment as Payment  # outbound events' payload (events/schemas.py)
from functions.payments.store import RefundRecord as RefundRecord
from functions.payments.store import get_payment as get_payment

COLLECTIONS_QUEUE = collection_rows.QUEUE
request_collection = collection_rows.request


def refund_to_card(
    access: AccountAccess,
    idem: IdempotencyContext,
    payment_id: str,
    amount: int,
    reason: str,
    render: refunds.Render,
    *,
    return_credit: bool = False,
) -> RefundRecord:
    """Refund `amount` of a succeeded payment to its card (payments.refunds.refund_payment): the front
    door the invoices' refund route uses. Returns the refund's row once booked."""
    return refunds.refund_payment(access, idem, payment_id, amount, reason, render, return_credit=return_credit)


def collect(account_id: str, seq: int | None = None, on: date | None = None) -> str:
    """Collect the account's open collection now (the collector's queue, or the daily run's shard worker
    for a dunning retry, a lost message or a carried balance's write-off date: `seq` None). Returns what
    happened (payments.collections.collect)."""
    return collections.collect(account_id, seq, on or clock.today())


def handle_collection_message(body: dict[str, Any]) -> None:
    """One `collections` message: {account_id, seq}."""
    collections.collect(str(body["account_id"]), int(body["seq"]))


def card_added(account_id: str) -> bool:
    """A new card was validated: a collection in dunning retries at once (DESIGN §3 v4 Dunning)."""
    return collection_dunning.card_added(account_id)


def cancel_collection(account_id: str) -> bool:
    """Stop collecting the account (it now pays by invoice): its collection closed, out of the due index,
    a PaymentIntent waiting for 3-D Secure cancelled. Returns whether one was under way."""
    return collection_dunning.cancel_collection(account_id)


def write_off_below_minimum(account_id: str, *, at_closure: bool = False) -> str | None:
    """Write off a balance still below the minimum charge by a Credit invoice, reason `below-minimum`:
    60 days after its latest invoice, or at once `at_closure` (the closure's final step). Returns the
    Credit invoice's id, or None when there is nothing to write off."""
    return collection_dunning.write_off_below_minimum(account_id, at_closure=at_closure)
