"""Off-session charges for the monthly run and its retries: the card on file charged for an invoice,
on the sequence of functions/payments/charges.py (no idempotency record: the row's id derives from
the invoice and attempt, and so does the Stripe idempotency key)."""

from __future__ import annotations

from dataclasses import dataclass, field

from functions.core import clock, ledger, money
from functions.core.errors import ValidationFailedError
from functions.core.ids import derived_id
from functions.payments import cards, charging, store
from functions.payments.cards import ChargeableCard
from functions.payments.store import PaymentRecord


@dataclass(frozen=True)
class OffSessionCharge:
    """What charging an invoice off-session did. `status`: succeeded (applied to the invoice),
    processing (Stripe will tell by webhook), declined (`decline_code`), requires_action (3-D Secure:
    the customer completes it in the console with `client_secret`), no_card (nothing was attempted)."""

    status: str
    payment_id: str | None
    decline_code: str | None
    client_secret: str | None = field(default=None, repr=False)


def _payment_id(account_id: str, invoice_id: str, attempt: int) -> str:
    return derived_id("pay", "off_session", account_id, invoice_id, str(attempt))


def charge_invoice_off_session(account_id: str, invoice_id: str, amount: int, attempt: int) -> OffSessionCharge:
    """Charge the card on file for an invoice, off-session (the monthly run and its retries).

    A `pay_` row like any payment: its id derives from (invoice, attempt), the Stripe idempotency key
    from the same, so calling this again for the same (invoice, attempt) — a redelivered message, a
    re-run — makes no second PaymentIntent and returns the same outcome. The money, once Stripe
    accepts it, settles that invoice first (the one apply step). No receipt e-mail: the invoice notice
    is the only message of the run."""
    payment_id = _payment_id(account_id, invoice_id, attempt)
    row = store.get_payment(account_id, payment_id)
    state = store.get_state(account_id)
    card = cards.card_of(state)
    if row is None:
        if card is None:
            return OffSessionCharge("no_card", None, None)
        read = ledger.room(account_id, invoice_id)
        balance, _, room = read
        # Payments in flight (a console or PayPal payment, a 3-D Secure one waiting) hold part of what is
        # owed: charge only the rest, never the same money twice (DESIGN §3 v4).
        amount = min(amount, room)
        if amount < money.minimum_charge(balance.currency):
            return OffSessionCharge("nothing_due", None, None)
        try:  # 1. the row `creating`, its amount reserved in flight
            new = _new_row(account_id, payment_id, invoice_id, amount, balance.currency, card)
            row = charging.start(new, None, reserve=True, read=read)
        except ValidationFailedError:  # another payment reserved the room meanwhile
            return OffSessionCharge("nothing_due", None, None)
    if row.status == store.CREATING:
        if card is None:
            return OffSessionCharge("no_card", None, None)
        request = charging.ChargeRequest(
            idempotency_key=f"pi:off_session:{invoice_id}:{attempt}",
            customer=state.customer_id if state else None,
            payment_method=card.payment_method_id,
            off_session=True,
        )
        answer = charging.call_stripe(row, request)  # 2. Stripe
        row = charging.settle(account_id, payment_id, answer.value, answer.rejected)  # 3. the final write
    return _outcome(row)


def _new_row(
    account_id: str, payment_id: str, invoice_id: str, amount: int, currency: str, card: ChargeableCard
) -> PaymentRecord:
    now = clock.iso(clock.now())
    return PaymentRecord(
        account_id=account_id,
        id=payment_id,
        amount=amount,
        currency=currency,
        method="card",
        source="off_session",
        status=store.CREATING,
        created_at=now,
        updated_at=now,
        created_by=charging.SYSTEM.id,
        invoice_id=invoice_id,
        brand=card.brand,
        last4=card.last4,
    )


def off_session_attempt(account_id: str, invoice_id: str, attempt: int) -> OffSessionCharge | None:
    """The outcome of an off-session charge already made for (invoice, attempt), or None when there is
    none or Stripe's answer was never recorded (`creating`: charge_invoice_off_session resumes it with
    the same key). A redelivered run finds the charge a crashed one made, which may have paid the
    invoice already."""
    row = store.get_payment(account_id, _payment_id(account_id, invoice_id, attempt))
    return _outcome(row) if row is not None and row.status != store.CREATING else None


def _outcome(row: PaymentRecord) -> OffSessionCharge:
    if row.status == store.SUCCEEDED:
        return OffSessionCharge("succeeded", row.id, None)
    if row.status == store.REQUIRES_ACTION:
        return OffSessionCharge("requires_action", row.id, row.decline_code, row.client_secret)
    if row.status == store.FAILED:
        return OffSessionCharge("declined", row.id, row.decline_code or row.failure_code)
    return OffSessionCharge("processing", row.id, None)
