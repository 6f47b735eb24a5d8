"""The account lifecycle's steps that need the card (DESIGN §2 v4 routes, §3 v4 Collection): PATCH
(switching to automatic needs a valid card; switching to send_invoice cancels the open collection),
and the Lite → payg upgrade through the card flow (the request here; the flip when the card-validation
worker activates the card, payments/cards.py)."""

from __future__ import annotations

from typing import Any

from functions.accounts.service import AccountAccess, AccountRecord, planned_update, require_open, update_account
from functions.core import clock
from functions.core.errors import ConflictError, ValidationFailedError
from functions.payments.cards import ChangeAccepted, chargeable_card, request_change
from functions.payments.collection_dunning import cancel_collection
from functions.payments.reminders import give_due_dates


def payment_method_required(why: str) -> ValidationFailedError:
    return ValidationFailedError(f"{why} needs a valid card on file; add one first", code="payment-method-required")


def update(access: AccountAccess, changes: dict[str, Any]) -> AccountRecord:
    """PATCH /v1/accounts/{id}: the profile fields (owner), collection and net_days (operators)."""
    account = access.account
    after, changed = planned_update(access, changes)
    if changed.get("collection") == "automatic" and chargeable_card(account.id) is None:
        raise payment_method_required("collecting this account automatically")
    record = update_account(access, after, changed)
    if changed.get("collection") == "send_invoice":  # the account now pays by invoice
        cancel_collection(account.id)  # its open collection cancelled (docs/collections.md)
        if record.net_days is not None:
            give_due_dates(account.id, clock.today(), record.net_days)  # open invoices due net_days from today
    return record


def request_upgrade(access: AccountAccess, setup_intent_id: str, billing_contact: dict[str, Any]) -> ChangeAccepted:
    """POST /v1/accounts/{id}/upgrade: a succeeded SetupIntent of this lite account becomes a card change
    marked as its upgrade; the card-validation worker makes the account payg once the card is valid."""
    account = access.account
    require_open(account, "upgrading it")
    if account.type != "lite":
        raise ConflictError(
            f"this account is already {account.type}; only lite accounts are upgraded", code="account-not-lite"
        )
    return request_change(access, setup_intent_id, billing_contact, upgrade=True)
