"""Disputes (DISPUTE#), support tickets (TKT#), the Stripe webhook dedupe markers (WEBHOOK#…) and the
sent markers of messages sent once (SENT#…)."""

from __future__ import annotations

from typing import Any

from functions.core.db import get_or_none
from functions.core.errors import ConcurrentUpdateError, ConflictError
from functions.core.uow import Op, UnitOfWork, put_if_absent
from functions.payments.store.models import (
    DISPUTE,
    EVENT_SK,
    SENT,
    TICKET,
    WEBHOOK,
    DisputeModel,
    EventMarkerModel,
    SentModel,
    TicketModel,
    already,
)


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
    model = DisputeModel(
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


def close_dispute(account_id: str, dispute_id: str, status: str, at: str) -> Op:
    return Op(
        "update",
        DisputeModel(account_id, DISPUTE + dispute_id),
        actions=[DisputeModel.status.set(status), DisputeModel.updated_at.set(at)],
        condition=DisputeModel.sk.exists(),
        label="dispute",
    )


def get_dispute(account_id: str, dispute_id: str) -> dict[str, Any] | None:
    m = get_or_none(DisputeModel, account_id, DISPUTE + dispute_id, consistent_read=True)
    if m is None:
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
    model = TicketModel(
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
    return put_if_absent(model, label="ticket", on_conflict=already(f"ticket {ticket_id} already exists"))


def get_ticket(account_id: str, ticket_id: str) -> dict[str, Any] | None:
    m = get_or_none(TicketModel, account_id, TICKET + ticket_id, consistent_read=True)
    if m is None:
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
    return get_or_none(EventMarkerModel, WEBHOOK + event_id, EVENT_SK, consistent_read=True) is not None


def get_event_marker(event_id: str) -> dict[str, Any] | None:
    m = get_or_none(EventMarkerModel, WEBHOOK + event_id, EVENT_SK, consistent_read=True)
    if m is None:
        return None
    return {"type": m.event_type, "outcome": m.outcome, "account_id": m.account_id, "at": m.created_at}


class EventAlreadyHandledError(ConflictError):
    """The Stripe event's dedupe marker exists: another delivery handled it first."""

    code = "concurrent-update"


def put_event_marker(event_id: str, event_type: str, outcome: str, account_id: str | None, at: str) -> Op:
    """The dedupe marker of a Stripe event, committed with the event's effect."""
    model = EventMarkerModel(
        WEBHOOK + event_id,
        EVENT_SK,
        kind="webhook",
        event_type=event_type,
        outcome=outcome,
        account_id=account_id,
        created_at=at,
    )
    return put_if_absent(
        model, label="webhook", on_conflict=lambda: EventAlreadyHandledError(f"event {event_id} was already handled")
    )


def claim_sent(account_id: str, what: str, at: str) -> bool:
    """Claim the right to send the message `what` of the account once: True for the first caller only."""
    try:
        sent = SentModel(account_id, SENT + what, created_at=at)
        UnitOfWork().add(put_if_absent(sent, label="sent", on_conflict=already(f"{what} was sent"))).commit()
    except ConcurrentUpdateError:
        return False
    return True
