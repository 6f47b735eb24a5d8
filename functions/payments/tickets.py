"""Support tickets (POST /v1/accounts/{id}/support-tickets): stored with card-number-like digit runs
redacted, written with an audit event (so they appear in the account's events), and e-mailed to the
support address from settings."""

from __future__ import annotations

from functions.accounts.service import AccountAccess
from functions.core import audit, clock, email
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
