"""Request and response models of the accounts routes."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, Field

from functions.core.audit import Event
from functions.core.schemas import BillingContact, Currency, Page, Request, SingleLine

AccountType = Literal["lite", "payg", "subscription"]
Locale = Literal["en", "fr"]
Role = Literal["owner", "viewer"]


class CreateAccount(Request):
    type: AccountType
    linked: bool
    currency: Currency
    locale: Locale = "en"
    name: SingleLine = Field(min_length=1, max_length=200)
    billing_contact: BillingContact
    billing_day: int | None = Field(None, ge=1, le=28)


class Account(BaseModel):
    id: str
    number: int
    type: AccountType
    linked: bool
    currency: str
    locale: Locale
    name: str
    billing_contact: BillingContact
    billing_day: int
    next_recurring_invoice_date: date | None
    last_recurring_invoice_date: date | None
    past_due: bool
    created_at: str


class GrantMember(Request):
    sub: str = Field(min_length=1, max_length=256)
    role: Role


class RevokeMember(Request):
    sub: str = Field(min_length=1, max_length=256)


class Member(BaseModel):
    account_id: str
    sub: str
    role: Role
    granted_at: str


class CreateDevice(Request):
    name: SingleLine = Field(min_length=1, max_length=100)
    kind: SingleLine = Field(min_length=1, max_length=50)


class Device(BaseModel):
    id: str
    name: str
    kind: str
    created_at: str


class DeviceList(Page[Device]):
    pass


class EventList(Page[Event]):
    pass
