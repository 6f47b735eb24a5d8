"""The collector (DESIGN §3 v4 Collection; docs/collections.md): THE off-session path of billow. Every
debit invoice of an automatic account, the monthly run's included, is collected here.

- `request(account_id)`: one conditional write opens a collection and allocates its sequence (with the
  account's entry in the due index, so the daily run finds a collection whose message was lost), then
  one message to the `collections` queue, delayed (BILLOW_COLLECTION_DELAY_SECONDS) so invoices issued
  close together ride in one charge. While a collection is open or in dunning it does nothing.
- `collect(account_id, seq)`: collectable = balance.current - payments in flight (ledger.room), capped at
  the amount limit; ONE PaymentIntent on the card on file per (account, sequence, attempt) — the payment
  id and Stripe's idempotency key derive from them — through the lease → Stripe → final write of
  charges.py / charging.py, applied like any payment (oldest first, no target). Below the minimum the
  open invoices are marked `carried_forward`; a decline, authentication or no card enters dunning
  (collection_dunning.py).
"""

from __future__ import annotations

from datetime import date

from functions.core import clock, ledger
from functions.core.errors import ConcurrentUpdateError, ValidationFailedError
from functions.core.money import MAX_AMOUNT, minimum_charge
from functions.payments import cards, charging, store
from functions.payments import collection_dunning as dunning
from functions.payments.cards import ChargeableCard
from functions.payments.collection_rows import QUEUE as QUEUE
from functions.payments.collection_rows import carry, close, payment_id_of
from functions.payments.store import CollectionRecord, PaymentRecord

# Reading the room again when another payment reserved part of it between the read and the lease.
_ROOM_ATTEMPTS = 5


def collect(account_id: str, seq: int | None = None, on: date | None = None) -> str:
    """Collect the account's open collection (`seq`: the message's; None from the due index, whatever
    is open). Returns what happened: succeeded, processing, carried, nothing_due, dunning (a retry is
    scheduled), past_due, waiting (a dunning retry not yet due), paused, stale, idle, written_off."""
    on = on or clock.today()
    row = store.get_collection(account_id)
    if seq is None and row.state == store.IDLE:
        row = dunning.adopt_v3_retry(account_id, row, on) or row
    if seq is not None and row.seq != seq:
        return "stale"
    if row.state == store.CARRIED:
        return dunning.carried_due(row, on)
    if not row.under_way:
        return "idle"
    if row.state == store.DUNNING and row.retry_on is not None and row.retry_on > on:
        return "waiting"
    state = store.get_state(account_id, consistent=True)
    if state is not None and state.collection_paused:
        return "paused"  # the due-index entry stays: the daily run looks again
    return _attempt(row, state, on)


def _attempt(row: CollectionRecord, state: store.PaymentMethodState | None, on: date) -> str:
    account_id = row.account_id
    payment_id = payment_id_of(account_id, row.seq, row.attempt)
    pay = store.get_payment(account_id, payment_id)
    card = cards.card_of(state)
    if pay is None:
        if row.last_payment_id and not dunning.cancel_previous(account_id, row.last_payment_id):
            return "processing"  # the previous attempt may still take the money: never two at once
        if card is None:
            return dunning.failed(row, None, "no_card", on)
        outcome = _lease(row, payment_id, card, on)
        if isinstance(outcome, str):
            return outcome
        pay = outcome
    if pay.status == store.CREATING:
        if card is None:
            return dunning.failed(row, None, "no_card", on)
        request = charging.ChargeRequest(
            idempotency_key=f"pi:collection:{account_id}:{row.seq}:{row.attempt}",
            customer=state.customer_id if state else None,
            payment_method=card.payment_method_id,
            off_session=True,
        )
        answer = charging.call_stripe(pay, request)
        pay = charging.settle(account_id, payment_id, answer.value, answer.rejected)
    return outcome_of(row, pay, on)


def _lease(row: CollectionRecord, payment_id: str, card: ChargeableCard, on: date) -> PaymentRecord | str:
    """Step 1: the payment row `creating` with the collectable amount reserved in flight — or, when
    nothing (or less than the minimum) is left to collect, the collection closed (or carried)."""
    for _ in range(_ROOM_ATTEMPTS):
        read = ledger.room(row.account_id)
        balance, _, room = read
        amount = min(room, MAX_AMOUNT)
        if amount < minimum_charge(balance.currency) and (raced := store.get_payment(row.account_id, payment_id)):
            return raced  # what holds the room is this attempt's own row, written by a racer: resume it
        if amount <= 0:
            return close(row, "nothing_due")
        if amount < minimum_charge(balance.currency):
            return carry(row, balance.currency, on)
        try:
            return charging.start(_new_row(row, payment_id, amount, balance.currency, card), None, True, read)
        except ValidationFailedError:
            # another collector of this same attempt reserved it first (then its row is ours to resume),
            # or a console payment reserved part of the room meanwhile: read again
            raced = store.get_payment(row.account_id, payment_id)
            if raced is not None:
                return raced
    raise ConcurrentUpdateError("the balance kept moving while the collection was reserved; retry")


def _new_row(row: CollectionRecord, payment_id: str, amount: int, currency: str, card: ChargeableCard) -> PaymentRecord:
    now = clock.iso(clock.now())
    return PaymentRecord(
        account_id=row.account_id,
        id=payment_id,
        amount=amount,
        currency=currency,
        method="card",
        source="off_session",
        status=store.CREATING,
        created_at=now,
        updated_at=now,
        created_by=charging.SYSTEM.id,
        brand=card.brand,
        last4=card.last4,
    )


def outcome_of(row: CollectionRecord, pay: PaymentRecord, on: date) -> str:
    """What the attempt's payment row says, acted on once (the transition's condition decides who)."""
    if pay.status == store.SUCCEEDED:
        return close(row, "succeeded", pay)
    if pay.status in (store.REQUIRES_ACTION, store.FAILED):
        code = "authentication_required" if pay.status == store.REQUIRES_ACTION else None
        return dunning.failed(row, pay, code or pay.decline_code or pay.failure_code or "declined", on)
    return "held" if pay.status == store.HELD else "processing"
