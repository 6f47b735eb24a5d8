"""Offline payments (DESIGN §2 v4 routes): a bank transfer or cheque an operator records with
`POST /v1/accounts/{id}/payments {amount, method: "offline", reference, received_on, invoice_id?}`.

The money is already received, so there is no Stripe call, no lease and no reservation: ONE
transaction writes the payment row (`succeeded`, method and source `offline`), the ledger's apply
step (`ledger.apply_payment`: the targeted invoice first, then open invoices oldest first, the rest
unapplied credit — exactly as a card payment), the audit event and the Idempotency-Key's stored reply.
Money received is money received: the amount may pass the balance (the rest becomes unapplied credit)
and has no minimum (Stripe's minimum is about card charges). Only operators record them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from functions.accounts.service import AccountAccess
from functions.core import audit, clock, ledger
from functions.core.errors import FieldError, ForbiddenError, ValidationFailedError
from functions.core.idempotency import IdempotencyContext
from functions.core.uow import UnitOfWork, retrying
from functions.payments import charging, store
from functions.payments.payment_view import payment_event
from functions.payments.schemas import PaymentRequest
from functions.payments.store import PaymentRecord

METHOD = "offline"


def record_offline_payment(
    access: AccountAccess,
    idem: IdempotencyContext,
    body: PaymentRequest,
    view: Callable[[PaymentRecord], dict[str, Any]],
) -> dict[str, Any]:
    """Record and apply an offline payment in one transaction; returns the payment as `view` shows it
    (one_time's view of every payment, stored as the reply too)."""
    _check(access, body)
    account = access.account
    payment_id = idem.derive("pay")
    now = clock.iso(clock.now())
    row = PaymentRecord(
        account_id=account.id,
        id=payment_id,
        amount=body.amount,
        currency=account.currency,
        method=METHOD,
        source=METHOD,
        status=store.SUCCEEDED,
        created_at=now,
        updated_at=now,
        created_by=access.actor.id,
        invoice_id=body.invoice_id,
        reference=body.reference,
        received_on=body.received_on.isoformat() if body.received_on else None,
    )

    def attempt() -> tuple[PaymentRecord, ledger.MoneyIn]:
        ops, money = ledger.apply_payment(
            account.id, payment_id=payment_id, amount=row.amount, target_invoice_id=row.invoice_id
        )
        applied: list[dict[str, Any]] = [{"invoice_id": i, "amount": a} for i, a in money.applied]
        if money.unapplied:
            applied.append({"invoice_id": None, "amount": money.unapplied})
        final = replace(row, applied_to=applied)
        after = {
            "amount": final.amount,
            "currency": final.currency,
            "reference": final.reference,
            "received_on": final.received_on,
            "applied_to": applied,
        }
        uow = UnitOfWork().add(
            store.put_new_payment(final),
            *ops,
            audit.record(account.id, access.actor, "payment.offline_recorded", payment_id, None, after),
            idem.completed(view(final)),
            payment_event("payment.succeeded", final),  # with the invoice.paid events in `ops`
        )
        uow.commit()
        return final, money

    final, money = retrying(attempt, ledger.APPLY_ATTEMPTS)
    if money.credit_after > 0:
        ledger.settle_unapplied_credit(account.id)  # the capped continuation, as after a card payment
    return view(final)


def _check(access: AccountAccess, body: PaymentRequest) -> None:
    """Operators only; the account's currency; a received day not in the future; the targeted invoice
    open and this account's."""
    if access.role != "operator":
        raise ForbiddenError(
            "offline payments (bank transfers, cheques) are recorded by billing operators; pay by card or PayPal",
            code="offline-payment-not-allowed",
        )
    charging.check_target(access.account, body)
    if body.received_on is not None and body.received_on > clock.today():
        raise ValidationFailedError(
            "received_on is the day the money was received: not after today",
            errors=[FieldError("received_on", f"on or before {clock.today().isoformat()}")],
        )
