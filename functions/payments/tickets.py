"""Support tickets (POST /v1/accounts/{id}/support-tickets): stored with card-number-like digit runs
redacted, written with an audit event (so they appear in the account's events), and e-mailed to the
support address from settings. Members (viewers too) list them newest first and read one; every
failure e-mail and a refusal that is not a decline point here (SUPPORT_PATH)."""

from __future__ import annotations

from typing import Any

from functions.accounts.service import AccountAccess
from functions.core import audit, clock, cursor, email
from functions.core.card_data import redact_card_numbers
from functions.core.errors import NotFoundError
from functions.core.idempotency import IdempotencyContext
from functions.core.ids import is_id, new_id
from functions.core.ledger import get_invoice
from functions.core.logs import get_logger
from functions.core.settings import get_settings
from functions.core.uow import UnitOfWork
from functions.payments import emails, store

REDACTED = "[redacted card number]"


def support_path(account_id: str) -> str:
    """Where a customer opens a ticket: the API route the console's Support page posts to."""
    return f"/v1/accounts/{account_id}/support-tickets"


def list_tickets(access: AccountAccess, limit: int, after: str | None, route: str) -> dict[str, Any]:
    """One page of the account's tickets, newest first, with the signed cursor of the next."""
    account_id = access.account.id
    last_key = cursor.decode(after, account_id, route, {})
    rows, last = store.list_tickets(account_id, limit, last_key)
    return {"data": rows, "next_cursor": cursor.encode(account_id, route, {}, last)}


def get_ticket(access: AccountAccess, ticket_id: str) -> dict[str, Any]:
    """One of the account's tickets; another account's (or an unknown) id is 404."""
    found = store.get_ticket(access.account.id, ticket_id) if is_id(ticket_id, "tkt") else None
    if found is None:
        raise NotFoundError(f"no ticket {ticket_id} on this account", code="ticket-not-found")
    return found


def redact(text: str) -> str:
    """Replace every card-number-like digit run (13-19 digits, Luhn-valid) with a marker."""
    return redact_card_numbers(text, REDACTED)


def open_ticket(
    access: AccountAccess,
    subject: str,
    message: str,
    payment_id: str | None,
    invoice_id: str | None,
    idem: IdempotencyContext | None = None,
) -> str:
    """Store a ticket and e-mail it to support; returns its id."""
    account = access.account
    if payment_id is not None and (not is_id(payment_id, "pay") or store.get_payment(account.id, payment_id) is None):
        raise NotFoundError(f"no payment {payment_id} on this account", code="payment-not-found")
    if invoice_id is not None and (not is_id(invoice_id, "inv") or get_invoice(account.id, invoice_id) is None):
        raise NotFoundError(f"no invoice {invoice_id} on this account", code="invoice-not-found")
    ticket_id = idem.derive("tkt") if idem is not None else new_id("tkt")
    subject, message = redact(subject), redact(message)
    at = clock.iso(clock.now())
    ops = [
        store.put_ticket(account.id, ticket_id, subject, message, payment_id, invoice_id, access.actor.id, at),
        audit.record(
            account.id,
            access.actor,
            "support_ticket.opened",
            ticket_id,
            None,
            {"subject": subject, "payment_id": payment_id, "invoice_id": invoice_id},
        ),
    ]
    if idem is not None:
        ops.append(idem.completed({"ticket_id": ticket_id}))
    UnitOfWork().add(*ops).commit()
    try:
        email.send(
            emails.ticket(
                get_settings().support_email,
                account,
                ticket_id,
                subject,
                message,
                {"payment": payment_id, "invoice": invoice_id, "opened by": access.actor.id},
            )
        )
    except Exception:  # the ticket is stored and in the events; support also reads them there
        get_logger().exception("ticket e-mail failed", ticket_id=ticket_id)
    return ticket_id
