"""A payment as the API shows it, and as its outbound events (payment.*) carry it."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from functions.core import outbox
from functions.core.uow import Planned
from functions.payments import store
from functions.payments.store import CardChangeRecord, PaymentRecord


def view(row: PaymentRecord) -> dict[str, Any]:
    """The payment as the API shows it (`creating` is shown as `processing`: Stripe has it in hand)."""
    failure = None
    if row.status in (store.FAILED, store.HELD) or row.decline_code:
        failure = {"code": row.failure_code, "decline_code": row.decline_code, "message": row.failure_message}
    status = store.PROCESSING if row.status == store.CREATING else row.status
    return {
        "id": row.id,
        "account_id": row.account_id,
        "amount": row.amount,
        "currency": row.currency,
        "method": row.method,
        "source": row.source,
        "status": status,
        "invoice_id": row.invoice_id,
        "card": {"brand": row.brand, "last4": row.last4} if row.last4 else None,
        "next_action": row.next_action if row.status == store.REQUIRES_ACTION else None,
        "client_secret": row.client_secret if row.status == store.REQUIRES_ACTION else None,
        "failure": failure,
        "applied_to": row.applied_to,
        "refunded": row.refunded,
        "reference": row.reference,
        "received_on": row.received_on,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    }


def payment_event(type: str, row: PaymentRecord) -> Planned:
    """The outbox row of a payment's change: the payment without its client secret (events leave billow)."""
    return outbox.event(row.account_id, type, {**view(row), "client_secret": None})


def card_change_object(change: CardChangeRecord, status: str, failure_code: str | None = None) -> dict[str, Any]:
    """A card change as payment_method.* events carry it: the card (brand, last4, expiry), the change's
    status and, when validation failed, its code (never the billing contact or a Stripe secret)."""
    return {
        "account_id": change.account_id,
        "setup_intent_id": change.setup_intent_id,
        "type": "card",
        "card": asdict(change.card),
        "status": status,
        "purpose": change.purpose,
        "requested_at": change.requested_at,
        "failure_code": failure_code,
    }


def card_event(type: str, change: CardChangeRecord, status: str, failure_code: str | None = None) -> Planned:
    return outbox.event(change.account_id, type, card_change_object(change, status, failure_code))


def refund_object(
    refund_id: str, payment_id: str, amount: int, currency: str, reason: str, **more: Any
) -> dict[str, Any]:
    """Money refunded to a card, as payment.refunded carries it: the refund, naming its payment (fetch the
    payment for its new `refunded` total)."""
    return {
        "id": refund_id,
        "object": "refund",
        "payment_id": payment_id,
        "amount": amount,
        "currency": currency,
        "reason": reason,
        "status": "succeeded",
        **more,
    }


def dispute_object(dispute: Any, payment_id: str, at: str) -> dict[str, Any]:
    """A dispute as dispute.created carries it (the Stripe dispute's id, amount, reason, status)."""
    return {
        "id": dispute.id,
        "object": "dispute",
        "payment_id": payment_id,
        "amount": dispute.amount,
        "currency": dispute.currency,
        "reason": dispute.reason,
        "status": dispute.status,
        "created_at": at,
    }
