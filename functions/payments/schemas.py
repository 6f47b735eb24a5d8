"""Request and response models of the payments routes (card on file, payments, support tickets),
and the card-validation message."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from functions.core.schemas import BillingContact, Currency, PositiveAmount, Request, SingleLine

# Stripe ids are a prefix and base62; anything else cannot be a SetupIntent of ours.
SETUP_INTENT_ID = r"^seti_[A-Za-z0-9]{1,250}$"


class SetupStarted(BaseModel):
    setup_intent_id: str
    client_secret: str = Field(description="for Stripe.js confirmCardSetup; never logged")
    publishable_key: str


class CardChangeRequest(Request):
    setup_intent_id: str = Field(pattern=SETUP_INTENT_ID, description="a SetupIntent from POST …/setup, succeeded")
    billing_contact: BillingContact


class CardView(BaseModel):
    brand: str
    last4: str
    exp_month: int
    exp_year: int


class CardChangeAccepted(BaseModel):
    status: Literal["pending_validation", "active", "superseded", "failed"]
    setup_intent_id: str
    card: CardView


class CardOnFile(CardView):
    status: Literal["active", "expired"]
    activated_at: str
    billing_contact: BillingContact


class PendingChange(CardView):
    status: Literal["pending_validation"] = "pending_validation"
    setup_intent_id: str
    requested_at: str


class FailedChange(CardView):
    setup_intent_id: str
    code: str = Field(description="validation-timed-out (pending 24 h after the PUT), or Stripe's refusal code")
    message: str
    failed_at: str


class Upgrade(BaseModel):
    """A lite account's upgrade to payg through the card flow, as last requested."""

    setup_intent_id: str
    status: Literal["pending_validation", "completed", "failed"]
    at: str
    failure_code: str | None = Field(None, description="failed: why (the card's code, or account-not-lite)")


class PaymentMethod(BaseModel):
    card: CardOnFile | None
    pending_change: PendingChange | None
    last_failed_change: FailedChange | None = Field(
        None, description="the last card change that failed, until a newer card is active"
    )
    upgrade: Upgrade | None = None


class UpgradeRequest(CardChangeRequest):
    """POST /v1/accounts/{id}/upgrade: a succeeded SetupIntent (from POST …/payment-method/setup) and the
    card's billing contact."""


class CardValidationMessage(BaseModel):
    """The body of a `card-validation` message: which change of which account to validate."""

    account_id: str
    setup_intent_id: str


# --- payments ------------------------------------------------------------------------------------

PAYMENT_METHOD_ID = r"^pm_[A-Za-z0-9]{1,250}$"


class PaymentRequest(Request):
    amount: PositiveAmount
    currency: Currency | None = None
    method: Literal["card", "paypal", "offline"] = "card"
    payment_method_id: str | None = Field(
        None, pattern=PAYMENT_METHOD_ID, description="card: a PaymentMethod from Stripe.js; omit for the card on file"
    )
    return_url: str | None = Field(None, max_length=2000, description="paypal: where PayPal sends the customer back")
    invoice_id: str | None = Field(None, max_length=64, description="settle this invoice first")
    reference: SingleLine | None = Field(
        None, min_length=1, max_length=200, description="offline (operators): the transfer's or cheque's reference"
    )
    received_on: date | None = Field(None, description="offline (operators): the day the money was received")

    @model_validator(mode="after")
    def _method_fields(self) -> PaymentRequest:
        if self.method != "card" and self.payment_method_id is not None:
            raise ValueError("payment_method_id is for card payments")
        if self.method != "paypal" and self.return_url is not None:
            raise ValueError("return_url is for PayPal payments")
        offline = (self.reference, self.received_on)
        if self.method == "offline" and None in offline:
            raise ValueError("an offline payment needs reference and received_on")
        if self.method != "offline" and offline != (None, None):
            raise ValueError("reference and received_on are for offline payments")
        return self


class PaymentCard(BaseModel):
    brand: str | None
    last4: str | None


class PaymentFailure(BaseModel):
    code: str | None
    decline_code: str | None
    message: str | None


class PaymentApplied(BaseModel):
    invoice_id: str | None  # None: the part left as unapplied credit
    amount: int


class Payment(BaseModel):
    id: str
    account_id: str
    amount: int
    currency: str
    method: Literal["card", "paypal", "offline"]
    source: Literal["one_time", "off_session", "offline"]
    status: Literal["processing", "requires_action", "succeeded", "failed", "held"]
    invoice_id: str | None
    card: PaymentCard | None
    next_action: dict[str, Any] | None = Field(
        description="requires_action: redirect_to_url (PayPal: open `url`) or use_stripe_sdk (3-D Secure)"
    )
    client_secret: str | None = Field(description="while requires_action: for Stripe.js; never logged")
    failure: PaymentFailure | None
    applied_to: list[PaymentApplied]
    refunded: int
    reference: str | None = Field(None, description="offline: the transfer's or cheque's reference")
    received_on: str | None = Field(None, description="offline: the day the money was received")
    created_at: str
    updated_at: str


class PaymentList(BaseModel):
    data: list[Payment]
    next_cursor: str | None


class SupportTicketRequest(Request):
    subject: SingleLine = Field(min_length=1, max_length=200)
    message: str = Field(min_length=1, max_length=5000)
    payment_id: str | None = Field(None, max_length=64)
    invoice_id: str | None = Field(None, max_length=64)


class SupportTicket(BaseModel):
    ticket_id: str


class Ticket(BaseModel):
    id: str
    account_id: str
    subject: str
    message: str
    payment_id: str | None
    invoice_id: str | None
    status: str
    created_by: str | None
    created_at: str


class TicketList(BaseModel):
    data: list[Ticket]
    next_cursor: str | None


class WebhookReceived(BaseModel):
    received: bool
    event: str
    outcome: str
