"""What an account's closure asks of payments (DESIGN §3 v4 Closure): the unapplied credit left at the
end goes back to the card payments it came from, newest first, where possible (each a return of credit,
`refunds.refund_payment` with `return_credit`: money back consuming the credit, no Refund invoice);
whatever cannot be sent back stays on the account and the operators are e-mailed."""

from __future__ import annotations

from dataclasses import dataclass

from functions.accounts.service import AccountAccess
from functions.core import email, idempotency, ledger
from functions.core.errors import BillowError
from functions.core.idempotency import IdempotencyContext
from functions.core.logs import get_logger
from functions.core.settings import get_settings
from functions.payments import emails, refunds, store
from functions.payments.store import PaymentRecord

# The scope of the idempotency records of the credit returns (one per payment), so that a resumed
# closure never sends the same credit back twice.
OPERATION = "CLOSURE credit-return"
REASON = "account closed: unapplied credit returned"


@dataclass(frozen=True)
class CreditReturned:
    returned: int  # sent back to cards by this call
    left: int  # unapplied credit still on the account
    refund_ids: tuple[str, ...] = ()


def _credit(account_id: str) -> int:
    balance = ledger.get_balance(account_id)
    return balance.unapplied_credit if balance else 0


def _refundable(payment: PaymentRecord) -> int:
    """What is left of a succeeded Stripe payment (card or PayPal) to send back; offline money never."""
    if payment.status != store.SUCCEEDED or not payment.payment_intent_id or payment.method == "offline":
        return 0
    return max(payment.amount - payment.refunded, 0)


def return_leftover_credit(access: AccountAccess) -> CreditReturned:
    """Send the account's unapplied credit back to its card payments, newest first, each at most what is
    left of it; one idempotency record per payment (key = the payment id), so a second call finds the
    returns already made and makes no other. Credit left over is reported to the operators by e-mail."""
    account_id = access.account.id
    credit = _credit(account_id)
    returned, made = 0, []
    payments = sorted(store.all_payments(account_id), key=lambda p: p.created_at, reverse=True)
    for payment in payments:
        amount = min(credit, _refundable(payment))
        if amount <= 0:
            continue
        refund_id = _return(access, payment, amount)
        if refund_id is not None:
            made.append(refund_id)
            returned += amount
        credit = _credit(account_id)
    if credit > 0:
        _tell_operators(
            access, credit, "no card payment left to refund it to" if not made else "more than its card payments"
        )
    return CreditReturned(returned, credit, tuple(made))


def _return(access: AccountAccess, payment: PaymentRecord, amount: int) -> str | None:
    """One return of credit to `payment`'s card; None when it was already made or Stripe refused it."""
    ctx = IdempotencyContext(
        account_id=access.account.id,
        operation=OPERATION,
        key=payment.id,
        sub=access.actor.id,
        request_hash=idempotency.canonical_hash(f"closure/{payment.id}", None),
        status=200,
    )
    try:
        if idempotency.lookup(ctx) is not None:
            return None  # returned by an earlier attempt of this closure
        row = refunds.refund_payment(
            access, ctx, payment.id, amount, REASON, lambda r, _: {"refund_id": r.id}, return_credit=True
        )
    except BillowError as exc:  # Stripe refused it, or it is in progress elsewhere
        get_logger().warning("closure credit return refused", account_id=access.account.id, error=type(exc).__name__)
        return None
    return row.id


def _tell_operators(access: AccountAccess, credit: int, why: str) -> None:
    account = access.account
    email.send(emails.credit_left_at_closure(get_settings().operator_email, account.id, credit, account.currency, why))
