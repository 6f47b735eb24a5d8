"""Request and response models of the accounts routes."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, Field

from functions.core.audit import Event
from functions.core.schemas import BillingContact, Currency, Page, Request, SingleLine

AccountType = Literal["lite", "payg", "subscription"]
Locale = Literal["en", "fr"]
Role = Literal["owner", "viewer"]
Collection = Literal["automatic", "send_invoice"]
Status = Literal["active", "closing", "closed"]
# Days between a send_invoice debit invoice's issue and its due date (the design's default is 30).
NetDays = Field(None, ge=1, le=120, description="send_invoice: days from issue to due date (1..120)")


class CreateAccount(Request):
    type: AccountType
    linked: bool
    currency: Currency
    locale: Locale = "en"
    name: SingleLine = Field(min_length=1, max_length=200)
    billing_contact: BillingContact
    billing_day: int | None = Field(None, ge=1, le=28)
    collection: Collection | None = Field(
        None, description="subscription only: automatic (card) or send_invoice (default, net 30)"
    )
    net_days: int | None = NetDays


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
    collection: Collection | None
    net_days: int | None
    invoice_emails: bool
    status: Status


def account_view(record: Any) -> Account:
    """An account record (accounts.store.AccountRecord) as the routes show it."""
    data = asdict(record)
    data["next_recurring_invoice_date"] = data.pop("next_recurring_date")
    data["last_recurring_invoice_date"] = data.pop("last_recurring_date")
    return Account.model_validate(data)


class UpdateAccount(Request):
    """PATCH /v1/accounts/{id}: only the fields sent change (at least one); collection and net_days are
    for operators, on subscription accounts."""

    name: SingleLine | None = Field(None, min_length=1, max_length=200)
    billing_contact: BillingContact | None = None
    locale: Locale | None = None
    invoice_emails: bool | None = None
    collection: Collection | None = None
    net_days: int | None = NetDays


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
