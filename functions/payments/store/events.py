"""Disputes (DISPUTE#), support tickets (TKT#), the Stripe webhook dedupe markers (WEBHOOK#…) and the
invoice notices' sent markers (NOTICE#)."""

from __future__ import annotations

from typing import Any

from pynamodb.exceptions import PutError

from functions.core.db import aws_error_code, get_or_none, one_page
from functions.core.errors import ConflictError
from functions.core.uow import Op, put_if_absent
from functions.payments.store.models import (
    DISPUTE,
    EVENT_SK,
    NOTICE,
    TICKET,
    WEBHOOK,
    DisputeModel,
    EventMarkerModel,
    NoticeModel,
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
        gsi1_pk=f"{account_id}#TKT",
        gsi1_sk=f"{at}#{ticket_id}",
    )
    return put_if_absent(model, label="ticket", on_conflict=already(f"ticket {ticket_id} already exists"))


def get_ticket(account_id: str, ticket_id: str) -> dict[str, Any] | None:
    m = get_or_none(TicketModel, account_id, TICKET + ticket_id, consistent_read=True)
    return _ticket(m) if m is not None else None


def list_tickets(
    account_id: str, limit: int, last_key: dict[str, Any] | None
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """One page of the account's tickets, newest first (a bounded Query on the by_created index)."""
    result = TicketModel.by_created.query(
        f"{account_id}#TKT", scan_index_forward=False, limit=limit, last_evaluated_key=last_key, page_size=limit
    )
    models, last = one_page(result, TicketModel)
    return [_ticket(m) for m in models], last


def _ticket(m: TicketModel) -> dict[str, Any]:
    return {
        "id": m.sk.removeprefix(TICKET),
        "account_id": m.pk,
        "subject": m.subject,
        "message": m.message,
        "payment_id": m.payment_id,
        "invoice_id": m.invoice_id,
        "status": m.status,
        "created_by": m.created_by,
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


def claim_notice(account_id: str, invoice_id: str, at: str, what: str = "") -> bool:
    """Put the sent marker of an invoice's notice (or, with `what`, of another message about the invoice
    sent once, e.g. a reminder: NOTICE#<invoice>#<what>) if it is absent. True for the first writer,
    False when the marker exists (another delivery, or an earlier attempt, sent it). Notices and
    reminders write it after SES accepted them (`mark_notice`): at least once, never lost."""
    key = NOTICE + invoice_id + (f"#{what}" if what else "")
    model = NoticeModel(account_id, key, kind="notice", invoice_id=invoice_id, status="sent", sent_at=at)
    try:
        model.save(condition=NoticeModel.sk.does_not_exist())
    except PutError as exc:
        if aws_error_code(exc) != "ConditionalCheckFailedException":
            raise
        return False
    return True


def notice_marked(account_id: str, invoice_id: str, what: str = "") -> bool:
    """Whether the invoice's notice (or its message `what`) was sent (its marker exists; a consistent read)."""
    key = NOTICE + invoice_id + (f"#{what}" if what else "")
    return get_or_none(NoticeModel, account_id, key, consistent_read=True) is not None


def mark_notice(account_id: str, invoice_id: str, at: str, what: str = "") -> None:
    """The sent marker, written once SES accepted the message (a second writer leaves the first)."""
    claim_notice(account_id, invoice_id, at, what)


def get_notice(account_id: str, invoice_id: str) -> dict[str, Any] | None:
    m = get_or_none(NoticeModel, account_id, NOTICE + invoice_id, consistent_read=True)
    if m is None:
        return None
    return {"status": m.status, "sent_at": m.sent_at}
