"""Response models of the invoices routes (the account summary first)."""

from __future__ import annotations

import json
import re
from datetime import date
from typing import Literal

from pydantic import BaseModel, Field, RootModel, ValidationInfo, field_validator

from functions.core.schemas import Currency, Page, PageQuery, PositiveAmount, Request, SingleLine

INVOICE_TYPES = ("new", "recurring", "one_time", "credit", "refund")


class SummaryBalance(BaseModel):
    current: int  # signed: positive = the customer owes, negative = credit
    unapplied_credit: int
    next_estimated: int


class SummaryPaymentMethod(BaseModel):
    type: Literal["card"] = "card"
    brand: str
    last4: str
    exp_month: int
    exp_year: int
    status: Literal["active", "expired"]


class SummaryInvoicePayment(BaseModel):
    """A send_invoice account pays each debit invoice itself, `net_days` after its issue."""

    type: Literal["invoice"] = "invoice"
    net_days: int


class SummaryUpgrade(BaseModel):
    """A lite account's upgrade to payg through the card flow (also in GET payment-method)."""

    setup_intent_id: str
    status: Literal["pending_validation", "completed", "failed"]
    at: str
    failure_code: str | None = None


class Summary(BaseModel):
    account_id: str
    number: int
    name: str
    type: Literal["lite", "payg", "subscription"]
    linked: bool
    currency: str
    locale: str
    balance: SummaryBalance
    payment_method: SummaryPaymentMethod | SummaryInvoicePayment | None = Field(
        description="what the account pays with: its card, or invoices with net days (send_invoice), or null"
    )
    last_recurring_invoice_date: date | None
    next_recurring_invoice_date: date | None
    past_due: bool
    capabilities: dict[str, bool]
    status: Literal["active", "closing", "closed"]
    collection: Literal["automatic", "send_invoice"] | None
    net_days: int | None
    invoice_emails: bool
    billing_contact_suppressed: bool = Field(
        False,
        description="SES reported a hard bounce or a complaint for the billing contact's address: billow "
        "sends it no e-mail until the contact is changed or an operator lifts the suppression",
    )
    upgrade: SummaryUpgrade | None = None


InvoiceType = Literal["new", "recurring", "one_time", "credit", "refund"]


class _Line(BaseModel):
    """What every invoice line shows, issued or upcoming."""

    description: str
    amount: int
    period_start: date
    period_end: date


class UsageTier(BaseModel):
    """One tier's share of a tiered usage line (exact; the line's amount is rounded once)."""

    start: str  # the tier covers the billable quantity above this, up to `up_to`
    up_to: str | None
    quantity: str
    unit_amount_decimal: str
    flat_amount: int
    amount: str


class InvoiceLine(_Line):
    quantity: str | None = None
    unit_amount: str | None = None
    group: str | None = None
    item_id: str | None = None
    # usage lines: the allowance, the quantity billed past it, and a tiered rate's breakdown
    included: str | None = None
    billable: str | None = None
    tiers: list[UsageTier] | None = None

    @field_validator("tiers", mode="before")
    @classmethod
    def _tiers_from_json(cls, value: object) -> object:
        return json.loads(value) if isinstance(value, str) else value


class InvoiceApplication(BaseModel):
    source: str  # the payment, credit or refund invoice id, or "unapplied_credit"
    kind: str
    amount: int
    at: str


class AppliedTo(BaseModel):
    invoice_id: str | None  # None: the part left as unapplied credit
    amount: int


class Invoice(BaseModel):
    id: str
    account_id: str
    number: str
    type: InvoiceType
    status: Literal["open", "closed"]
    date: date
    period_start: date
    period_end: date
    currency: str
    subtotal: int
    total: int
    amount_paid: int
    balance_due: int
    description: str
    balance_before: int
    balance_after: int
    created_at: str
    applications: list[InvoiceApplication]
    applied_to: list[AppliedTo]
    lines: list[InvoiceLine]
    # DESIGN §3 v4 Collection: below the minimum, carried to the next collection; finished dunning (or 14
    # days past its due date) — the account is past due while such an invoice is open
    carried_forward: bool = False
    past_due: bool = False
    due_date: date | None = None  # send_invoice accounts' debit invoices (DESIGN §3 v4)


class ChargeRequest(Request):
    description: SingleLine = Field(min_length=1, max_length=500)
    amount: PositiveAmount
    currency: Currency | None = None


class CreditRequest(Request):
    amount: PositiveAmount
    reason: SingleLine = Field(min_length=1, max_length=500)
    currency: Currency | None = None


class InvoiceQuery(PageQuery):
    type: str | None = Field(None, description="one type, or several separated by commas")
    status: Literal["open", "closed"] | None = None
    from_: date | None = Field(None, alias="from", description="first invoice date included (YYYY-MM-DD)")
    to: date | None = Field(None, description="last invoice date included (YYYY-MM-DD)")

    @field_validator("from_", "to", mode="before")
    @classmethod
    def _iso_date(cls, value: object) -> object:
        # Query values are parsed laxly, and pydantic would read "0.0" as 1970-01-01 (a Unix time) or
        # "2026-01-01T00:00:00" as a date: the documented form, YYYY-MM-DD, is the only one accepted.
        if isinstance(value, str) and not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
            raise ValueError("use a date as YYYY-MM-DD")
        return value

    @field_validator("type")
    @classmethod
    def _known_types(cls, value: str | None) -> str | None:
        if value is not None:
            types = [t.strip() for t in value.split(",") if t.strip()]
            if not types or any(t not in INVOICE_TYPES for t in types):
                raise ValueError(f"use one or more of {', '.join(INVOICE_TYPES)}, separated by commas")
        return value

    @field_validator("to")
    @classmethod
    def _ordered(cls, value: date | None, info: ValidationInfo) -> date | None:
        start = info.data.get("from_")
        if value is not None and start is not None and start > value:
            raise ValueError("to must not be before from")
        return value

    def types(self) -> list[str] | None:
        return [t.strip() for t in self.type.split(",") if t.strip()] if self.type else None

    def filters(self) -> dict[str, str | None]:
        return {"type": self.type, "status": self.status, "from": str(self.from_ or ""), "to": str(self.to or "")}


class InvoiceCsvQuery(InvoiceQuery):
    limit: int = Field(1000, ge=1, le=10_000)


class InvoiceRow(BaseModel):
    id: str
    number: str
    date: date
    type: InvoiceType
    status: Literal["open", "closed"]
    currency: str
    total: int
    amount_paid: int
    balance_due: int
    carried_forward: bool = False
    past_due: bool = False
    due_date: date | None = None


class InvoiceList(Page[InvoiceRow]):
    pass


class PdfLink(BaseModel):
    url: str
    expires_at: str


class UpcomingLine(InvoiceLine):
    """A line of the upcoming Recurring invoice: as it will be issued."""


class UpcomingInvoice(BaseModel):
    account_id: str
    type: Literal["recurring"] = "recurring"
    currency: str
    date: date | None
    period_start: date | None
    period_end: date | None
    lines: list[UpcomingLine]
    subtotal: int
    total: int
    unapplied_credit_applied: int
    amount_due: int


class RefundRequest(Request):
    amount: PositiveAmount
    reason: SingleLine = Field(min_length=1, max_length=500)
    invoice_id: str | None = Field(None, max_length=64)
    payment_id: str | None = Field(None, max_length=64, description="refund this payment's card (money back)")
    currency: Currency | None = None
    return_credit: bool = Field(
        False,
        description="with payment_id: send the account's unapplied credit back to that payment's card (money "
        "back consuming the credit, no Refund invoice); amount <= unapplied credit and <= what is left of "
        "the payment",
    )


class CreditReturn(BaseModel):
    """A refund with `return_credit`: unapplied credit sent back to a payment's card (no invoice)."""

    object: Literal["credit_return"] = "credit_return"
    id: str  # the refund's id (ref_…)
    account_id: str
    payment_id: str
    amount: int
    currency: str
    reason: str
    status: Literal["succeeded"] = "succeeded"
    stripe_refund_id: str
    created_at: str


class RefundResult(RootModel[Invoice | CreditReturn]):
    """POST …/refunds answers the Refund invoice, or with `return_credit` the credit return."""


# ---- closure -------------------------------------------------------------------------------------------


class CloseRequest(Request):
    when: Literal["now", "end_of_period"] = Field(
        description="now: items cancelled today with proration, final invoice, closed; end_of_period: items end "
        "at their anniversary and the account closes with the run's last invoice"
    )


class Closure(BaseModel):
    account_id: str
    status: Literal["closing", "closed"]
    when: Literal["now", "end_of_period"]
    closes_on: date | None = Field(description="now: today; end_of_period: the next recurring date")
    items_cancelled: list[str] = Field(description="items this request cancelled (now) or set to end (end_of_period)")
    final_invoice_id: str | None = None
    final_invoice_total: int = 0
    written_off_invoice_id: str | None = Field(None, description="the Credit writing off a balance below the minimum")
    credit_returned: int = Field(0, description="unapplied credit sent back to card payments")
    credit_left: int = Field(0, description="unapplied credit that could not be sent back (operators are told)")
