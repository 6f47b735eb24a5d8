"""Payment-method routes (the card on file) and the `card-validation` queue consumer."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from functions.accounts.service import account_guard
from functions.core import queues
from functions.core.auth import READ, WRITE
from functions.core.http import Call, api
from functions.core.resources import queue_name
from functions.payments import service
from functions.payments.schemas import CardChangeAccepted, CardChangeRequest, PaymentMethod, SetupStarted

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
    guard=account_guard("payment_method"),
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
    guard=account_guard("payment_method"),
)
def get_payment_method(call: Call, account_id: str) -> PaymentMethod:
    return PaymentMethod.model_validate(service.payment_method(account_id))


@bp.on_sqs_message(queue=queue_name(service.QUEUE), batch_size=10, maximum_concurrency=5)
def validate_card(event: Any) -> dict[str, Any]:
    """The `card-validation` consumer: each message validates one card change (partial batch failures)."""
    return queues.process_batch(service.QUEUE, event, service.handle_validation_message)
