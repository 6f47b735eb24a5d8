"""Request and response models of the billing-items routes."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field, field_validator

from functions.core.money import MAX_AMOUNT
from functions.core.schemas import Currency, Page, PageQuery, Request, SingleLine

ItemStatus = Literal["active", "pending_cancellation", "cancelled"]
Fee = Annotated[int, Field(ge=0, le=MAX_AMOUNT, description="minor units, 0 for none")]


def _id_like(value: str) -> str:
    if not value or len(value) > 64:
        raise ValueError("not an id")
    return value


class ProvisionItem(Request):
    description: SingleLine = Field(min_length=1, max_length=200)
    category: SingleLine = Field(min_length=1, max_length=50, description="e.g. server, storage, network, software")
    recurring_fee: Fee
    setup_fee: Fee = 0
    device_id: str | None = Field(None, max_length=64)
    starts_on: date | None = Field(None, description="default today; before the account's next recurring date")
    currency: Currency | None = None


class Item(BaseModel):
    id: str
    description: str
    category: str
    currency: str
    recurring_fee: int
    setup_fee: int
    device_id: str | None
    status: ItemStatus
    starts_on: date
    created_at: str
    billed_from: date | None
    billed_to: date | None
    new_invoice_id: str | None
    cancel_at: date | None
    cancelled_on: date | None
    cancel_reason: str | None


class ProvisionedItem(BaseModel):
    item: Item
    invoice_id: str | None  # the New invoice (None when nothing was due: no setup fee and no recurring fee)
    invoice_number: str | None
    invoice_total: int


class ItemQuery(PageQuery):
    view: Literal["associated", "dissociated", "all"] = "associated"
    device_id: str | None = Field(None, max_length=64)
    status: ItemStatus | None = None
    category: str | None = Field(None, max_length=50)


class ItemList(Page[Item]):
    pass


class LinkDevice(Request):
    device_id: Annotated[str, AfterValidator(_id_like)]


class BulkRequest(Request):
    action: Literal["associate", "dissociate"]
    item_ids: list[Annotated[str, AfterValidator(_id_like)]] = Field(min_length=1, max_length=100)
    device_id: str | None = Field(None, max_length=64)

    @field_validator("item_ids")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("each item id at most once")
        return value


class BulkResult(BaseModel):
    item_id: str
    ok: bool
    error: str | None = None


class BulkResponse(BaseModel):
    results: list[BulkResult]


class CancelRequest(Request):
    when: Literal["now", "anniversary"] = "anniversary"
    reason: SingleLine | None = Field(None, max_length=500)


class Cancellation(BaseModel):
    item: Item
    refund_invoice_id: str | None
    refund_amount: int
