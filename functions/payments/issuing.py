"""What follows an invoice's commit, for every issuer (provisioning's New invoice, One-time charges,
Credit/Refund invoices, the monthly run's Recurring invoice): `invoice_issued` — on an automatic
account, a debit invoice left open requests its collection (DESIGN §3 v4 Collection: never charged
inside the request that issued it; the collector runs ~60 s later, so invoices issued close together
ride in one charge). The invoice notice (issue 16's Notices) joins here too. And `collection_method`:
how an account pays, with the migration of subscription accounts from before v4."""

from __future__ import annotations

from typing import Any

from functions.accounts.service import AccountRecord, get_account, set_collection_method
from functions.core.errors import ConcurrentUpdateError
from functions.core.ledger import DEBIT_TYPES
from functions.core.logs import get_logger
from functions.core.uow import UnitOfWork
from functions.payments import cards
from functions.payments.collection_rows import request


def collection_method(account: AccountRecord) -> str | None:
    """How the account pays its debit invoices: "automatic" or "send_invoice" (None: lite). A subscription
    account from before v4 (no method stored) migrates once, as DESIGN §3 v4 says — automatic when it has
    a valid card, else send_invoice — and the choice is stored."""
    if account.collection is not None or account.type != "subscription":
        return account.collection
    method = "automatic" if cards.chargeable_card(account.id) is not None else "send_invoice"
    try:
        UnitOfWork().add(set_collection_method(account.id, method)).commit()
    except ConcurrentUpdateError:  # stored meanwhile (another worker, or an operator's PATCH): that one stands
        return get_account(account.id).collection
    return method


def invoice_issued(account: Any, invoice: Any) -> None:
    """Called after the invoice's transaction committed (a replayed request may call it again: a
    collection already open makes it a no-op). A failure is logged, never fails the issuer's answer (the
    invoice is committed); the invoice is then collected by the account's next collection (its next
    invoice, or the monthly run's)."""
    if invoice.type not in DEBIT_TYPES or invoice.status != "open":
        return
    try:
        if collection_method(account) == "automatic":
            request(account.id)
    except Exception:
        get_logger().exception("collection request failed", account_id=account.id, invoice_id=invoice.id)
