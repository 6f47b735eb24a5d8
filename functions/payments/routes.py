"""Payment routes: the card on file (and the `card-validation` queue consumer), one-time payments, support
tickets, and Stripe's webhook."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from functions.accounts.service import Account, UpdateAccount, account_guard, account_view
from functions.core import queues
from functions.core.auth import READ, WRITE
from functions.core.http import Call, api
from functions.core.middleware import deployed_worker
from functions.core.resources import queue_name
from functions.core.schemas import PageQuery
from functions.payments import lifecycle, one_time, service, tickets, webhooks
from functions.payments.schemas import (
    CardChangeAccepted,
    CardChangeRequest,
    Payment,
    PaymentList,
    PaymentMethod,
    PaymentRequest,
    SetupStarted,
    SupportTicket,
    SupportTicketRequest,
    Ticket,
    TicketList,
    UpgradeRequest,
    WebhookReceived,
)

bp = Blueprint(__name__)

PAYMENT_METHOD = "/v1/accounts/{account_id}/payment-method"


@api(
    bp,
    "POST",
    f"{PAYMENT_METHOD}/setup",
    scope=WRITE,
    summary="Start adding or changing the card: a Stripe SetupIntent for the console's Stripe.js",
    response=SetupStarted,
    status=201,
    guard=account_guard(),  # lite accounts too: the card of their upgrade
    refuse_card_data=True,
)
def start_setup(call: Call, account_id: str) -> SetupStarted:
    started = service.start_setup(call.account)
    return SetupStarted(
        setup_intent_id=started.setup_intent_id,
        client_secret=started.client_secret,
        publishable_key=started.publishable_key,
    )


@api(
    bp,
    "PUT",
    PAYMENT_METHOD,
    scope=WRITE,
    summary="Submit a succeeded SetupIntent as the new card; validated asynchronously, then e-mailed",
    body=CardChangeRequest,
    response=CardChangeAccepted,
    status=202,
    guard=account_guard("payment_method"),
    refuse_card_data=True,
)
def change_card(call: Call, account_id: str) -> CardChangeAccepted:
    body: CardChangeRequest = call.body
    accepted = service.request_change(
        call.account, body.setup_intent_id, body.billing_contact.model_dump(mode="json", exclude_none=True)
    )
    return CardChangeAccepted.model_validate(
        {"status": accepted.status, "setup_intent_id": accepted.setup_intent_id, "card": accepted.card}
    )


@api(
    bp,
    "GET",
    PAYMENT_METHOD,
    scope=READ,
    summary="The card on file (brand, last4, expiry, status) and any pending change",
    response=PaymentMethod,
    guard=account_guard(),  # lite accounts too: their upgrade's state
)
def get_payment_method(call: Call, account_id: str) -> PaymentMethod:
    return PaymentMethod.model_validate(service.payment_method(account_id))


@api(
    bp,
    "PATCH",
    "/v1/accounts/{account_id}",
    scope=WRITE,
    summary="Change the account: name, billing contact, locale, invoice_emails; operators also collection, net_days",
    body=UpdateAccount,
    response=Account,
    guard=account_guard(),
    problems=((422, "nothing-to-update"), (422, "collection-not-allowed")),
)
def update_account(call: Call, account_id: str) -> Account:
    return account_view(lifecycle.update(call.account, call.body.model_dump(mode="json", exclude_unset=True)))


@api(
    bp,
    "POST",
    "/v1/accounts/{account_id}/upgrade",
    scope=WRITE,
    summary="Upgrade a lite account to payg with a succeeded SetupIntent; done when the card validates",
    body=UpgradeRequest,
    response=CardChangeAccepted,
    status=202,
    guard=account_guard(),
    refuse_card_data=True,
    problems=((409, "account-closed"), (409, "account-not-lite")),
)
def upgrade(call: Call, account_id: str) -> CardChangeAccepted:
    body: UpgradeRequest = call.body
    contact = body.billing_contact.model_dump(mode="json", exclude_none=True)
    accepted = lifecycle.request_upgrade(call.account, body.setup_intent_id, contact)
    return CardChangeAccepted.model_validate(
        {"status": accepted.status, "setup_intent_id": accepted.setup_intent_id, "card": accepted.card}
    )


@deployed_worker
@bp.on_sqs_message(queue=queue_name(service.QUEUE), batch_size=10, maximum_concurrency=5)
def validate_card(event: Any) -> dict[str, Any]:
    """The `card-validation` consumer: each message validates one card change (partial batch failures)."""
    return queues.process_batch(service.QUEUE, event, service.handle_validation_message)


@deployed_worker
@bp.on_sqs_message(queue=queue_name(service.COLLECTIONS_QUEUE), batch_size=10, maximum_concurrency=10)
def collect(event: Any) -> dict[str, Any]:
    """The `collections` consumer: each message collects one account's open collection (partial batch failures)."""
    return queues.process_batch(service.COLLECTIONS_QUEUE, event, service.handle_collection_message)


# --- payments, support tickets, webhooks ---------------------------------------------------------

PAYMENTS = "/v1/accounts/{account_id}/payments"


@api(
    bp,
    "POST",
    PAYMENTS,
    scope=WRITE,
    summary="Pay all or part of the balance (or an invoice) by card or PayPal; applied once Stripe accepts it",
    body=PaymentRequest,
    response=Payment,
    status=201,
    idempotent=True,
    guard=account_guard("payments"),
    refuse_card_data=True,
    problems=((422, "amount-below-minimum"), (422, "no-card-on-file")),
)
def create_payment(call: Call, account_id: str) -> Payment:
    return Payment.model_validate(one_time.create_payment(call.account, call.idem, call.body))


@api(
    bp,
    "GET",
    PAYMENTS,
    scope=READ,
    summary="The account's payments, newest first",
    query=PageQuery,
    response=PaymentList,
    guard=account_guard("payments"),
)
def list_payments(call: Call, account_id: str) -> PaymentList:
    page = one_time.list_payments(call.account, call.query.limit, call.query.cursor, "payments")
    return PaymentList.model_validate(page)


@api(
    bp,
    "GET",
    f"{PAYMENTS}/{{payment_id}}",
    scope=READ,
    summary="One payment with what it settled; while requires_action, the client_secret Stripe.js needs",
    response=Payment,
    guard=account_guard("payments"),
)
def get_payment(call: Call, account_id: str, payment_id: str) -> Payment:
    return Payment.model_validate(one_time.get_payment(call.account, payment_id))


@api(
    bp,
    "POST",
    "/v1/accounts/{account_id}/support-tickets",
    scope=WRITE,
    summary="Open a support ticket (card-number-like digits are redacted), e-mailed to support",
    body=SupportTicketRequest,
    response=SupportTicket,
    status=201,
    guard=account_guard(),
)
def open_support_ticket(call: Call, account_id: str) -> SupportTicket:
    body: SupportTicketRequest = call.body
    ticket_id = tickets.open_ticket(call.account, body.subject, body.message, body.payment_id, body.invoice_id)
    return SupportTicket(ticket_id=ticket_id)


@api(
    bp,
    "GET",
    "/v1/accounts/{account_id}/support-tickets",
    scope=READ,
    summary="The account's support tickets, newest first",
    query=PageQuery,
    response=TicketList,
    guard=account_guard(),
)
def list_support_tickets(call: Call, account_id: str) -> TicketList:
    page = tickets.list_tickets(call.account, call.query.limit, call.query.cursor, "support-tickets")
    return TicketList.model_validate(page)


@api(
    bp,
    "GET",
    "/v1/accounts/{account_id}/support-tickets/{ticket_id}",
    scope=READ,
    summary="One support ticket of the account",
    response=Ticket,
    guard=account_guard(),
)
def get_support_ticket(call: Call, account_id: str, ticket_id: str) -> Ticket:
    return Ticket.model_validate(tickets.get_ticket(call.account, ticket_id))


@api(
    bp,
    "POST",
    "/v1/webhooks/stripe",
    scope=None,
    summary="Stripe's events (signed): payments accepted or failed, refunds, disputes",
    response=WebhookReceived,
)
def stripe_webhook(call: Call) -> WebhookReceived:
    return WebhookReceived.model_validate(webhooks.handle(call.raw_body, call.headers.get("stripe-signature")))
