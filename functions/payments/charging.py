"""Payments: the `pay_` row, its PaymentIntent and THE apply step, on the sequence of
functions/payments/charges.py — the row written before Stripe is called (with what it reserves of
the payments in flight), the PaymentIntent created with our payment id in its metadata and a
deterministic Stripe idempotency key, and ONE after-Stripe step that moves the balance once Stripe
has accepted the money — planned by `record_reply` for the synchronous reply and for the
`payment_intent.*` webhooks alike (docs/payments.md).

    creating ──Stripe──▶ succeeded (applied)  |  requires_action ─▶ succeeded | failed
                     └──▶ processing ─▶ succeeded | failed        |  failed (declined)
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from functions.accounts.service import AccountRecord
from functions.core import audit, clock, email, ledger, metrics, stripe_gateway
from functions.core.audit import Actor
from functions.core.errors import ConcurrentUpdateError, NotFoundError, ValidationFailedError
from functions.core.idempotency import IdempotencyContext
from functions.core.ids import is_id
from functions.core.ledger import MoneyIn
from functions.core.logs import get_logger
from functions.core.settings import get_settings
from functions.core.stripe_gateway import PaymentIntent, StripeRejectedError
from functions.core.uow import Op, Planned, UnitOfWork, retrying
from functions.payments import charges, emails, receipts, store
from functions.payments.payment_view import payment_event
from functions.payments.schemas import PaymentRequest
from functions.payments.store import PaymentRecord

SYSTEM = Actor("system:payments", "system")

KEY_EXPIRED = charges.KEY_EXPIRED
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


def start(
    row: PaymentRecord, idem: IdempotencyContext | None = None, reserve: bool = False, read: ledger.Room | None = None
) -> PaymentRecord:
    """Step 1 for a payment whose row does not exist yet: the `creating` row (with the idempotency
    record in progress). With `reserve`, the same transaction reserves the row's amount on the payments
    in flight (DESIGN §3 v4): concurrent payments with different keys can never take more than is owed
    (a payment above the room left → 422 `amount-exceeds-balance`, nothing written; `read`: the room
    the caller just read, for the first try). Returns the row, or the row a racer with the same id
    wrote first."""
    new = replace(row, reserved=row.amount if reserve else 0)
    known = [read] if read is not None else []

    def row_ops() -> list[Op]:
        room = known.pop() if known else None
        reservation = ledger.reserve(row.account_id, row.amount, row.invoice_id, room) if reserve else []
        return [store.put_new_payment(new), *reservation]

    try:
        charges.lease(row_ops, idem)
    except ConcurrentUpdateError:
        raced = store.get_payment(row.account_id, row.id)
        if raced is None:
            raise
        return raced
    return new


def release_ops(row: PaymentRecord) -> list[Op]:
    """The ops that give back what `row` holds in flight (commit them with its transition to failed)."""
    return ledger.release(row.account_id, row.reserved, row.invoice_id)


def call_stripe(row: PaymentRecord, req: ChargeRequest) -> charges.Answer[PaymentIntent]:
    """Step 2: create (or, with the same key, find again) the PaymentIntent of `row`; a row still
    `creating` after 23 h adopts the PaymentIntent whose metadata names it, else it fails (DESIGN §3 v4)."""

    def send() -> PaymentIntent:
        return stripe_gateway.create_payment_intent(
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

    def adopt() -> PaymentIntent | None:
        return stripe_gateway.find_payment_intent(req.customer, row.created_at, "billow_payment_id", row.id)

    never = "this payment never reached Stripe within 23 hours: nothing was charged; pay again"
    return charges.ask(row.created_at, send, adopt, never, about=lambda exc: exc.payment_intent)


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
                status=store.REQUIRES_ACTION,
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
            status=store.FAILED,
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
            status=store.REQUIRES_ACTION,
            payment_intent_id=pi_id,
            client_secret=intent.client_secret,
            next_action=next_action_view(intent),
            updated_at=now,
        )
    if intent.status in _FAILED_PI:
        error = intent.last_payment_error or {}
        return replace(
            row,
            status=store.FAILED,
            payment_intent_id=pi_id,
            failure_code=error.get("code") or "payment_failed",
            decline_code=error.get("decline_code"),
            failure_message=error.get("message"),
            client_secret=None,
            next_action=None,
            updated_at=now,
        )
    # processing (and succeeded, which the apply step finishes)
    return replace(row, status=store.PROCESSING, payment_intent_id=pi_id, updated_at=now)


def next_action_view(intent: PaymentIntent) -> dict[str, Any]:
    """What the console does next: follow a redirect (PayPal) or let Stripe.js authenticate (3-D Secure)."""
    action = intent.next_action or {}
    if action.get("type") == "redirect_to_url":
        redirect = action.get("redirect_to_url") or {}
        return {"type": "redirect_to_url", "url": redirect.get("url"), "return_url": redirect.get("return_url")}
    return {"type": "use_stripe_sdk"}


@dataclass(frozen=True)
class Reply:
    """The after-Stripe step of a payment, planned: its ops (the caller adds its own — the stored reply,
    a webhook's marker — and commits them in one transaction), the row as they leave it, what they do
    (`applied`, `held`, `recorded`, or `none` when the row was already final), and the money applied."""

    ops: list[Op]
    row: PaymentRecord
    effect: str
    money: MoneyIn | None = None


def record_reply(
    account_id: str, payment_id: str, intent: PaymentIntent | None, rejected: StripeRejectedError | None
) -> Reply:
    """Plan what Stripe's answer does to the payment (its row read once): apply the money if Stripe
    accepted it (THE apply step — the synchronous reply and the webhook alike, once per payment id,
    whoever commits first), hold it if the PaymentIntent disagrees with the row, else record the row's
    new state (a refusal releases what the row reserved). A row already applied or held, or already
    final when Stripe did not accept the money, is left as it is."""
    row = store.get_payment(account_id, payment_id)
    if row is None:
        raise ValueError(f"no payment {payment_id}")
    accepted = rejected is None and intent is not None and intent.status == "succeeded"
    if row.status in ((store.SUCCEEDED, store.HELD) if accepted else store.FINAL):
        return Reply([], row, "none")
    if accepted and intent is not None:
        return _plan_hold(row, intent) if _disagrees(row, intent) else _plan_apply(row, intent)
    after = _after_reply(row, intent, rejected)
    released: list[Op] = []
    if after.status == store.FAILED and row.reserved:
        released, after = release_ops(row), replace(after, reserved=0)
    action = "payment.failed" if after.status == store.FAILED else f"payment.{after.status}"
    ops: list[Op | Planned] = [store.save_payment(row, after), *released, _audit(row, after, action)]
    if action in ("payment.failed", "payment.requires_action") and row.status != after.status:
        ops.append(payment_event(action, after))
    return Reply(ops, after, "recorded")


def _audit(row: PaymentRecord, after: PaymentRecord, action: str) -> Op:
    return audit.record(row.account_id, SYSTEM, action, row.id, {"status": row.status}, _audit_view(after))


def _audit_view(row: PaymentRecord) -> dict[str, Any]:
    return {
        "status": row.status,
        "amount": row.amount,
        "currency": row.currency,
        "payment_intent_id": row.payment_intent_id,
        "failure_code": row.failure_code,
    }


def _disagrees(row: PaymentRecord, intent: PaymentIntent) -> bool:
    received = intent.amount_received or intent.amount
    return intent.currency.lower() != row.currency.lower() or received != row.amount


def _plan_apply(row: PaymentRecord, intent: PaymentIntent) -> Reply:
    """The ledger gets the payment (entry -amount, the targeted invoice first, then oldest open), the row
    becomes `succeeded` with `applied_to`, its reservation of the payments in flight is released. The
    row's own write comes first: when a racer applied it meanwhile, its condition decides (read again)."""
    ops, money = ledger.apply_payment(
        row.account_id,
        payment_id=row.id,
        amount=row.amount,
        target_invoice_id=row.invoice_id,
        reserved=row.reserved,
    )
    applied: list[dict[str, Any]] = [{"invoice_id": i, "amount": a} for i, a in money.applied]
    if money.unapplied:
        applied.append({"invoice_id": None, "amount": money.unapplied})
    after = replace(
        row,
        status=store.SUCCEEDED,
        payment_intent_id=intent.id,
        applied_to=applied,
        client_secret=None,
        next_action=None,
        reserved=0,
        updated_at=clock.iso(clock.now()),
    )
    ops = [store.save_payment(row, after), *ops, _audit(row, after, "payment.succeeded")]
    return Reply([*ops, payment_event("payment.succeeded", after)], after, "applied", money)


def _plan_hold(row: PaymentRecord, intent: PaymentIntent) -> Reply:
    """Stripe took an amount or currency the row did not ask for: apply nothing (the reservation stays,
    so nothing else charges that money), mark the row `held`, pause collection (DESIGN §3 v4)."""
    after = replace(
        row,
        status=store.HELD,
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
    ops = [
        store.save_payment(row, after),
        store.pause_collection(row.account_id, f"held {row.id}", after.updated_at),
        _audit(row, after, "payment.held"),
    ]
    return Reply(ops, after, "held")


def finish(reply: Reply, account: Any = None) -> PaymentRecord:
    """What follows the after-Stripe step's commit: applied money settles unapplied credit further (the
    capped continuation) and the payment's receipt goes out (payments/receipts.py; `account`: the account
    already read, if any); a held payment alarms the operators. Returns the row (its receipt marked)."""
    row = reply.row
    _count(reply)
    if reply.effect == "applied":
        if reply.money is not None and reply.money.credit_after > 0:  # none left: nothing to settle
            ledger.settle_unapplied_credit(row.account_id)
        get_logger().info("payment applied", account_id=row.account_id, payment_id=row.id, amount=row.amount)
        try:
            numbers = list(reply.money.numbers) if reply.money is not None else None
            row = receipts.send_receipt(row, account, numbers)
        except Exception:  # the money is applied and its reply stored; the webhook sends the receipt
            get_logger().exception("receipt e-mail failed", account_id=row.account_id, payment_id=row.id)
    elif reply.effect == "held":
        _alarm_held(row)
    return row


def _count(reply: Reply) -> None:
    """The `Payments` metric (functions/core/metrics.py): once per state Stripe's answer moved a row to."""
    row = reply.row
    if reply.effect == "applied":
        metrics.payment("succeeded")
    elif reply.effect == "recorded" and row.status == store.REQUIRES_ACTION:
        metrics.payment("requires_action")
    elif reply.effect == "recorded" and row.status == store.FAILED:
        declined = bool(row.decline_code) or row.failure_code == "card_declined"
        metrics.payment("declined" if declined else "failed", row.decline_code or row.failure_code)


def settle(
    account_id: str, payment_id: str, intent: PaymentIntent | None, rejected: StripeRejectedError | None = None
) -> PaymentRecord:
    """The after-Stripe step alone (nothing of the caller's in its transaction), tried again on a race."""

    def attempt() -> Reply:
        reply = record_reply(account_id, payment_id, intent, rejected)
        UnitOfWork().add(*reply.ops).commit()
        return reply

    return finish(retrying(attempt, ledger.APPLY_ATTEMPTS))


def apply_accepted(account_id: str, payment_id: str, intent: PaymentIntent) -> PaymentRecord:
    """Stripe accepted the money (its reply, or a webhook): apply it, or hold it (see `record_reply`)."""
    return settle(account_id, payment_id, intent)


def _alarm_held(row: PaymentRecord) -> None:
    get_logger().error(
        "payment held: the PaymentIntent disagrees with its row",
        account_id=row.account_id,
        payment_id=row.id,
        payment_intent_id=row.payment_intent_id,
    )
    try:
        email.send(emails.held_payment(get_settings().operator_email, row, row.payment_intent_id or ""))
    except Exception:  # the hold is recorded and logged at error level: the alarm still fires
        get_logger().exception("held-payment e-mail failed", account_id=row.account_id, payment_id=row.id)


def check_target(account: AccountRecord, body: PaymentRequest) -> None:
    """The currency (the account's, if given) and the targeted invoice (this account's, open, a debit)
    of a payment request: the same for card, PayPal and offline payments."""
    if body.currency is not None and body.currency != account.currency:
        raise ValidationFailedError(
            f"this account is billed in {account.currency}; omit currency or send {account.currency}",
            code="currency-mismatch",
        )
    if body.invoice_id is not None:
        inv = ledger.get_invoice(account.id, body.invoice_id) if is_id(body.invoice_id, "inv") else None
        if inv is None:
            raise NotFoundError(f"no invoice {body.invoice_id} on this account", code="invoice-not-found")
        if inv.type not in ledger.DEBIT_TYPES or inv.status != "open":
            raise ValidationFailedError(f"invoice {inv.number} has nothing to pay", code="invoice-not-payable")
