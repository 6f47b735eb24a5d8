"""Payment rows (PAY#): what a payment is, its reads, and the ops that write it — the row before Stripe
is called, its conditional transitions, the refunded total that refunds reserve and disputes move."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from functions.core.db import get_or_none, one_page
from functions.core.errors import ValidationFailedError
from functions.core.uow import Op, put_if_absent
from functions.payments.store.models import (
    PAY,
    SUCCEEDED,
    PaymentModel,
    already,
    entry_item,
    entry_record,
    set_once,
)


@dataclass(frozen=True)
class PaymentRecord:
    account_id: str
    id: str
    amount: int
    currency: str
    method: str
    source: str
    status: str
    created_at: str
    updated_at: str
    created_by: str
    invoice_id: str | None = None
    payment_intent_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    next_action: dict[str, Any] | None = None
    failure_code: str | None = None
    decline_code: str | None = None
    failure_message: str | None = None
    brand: str | None = None
    last4: str | None = None
    applied_to: list[dict[str, Any]] = field(default_factory=list)
    refunded: int = 0
    dispute_id: str | None = None
    receipt_sent_at: str | None = None
    # Reserved on the balance's (and the targeted invoice's) in-flight totals by the row's first
    # transaction; set back to 0 by the transaction that releases it (apply step or failure).
    reserved: int = 0
    # An offline payment (a bank transfer or cheque an operator records): its reference and the day
    # the money was received (ISO date).
    reference: str | None = None
    received_on: str | None = None


def _payment(m: PaymentModel) -> PaymentRecord:
    return entry_record(
        PaymentRecord,
        "payment",
        m,
        method=m.method or "card",
        source=m.source or "one_time",
        next_action=json.loads(m.next_action) if m.next_action else None,
        applied_to=json.loads(m.applied_to) if m.applied_to else [],
    )


def _payment_model(p: PaymentRecord) -> PaymentModel:
    return entry_item(
        PaymentModel,
        "payment",
        PAY,
        p,
        next_action=json.dumps(p.next_action, sort_keys=True) if p.next_action else None,
        applied_to=json.dumps(p.applied_to),
        reserved=p.reserved or None,
        gsi1_pk=f"{p.account_id}#PAY",
        gsi1_sk=f"{p.created_at}#{p.id}",
    )


def get_payment(account_id: str, payment_id: str) -> PaymentRecord | None:
    m = get_or_none(PaymentModel, account_id, PAY + payment_id, consistent_read=True)
    return _payment(m) if m is not None else None


def list_payments(
    account_id: str, limit: int, last_key: dict[str, Any] | None
) -> tuple[list[PaymentRecord], dict[str, Any] | None]:
    """One page of the account's payments, newest first (a bounded Query on the by_created index)."""
    result = PaymentModel.by_created.query(
        f"{account_id}#PAY", scan_index_forward=False, limit=limit, last_evaluated_key=last_key, page_size=limit
    )
    models, last = one_page(result, PaymentModel)
    return [_payment(m) for m in models], last


def all_payments(account_id: str) -> list[PaymentRecord]:
    """Every payment row of the account (audits; not a request path)."""
    query = PaymentModel.query(account_id, PaymentModel.sk.startswith(PAY), consistent_read=True)
    return [_payment(m) for m in query]


def put_new_payment(p: PaymentRecord) -> Op:
    """The payment row, status `creating`, before Stripe is called; fails if the id exists."""
    return put_if_absent(_payment_model(p), label="payment", on_conflict=already(f"payment {p.id} already exists"))


def save_payment(before: PaymentRecord, after: PaymentRecord) -> Op:
    """Replace the row, only if it is still in the state it was read in (status and refunded)."""
    condition = (PaymentModel.status == before.status) & (PaymentModel.refunded == before.refunded)
    return Op(
        "put",
        _payment_model(after),
        condition=condition,
        on_conflict=already(f"payment {before.id} changed while this request ran"),
        label="payment",
    )


def mark_receipt_sent(p: PaymentRecord, at: str) -> None:
    """The receipt e-mail's sent marker, written once SES accepted the receipt (a second writer keeps
    the first marker)."""
    condition = PaymentModel.receipt_sent_at.does_not_exist() & PaymentModel.sk.exists()
    set_once(PaymentModel(p.account_id, PAY + p.id), [PaymentModel.receipt_sent_at.set(at)], condition)


def reserve_refund(p: PaymentRecord, amount: int) -> Op:
    """Add `amount` to the payment's refunded total in the refund's first transaction, only while the
    payment is succeeded and refunded + amount <= what was paid: one conditional update, so two
    concurrent refunds can never both pass (DESIGN §3 v4 Refund limits)."""

    def over() -> ValidationFailedError:
        current = get_payment(p.account_id, p.id)
        left = (current.amount - current.refunded) if current else 0
        return ValidationFailedError(
            f"at most {max(left, 0)} is left of payment {p.id} to refund (paid {p.amount})",
            code="refund-exceeds-remaining",
        )

    if amount > p.amount:
        raise over()
    condition = (PaymentModel.status == SUCCEEDED) & (
        PaymentModel.refunded.does_not_exist() | (PaymentModel.refunded <= p.amount - amount)
    )
    condition &= PaymentModel.amount == p.amount
    return Op(
        "update",
        PaymentModel(p.account_id, PAY + p.id),
        actions=[PaymentModel.refunded.add(amount)],
        condition=condition,
        on_conflict=over,
        label="payment",
    )


def add_refunded(account_id: str, payment_id: str, amount: int, *more: Any) -> Op:
    """The payment's refunded total moves by `amount` (with `more` actions): money went back to its card
    outside a billow refund (the Dashboard, a dispute; negative when it comes back), or a failed
    refund gives back what it reserved (committed only with the refund row's own conditional
    transition, which makes it happen once)."""
    return Op(
        "update",
        PaymentModel(account_id, PAY + payment_id),
        actions=[PaymentModel.refunded.add(amount), *more],
        condition=PaymentModel.sk.exists(),
        label="payment",
    )


def release_refund(account_id: str, payment_id: str, amount: int) -> Op:
    """Give back what a refund reserved on its payment (the refund failed)."""
    return add_refunded(account_id, payment_id, -amount)


def mark_disputed(account_id: str, payment_id: str, dispute_id: str, amount: int, at: str) -> Op:
    """A dispute took `amount` of the payment back (negative: a won dispute gave it back): the payment's
    refunded total counts it, so no refund can then take more than what is left."""
    more = (PaymentModel.dispute_id.set(dispute_id), PaymentModel.updated_at.set(at))
    return add_refunded(account_id, payment_id, amount, *more)
