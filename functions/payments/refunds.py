"""Refunds to a card through billow (the operator's POST /v1/accounts/{id}/refunds with `payment_id`).

The refund row and the idempotency record (in_progress, with a lease) are written first, then the
Stripe refund is created with our refund id in its metadata and as its idempotency key; once Stripe
accepts it, the Refund invoice (-X, to unapplied credit) and the money back (+X, consuming it) post
in one transaction with the refund row, the payment's refunded total and the stored response (DESIGN
§3). The `charge.refunded` webhook that follows recognises our refund id and changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from functions.accounts.service import AccountAccess
from functions.core import audit, clock, ledger, stripe_gateway
from functions.core.errors import ConcurrentUpdateError, NotFoundError, ValidationFailedError
from functions.core.http import problem_body
from functions.core.idempotency import IdempotencyContext
from functions.core.ids import is_id
from functions.core.ledger import AlreadyPostedError, Invoice
from functions.core.stripe_gateway import StripeRejectedError
from functions.core.uow import Op, UnitOfWork
from functions.payments import payment_store as ps
from functions.payments.payment_store import RefundRecord


def refund_payment(
    access: AccountAccess,
    idem: IdempotencyContext,
    payment_id: str,
    amount: int,
    reason: str,
    render: Callable[[Invoice], dict[str, Any]],
) -> Invoice:
    """Refund `amount` of a succeeded payment to its card; at most what is left of the payment.
    `render(invoice)` is the response stored with the posting (the invoices domain's view)."""
    account_id = access.account.id
    payment = ps.get_payment(account_id, payment_id) if is_id(payment_id, "pay") else None
    if payment is None:
        raise NotFoundError(f"no payment {payment_id} on this account", code="payment-not-found")
    refund_id = idem.derive("ref")
    invoice_id = idem.derive("inv")
    record = ps.get_refund(account_id, refund_id) if idem.resumed else None
    if record is None:
        if payment.status != ps.SUCCEEDED or not payment.payment_intent_id:
            raise ValidationFailedError(
                f"payment {payment_id} is {payment.status}: only a succeeded payment can be refunded",
                code="payment-not-refundable",
            )
        left = payment.amount - payment.refunded
        if amount > left:
            raise ValidationFailedError(
                f"at most {left} is left of payment {payment_id} to refund", code="refund-exceeds-payment"
            )
        record = RefundRecord(
            account_id=account_id,
            id=refund_id,
            payment_id=payment_id,
            amount=amount,
            reason=reason,
            status=ps.CREATING,
            invoice_id=invoice_id,
            created_at=clock.iso(clock.now()),
        )
        UnitOfWork().add(ps.put_new_refund(record), idem.started()).commit()
    else:
        UnitOfWork().add(idem.started()).commit()  # a resumed request: renew the lease
    idem.resumed = True
    if record.status == ps.SUCCEEDED:  # posted by the attempt that crashed after its transaction
        inv = ledger.get_invoice(account_id, invoice_id)
        assert inv is not None
        UnitOfWork().add(idem.completed(render(inv))).commit()
        return inv
    try:
        refund = stripe_gateway.create_refund(
            payment_intent_id=str(payment.payment_intent_id),
            amount=record.amount,
            metadata={"billow_refund_id": refund_id, "billow_account_id": account_id, "billow_payment_id": payment_id},
            idempotency_key=refund_id,
        )
    except StripeRejectedError as exc:
        # A refusal is the request's final answer: stored with the row closed `failed`, so a retry with
        # the same key replays it (not 409 until the lease runs out, then the same refusal again).
        refused = ValidationFailedError(f"Stripe refused the refund: {exc.message}", code="payment-rejected")
        idem.status = refused.status
        UnitOfWork().add(ps.fail_refund(record), idem.completed(problem_body(refused))).commit()
        raise refused from exc

    def ops(inv: Invoice) -> list[Op]:
        current = ps.get_payment(account_id, payment_id)
        assert current is not None
        after = replace(current, refunded=current.refunded + record.amount, updated_at=clock.iso(clock.now()))
        return [
            ps.save_payment(current, after),
            ps.complete_refund(record, refund.id),
            audit.record(
                account_id,
                access.actor,
                "refund.to_card",
                inv.id,
                None,
                {
                    "invoice_id": inv.id,
                    "number": inv.number,
                    "amount": record.amount,
                    "payment_id": payment_id,
                    "stripe_refund_id": refund.id,
                },
            ),
            idem.completed(render(inv)),
        ]

    try:
        return ledger.refund_to_card(
            account_id,
            invoice_id=invoice_id,
            refund_id=refund.id,
            amount=record.amount,
            description=reason,
            extra_ops=ops,
        )
    except (AlreadyPostedError, ConcurrentUpdateError):
        inv = ledger.get_invoice(account_id, invoice_id)
        if inv is None:
            raise
        return inv
