"""Billing-item routes: provisioning (operator), views, device links, bulk actions, cancellation."""

from __future__ import annotations

from chalice import Blueprint

from functions.accounts.service import Account, account_guard, account_view, set_linked
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
from functions.core.http import Call, api, routes

bp = Blueprint(__name__)
route = routes(bp, guard=account_guard("billing_items"))

ITEMS = "/v1/accounts/{account_id}/billing-items"
ITEM = ITEMS + "/{item_id}"


@route("POST", ITEMS, scope=ADMIN, body=ProvisionItem, response=ProvisionedItem, status=201, idempotent=True)
def provision(call: Call, account_id: str) -> ProvisionedItem:
    """Provision a billing item (operator): the item and its New invoice"""
    return service.provision(call.account, call.idem, call.body)


@route("GET", ITEMS, scope=READ, query=ItemQuery, response=ItemList)
def list_items(call: Call, account_id: str) -> ItemList:
    """Billing items: view associated (default), dissociated or all; filter by device, status, category"""
    return service.list_items(call.account, call.query, "billing-items")


@route("POST", ITEMS + "/bulk", scope=WRITE, body=BulkRequest, response=BulkResponse, idempotent=True)
def bulk(call: Call, account_id: str) -> BulkResponse:
    """Associate or dissociate up to 100 items at once"""
    return service.bulk(call.account, call.idem, call.body)


@route("GET", ITEM, scope=READ, response=Item)
def get_item(call: Call, account_id: str, item_id: str) -> Item:
    """One billing item"""
    return service.get_item(call.account, item_id)


@route("PUT", ITEM + "/device", scope=WRITE, body=LinkDevice, response=Item)
def associate(call: Call, account_id: str, item_id: str) -> Item:
    """Associate the item with a device"""
    return service.link(call.account, item_id, call.body.device_id)


@route("DELETE", ITEM + "/device", scope=WRITE, response=Item)
def dissociate(call: Call, account_id: str, item_id: str) -> Item:
    """Dissociate the item from its device"""
    return service.link(call.account, item_id, None)


@route(
    "POST", ITEM + "/cancellation", scope=WRITE, body=CancelRequest, response=Cancellation, status=201, idempotent=True
)
def cancel(call: Call, account_id: str, item_id: str) -> Cancellation:
    """Cancel the item now (refunding the unused part) or at the anniversary"""
    return service.cancel(call.account, call.idem, item_id, call.body.when, call.body.reason)


@route("DELETE", ITEM + "/cancellation", scope=WRITE, response=Item)
def undo_cancellation(call: Call, account_id: str, item_id: str) -> Item:
    """Withdraw a pending anniversary cancellation"""
    return service.undo_cancellation(call.account, item_id)


# ---- the account's link (operators): items need a linked account ---------------------------------

LINK = "/v1/accounts/{account_id}/link"


@api(bp, "POST", LINK, scope=ADMIN, response=Account, guard=account_guard(), problems=((409, "account-closed"),))
def link_account(call: Call, account_id: str) -> Account:
    """Link the account's infrastructure side (operator); 409 account-closed while closing or closed"""
    return account_view(set_linked(call.account, True, service.has_active_items))


@api(bp, "DELETE", LINK, scope=ADMIN, response=Account, guard=account_guard(), problems=((409, "items-active"),))
def unlink_account(call: Call, account_id: str) -> Account:
    """Unlink the account (operator); 409 items-active while billing items are not cancelled"""
    return account_view(set_linked(call.account, False, service.has_active_items))
