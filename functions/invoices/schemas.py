"""Response models of the invoices routes (the account summary first)."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel


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
