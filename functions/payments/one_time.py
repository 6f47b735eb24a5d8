"""One-time payments (POST /v1/accounts/{id}/payments): by card (the card on file, or a Stripe.js
payment method used once and never attached) or by PayPal, for the whole balance or part of it.

The payment row and the idempotency record (in_progress, with a lease) are written first, the
payment id derived from the idempotency scope; then the PaymentIntent, with our payment id in its
metadata and a Stripe idempotency key equal to that id; then the row and the stored response. A
retry after the lease resumes the same row with the same key: one PaymentIntent, whatever crashed.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

from functions.accounts.service import AccountAccess
from functions.core import clock, cursor, ledger, money, stripe_gateway
from functions.core.errors import (
    BillowError,
    ConcurrentUpdateError,
    FieldError,
    NotFoundError,
    PaymentDeclinedError,
    ValidationFailedError,
)
from functions.core.idempotency import IdempotencyContext
from functions.core.ids import is_id
from functions.core.settings import get_settings
from functions.core.uow import Op, UnitOfWork, retrying
from functions.payments import cards, charges, charging, offline, store
from functions.payments.payment_view import view as view
from functions.payments.schemas import PaymentRequest
from functions.payments.store import PaymentRecord
from functions.payments.tickets import support_path

# The currencies Stripe's PayPal accepts (https://docs.stripe.com/payments/paypal: presentment currencies).
PAYPAL_CURRENCIES = frozenset(
    {"aud", "cad", "chf", "czk", "dkk", "eur", "gbp", "hkd", "nok", "nzd", "pln", "sek", "sgd", "usd"}
)

_DECLINE_MESSAGES = {
    "insufficient_funds": "The card has insufficient funds. Use another card or pay a smaller amount.",
    "expired_card": "The card has expired. Use another card.",
    "incorrect_cvc": "The security code is incorrect. Check it and try again.",
    "lost_card": "The card was declined. Use another card.",
    "stolen_card": "The card was declined. Use another card.",
    "authentication_required": "The bank asks for authentication: complete it, or use another card.",
}
_DEFAULT_DECLINE = "The card was declined by the bank. Use another card, contact your bank, or open a support ticket."


def _error_for(row: PaymentRecord) -> BillowError:
    if row.failure_code in ("card_declined", "authentication_required") or row.decline_code:
        code = row.decline_code or row.failure_code or "generic_decline"
        return PaymentDeclinedError(
            _DECLINE_MESSAGES.get(code, _DEFAULT_DECLINE),
            extensions={
                "payment_id": row.id,
                "decline_code": code,
                "support": _support(row) | {"body": {"subject": f"Declined payment {row.id}", "payment_id": row.id}},
            },
        )
    # Not a decline: nothing the customer can fix by trying another card, so it points to support too.
    return ValidationFailedError(
        f"Stripe refused this payment ({row.failure_code}): {row.failure_message or 'use another payment method'}. "
        "If it happens again, open a support ticket in the console (Support) naming this payment.",
        code="payment-rejected",
        extensions={"payment_id": row.id, "support": _support(row)},
    )


def _support(row: PaymentRecord) -> dict[str, Any]:
    """How to open a support ticket about this payment (the console's Support page posts it)."""
    return {
        "method": "POST",
        "path": support_path(row.account_id),
        "body": {"subject": f"Payment {row.id}", "payment_id": row.id},
    }


def _check_amount(access: AccountAccess, body: PaymentRequest) -> None:
    """What can be refused from the request alone: the currency, the targeted invoice, the minimum. The
    ceiling (the balance, or the invoice's balance due, less the payments in flight) is checked by the
    reservation, atomically with the row (charging.ensure_row)."""
    account = access.account
    charging.check_target(account, body)
    minimum = money.minimum_charge(account.currency)
    if body.amount < minimum:
        raise ValidationFailedError(
            f"the minimum payment is {money.format_amount(minimum, account.currency)}: a smaller amount is not "
            "charged on its own; it will be collected with the next charge",
            code="amount-below-minimum",
            errors=[FieldError("amount", f"at least {minimum}")],
        )


def _check_return_url(url: str | None) -> None:
    parts = urlsplit(url or "")
    origin = f"{parts.scheme}://{parts.netloc}"
    if not url or origin not in get_settings().paypal_return_origins:
        raise ValidationFailedError(
            "PayPal needs a return_url on one of the console's origins",
            code="return-url-not-allowed",
            errors=[FieldError("return_url", "not an allowed origin")],
        )


def _method(
    access: AccountAccess, body: PaymentRequest, validate: bool
) -> tuple[charging.ChargeRequest, str | None, str | None]:
    """The Stripe request for this payment, and the card's brand and last4 for the receipt (the card
    state read once)."""
    state = store.get_state(access.account.id)
    customer = state.customer_id if state else None
    key = "-"  # replaced by the payment id
    if body.method == "paypal":
        if validate:
            if access.account.currency not in PAYPAL_CURRENCIES:
                raise ValidationFailedError(
                    f"PayPal is not available in {access.account.currency.upper()}; pay by card",
                    code="method-unavailable",
                )
            _check_return_url(body.return_url)
        return charging.ChargeRequest(key, customer, None, method="paypal", return_url=body.return_url), None, None
    if body.payment_method_id:
        pm = stripe_gateway.get_payment_method(body.payment_method_id)
        if pm is None or pm.card is None or (pm.customer is not None and pm.customer != customer):
            raise NotFoundError(
                f"no card payment method {body.payment_method_id} for this account", code="payment-method-not-found"
            )
        return charging.ChargeRequest(key, customer, pm.id), pm.card.brand, pm.card.last4
    card = cards.card_of(state)
    if card is None:
        raise ValidationFailedError(
            "there is no active card on file: send a payment_method_id from Stripe.js, or add a card",
            code="no-card-on-file",
        )
    return charging.ChargeRequest(key, card.customer_id, card.payment_method_id), card.brand, card.last4


def _new_row(
    access: AccountAccess, payment_id: str, body: PaymentRequest, brand: str | None, last4: str | None
) -> PaymentRecord:
    now = clock.iso(clock.now())
    return PaymentRecord(
        account_id=access.account.id,
        id=payment_id,
        amount=body.amount,
        currency=access.account.currency,
        method=body.method,
        source="one_time",
        status=store.CREATING,
        created_at=now,
        updated_at=now,
        created_by=access.actor.id,
        invoice_id=body.invoice_id,
        brand=brand,
        last4=last4,
    )


def _reply(idem: IdempotencyContext, row: PaymentRecord) -> Op:
    """The stored reply: the payment, or the problem a failed one answers."""
    if row.status == store.FAILED:
        return charges.reply(idem, error=_error_for(row))
    return charges.reply(idem, view(row))


def create_payment(access: AccountAccess, idem: IdempotencyContext, body: PaymentRequest) -> dict[str, Any]:
    """Make a one-time payment on the sequence of functions/payments/charges.py; returns the payment
    view (its response is stored with the last write). Raises PaymentDeclinedError (402) when Stripe
    declines: the payment is recorded `failed`."""
    if body.method == offline.METHOD:  # an operator records money already received: no Stripe
        return offline.record_offline_payment(access, idem, body, view)
    account = access.account
    payment_id = idem.derive("pay")
    row = store.get_payment(account.id, payment_id) if idem.resumed else None
    if row is None:
        _check_amount(access, body)
    req, brand, last4 = _method(access, body, validate=row is None)
    if row is None:  # 1. the lease: the row `creating`, its amount reserved, the key in progress
        row = charging.start(_new_row(access, payment_id, body, brand, last4), idem, reserve=True)
    else:
        charges.renew(idem)
    if row.status != store.CREATING:  # a resumed request whose payment a webhook finished meanwhile
        UnitOfWork().add(_reply(idem, row)).commit()
        return _answer(row)
    # 2. Stripe, our payment id as its idempotency key
    answer = charging.call_stripe(row, replace(req, idempotency_key=payment_id))

    def attempt() -> charging.Reply:  # 3. the final write: the row, the ledger, the audit, the reply
        reply = charging.record_reply(account.id, payment_id, answer.value, answer.rejected)
        # the outbound events (payment.succeeded|failed|requires_action, invoice.paid …) are in reply.ops
        uow = UnitOfWork().add(*reply.ops, _reply(idem, reply.row))
        uow.commit()
        return reply

    try:
        reply = retrying(attempt, ledger.APPLY_ATTEMPTS)
    except ConcurrentUpdateError:
        if answer.rejected is not None or answer.value is None or answer.value.status != "succeeded":
            raise
        # Stripe has the money but the ledger kept moving under the apply step: never answer an error
        # for a charged card. The payment stays in progress (the key too, until its lease ends); the
        # webhook applies it, and a retry with the same key then answers it succeeded.
        return view(store.get_payment(account.id, payment_id) or row)
    return _answer(charging.finish(reply, account))


def _answer(row: PaymentRecord) -> dict[str, Any]:
    if row.status == store.FAILED:
        raise _error_for(row)
    return view(row)


def get_payment(access: AccountAccess, payment_id: str) -> dict[str, Any]:
    row = store.get_payment(access.account.id, payment_id) if is_id(payment_id, "pay") else None
    if row is None:
        raise NotFoundError(f"no payment {payment_id} on this account", code="payment-not-found")
    return view(row)


def list_payments(access: AccountAccess, limit: int, after: str | None, route: str) -> dict[str, Any]:
    account_id = access.account.id
    last_key = cursor.decode(after, account_id, route, {})
    rows, last = store.list_payments(account_id, limit, last_key)
    return {"data": [view(r) for r in rows], "next_cursor": cursor.encode(account_id, route, {}, last)}
