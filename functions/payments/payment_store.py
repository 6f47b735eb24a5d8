"""Payments table, money items: payments, refunds to cards, disputes, support tickets and the Stripe
webhook dedupe markers. Models stay here; the services get the frozen records below and `Op`s.

Items:
  pk=<account>  sk=PAY#<pay_…>       one payment (one-time or off-session): amount, method, status,
                                      the PaymentIntent id, what it settled, how much was refunded
  pk=<account>  sk=REFUND#<ref_…>    one refund to a card through billow (written before Stripe is called)
  pk=<account>  sk=DISPUTE#<dp_…>    a dispute Stripe reported on one of the account's payments
  pk=<account>  sk=TKT#<tkt_…>       a support ticket (card-number-like digit runs redacted)
  pk=WEBHOOK#<evt_…>  sk=EVENT       a Stripe event handled (dedupe marker, with what it did)
Payments carry gsi1_pk=<account>#PAY, gsi1_sk=<created at>#<id> (index `by_created`: newest first).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any

from pynamodb.attributes import UnicodeAttribute
from pynamodb.models import Model

from functions.core.db import IntegerAttribute, SpecIndex, aws_error_code, index_meta, meta, one_page
from functions.core.errors import ConcurrentUpdateError, ConflictError, ValidationFailedError
from functions.core.uow import Op

PAY = "PAY#"
REFUND = "REFUND#"
DISPUTE = "DISPUTE#"
TICKET = "TKT#"
WEBHOOK = "WEBHOOK#"
EVENT_SK = "EVENT"

# Payment statuses (docs/payments.md has the state machine).
CREATING = "creating"  # the row exists, Stripe not called yet (or its answer was lost)
REQUIRES_ACTION = "requires_action"  # 3-D Secure or PayPal approval pending
PROCESSING = "processing"
SUCCEEDED = "succeeded"  # Stripe accepted it and the ledger has it
FAILED = "failed"
# Stripe took an amount or currency the row did not ask for: nothing applied, operators alarmed.
HELD = "held"
FINAL = (SUCCEEDED, FAILED, HELD)


class PaymentsByCreated(SpecIndex):
    Meta = index_meta("payments", "by_created")
    gsi1_pk = UnicodeAttribute(hash_key=True)
    gsi1_sk = UnicodeAttribute(range_key=True)


class MoneyModel(Model):
    Meta = meta("payments")
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    kind = UnicodeAttribute(null=True)  # payment | refund | dispute | ticket | webhook
    # payments
    payment_id = UnicodeAttribute(null=True)
    amount = IntegerAttribute(null=True)
    currency = UnicodeAttribute(null=True)
    method = UnicodeAttribute(null=True)  # card | paypal
    source = UnicodeAttribute(null=True)  # one_time | off_session
    status = UnicodeAttribute(null=True)
    invoice_id = UnicodeAttribute(null=True)  # the invoice the payment targets
    payment_intent_id = UnicodeAttribute(null=True)
    client_secret = UnicodeAttribute(null=True)  # while requires_action, for Stripe.js; never logged
    next_action = UnicodeAttribute(null=True)  # JSON
    failure_code = UnicodeAttribute(null=True)
    decline_code = UnicodeAttribute(null=True)
    failure_message = UnicodeAttribute(null=True)
    brand = UnicodeAttribute(null=True)
    last4 = UnicodeAttribute(null=True)
    applied_to = UnicodeAttribute(null=True)  # JSON [{invoice_id, amount}], None-invoice = unapplied credit
    refunded = IntegerAttribute(null=True)
    reserved = IntegerAttribute(null=True)  # what the payment holds in flight on the balance (0 once released)
    dispute_id = UnicodeAttribute(null=True)
    receipt_sent_at = UnicodeAttribute(null=True)
    created_by = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute(null=True)
    updated_at = UnicodeAttribute(null=True)
    gsi1_pk = UnicodeAttribute(null=True)
    gsi1_sk = UnicodeAttribute(null=True)
    by_created = PaymentsByCreated()
    # refunds, disputes, tickets, webhook markers
    refund_id = UnicodeAttribute(null=True)
    stripe_id = UnicodeAttribute(null=True)  # re_…, dp_…
    reason = UnicodeAttribute(null=True)
    subject = UnicodeAttribute(null=True)
    message = UnicodeAttribute(null=True)
    account_id = UnicodeAttribute(null=True)
    event_type = UnicodeAttribute(null=True)
    outcome = UnicodeAttribute(null=True)
    return_credit = UnicodeAttribute(null=True)  # refunds: "true" when the refund returns unapplied credit


@dataclass(frozen=True)
class PaymentRecord:
    account_id: str
    id: str
    amount: int
    currency: str
    method: str
    source: str
    status: str
    created_at: str
    updated_at: str
    created_by: str
    invoice_id: str | None = None
    payment_intent_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    next_action: dict[str, Any] | None = None
    failure_code: str | None = None
    decline_code: str | None = None
    failure_message: str | None = None
    brand: str | None = None
    last4: str | None = None
    applied_to: list[dict[str, Any]] = field(default_factory=list)
    refunded: int = 0
    dispute_id: str | None = None
    receipt_sent_at: str | None = None
    # Reserved on the balance's (and the targeted invoice's) in-flight totals by the row's first
    # transaction; set back to 0 by the transaction that releases it (apply step or failure).
    reserved: int = 0


@dataclass(frozen=True)
class RefundRecord:
    account_id: str
    id: str
    payment_id: str
    amount: int
    reason: str
    status: str  # creating | succeeded | failed (refused, abandoned after 23 h, or failed at the bank)
    invoice_id: str
    created_at: str
    stripe_refund_id: str | None = None
    return_credit: bool = False  # money back of unapplied credit, no Refund invoice (DESIGN §3 v4)


def _payment(m: MoneyModel) -> PaymentRecord:
    return PaymentRecord(
        account_id=m.pk,
        id=m.payment_id or "",
        amount=m.amount or 0,
        currency=m.currency or "",
        method=m.method or "card",
        source=m.source or "one_time",
        status=m.status or CREATING,
        created_at=m.created_at or "",
        updated_at=m.updated_at or "",
        created_by=m.created_by or "",
        invoice_id=m.invoice_id,
        payment_intent_id=m.payment_intent_id,
        client_secret=m.client_secret,
        next_action=json.loads(m.next_action) if m.next_action else None,
        failure_code=m.failure_code,
        decline_code=m.decline_code,
        failure_message=m.failure_message,
        brand=m.brand,
        last4=m.last4,
        applied_to=json.loads(m.applied_to) if m.applied_to else [],
        refunded=m.refunded or 0,
        dispute_id=m.dispute_id,
        receipt_sent_at=m.receipt_sent_at,
        reserved=m.reserved or 0,
    )


def _payment_model(p: PaymentRecord) -> MoneyModel:
    return MoneyModel(
        p.account_id,
        PAY + p.id,
        kind="payment",
        payment_id=p.id,
        amount=p.amount,
        currency=p.currency,
        method=p.method,
        source=p.source,
        status=p.status,
        invoice_id=p.invoice_id,
        payment_intent_id=p.payment_intent_id,
        client_secret=p.client_secret,
        next_action=json.dumps(p.next_action, sort_keys=True) if p.next_action else None,
        failure_code=p.failure_code,
        decline_code=p.decline_code,
        failure_message=p.failure_message,
        brand=p.brand,
        last4=p.last4,
        applied_to=json.dumps(p.applied_to),
        refunded=p.refunded,
        reserved=p.reserved or None,
        dispute_id=p.dispute_id,
        receipt_sent_at=p.receipt_sent_at,
        created_by=p.created_by,
        created_at=p.created_at,
        updated_at=p.updated_at,
        gsi1_pk=f"{p.account_id}#PAY",
        gsi1_sk=f"{p.created_at}#{p.id}",
    )


def get_payment(account_id: str, payment_id: str) -> PaymentRecord | None:
    try:
        return _payment(MoneyModel.get(account_id, PAY + payment_id, consistent_read=True))
    except MoneyModel.DoesNotExist:
        return None


def list_payments(
    account_id: str, limit: int, last_key: dict[str, Any] | None
) -> tuple[list[PaymentRecord], dict[str, Any] | None]:
    """One page of the account's payments, newest first (a bounded Query on the by_created index)."""
    result = MoneyModel.by_created.query(
        f"{account_id}#PAY", scan_index_forward=False, limit=limit, last_evaluated_key=last_key, page_size=limit
    )
    models, last = one_page(result, MoneyModel)
    return [_payment(m) for m in models], last


def put_new_payment(p: PaymentRecord) -> Op:
    """The payment row, status `creating`, before Stripe is called; fails if the id exists."""
    return Op(
        "put",
        _payment_model(p),
        condition=MoneyModel.sk.does_not_exist(),
        on_conflict=lambda: ConcurrentUpdateError(f"payment {p.id} already exists"),
        label="payment",
    )


def save_payment(before: PaymentRecord, after: PaymentRecord) -> Op:
    """Replace the row, only if it is still in the state it was read in (status and refunded)."""
    condition = (MoneyModel.status == before.status) & (MoneyModel.refunded == before.refunded)
    return Op(
        "put",
        _payment_model(after),
        condition=condition,
        on_conflict=lambda: ConcurrentUpdateError(f"payment {before.id} changed while this request ran"),
        label="payment",
    )


def mark_receipt_sent(p: PaymentRecord, at: str) -> None:
    """The receipt e-mail's sent marker, written once SES accepted the receipt (a second writer keeps
    the first marker)."""
    from pynamodb.exceptions import UpdateError

    try:
        MoneyModel(p.account_id, PAY + p.id).update(
            actions=[MoneyModel.receipt_sent_at.set(at)],
            condition=MoneyModel.receipt_sent_at.does_not_exist() & MoneyModel.sk.exists(),
        )
    except UpdateError as exc:
        if aws_error_code(exc) != "ConditionalCheckFailedException":
            raise


# --- refunds ---------------------------------------------------------------------------------------


def _refund(m: MoneyModel) -> RefundRecord:
    return RefundRecord(
        account_id=m.pk,
        id=m.refund_id or "",
        payment_id=m.payment_id or "",
        amount=m.amount or 0,
        reason=m.reason or "",
        status=m.status or CREATING,
        invoice_id=m.invoice_id or "",
        created_at=m.created_at or "",
        stripe_refund_id=m.stripe_id,
        return_credit=m.return_credit == "true",
    )


def get_refund(account_id: str, refund_id: str) -> RefundRecord | None:
    try:
        return _refund(MoneyModel.get(account_id, REFUND + refund_id, consistent_read=True))
    except MoneyModel.DoesNotExist:
        return None


def _refund_model(r: RefundRecord) -> MoneyModel:
    return MoneyModel(
        r.account_id,
        REFUND + r.id,
        kind="refund",
        refund_id=r.id,
        payment_id=r.payment_id,
        amount=r.amount,
        reason=r.reason,
        status=r.status,
        invoice_id=r.invoice_id,
        created_at=r.created_at,
        stripe_id=r.stripe_refund_id,
        return_credit="true" if r.return_credit else None,
    )


def put_new_refund(r: RefundRecord) -> Op:
    return Op(
        "put",
        _refund_model(r),
        condition=MoneyModel.sk.does_not_exist(),
        on_conflict=lambda: ConcurrentUpdateError(f"refund {r.id} already exists"),
        label="refund",
    )


def complete_refund(r: RefundRecord, stripe_refund_id: str) -> Op:
    """Stripe accepted the refund and the ledger has it: `creating` -> `succeeded` (once)."""
    after = replace(r, status=SUCCEEDED, stripe_refund_id=stripe_refund_id)
    return Op(
        "put",
        _refund_model(after),
        condition=MoneyModel.status == CREATING,
        on_conflict=lambda: ConcurrentUpdateError(f"refund {r.id} was completed by another request"),
        label="refund",
    )


def fail_refund(r: RefundRecord, stripe_refund_id: str | None = None) -> list[Op]:
    """The refund will not happen (Stripe refused it, or it never reached Stripe within 23 h): the row
    is closed `failed` and the amount it reserved on its payment is released — once, with the row."""
    after = replace(r, status=FAILED, stripe_refund_id=stripe_refund_id or r.stripe_refund_id)
    return [
        Op(
            "put",
            _refund_model(after),
            condition=MoneyModel.status == CREATING,
            on_conflict=lambda: ConcurrentUpdateError(f"refund {r.id} was completed by another request"),
            label="refund",
        ),
        release_refund(r.account_id, r.payment_id, r.amount),
    ]


def refund_failed_later(r: RefundRecord) -> list[Op]:
    """A refund Stripe accepted that failed at the bank afterwards (`charge.refund.updated`): the row
    `succeeded` -> `failed` (once) and its reservation on the payment released."""
    return [
        Op(
            "put",
            _refund_model(replace(r, status=FAILED)),
            condition=MoneyModel.status == SUCCEEDED,
            on_conflict=lambda: ConcurrentUpdateError(f"refund {r.id} changed while this event was handled"),
            label="refund",
        ),
        release_refund(r.account_id, r.payment_id, r.amount),
    ]


def reserve_refund(p: PaymentRecord, amount: int) -> Op:
    """Add `amount` to the payment's refunded total in the refund's first transaction, only while the
    payment is succeeded and refunded + amount <= what was paid: one conditional update, so two
    concurrent refunds can never both pass (DESIGN §3 v4 Refund limits)."""

    def over() -> ValidationFailedError:
        current = get_payment(p.account_id, p.id)
        left = (current.amount - current.refunded) if current else 0
        return ValidationFailedError(
            f"at most {max(left, 0)} is left of payment {p.id} to refund (paid {p.amount})",
            code="refund-exceeds-remaining",
        )

    if amount > p.amount:
        raise over()
    model = MoneyModel(p.account_id, PAY + p.id)
    condition = (MoneyModel.status == SUCCEEDED) & (
        MoneyModel.refunded.does_not_exist() | (MoneyModel.refunded <= p.amount - amount)
    )
    condition &= MoneyModel.amount == p.amount
    return Op(
        "update",
        model,
        actions=[MoneyModel.refunded.add(amount)],
        condition=condition,
        on_conflict=over,
        label="payment",
    )


def release_refund(account_id: str, payment_id: str, amount: int) -> Op:
    """Give back what a refund reserved on its payment (the refund failed). Only ever committed with the
    refund row's own conditional transition, which makes it happen once."""
    model = MoneyModel(account_id, PAY + payment_id)
    return Op(
        "update",
        model,
        actions=[MoneyModel.refunded.add(-amount)],
        condition=MoneyModel.sk.exists(),
        label="payment",
    )


def add_refunded(account_id: str, payment_id: str, amount: int) -> Op:
    """Money went back to the payment's card outside a billow refund (the Dashboard, a dispute):
    its refunded total moves by `amount` (negative when it comes back). A fact, not a reservation."""
    model = MoneyModel(account_id, PAY + payment_id)
    return Op(
        "update",
        model,
        actions=[MoneyModel.refunded.add(amount)],
        condition=MoneyModel.sk.exists(),
        label="payment",
    )


def list_refunds(account_id: str) -> list[RefundRecord]:
    """Every refund row of the account (audits; not a request path)."""
    return [_refund(m) for m in MoneyModel.query(account_id, MoneyModel.sk.startswith(REFUND), consistent_read=True)]


def all_payments(account_id: str) -> list[PaymentRecord]:
    """Every payment row of the account (audits; not a request path)."""
    return [_payment(m) for m in MoneyModel.query(account_id, MoneyModel.sk.startswith(PAY), consistent_read=True)]


# --- disputes, tickets, webhook markers --------------------------------------------------------------


def put_dispute(
    account_id: str,
    dispute_id: str,
    payment_id: str,
    amount: int,
    currency: str,
    reason: str,
    at: str,
    status: str | None = None,
) -> Op:
    model = MoneyModel(
        account_id,
        DISPUTE + dispute_id,
        kind="dispute",
        stripe_id=dispute_id,
        payment_id=payment_id,
        amount=amount,
        currency=currency,
        reason=reason,
        created_at=at,
        status=status,
    )
    return Op("put", model, label="dispute")


def mark_disputed(account_id: str, payment_id: str, dispute_id: str, amount: int, at: str) -> Op:
    """A dispute took `amount` of the payment back (negative: a won dispute gave it back): the payment's
    refunded total counts it, so no refund can then take more than what is left."""
    model = MoneyModel(account_id, PAY + payment_id)
    return Op(
        "update",
        model,
        actions=[MoneyModel.dispute_id.set(dispute_id), MoneyModel.refunded.add(amount), MoneyModel.updated_at.set(at)],
        condition=MoneyModel.sk.exists(),
        label="payment",
    )


def close_dispute(account_id: str, dispute_id: str, status: str, at: str) -> Op:
    model = MoneyModel(account_id, DISPUTE + dispute_id)
    return Op(
        "update",
        model,
        actions=[MoneyModel.status.set(status), MoneyModel.updated_at.set(at)],
        condition=MoneyModel.sk.exists(),
        label="dispute",
    )


def get_dispute(account_id: str, dispute_id: str) -> dict[str, Any] | None:
    try:
        m = MoneyModel.get(account_id, DISPUTE + dispute_id, consistent_read=True)
    except MoneyModel.DoesNotExist:
        return None
    return {
        "id": m.stripe_id,
        "payment_id": m.payment_id,
        "amount": m.amount,
        "reason": m.reason,
        "status": m.status or "needs_response",
    }


def put_ticket(
    account_id: str,
    ticket_id: str,
    subject: str,
    message: str,
    payment_id: str | None,
    invoice_id: str | None,
    created_by: str,
    at: str,
) -> Op:
    model = MoneyModel(
        account_id,
        TICKET + ticket_id,
        kind="ticket",
        subject=subject,
        message=message,
        payment_id=payment_id,
        invoice_id=invoice_id,
        created_by=created_by,
        created_at=at,
        status="open",
    )
    return Op(
        "put",
        model,
        condition=MoneyModel.sk.does_not_exist(),
        on_conflict=lambda: ConcurrentUpdateError(f"ticket {ticket_id} already exists"),
        label="ticket",
    )


def get_ticket(account_id: str, ticket_id: str) -> dict[str, Any] | None:
    try:
        m = MoneyModel.get(account_id, TICKET + ticket_id, consistent_read=True)
    except MoneyModel.DoesNotExist:
        return None
    return {
        "subject": m.subject,
        "message": m.message,
        "payment_id": m.payment_id,
        "invoice_id": m.invoice_id,
        "status": m.status,
        "created_at": m.created_at,
    }


def event_seen(event_id: str) -> bool:
    try:
        MoneyModel.get(WEBHOOK + event_id, EVENT_SK, consistent_read=True)
        return True
    except MoneyModel.DoesNotExist:
        return False


def get_event_marker(event_id: str) -> dict[str, Any] | None:
    try:
        m = MoneyModel.get(WEBHOOK + event_id, EVENT_SK, consistent_read=True)
    except MoneyModel.DoesNotExist:
        return None
    return {"type": m.event_type, "outcome": m.outcome, "account_id": m.account_id, "at": m.created_at}


class EventAlreadyHandledError(ConflictError):
    """The Stripe event's dedupe marker exists: another delivery handled it first."""

    code = "concurrent-update"


def put_event_marker(event_id: str, event_type: str, outcome: str, account_id: str | None, at: str) -> Op:
    """The dedupe marker of a Stripe event, committed with the event's effect."""
    model = MoneyModel(
        WEBHOOK + event_id,
        EVENT_SK,
        kind="webhook",
        event_type=event_type,
        outcome=outcome,
        account_id=account_id,
        created_at=at,
    )
    return Op(
        "put",
        model,
        condition=MoneyModel.pk.does_not_exist(),
        on_conflict=lambda: EventAlreadyHandledError(f"event {event_id} was already handled"),
        label="webhook",
    )
