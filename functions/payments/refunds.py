"""Refunds to a card through billow (the operator's POST /v1/accounts/{id}/refunds with `payment_id`).

    creating ──Stripe accepts──▶ succeeded ──the bank fails it (charge.refund.updated)──▶ failed
        └──Stripe refuses, or 23 h passed and Stripe never had it──▶ failed

- The first transaction writes the refund row `creating`, the idempotency record in_progress (with a
  lease) and RESERVES the amount on the payment's `refunded` total (conditional: refunded + amount <=
  what was paid), so two concurrent refunds can never both pass (DESIGN §3 v4 Refund limits).
- Then the Stripe refund, with our refund id in its metadata and as its idempotency key. A refusal closes
  the row `failed` and releases the reservation, in one transaction with the stored 422.
- Once Stripe accepts it, `finish()` books it in one transaction with the row `succeeded`: the Refund
  invoice (-X, to unapplied credit) and the money back (+X, consuming it), netting to zero (DESIGN §3);
  or, with `return_credit`, only the money back, consuming the account's unapplied credit (§3 v4
  Returning an overpayment). The `charge.refunded` webhook calls the same `finish()` when it finds the
  row still `creating` (the process died between Stripe and the ledger), keyed on the `re_…` id.
- A row still `creating` after 23 h is never sent to Stripe again with its key (Stripe forgets keys
  after 24 h): it adopts the refund of the PaymentIntent whose metadata names it, else it fails.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from functions.accounts.service import AccountAccess
from functions.core import audit, clock, ledger, stripe_gateway
from functions.core.audit import Actor
from functions.core.errors import BillowError, ConcurrentUpdateError, NotFoundError, ValidationFailedError
from functions.core.http import problem_body
from functions.core.idempotency import IdempotencyContext
from functions.core.ids import is_id
from functions.core.ledger import AlreadyPostedError, Invoice
from functions.core.stripe_gateway import StripeRejectedError
from functions.core.uow import Op, UnitOfWork
from functions.payments import payment_store as ps
from functions.payments.payment_store import PaymentRecord, RefundRecord

# What the caller stores as the response, from the completed row and its Refund invoice (None with
# return_credit).
Render = Callable[[RefundRecord, Invoice | None], dict[str, Any]]
# The ops committed with the booking (the stored response, a webhook's dedupe marker).
LastOps = Callable[[RefundRecord, Invoice | None], Sequence[Op]]

ACCEPTED = ("succeeded", "pending", "requires_action")  # Stripe has the refund in hand


def _none(_r: RefundRecord, _i: Invoice | None) -> Sequence[Op]:
    return ()


def settled_by(payment: PaymentRecord) -> list[str]:
    """The invoices a payment settled directly (where its money back reopens first)."""
    return [a["invoice_id"] for a in payment.applied_to if a.get("invoice_id")]


def refund_payment(
    access: AccountAccess,
    idem: IdempotencyContext,
    payment_id: str,
    amount: int,
    reason: str,
    render: Render,
    *,
    return_credit: bool = False,
) -> RefundRecord:
    """Refund `amount` of a succeeded payment to its card (at most what is left of the payment; with
    `return_credit`, at most the account's unapplied credit too). Returns the row once booked."""
    account_id = access.account.id
    payment = ps.get_payment(account_id, payment_id) if is_id(payment_id, "pay") else None
    if payment is None:
        raise NotFoundError(f"no payment {payment_id} on this account", code="payment-not-found")
    refund_id = idem.derive("ref")
    record = ps.get_refund(account_id, refund_id) if idem.resumed else None
    if record is None:
        record = _start(access, idem, payment, refund_id, amount, reason, return_credit)
    else:
        UnitOfWork().add(idem.started()).commit()  # a resumed request: renew the lease
    idem.resumed = True

    def respond(done: RefundRecord, inv: Invoice | None) -> list[Op]:
        return [idem.completed(render(done, inv))]

    def refuse(err: BillowError, ops: Sequence[Op] = ()) -> BillowError:
        idem.status = err.status
        UnitOfWork().add(*ops, idem.completed(problem_body(err))).commit()
        return err

    if record.status == ps.SUCCEEDED:  # booked by the attempt that crashed after its transaction, or a webhook
        UnitOfWork().add(*respond(record, _invoice_of(record))).commit()
        return record
    if record.status == ps.FAILED:  # closed while the request was away (the bank, or 23 h)
        raise refuse(_refused("the refund failed at Stripe or was never made"))
    if stripe_gateway.key_expired(record.created_at):
        refund = _adopt(record, str(payment.payment_intent_id))
        if refund is None:
            raise refuse(
                ValidationFailedError(
                    f"refund {record.id} never reached Stripe within 23 hours and was abandoned: nothing was "
                    "refunded; send it again with a new Idempotency-Key",
                    code="refund-expired",
                ),
                ps.fail_refund(record),
            )
    else:
        try:
            refund = stripe_gateway.create_refund(
                payment_intent_id=str(payment.payment_intent_id),
                amount=record.amount,
                metadata={
                    "billow_refund_id": refund_id,
                    "billow_account_id": account_id,
                    "billow_payment_id": payment_id,
                },
                idempotency_key=refund_id,
            )
        except StripeRejectedError as exc:
            # A refusal is the request's final answer: stored with the row closed `failed` and the
            # reservation released, so a retry with the same key replays it.
            raise refuse(_refused(exc.message), ps.fail_refund(record)) from exc
    if refund.status not in ACCEPTED:
        raise refuse(_refused(f"the refund is {refund.status}"), ps.fail_refund(record, refund.id))
    return finish(record, refund, access.actor, respond)


def _refused(why: str) -> ValidationFailedError:
    return ValidationFailedError(f"Stripe refused the refund: {why}", code="payment-rejected")


def _start(
    access: AccountAccess,
    idem: IdempotencyContext,
    payment: PaymentRecord,
    refund_id: str,
    amount: int,
    reason: str,
    return_credit: bool,
) -> RefundRecord:
    """The first transaction: the row `creating`, the key in progress, the amount reserved."""
    account_id = access.account.id
    if payment.status != ps.SUCCEEDED or not payment.payment_intent_id:
        raise ValidationFailedError(
            f"payment {payment.id} is {payment.status}: only a succeeded payment can be refunded",
            code="payment-not-refundable",
        )
    if return_credit:
        balance = ledger.get_balance(account_id)
        credit = balance.unapplied_credit if balance else 0
        if amount > credit:
            raise ValidationFailedError(
                f"return_credit returns unapplied credit: the account has {credit}",
                code="refund-exceeds-credit",
            )
    record = RefundRecord(
        account_id=account_id,
        id=refund_id,
        payment_id=payment.id,
        amount=amount,
        reason=reason,
        status=ps.CREATING,
        invoice_id="" if return_credit else idem.derive("inv"),
        created_at=clock.iso(clock.now()),
        return_credit=return_credit,
    )
    UnitOfWork().add(ps.put_new_refund(record), ps.reserve_refund(payment, amount), idem.started()).commit()
    return record


def _invoice_of(record: RefundRecord) -> Invoice | None:
    return ledger.get_invoice(record.account_id, record.invoice_id) if record.invoice_id else None


def _adopt(record: RefundRecord, payment_intent_id: str) -> stripe_gateway.Refund | None:
    """The refund Stripe made for this row, found by its metadata (the key may be forgotten)."""
    for refund in stripe_gateway.list_refunds(payment_intent_id):
        if refund.metadata.get("billow_refund_id") == record.id:
            return refund
    return None


def finish(
    record: RefundRecord, refund: stripe_gateway.Refund, actor: Actor, last_ops: LastOps = _none
) -> RefundRecord:
    """Book a refund Stripe accepted, once per Stripe refund id, with the row `creating` -> `succeeded`
    and `last_ops` in the same transaction. A second caller (the request and the webhook racing) gets
    the booked row, with its own `last_ops` committed alone."""
    account_id = record.account_id
    done = replace(record, status=ps.SUCCEEDED, stripe_refund_id=refund.id)

    def booked(inv: Invoice | None) -> list[Op]:
        after = {"amount": record.amount, "payment_id": record.payment_id, "stripe_refund_id": refund.id}
        if inv is not None:
            after |= {"invoice_id": inv.id, "number": inv.number}
        action = "refund.credit_returned" if record.return_credit else "refund.to_card"
        return [
            ps.complete_refund(record, refund.id),
            audit.record(account_id, actor, action, inv.id if inv else record.id, None, after),
            *last_ops(done, inv),
        ]

    try:
        if record.return_credit:
            payment = ps.get_payment(account_id, record.payment_id)
            assert payment is not None
            ledger.money_back(
                account_id,
                refund_id=refund.id,
                amount=record.amount,
                payment_id=record.payment_id,
                settled_invoice_ids=settled_by(payment),
                extra_ops=lambda _result: booked(None),
            )
        else:
            ledger.refund_to_card(
                account_id,
                invoice_id=record.invoice_id,
                refund_id=refund.id,
                amount=record.amount,
                description=record.reason,
                extra_ops=booked,
            )
    except (AlreadyPostedError, ConcurrentUpdateError):
        current = ps.get_refund(account_id, record.id)
        if current is None or current.status != ps.SUCCEEDED:
            raise
        ops = list(last_ops(current, _invoice_of(current)))
        if ops:
            UnitOfWork().add(*ops).commit()
        return current
    return done


def reverse_money_back(account_id: str, stripe_refund_id: str, amount: int, ops: Sequence[Op]) -> bool:
    """A refund Stripe accepted failed at the bank afterwards (`charge.refund.updated` to failed): its
    money-back entry is reversed — the amount comes back in, applied like a payment (oldest open
    invoice first, else unapplied credit) — with `ops` (the row `failed`, the reservation released),
    once per Stripe refund. False when it was already reversed."""
    try:
        ledger.apply_payment(
            account_id,
            payment_id=f"{stripe_refund_id}:failed",
            amount=amount,
            extra_ops=lambda _result: list(ops),
            kind="money_back_reversed",
        )
    except AlreadyPostedError:
        return False
    return True


def audit_refunds(account_id: str) -> list[str]:
    """What `billow audit` checks on the payments side: no payment refunded beyond what was paid (or
    below zero), and every refund billow booked counted in its payment's refunded total."""
    problems = []
    booked: dict[str, int] = {}
    for refund in ps.list_refunds(account_id):
        if refund.status in (ps.CREATING, ps.SUCCEEDED):
            booked[refund.payment_id] = booked.get(refund.payment_id, 0) + refund.amount
    for payment in ps.all_payments(account_id):
        if payment.refunded < 0 or payment.refunded > payment.amount:
            problems.append(f"payment {payment.id} is refunded {payment.refunded} of {payment.amount}")
        elif booked.get(payment.id, 0) > payment.refunded:
            problems.append(
                f"payment {payment.id}: billow's refunds of {booked[payment.id]} exceed its refunded total "
                f"{payment.refunded}"
            )
    return problems
