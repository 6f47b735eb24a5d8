"""Request and response models of the payment-method routes, and the card-validation message."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from functions.core.schemas import BillingContact, Request

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


class PaymentMethod(BaseModel):
    card: CardOnFile | None
    pending_change: PendingChange | None


class CardValidationMessage(BaseModel):
    """The body of a `card-validation` message: which change of which account to validate."""

    account_id: str
    setup_intent_id: str
