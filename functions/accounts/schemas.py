"""Request and response models of the accounts routes."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field

from functions.core.schemas import Currency, Page, Request

AccountType = Literal["lite", "payg", "subscription"]
Locale = Literal["en", "fr"]
Role = Literal["owner", "viewer"]

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _email(value: str) -> str:
    if not _EMAIL.match(value):
        raise ValueError("not an e-mail address")
    return value


def _country(value: str) -> str:
    if not re.fullmatch(r"[A-Z]{2}", value):
        raise ValueError("use a two-letter ISO 3166-1 country code, e.g. FR")
    return value


class Address(Request):
    line1: str = Field(min_length=1, max_length=200)
    line2: str | None = Field(None, max_length=200)
    city: str = Field(min_length=1, max_length=100)
    state: str | None = Field(None, max_length=100)
    postal_code: str = Field(min_length=1, max_length=20)
    country: Annotated[str, AfterValidator(_country)]


class BillingContact(Request):
    name: str = Field(min_length=1, max_length=200)
    email: Annotated[str, AfterValidator(_email), Field(max_length=254)]
    address: Address


class CreateAccount(Request):
    type: AccountType
    linked: bool
    currency: Currency
    locale: Locale = "en"
    name: str = Field(min_length=1, max_length=200)
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
    name: str = Field(min_length=1, max_length=100)
    kind: str = Field(min_length=1, max_length=50)


class Device(BaseModel):
    id: str
    name: str
    kind: str
    created_at: str


class Event(BaseModel):
    id: str
    at: str
    actor: str
    actor_kind: str
    action: str
    target: str
    before: dict | list | str | int | None
    after: dict | list | str | int | None


class DeviceList(Page[Device]):
    pass


class EventList(Page[Event]):
    pass
