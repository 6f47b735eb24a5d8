"""Outbound events' request and response models: GET /v1/events and the OpenAPI `webhooks` payloads."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from functions.accounts.service import Account
from functions.billing_items.service import Item
from functions.core.openapi import webhook
from functions.core.outbox import EVENT_TYPES
from functions.core.schemas import PageQuery
from functions.invoices import service as invoices
from functions.payments.service import Payment

EventType = Literal[EVENT_TYPES]  # type: ignore[valid-type]


class EventData(BaseModel):
    object: dict[str, Any] = Field(description="the resource as the API shows it, without invoice lines")


class OutboundEvent(BaseModel):
    """An outbound event (DESIGN §7), as published to EventBridge and delivered to webhook endpoints."""

    model_config = ConfigDict(title="OutboundEvent")

    id: str = Field(description="evt_ + 26 characters (audit events have 20): dedupe on it")
    type: EventType
    created_at: str
    account_id: str | None = Field(description="null for billing_run.completed")
    sequence: int = Field(description="gapless per account (billing_run.completed: per run space); order by it")
    data: EventData
    api_version: Literal["v1"]
    correlation_id: str | None = Field(
        None,
        description="the correlation id of the request or message whose change this is: the X-Request-Id the "
        "client sent (or billow's request id), also in billow's logs and e-mails (docs/operations.md)",
    )


class OutboundEventList(BaseModel):
    data: list[OutboundEvent]
    next_cursor: str | None


class EventsQuery(PageQuery):
    type: EventType | None = None
    account_id: str | None = Field(None, max_length=64)


# ---- the payloads of the OpenAPI document's `webhooks` (one per event type) ---------------------------


def _header(invoice: type[BaseModel]) -> dict[str, Any]:
    """The fields of the invoice the API shows (invoices' schema), without its lines, plus how many it has."""
    fields: dict[str, Any] = {name: (f.annotation, f) for name, f in invoice.model_fields.items() if name != "lines"}
    return fields | {"line_count": (int, Field(description="how many lines GET …/invoices/{id} returns"))}


# An invoice header as events carry it (core/ledger/outbound.py): GET …/invoices/{id}'s invoice without its
# lines — derived from the invoices' schema, so the two cannot drift apart.
InvoiceObject: type[BaseModel] = create_model(
    "InvoiceObject",
    __doc__="An invoice header as events carry it: no lines (`line_count` says how many to fetch).",
    **_header(invoices.schemas.Invoice),
)


class InvoiceCollectionFailedObject(InvoiceObject):  # type: ignore[misc,valid-type]
    attempt_count: int
    failure_code: str
    next_payment_attempt: date | None = Field(description="null: dunning is over (the invoice is past due)")


class AccountUpdatedObject(Account):
    billing_contact_suppressed: bool | None = Field(
        None,
        description="true on the account.updated an SES bounce or complaint of the billing contact's e-mail "
        "emits (billow writes to it no more); absent on other changes (the summary always says)",
    )


class AccountClosedObject(Account):
    final_invoice_id: str | None


class PastDueObject(BaseModel):
    id: str = Field(description="the account")
    past_due: bool
    past_due_invoices: int


class RefundObject(BaseModel):
    id: str = Field(description="billow's refund id (ref_…), or Stripe's for a refund made outside billow")
    object: Literal["refund"]
    payment_id: str
    amount: int
    currency: str
    reason: str
    status: Literal["succeeded"]
    stripe_refund_id: str | None = None
    invoice_id: str | None = None
    return_credit: bool = False
    created_at: str | None = None


class CardChangeObject(BaseModel):
    account_id: str
    setup_intent_id: str
    type: Literal["card"]
    card: dict[str, Any] = Field(description="brand, last4, exp_month, exp_year")
    status: Literal["active", "failed"]
    purpose: str | None
    requested_at: str
    failure_code: str | None


class BudgetCrossedObject(BaseModel):
    account_id: str
    period_start: date
    percent: int
    period_estimate: int
    budget_amount: int
    currency: str


class BillingRunObject(BaseModel):
    object: Literal["billing_run"]
    run_date: date
    shard: int
    shards: int
    accounts_dispatched: int


class DisputeObject(BaseModel):
    id: str
    object: Literal["dispute"]
    payment_id: str
    amount: int
    currency: str
    reason: str | None
    status: str
    created_at: str


PAYLOADS: dict[str, type[BaseModel]] = {
    "account.created": Account,
    "account.updated": AccountUpdatedObject,
    "account.upgraded": Account,
    "account.closed": AccountClosedObject,
    "account.past_due": PastDueObject,
    "account.restored": PastDueObject,
    "invoice.issued": InvoiceObject,
    "invoice.paid": InvoiceObject,
    "invoice.collection_failed": InvoiceCollectionFailedObject,
    "invoice.carried_forward": InvoiceObject,
    "payment.succeeded": Payment,
    "payment.failed": Payment,
    "payment.requires_action": Payment,
    "payment.refunded": RefundObject,
    "payment_method.updated": CardChangeObject,
    "payment_method.validation_failed": CardChangeObject,
    "billing_item.provisioned": Item,
    "billing_item.associated": Item,
    "billing_item.dissociated": Item,
    "billing_item.cancellation_scheduled": Item,
    "billing_item.cancellation_undone": Item,
    "billing_item.cancelled": Item,
    "usage.budget_threshold_crossed": BudgetCrossedObject,
    "billing_run.completed": BillingRunObject,
    "dispute.created": DisputeObject,
}


def _payload(type: str, model: type[BaseModel]) -> type[BaseModel]:
    """The event envelope of one type, its `data.object` typed (named e.g. InvoiceIssuedEvent)."""
    name = "".join(part.title() for part in type.replace(".", "_").split("_"))
    data = create_model(f"{name}Data", object=(model, ...))
    return create_model(
        f"{name}Event",
        __base__=OutboundEvent,
        type=(Literal[type], ...),  # type: ignore[valid-type]
        data=(data, ...),
    )


# Each type's envelope model: the `webhooks` payloads, and what tests validate every written event against.
ENVELOPES: dict[str, type[BaseModel]] = {t: _payload(t, PAYLOADS[t]) for t in EVENT_TYPES}
for _type, _model in ENVELOPES.items():
    webhook(_type, _model, f"{_type}: sent to webhook endpoints and put on the event bus")
