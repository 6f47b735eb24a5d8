"""Refunds to a card through billow (the operator's POST /v1/accounts/{id}/refunds with `payment_id`).

    creating ──Stripe accepts──▶ succeeded ──the bank fails it (charge.refund.updated)──▶ failed
        └──Stripe refuses, or 23 h passed and Stripe never had it──▶ failed

- The first transaction writes the refund row `creating`, the idempotency record in_progress (with a
  lease) and RESERVES the amount on the payment's `refunded` total (conditional: refunded + amount <=
  what was paid), so two concurrent refunds can never both pass (DESIGN §3 v4 Refund limits).
- Then the Stripe refund, with our refund id in its metadata and as its idempotency key. A refusal closes
  the row `failed` and releases the reservation, in one transaction with the stored 422.
- Once Stripe accepts it, `finish()` books it in one transaction with the row `succeeded`: the Refund
  invoice (-X, to unapplied credit) and the money back (+X, consuming it), netting to zero (DESIGN §3);
  or, with `return_credit`, only the money back, consuming the account's unapplied credit (§3 v4
  Returning an overpayment). The `charge.refunded` webhook calls the same `finish()` when it finds the
  row still `creating` (the process died between Stripe and the ledger), keyed on the `re_…` id.
- A row still `creating` after 23 h is never sent to Stripe again with its key (Stripe forgets keys
  after 24 h): it adopts the refund of the PaymentIntent whose metadata names it, else it fails.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from functions.accounts.service import AccountAccess
from functions.core import audit, clock, ledger, outbox, stripe_gateway
from functions.core.audit import Actor
from functions.core.errors import BillowError, NotFoundError, ValidationFailedError
from functions.core.idempotency import IdempotencyContext
from functions.core.ids import is_id
from functions.core.ledger import AlreadyPostedError, Invoice
from functions.core.stripe_gateway import StripeRejectedError
from functions.core.uow import Op, UnitOfWork, retrying
from functions.payments import charges, issuing, store
from functions.payments.payment_view import refund_object
from functions.payments.store import PaymentRecord, RefundRecord

# What the caller stores as the response, from the completed row and its Refund invoice (None with
# return_credit).
Render = Callable[[RefundRecord, Invoice | None], dict[str, Any]]

ACCEPTED = ("succeeded", "pending", "requires_action")  # Stripe has the refund in hand


def settled_by(payment: PaymentRecord) -> list[str]:
    """The invoices a payment settled directly (where its money back reopens first)."""
    return [a["invoice_id"] for a in payment.applied_to if a.get("invoice_id")]


def refund_payment(
    access: AccountAccess,
    idem: IdempotencyContext,
    payment_id: str,
    amount: int,
    reason: str,
    render: Render,
    *,
    return_credit: bool = False,
) -> RefundRecord:
    """Refund `amount` of a succeeded payment to its card (at most what is left of the payment; with
    `return_credit`, at most the account's unapplied credit too), on the sequence of
    functions/payments/charges.py. Returns the row once booked; `render` gives the stored reply."""
    account_id = access.account.id
    payment = store.get_payment(account_id, payment_id) if is_id(payment_id, "pay") else None
    if payment is None:
        raise NotFoundError(f"no payment {payment_id} on this account", code="payment-not-found")
    refund_id = idem.derive("ref")
    record = store.get_refund(account_id, refund_id) if idem.resumed else None
    if record is None:  # 1. the lease: the row `creating`, the amount reserved, the key in progress
        record = _start(access, idem, payment, refund_id, amount, reason, return_credit)
    else:
        charges.renew(idem)
    if record.status == store.SUCCEEDED:  # booked by the attempt that crashed after its transaction, or a webhook
        UnitOfWork().add(charges.reply(idem, render(record, _invoice_of(record)))).commit()
        return record
    if record.status == store.FAILED:  # closed while the request was away (the bank, or 23 h)
        raise _refuse(idem, _refused("the refund failed at Stripe or was never made"))
    answer = _ask_stripe(record, str(payment.payment_intent_id))  # 2. Stripe, our refund id as its key
    refund = answer.value
    if answer.rejected is not None or refund is None:
        # A refusal is the request's final answer: stored with the row closed `failed` and the
        # reservation released, so a retry with the same key replays it.
        raise _refuse(idem, _rejected(record, answer.rejected), store.fail_refund(record))
    if refund.status not in ACCEPTED:
        raise _refuse(idem, _refused(f"the refund is {refund.status}"), store.fail_refund(record, refund.id))

    rows = _rows(record)

    def attempt() -> Booking:  # 3. the final write: the row, the ledger, the audit, the reply
        booking = book(rows(), refund, access.actor)
        # the outbound events (payment.refunded, the Refund invoice's) are in booking.ops: one transaction
        uow = UnitOfWork().add(*booking.ops, charges.reply(idem, render(booking.row, booking.invoice)))
        uow.commit()
        return booking

    return retrying(attempt).row


def _rows(record: RefundRecord) -> Callable[[], RefundRecord]:
    """The refund row for each attempt of the final write: the row in hand first, read again on a retry."""
    known = [record]

    def row() -> RefundRecord:
        if known:
            return known.pop()
        current = store.get_refund(record.account_id, record.id)
        if current is None:
            raise ValueError(f"no refund {record.id}")
        return current

    return row


def _refused(why: str) -> ValidationFailedError:
    return ValidationFailedError(f"Stripe refused the refund: {why}", code="payment-rejected")


def _rejected(record: RefundRecord, exc: StripeRejectedError | None) -> ValidationFailedError:
    if exc is not None and exc.code == charges.KEY_EXPIRED:
        return ValidationFailedError(
            f"refund {record.id} never reached Stripe within 23 hours and was abandoned: nothing was "
            "refunded; send it again with a new Idempotency-Key",
            code="refund-expired",
        )
    return _refused(exc.message if exc is not None else "no answer")


def _refuse(idem: IdempotencyContext, err: BillowError, ops: Sequence[Op] = ()) -> BillowError:
    """Store `err` as the request's answer (with `ops`: the row closed, its reservation released)."""
    UnitOfWork().add(*ops, charges.reply(idem, error=err)).commit()
    return err


def _ask_stripe(record: RefundRecord, payment_intent_id: str) -> charges.Answer[stripe_gateway.Refund]:
    def send() -> stripe_gateway.Refund:
        return stripe_gateway.create_refund(
            payment_intent_id=payment_intent_id,
            amount=record.amount,
            metadata={
                "billow_refund_id": record.id,
                "billow_account_id": record.account_id,
                "billow_payment_id": record.payment_id,
            },
            idempotency_key=record.id,
        )

    def adopt() -> stripe_gateway.Refund | None:
        """The refund Stripe made for this row, found by its metadata (the key may be forgotten)."""
        found = stripe_gateway.list_refunds(payment_intent_id)
        return next((r for r in found if r.metadata.get("billow_refund_id") == record.id), None)

    return charges.ask(record.created_at, send, adopt, "this refund never reached Stripe within 23 hours")


def _start(
    access: AccountAccess,
    idem: IdempotencyContext,
    payment: PaymentRecord,
    refund_id: str,
    amount: int,
    reason: str,
    return_credit: bool,
) -> RefundRecord:
    """The first transaction: the row `creating`, the key in progress, the amount reserved."""
    account_id = access.account.id
    if payment.status != store.SUCCEEDED or not payment.payment_intent_id:
        raise ValidationFailedError(
            f"payment {payment.id} is {payment.status}: only a succeeded payment can be refunded",
            code="payment-not-refundable",
        )
    if return_credit:
        balance = ledger.get_balance(account_id)
        credit = balance.unapplied_credit if balance else 0
        if amount > credit:
            raise ValidationFailedError(
                f"return_credit returns unapplied credit: the account has {credit}",
                code="refund-exceeds-credit",
            )
    record = RefundRecord(
        account_id=account_id,
        id=refund_id,
        payment_id=payment.id,
        amount=amount,
        reason=reason,
        status=store.CREATING,
        invoice_id="" if return_credit else idem.derive("inv"),
        created_at=clock.iso(clock.now()),
        return_credit=return_credit,
    )
    charges.lease(lambda: [store.put_new_refund(record), store.reserve_refund(payment, amount)], idem)
    return record


def _invoice_of(record: RefundRecord) -> Invoice | None:
    return ledger.get_invoice(record.account_id, record.invoice_id) if record.invoice_id else None


@dataclass(frozen=True)
class Booking:
    """A refund's booking, planned: its ops, the row as they leave it and its Refund invoice (None with
    return_credit). No ops: it was booked already (the request and the webhook racing)."""

    ops: list[Op]
    row: RefundRecord
    invoice: Invoice | None


def book(record: RefundRecord, refund: stripe_gateway.Refund, actor: Actor) -> Booking:
    """Plan the booking of a refund Stripe accepted (`record`: its row as read), once per Stripe refund
    id: the row `creating` -> `succeeded` first (when a racer booked it meanwhile, its condition
    decides: read again), the Refund invoice and the money back — or, with `return_credit`, only the
    money back — and the audit event. The caller adds its own ops (the stored reply) and commits."""
    account_id, refund_row_id = record.account_id, record.id
    if record.status == store.SUCCEEDED:
        return Booking([], record, _invoice_of(record))
    try:
        ops, inv = _plan_ledger(record, refund)
    except AlreadyPostedError:
        current = store.get_refund(account_id, refund_row_id)
        if current is None or current.status != store.SUCCEEDED:
            raise
        return Booking([], current, _invoice_of(current))
    after = {"amount": record.amount, "payment_id": record.payment_id, "stripe_refund_id": refund.id}
    if inv is not None:
        after |= {"invoice_id": inv.id, "number": inv.number}
    action = "refund.credit_returned" if record.return_credit else "refund.to_card"
    currency = inv.currency if inv is not None else _currency(account_id)
    refunded = refund_object(
        record.id,
        record.payment_id,
        record.amount,
        currency,
        record.reason,
        stripe_refund_id=refund.id,
        invoice_id=inv.id if inv is not None else None,
        return_credit=record.return_credit,
        created_at=record.created_at,
    )
    return Booking(
        [
            store.complete_refund(record, refund.id),
            *ops,
            audit.record(account_id, actor, action, inv.id if inv else record.id, None, after),
            outbox.event(account_id, "payment.refunded", refunded),
        ],
        replace(record, status=store.SUCCEEDED, stripe_refund_id=refund.id),
        inv,
    )


def _currency(account_id: str) -> str:
    balance = ledger.get_balance(account_id)
    return balance.currency if balance is not None else ""


def _plan_ledger(record: RefundRecord, refund: stripe_gateway.Refund) -> tuple[list[Op], Invoice | None]:
    if not record.return_credit:
        return ledger.refund_to_card(
            record.account_id,
            invoice_id=record.invoice_id,
            refund_id=refund.id,
            amount=record.amount,
            description=record.reason,
        )
    payment = store.get_payment(record.account_id, record.payment_id)
    ops, _ = ledger.money_back(
        record.account_id,
        refund_id=refund.id,
        amount=record.amount,
        payment_id=record.payment_id,
        settled_invoice_ids=settled_by(payment) if payment else (),
    )
    return ops, None


def finish(record: RefundRecord, refund: stripe_gateway.Refund, actor: Actor) -> RefundRecord:
    """Book a refund Stripe accepted with nothing of the caller's in the transaction (the webhook that
    finds it still `creating`); returns the booked row."""

    rows = _rows(record)

    def attempt() -> Booking:
        booking = book(rows(), refund, actor)
        UnitOfWork().add(*booking.ops).commit()
        return booking

    return retrying(attempt).row


def money_in(account_id: str, ref: str, amount: int, kind: str, ops: Sequence[Op]) -> bool:
    """Money that comes back in, applied like a payment (oldest open invoice first, else unapplied
    credit) with `ops` in its transaction, once per `ref`: a refund that failed at the bank after Stripe
    accepted it (`money_back_reversed`), a dispute won (`dispute_won`). False when it was posted already."""

    def attempt() -> None:
        planned, _ = ledger.apply_payment(account_id, payment_id=ref, amount=amount, kind=kind)
        UnitOfWork().add(*planned, *ops).commit()

    try:
        retrying(attempt, ledger.APPLY_ATTEMPTS)
    except AlreadyPostedError:
        return False
    ledger.settle_unapplied_credit(account_id)
    return True


def reverse_money_back(account_id: str, stripe_refund_id: str, amount: int, ops: Sequence[Op]) -> bool:
    """A refund Stripe accepted failed at the bank afterwards (`charge.refund.updated` to failed): its
    money-back entry is reversed with `ops` (the row `failed`, the reservation released), once per
    Stripe refund. False when it was already reversed."""
    return money_in(account_id, f"{stripe_refund_id}:failed", amount, "money_back_reversed", ops)


def money_back(account_id: str, refund_id: str, amount: int, payment: PaymentRecord, ops: Sequence[Op]) -> bool:
    """Money back on `payment` (a refund made outside billow, a dispute), placed by the ledger once per
    `refund_id`, with `ops` in the transaction that completes it. False when it was placed already."""

    def attempt() -> str | None:
        planned, placed = ledger.money_back(
            account_id,
            refund_id=refund_id,
            amount=amount,
            payment_id=payment.id,
            settled_invoice_ids=settled_by(payment),
        )
        UnitOfWork().add(*planned, *ops).commit()
        return placed.invoice_id

    try:
        invoice_id = retrying(attempt)
    except AlreadyPostedError:
        return False
    # what could be placed nowhere else became a One-time invoice "Payment refunded": issued, so noticed
    inv = ledger.get_invoice(account_id, invoice_id) if invoice_id else None
    if inv is not None:
        issuing.invoice_issued(account_id, [inv])
    return True


def audit_refunds(account_id: str) -> list[str]:
    """What `billow audit` checks on the payments side: no payment refunded beyond what was paid (or
    below zero), and every refund billow booked counted in its payment's refunded total."""
    problems = []
    booked: dict[str, int] = {}
    for refund in store.list_refunds(account_id):
        if refund.status in (store.CREATING, store.SUCCEEDED):
            booked[refund.payment_id] = booked.get(refund.payment_id, 0) + refund.amount
    for payment in store.all_payments(account_id):
        if payment.refunded < 0 or payment.refunded > payment.amount:
            problems.append(f"payment {payment.id} is refunded {payment.refunded} of {payment.amount}")
        elif booked.get(payment.id, 0) > payment.refunded:
            problems.append(
                f"payment {payment.id}: billow's refunds of {booked[payment.id]} exceed its refunded total "
                f"{payment.refunded}"
            )
    return problems
