"""Billing-item routes: provisioning (operator), views, device links, bulk actions, cancellation."""

from __future__ import annotations

from chalice import Blueprint

from functions.accounts.service import account_guard
from functions.billing_items import service
from functions.billing_items.schemas import (
    BulkRequest,
    BulkResponse,
    Cancellation,
    CancelRequest,
    Item,
    ItemList,
    ItemQuery,
    LinkDevice,
    ProvisionedItem,
    ProvisionItem,
)
from functions.core.auth import ADMIN, READ, WRITE
from functions.core.http import Call, api

bp = Blueprint(__name__)

ITEMS = "/v1/accounts/{account_id}/billing-items"
ITEM = ITEMS + "/{item_id}"
guard = account_guard("billing_items")


@api(
    bp,
    "POST",
    ITEMS,
    scope=ADMIN,
    body=ProvisionItem,
    response=ProvisionedItem,
    status=201,
    idempotent=True,
    guard=guard,
    summary="Provision a billing item (operator): the item and its New invoice",
)
def provision(call: Call, account_id: str) -> ProvisionedItem:
    return service.provision(call.account, call.idem, call.body)


@api(
    bp,
    "GET",
    ITEMS,
    scope=READ,
    query=ItemQuery,
    response=ItemList,
    guard=guard,
    summary="Billing items: view associated (default), dissociated or all; filter by device, status, category",
)
def list_items(call: Call, account_id: str) -> ItemList:
    return service.list_items(call.account, call.query, "billing-items")


@api(
    bp,
    "POST",
    ITEMS + "/bulk",
    scope=WRITE,
    body=BulkRequest,
    response=BulkResponse,
    idempotent=True,
    guard=guard,
    summary="Associate or dissociate up to 100 items at once",
)
def bulk(call: Call, account_id: str) -> BulkResponse:
    return service.bulk(call.account, call.idem, call.body)


@api(bp, "GET", ITEM, scope=READ, response=Item, guard=guard, summary="One billing item")
def get_item(call: Call, account_id: str, item_id: str) -> Item:
    return service.get_item(call.account, item_id)


@api(
    bp,
    "PUT",
    ITEM + "/device",
    scope=WRITE,
    body=LinkDevice,
    response=Item,
    guard=guard,
    summary="Associate the item with a device",
)
def associate(call: Call, account_id: str, item_id: str) -> Item:
    return service.link(call.account, item_id, call.body.device_id)


@api(
    bp,
    "DELETE",
    ITEM + "/device",
    scope=WRITE,
    response=Item,
    guard=guard,
    summary="Dissociate the item from its device",
)
def dissociate(call: Call, account_id: str, item_id: str) -> Item:
    return service.link(call.account, item_id, None)


@api(
    bp,
    "POST",
    ITEM + "/cancellation",
    scope=WRITE,
    body=CancelRequest,
    response=Cancellation,
    status=201,
    idempotent=True,
    guard=guard,
    summary="Cancel the item now (refunding the unused part) or at the anniversary",
)
def cancel(call: Call, account_id: str, item_id: str) -> Cancellation:
    return service.cancel(call.account, call.idem, item_id, call.body.when, call.body.reason)


@api(
    bp,
    "DELETE",
    ITEM + "/cancellation",
    scope=WRITE,
    response=Item,
    guard=guard,
    summary="Withdraw a pending anniversary cancellation",
)
def undo_cancellation(call: Call, account_id: str, item_id: str) -> Item:
    return service.undo_cancellation(call.account, item_id)
