"""Pydantic building blocks shared by every domain's schemas: money fields, currency, pages."""

from __future__ import annotations

import re
from typing import Annotated, Generic, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from functions.core.money import CURRENCIES, MAX_AMOUNT, MoneyError, check_amount, check_currency
from functions.core.text import single_line


def _currency(value: str) -> str:
    try:
        return check_currency(value)
    except MoneyError as exc:
        raise ValueError(str(exc)) from None


def _positive_amount(value: int) -> int:
    try:
        return check_amount(value)
    except MoneyError as exc:
        raise ValueError(str(exc)) from None


# The OpenAPI document states what the validators accept (json_schema_extra: documentation only, the
# validators decide), so clients and fuzzers send what billow takes.
Currency = Annotated[
    str,
    AfterValidator(_currency),
    Field(description="lowercase ISO 4217 code", examples=["usd"], json_schema_extra={"enum": sorted(CURRENCIES)}),
]
# A strictly positive amount in minor units (the body parser runs strict: floats and strings are refused).
PositiveAmount = Annotated[
    int,
    AfterValidator(_positive_amount),
    Field(description="minor units, > 0", json_schema_extra={"minimum": 1, "maximum": MAX_AMOUNT}),
]

# A field shown on one line (a name, a subject, a description or reason printed on an invoice line or
# in an e-mail Subject): line breaks, tabs and other control characters collapse into one space on the
# way in ("Help\r\nBcc: x" is stored as "Help Bcc: x"). Multi-line text (a ticket's message) stays `str`.
SingleLine = Annotated[str, AfterValidator(single_line)]


class Request(BaseModel):
    """Base of request bodies: unknown fields are refused."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Query(BaseModel):
    """Base of query-string models (values arrive as strings, so parsing is lax here)."""

    model_config = ConfigDict(extra="forbid")


class PageQuery(Query):
    limit: int = Field(25, ge=1, le=100)
    cursor: str | None = Field(None, max_length=2048)


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    data: list[T]
    next_cursor: str | None


# A billing contact: the account's (accounts) and a card's billing address (payments).
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# as the document states it: no control or bidirectional-override characters either (the body parser's rule)
_NOT = "@\\s\\x00-\\x1f\\x7f-\\x9f\\u202a-\\u202e\\u2066-\\u2069"
EMAIL_PATTERN = f"^[^{_NOT}]+@[^{_NOT}]+\\.[^{_NOT}]+$"


def _email(value: str) -> str:
    if not _EMAIL.match(value):
        raise ValueError("not an e-mail address")
    return value


def _country(value: str) -> str:
    if not re.fullmatch(r"[A-Z]{2}", value):
        raise ValueError("use a two-letter ISO 3166-1 country code, e.g. FR")
    return value


class Address(Request):
    line1: SingleLine = Field(min_length=1, max_length=200)
    line2: SingleLine | None = Field(None, max_length=200)
    city: SingleLine = Field(min_length=1, max_length=100)
    state: SingleLine | None = Field(None, max_length=100)
    postal_code: SingleLine = Field(min_length=1, max_length=20)
    country: Annotated[str, AfterValidator(_country), Field(json_schema_extra={"pattern": "^[A-Z]{2}$"})]


class BillingContact(Request):
    name: SingleLine = Field(min_length=1, max_length=200)
    email: Annotated[str, AfterValidator(_email), Field(max_length=254, json_schema_extra={"pattern": EMAIL_PATTERN})]
    address: Address
