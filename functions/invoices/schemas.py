"""Response models of the invoices routes (the account summary first)."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, Field

from functions.core.schemas import Currency, PositiveAmount, Request


class SummaryBalance(BaseModel):
    current: int  # signed: positive = the customer owes, negative = credit
    unapplied_credit: int
    next_estimated: int


class SummaryPaymentMethod(BaseModel):
    brand: str
    last4: str
    exp_month: int
    exp_year: int
    status: Literal["active", "expired"]


class Summary(BaseModel):
    account_id: str
    number: int
    name: str
    type: Literal["lite", "payg", "subscription"]
    linked: bool
    currency: str
    locale: str
    balance: SummaryBalance
    payment_method: SummaryPaymentMethod | None
    last_recurring_invoice_date: date | None
    next_recurring_invoice_date: date | None
    past_due: bool
    capabilities: dict[str, bool]


InvoiceType = Literal["new", "recurring", "one_time", "credit", "refund"]


class InvoiceLine(BaseModel):
    description: str
    amount: int
    period_start: date
    period_end: date
    quantity: str | None = None
    unit_amount: str | None = None
    group: str | None = None
    item_id: str | None = None


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


class ChargeRequest(Request):
    description: str = Field(min_length=1, max_length=500)
    amount: PositiveAmount
    currency: Currency | None = None


class CreditRequest(Request):
    amount: PositiveAmount
    reason: str = Field(min_length=1, max_length=500)
    currency: Currency | None = None
