"""Refund rows (REFUND#): one refund to a card through billow, written `creating` before Stripe is
called, then `succeeded` with its booking or `failed` (with what it reserved on its payment released)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from functions.core.db import get_or_none
from functions.core.uow import Op, put_if_absent
from functions.payments.store.models import (
    CREATING,
    FAILED,
    REFUND,
    SUCCEEDED,
    RefundModel,
    already,
    entry_item,
    entry_record,
)
from functions.payments.store.payments import release_refund


@dataclass(frozen=True)
class RefundRecord:
    account_id: str
    id: str
    payment_id: str
    amount: int
    reason: str
    status: str  # creating | succeeded | failed (refused, abandoned after 23 h, or failed at the bank)
    invoice_id: str
    created_at: str
    stripe_refund_id: str | None = None
    return_credit: bool = False  # money back of unapplied credit, no Refund invoice (DESIGN §3 v4)


def _refund(m: RefundModel) -> RefundRecord:
    return_credit = m.return_credit == "true"
    return entry_record(RefundRecord, "refund", m, stripe_refund_id=m.stripe_id, return_credit=return_credit)


def _refund_model(r: RefundRecord) -> RefundModel:
    return_credit = "true" if r.return_credit else None
    return entry_item(RefundModel, "refund", REFUND, r, stripe_id=r.stripe_refund_id, return_credit=return_credit)


def get_refund(account_id: str, refund_id: str) -> RefundRecord | None:
    m = get_or_none(RefundModel, account_id, REFUND + refund_id, consistent_read=True)
    return _refund(m) if m is not None else None


def list_refunds(account_id: str) -> list[RefundRecord]:
    """Every refund row of the account (audits; not a request path)."""
    query = RefundModel.query(account_id, RefundModel.sk.startswith(REFUND), consistent_read=True)
    return [_refund(m) for m in query]


def put_new_refund(r: RefundRecord) -> Op:
    return put_if_absent(_refund_model(r), label="refund", on_conflict=already(f"refund {r.id} already exists"))


def _move(r: RefundRecord, before: str, why: str, **changes: Any) -> Op:
    """The row moved from status `before` to its new state, once (a second writer gets `why`)."""
    return Op(
        "put",
        _refund_model(replace(r, **changes)),
        condition=RefundModel.status == before,
        on_conflict=already(f"refund {r.id} {why}"),
        label="refund",
    )


def complete_refund(r: RefundRecord, stripe_refund_id: str) -> Op:
    """Stripe accepted the refund and the ledger has it: `creating` -> `succeeded` (once)."""
    return _move(r, CREATING, "was completed by another request", status=SUCCEEDED, stripe_refund_id=stripe_refund_id)


def fail_refund(r: RefundRecord, stripe_refund_id: str | None = None) -> list[Op]:
    """The refund will not happen (Stripe refused it, or it never reached Stripe within 23 h): the row
    is closed `failed` and the amount it reserved on its payment is released — once, with the row."""
    stripe_id = stripe_refund_id or r.stripe_refund_id
    return [
        _move(r, CREATING, "was completed by another request", status=FAILED, stripe_refund_id=stripe_id),
        release_refund(r.account_id, r.payment_id, r.amount),
    ]


def refund_failed_later(r: RefundRecord) -> list[Op]:
    """A refund Stripe accepted that failed at the bank afterwards (`charge.refund.updated`): the row
    `succeeded` -> `failed` (once) and its reservation on the payment released."""
    return [
        _move(r, SUCCEEDED, "changed while this event was handled", status=FAILED),
        release_refund(r.account_id, r.payment_id, r.amount),
    ]
