"""Payments: a `pay_` row written before Stripe is called, the PaymentIntent created with our payment
id in its metadata and a deterministic Stripe idempotency key, and ONE apply step that moves the
balance once Stripe has accepted the money — used by the synchronous `succeeded` reply and by the
`payment_intent.succeeded` webhook alike (docs/payments.md).

    creating ──Stripe──▶ succeeded (applied)  |  requires_action ─▶ succeeded | failed
                     └──▶ processing ─▶ succeeded | failed        |  failed (declined)

A crash anywhere is safe: the row is found again (its id derives from the request's idempotency scope,
or from the invoice and attempt), Stripe replays the first answer for the same key, and the ledger
posts a payment id at most once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from functions.core import audit, clock, ledger, stripe_gateway
from functions.core.audit import Actor
from functions.core.errors import ConcurrentUpdateError
from functions.core.ledger import AlreadyPostedError, MoneyIn
from functions.core.logs import get_logger
from functions.core.stripe_gateway import PaymentIntent, StripeRejectedError
from functions.core.uow import Op, UnitOfWork
from functions.payments import payment_store as ps
from functions.payments import store
from functions.payments.payment_store import PaymentRecord

SYSTEM = Actor("system:payments", "system")

# The failure code of a row abandoned because its Stripe idempotency key may have expired.
KEY_EXPIRED = "idempotency_window_expired"
# PaymentIntent statuses that mean the attempt is over without money (Stripe wants another method).
_FAILED_PI = ("requires_payment_method", "canceled")


@dataclass(frozen=True)
class ChargeRequest:
    """What to ask Stripe for, once the row exists."""

    idempotency_key: str
    customer: str | None
    payment_method: str | None
    method: str = "card"
    off_session: bool = False
    return_url: str | None = None


def metadata(row: PaymentRecord) -> dict[str, str]:
    data = {"billow_payment_id": row.id, "billow_account_id": row.account_id}
    if row.invoice_id:
        data["billow_invoice_id"] = row.invoice_id
    return data


# Reading and reserving again when another payment or invoice moved the balance in between.
_RESERVE_ATTEMPTS = 12


def ensure_row(row: PaymentRecord, first_ops: Sequence[Op] = (), reserve: bool = False) -> PaymentRecord:
    """Write the `creating` row (with `first_ops`, e.g. the idempotency record in_progress), or return
    the row a previous attempt wrote. With `reserve`, the same transaction reserves the row's amount on
    the payments in flight (DESIGN §3 v4): concurrent payments with different keys can never take more
    than is owed (a payment above the room left → 422 `amount-exceeds-balance`, nothing written)."""
    existing = ps.get_payment(row.account_id, row.id)
    if existing is not None:
        if first_ops:
            UnitOfWork().add(*first_ops).commit()  # renew the lease of the resumed request
        return existing
    for attempt in range(_RESERVE_ATTEMPTS):
        reservation = ledger.reserve(row.account_id, row.amount, row.invoice_id) if reserve else []
        new = replace(row, reserved=row.amount if reserve else 0)
        try:
            UnitOfWork().add(ps.put_new_payment(new), *first_ops, *reservation).commit()
            return new
        except ledger.ReservationMovedError:
            if attempt == _RESERVE_ATTEMPTS - 1:
                raise
        except ConcurrentUpdateError:
            raced = ps.get_payment(row.account_id, row.id)
            if raced is None:
                raise
            return raced
    raise AssertionError("unreachable")


def release_ops(row: PaymentRecord) -> list[Op]:
    """The ops that give back what `row` holds in flight (commit them with its transition to failed)."""
    return ledger.release(row.account_id, row.reserved, row.invoice_id)


@dataclass(frozen=True)
class Outcome:
    row: PaymentRecord
    declined: StripeRejectedError | None = None


def call_stripe(row: PaymentRecord, req: ChargeRequest) -> tuple[PaymentIntent | None, StripeRejectedError | None]:
    """Create (or, with the same key, find again) the PaymentIntent of `row`. A row still `creating`
    after 23 h is never sent again with its key (Stripe forgets keys after 24 h, and would charge a
    second time): it adopts the PaymentIntent whose metadata names it, else it fails (DESIGN §3 v4)."""
    if stripe_gateway.key_expired(row.created_at):
        return _adopt(row, req)
    try:
        intent = stripe_gateway.create_payment_intent(
            amount=row.amount,
            currency=row.currency,
            metadata=metadata(row),
            idempotency_key=req.idempotency_key,
            customer=req.customer,
            payment_method=req.payment_method,
            method=req.method,
            off_session=req.off_session,
            return_url=req.return_url,
        )
    except StripeRejectedError as exc:
        return exc.payment_intent, exc
    return intent, None


def _adopt(row: PaymentRecord, req: ChargeRequest) -> tuple[PaymentIntent | None, StripeRejectedError | None]:
    intent = stripe_gateway.find_payment_intent(req.customer, row.created_at, "billow_payment_id", row.id)
    if intent is not None:
        return intent, None
    return None, StripeRejectedError(
        400, KEY_EXPIRED, "this payment never reached Stripe within 23 hours: nothing was charged; pay again"
    )


def _after_reply(
    row: PaymentRecord, intent: PaymentIntent | None, rejected: StripeRejectedError | None
) -> PaymentRecord:
    """The row as Stripe's answer leaves it (before any apply)."""
    now = clock.iso(clock.now())
    pi_id = intent.id if intent else row.payment_intent_id
    if rejected is not None:
        auth = "authentication_required" in (rejected.code, rejected.decline_code)
        if auth and intent is not None:
            return replace(
                row,
                status=ps.REQUIRES_ACTION,
                payment_intent_id=pi_id,
                client_secret=intent.client_secret,
                next_action={"type": "use_stripe_sdk"},
                decline_code="authentication_required",
                failure_code="authentication_required",
                failure_message=rejected.message,
                updated_at=now,
            )
        return replace(
            row,
            status=ps.FAILED,
            payment_intent_id=pi_id,
            failure_code=rejected.code or f"stripe_{rejected.http_status}",
            decline_code=rejected.decline_code,
            failure_message=rejected.message,
            client_secret=None,
            next_action=None,
            updated_at=now,
        )
    assert intent is not None
    if intent.status == "requires_action":
        return replace(
            row,
            status=ps.REQUIRES_ACTION,
            payment_intent_id=pi_id,
            client_secret=intent.client_secret,
            next_action=next_action_view(intent),
            updated_at=now,
        )
    if intent.status in _FAILED_PI:
        error = intent.last_payment_error or {}
        return replace(
            row,
            status=ps.FAILED,
            payment_intent_id=pi_id,
            failure_code=error.get("code") or "payment_failed",
            decline_code=error.get("decline_code"),
            failure_message=error.get("message"),
            client_secret=None,
            next_action=None,
            updated_at=now,
        )
    # processing (and succeeded, which the apply step finishes)
    return replace(row, status=ps.PROCESSING, payment_intent_id=pi_id, updated_at=now)


def next_action_view(intent: PaymentIntent) -> dict[str, Any]:
    """What the console does next: follow a redirect (PayPal) or let Stripe.js authenticate (3-D Secure)."""
    action = intent.next_action or {}
    if action.get("type") == "redirect_to_url":
        redirect = action.get("redirect_to_url") or {}
        return {"type": "redirect_to_url", "url": redirect.get("url"), "return_url": redirect.get("return_url")}
    return {"type": "use_stripe_sdk"}


LastOps = Callable[[PaymentRecord], Sequence[Op]]


def _none(_: PaymentRecord) -> Sequence[Op]:
    return ()


def record_reply(
    row: PaymentRecord,
    intent: PaymentIntent | None,
    rejected: StripeRejectedError | None,
    last_ops: LastOps = _none,
) -> PaymentRecord:
    """Store Stripe's answer: apply the money if Stripe accepted it, else update the row; `last_ops(row
    after)` (the stored response) commit in the same transaction."""
    if rejected is None and intent is not None and intent.status == "succeeded":
        return apply_accepted(row.account_id, row.id, intent, last_ops)
    after = _after_reply(row, intent, rejected)
    action = "payment.failed" if after.status == ps.FAILED else f"payment.{after.status}"
    released: list[Op] = []
    if after.status == ps.FAILED and row.reserved:
        released, after = release_ops(row), replace(after, reserved=0)
    try:
        UnitOfWork().add(
            ps.save_payment(row, after),
            *released,
            audit.record(row.account_id, SYSTEM, action, row.id, {"status": row.status}, _audit_view(after)),
            *last_ops(after),
        ).commit()
    except ConcurrentUpdateError:
        # A webhook moved the row first (e.g. applied it): store the response of the row as it is now.
        current = ps.get_payment(row.account_id, row.id)
        assert current is not None
        ops = list(last_ops(current))
        if ops:
            UnitOfWork().add(*ops).commit()
        return current
    return after


def _audit_view(row: PaymentRecord) -> dict[str, Any]:
    return {
        "status": row.status,
        "amount": row.amount,
        "currency": row.currency,
        "payment_intent_id": row.payment_intent_id,
        "failure_code": row.failure_code,
    }


class _ReservationChanged(Exception):
    """The row's reservation was released between the read and the apply's commit: read it again."""


def apply_accepted(
    account_id: str,
    payment_id: str,
    intent: PaymentIntent,
    last_ops: LastOps = _none,
) -> PaymentRecord:
    """THE apply step: Stripe accepted the money, so the ledger gets the payment (entry -amount, the
    targeted invoice first, then oldest open), the row becomes `succeeded` with `applied_to`, its
    reservation of the payments in flight is released, and `last_ops` commit with them — once per
    payment id, whoever calls first (the synchronous reply or the webhook). Later callers get the row as
    applied, with their `last_ops` committed alone. A PaymentIntent whose amount or currency disagrees
    with the row is `held`: nothing applied, operators alarmed (DESIGN §3 v4)."""
    for _ in range(_RESERVE_ATTEMPTS):
        row = ps.get_payment(account_id, payment_id)
        assert row is not None, f"no payment {payment_id}"
        if row.status in (ps.SUCCEEDED, ps.HELD):
            return _already_applied(row, last_ops)
        if _disagrees(row, intent):
            return _hold(row, intent, last_ops)
        try:
            return _apply(row, intent, last_ops)
        except _ReservationChanged:
            continue
    raise ConcurrentUpdateError(f"payment {payment_id} kept changing while it was applied; the webhook applies it")


def _disagrees(row: PaymentRecord, intent: PaymentIntent) -> bool:
    received = intent.amount_received or intent.amount
    return intent.currency.lower() != row.currency.lower() or received != row.amount


def _hold(row: PaymentRecord, intent: PaymentIntent, last_ops: LastOps) -> PaymentRecord:
    """Stripe took an amount or currency the row did not ask for: apply nothing (the reservation stays,
    so nothing else charges that money), mark the row `held`, pause collection, tell the operators."""
    from functions.core import email
    from functions.core.settings import get_settings
    from functions.payments import emails

    after = replace(
        row,
        status=ps.HELD,
        payment_intent_id=intent.id,
        failure_code="amount-mismatch",
        failure_message=(
            f"Stripe reports {intent.amount_received or intent.amount} {intent.currency}, "
            f"the payment was for {row.amount} {row.currency}"
        ),
        client_secret=None,
        next_action=None,
        updated_at=clock.iso(clock.now()),
    )
    try:
        UnitOfWork().add(
            ps.save_payment(row, after),
            store.pause_collection(row.account_id, f"held {row.id}", after.updated_at),
            audit.record(row.account_id, SYSTEM, "payment.held", row.id, {"status": row.status}, _audit_view(after)),
            *last_ops(after),
        ).commit()
    except ConcurrentUpdateError:
        current = ps.get_payment(row.account_id, row.id)
        assert current is not None
        return _already_applied(current, last_ops)
    get_logger().error(
        "payment held: the PaymentIntent disagrees with its row",
        account_id=row.account_id,
        payment_id=row.id,
        payment_intent_id=intent.id,
    )
    try:
        email.send(emails.held_payment(get_settings().operator_email, after, intent.id))
    except Exception:  # the hold is recorded and logged at error level: the alarm still fires
        get_logger().exception("held-payment e-mail failed", account_id=row.account_id, payment_id=row.id)
    return after


def _apply(row: PaymentRecord, intent: PaymentIntent, last_ops: LastOps) -> PaymentRecord:
    account_id, payment_id = row.account_id, row.id
    amount = row.amount
    applied_row: dict[str, PaymentRecord] = {}

    def ops(result: object) -> list[Op]:
        assert isinstance(result, MoneyIn)
        current = ps.get_payment(account_id, payment_id)  # re-read on each attempt of the ledger
        assert current is not None
        if current.reserved != row.reserved:
            raise _ReservationChanged
        applied = [{"invoice_id": i, "amount": a} for i, a in result.applied]
        if result.unapplied:
            applied.append({"invoice_id": None, "amount": result.unapplied})
        after = replace(
            current,
            status=ps.SUCCEEDED,
            amount=amount,
            payment_intent_id=intent.id,
            applied_to=applied,
            client_secret=None,
            next_action=None,
            reserved=0,
            updated_at=clock.iso(clock.now()),
        )
        applied_row["row"] = after
        return [
            ps.save_payment(current, after),
            audit.record(
                account_id, SYSTEM, "payment.succeeded", payment_id, {"status": current.status}, _audit_view(after)
            ),
            *last_ops(after),
        ]

    try:
        ledger.apply_payment(
            account_id,
            payment_id=payment_id,
            amount=amount,
            target_invoice_id=row.invoice_id,
            extra_ops=ops,
            reserved=row.reserved,
        )
    except AlreadyPostedError:
        current = ps.get_payment(account_id, payment_id)
        assert current is not None
        return _already_applied(current, last_ops)
    after = applied_row["row"]
    get_logger().info("payment applied", account_id=account_id, payment_id=payment_id, amount=amount)
    _receipt_after_apply(after)
    return after


def _already_applied(row: PaymentRecord, last_ops: LastOps) -> PaymentRecord:
    ops = list(last_ops(row))
    if ops:
        UnitOfWork().add(*ops).commit()
    return row


def mark_failed(account_id: str, payment_id: str, intent: PaymentIntent, last_ops: LastOps = _none) -> PaymentRecord:
    """Stripe reported the attempt failed (webhook): the row becomes `failed` unless money was applied."""
    row = ps.get_payment(account_id, payment_id)
    assert row is not None
    if row.status in ps.FINAL:
        return _already_applied(row, last_ops)
    return record_reply(row, intent, None, last_ops) if intent.status in _FAILED_PI else _already_applied(row, last_ops)


def send_receipt(row: PaymentRecord) -> None:
    """The receipt e-mail of a one-time payment, at least once: sent, then its marker written. A
    failure raises; nothing is lost: until the marker exists, every delivery of Stripe's
    `payment_intent.succeeded` webhook for the payment sends it (`ensure_receipt`), and Stripe
    redelivers a webhook until it is answered 2xx. Only a crash between SES accepting the receipt
    and the marker being written sends it twice."""
    from functions.accounts.service import get_account
    from functions.core import email
    from functions.payments import emails

    if row.source != "one_time" or row.status != ps.SUCCEEDED or row.receipt_sent_at:
        return
    account = get_account(row.account_id)
    if account.billing_contact.get("email"):
        email.send(emails.receipt(account, row))
    ps.mark_receipt_sent(row, clock.iso(clock.now()))


def _receipt_after_apply(row: PaymentRecord) -> None:
    try:
        send_receipt(row)
    except Exception:  # the money is applied and its reply stored; the webhook sends the receipt
        get_logger().exception("receipt e-mail failed", account_id=row.account_id, payment_id=row.id)


def ensure_receipt(account_id: str, payment_id: str, payment_intent_id: str) -> None:
    """Send the receipt of a succeeded one-time payment if it has not been sent (the webhook's part of
    the at-least-once receipt); raises when it cannot, so the webhook is answered 5xx and redelivered."""
    row = ps.get_payment(account_id, payment_id)
    if row is not None and row.payment_intent_id == payment_intent_id:
        send_receipt(row)
