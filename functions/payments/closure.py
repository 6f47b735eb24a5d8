"""What an account's closure asks of payments (DESIGN §3 v4 Closure): the unapplied credit left at the
end goes back to the card payments it came from, newest first, where possible (each a return of credit,
`refunds.refund_payment` with `return_credit`: money back consuming the credit, no Refund invoice);
whatever cannot be sent back stays on the account and the operators are e-mailed. The customer is told
what went back to which payment (`credit_returned`, in the account's language: issue 22 — a closure's
only other e-mails are the final invoice's and the write-off's notices)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from functions.accounts.service import AccountAccess
from functions.core import catalogue, email, idempotency, ledger
from functions.core.email import Email, compose
from functions.core.errors import BillowError
from functions.core.idempotency import IdempotencyContext
from functions.core.logs import get_logger
from functions.core.money import display
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
    returned, made, told = 0, [], []
    payments = sorted(store.all_payments(account_id), key=lambda p: p.created_at, reverse=True)
    for payment in payments:
        amount = min(credit, _refundable(payment))
        if amount <= 0:
            continue
        refund_id = _return(access, payment, amount)
        if refund_id is not None:
            made.append(refund_id)
            returned += amount
            told.append((payment, amount))
        credit = _credit(account_id)
    if told:
        _tell_customer(access, told)
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


_RETURNED = {
    "en": {
        "subject": "Credit returned for {account}",
        "hello": "Hello {name},",
        "body": "The account {account} (no. {number}) is closed. The credit left on it went back to the payments "
        "it came from:",
        "row": "{amount}: {payment}",
        "delay": "A refund can take 5 to 10 business days to appear on your statement.",
        "sign": "The billing team",
    },
    "fr": {
        "subject": "Crédit restitué pour {account}",
        "hello": "Bonjour {name},",
        "body": "Le compte {account} (n° {number}) est clôturé. Le crédit qui y restait a été restitué aux "
        "paiements dont il provenait :",
        "row": "{amount} : {payment}",
        "delay": "Un remboursement peut mettre 5 à 10 jours ouvrés à apparaître sur votre relevé.",
        "sign": "L'équipe facturation",
    },
}


def credit_returned(account: Any, returns: list[tuple[PaymentRecord, int]]) -> Email:
    """The customer's e-mail of the credit a closure sent back: each amount and the payment it went to
    (by method, day and card, never an id)."""
    locale = account.locale
    t = _RETURNED.get(locale, _RETURNED["en"])
    values = {"name": str(account.billing_contact.get("name", "")), "account": account.name, "number": account.number}
    rows = []
    for payment, amount in returns:
        day = date.fromisoformat((payment.received_on or payment.created_at)[:10])
        told = catalogue.payment_text(locale, method=payment.method, day=day, brand=payment.brand, last4=payment.last4)
        rows.append(t["row"].format(amount=display(amount, payment.currency, locale), payment=told))
    return compose(
        str(account.billing_contact.get("email", "")),
        t["subject"].format(**values),
        locale,
        [t["hello"].format(**values), "\n".join([t["body"].format(**values), *rows]), t["delay"]],
        footer=[t["sign"]],
    )


def _tell_customer(access: AccountAccess, returns: list[tuple[PaymentRecord, int]]) -> None:
    account = access.account
    if not account.billing_contact.get("email"):
        return
    try:
        email.send(credit_returned(account, returns))
    except Exception:  # the credit went back: the e-mail is not worth failing the closure
        get_logger().exception("credit-returned e-mail failed", account_id=account.id)
