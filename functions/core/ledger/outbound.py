"""The outbound events the ledger's changes imply (DESIGN §7), planned with those changes: an invoice
issued, an invoice paid, the account past due or restored. Each is an outbox row (functions/core/outbox.py)
in the planner's ops, so it commits with the change or not at all."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date
from typing import Any

from functions.core import outbox
from functions.core.ledger_store import Balance, Invoice
from functions.core.uow import Planned


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def invoice_object(inv: Invoice) -> dict[str, Any]:
    """The invoice as events carry it: its header as GET …/invoices/{id} shows it, without its lines
    (`line_count` says how many a consumer may fetch)."""
    data = {k: _plain(v) for k, v in asdict(inv).items() if k != "in_flight"}
    data["applications"] = [{k: _plain(v) for k, v in a.items()} for a in data["applications"]]
    return data


def invoice_event(type: str, inv: Invoice) -> Planned:
    return outbox.event(inv.account_id, type, invoice_object(inv))


def issued(inv: Invoice) -> list[Planned]:
    """invoice.issued, and invoice.paid when unapplied credit paid a debit invoice in full at issue."""
    events = [invoice_event("invoice.issued", inv)]
    if inv.type in ("new", "recurring", "one_time") and inv.status == "closed" and inv.total > 0:
        events.append(invoice_event("invoice.paid", inv))
    return events


def past_due_moved(balance: Balance, delta: int) -> list[Planned]:
    """account.past_due when the count of past-due invoices leaves 0, account.restored when it comes back
    to 0 (the balance update carrying `delta` is conditioned on the count read: functions/core/ledger_store
    `update_balance`, `add_past_due`)."""
    before, after = balance.past_due, balance.past_due + delta
    obj = {"id": balance.account_id, "past_due": after > 0, "past_due_invoices": after}
    if before <= 0 < after:
        return [outbox.event(balance.account_id, "account.past_due", obj)]
    if before > 0 >= after:
        return [outbox.event(balance.account_id, "account.restored", obj)]
    return []
