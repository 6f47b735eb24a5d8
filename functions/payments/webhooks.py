"""Stripe webhooks (POST /v1/webhooks/stripe, DESIGN §2 Webhooks).

- The `Stripe-Signature` header (`t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`) is checked
  against the endpoint's signing secret over the raw body, within 5 minutes: a bad or stale one is 400
  and nothing changes. Only then is the body parsed.
- Each event's effect and its dedupe marker (the Stripe event id) commit in one transaction; a second
  delivery finds the marker and changes nothing.
- The event's object is re-read from Stripe: effects follow Stripe's current state, not the event's
  copy, so duplicates and any order end in the same balances. Payment effects are keyed on our payment
  id (the ledger posts it once), money back on the Stripe refund id.
- An event about an object billow does not know is answered 200, recorded, and changes nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from typing import Any

from functions.core import audit, clock, email, ledger, metrics, outbox, stripe_gateway
from functions.core.errors import BadRequestError
from functions.core.logs import get_logger
from functions.core.secrets import STRIPE_WEBHOOK_SECRET, get_secret
from functions.core.settings import get_settings
from functions.core.text import same_secret
from functions.core.uow import Op, UnitOfWork, retrying
from functions.payments import charging, emails, failures, receipts, refunds, store
from functions.payments.payment_view import dispute_object, refund_object
from functions.payments.store import EventAlreadyHandledError, PaymentRecord

TOLERANCE_SECONDS = 300  # Stripe's libraries' default
_TIMESTAMP = re.compile(r"[0-9]{1,12}")


def _invalid(detail: str) -> BadRequestError:
    return BadRequestError(detail, code="invalid-signature")


def verify(raw: bytes, header: str | None) -> dict[str, Any]:
    """The event, if `header` signs `raw` with the endpoint secret within the tolerance; else 400."""
    if not header:
        raise _invalid("no Stripe-Signature header")
    parts = [p.split("=", 1) for p in header.split(",") if "=" in p]
    timestamps = [v.strip() for k, v in parts if k.strip() == "t"]
    signatures = [v.strip() for k, v in parts if k.strip() == "v1"]
    # ASCII digits only, and few: "²" and "١٢" pass str.isdigit(), and int() of 5000 digits raises
    if len(timestamps) != 1 or not _TIMESTAMP.fullmatch(timestamps[0]) or not signatures:
        raise _invalid("the Stripe-Signature header is malformed")
    timestamp = int(timestamps[0])
    secret = get_secret(STRIPE_WEBHOOK_SECRET)
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + raw, hashlib.sha256).hexdigest()
    # compared as bytes: `v1=é` is a signature that does not match, not a TypeError (500)
    if not any(same_secret(s, expected) for s in signatures):
        raise _invalid("the signature does not match the body")
    if abs(clock.transport_epoch_seconds() - timestamp) > TOLERANCE_SECONDS:
        raise _invalid("the signature is too old (or from the future)")
    try:
        event = json.loads(raw)
    except ValueError:
        raise _invalid("the signed body is not JSON") from None
    if not isinstance(event, dict) or not isinstance(event.get("id"), str) or not isinstance(event.get("type"), str):
        raise _invalid("the signed body is not a Stripe event")
    return event


def handle(raw: bytes, header: str | None) -> dict[str, Any]:
    """Verify and handle one delivery; returns what was done (for the 200 reply and the logs). A refused
    delivery counts in the `WebhooksRefused` metric, its reason logged."""
    try:
        event = verify(raw, header)
    except BadRequestError as refused:
        get_logger().warning("stripe webhook refused", reason=refused.detail)
        metrics.webhook_refused()
        raise
    event_id, event_type = event["id"], event["type"]
    obj = (event.get("data") or {}).get("object") or {}
    object_id = str(obj.get("id", ""))
    if store.event_seen(event_id):
        if event_type == "payment_intent.succeeded":
            _receipt_owed(obj)
        return {"received": True, "event": event_id, "outcome": "duplicate"}
    try:
        if event_type.startswith("payment_intent."):
            outcome = _payment_intent(event_id, event_type, object_id)
        elif event_type == "charge.refunded":
            outcome = _charge_refunded(event_id, event_type, object_id)
        elif event_type == "charge.refund.updated":
            outcome = _refund_updated(event_id, event_type, object_id)
        elif event_type == "charge.dispute.created":
            outcome = _dispute_created(event_id, event_type, object_id)
        elif event_type == "charge.dispute.closed":
            outcome = _dispute_closed(event_id, event_type, object_id)
        else:
            outcome = _record(event_id, event_type, None, "ignored")
    except EventAlreadyHandledError:
        outcome = "duplicate"
    get_logger().info("stripe event", event_id=event_id, event_type=event_type, outcome=outcome)
    return {"received": True, "event": event_id, "outcome": outcome}


def _marker(event_id: str, event_type: str, account_id: str | None, outcome: str) -> Op:
    return store.put_event_marker(event_id, event_type, outcome, account_id, clock.iso(clock.now()))


def _record(event_id: str, event_type: str, account_id: str | None, outcome: str) -> str:
    UnitOfWork().add(_marker(event_id, event_type, account_id, outcome)).commit()
    return outcome


def _payment_of(intent: stripe_gateway.PaymentIntent | None) -> PaymentRecord | None:
    if intent is None:
        return None
    account_id = intent.metadata.get("billow_account_id")
    payment_id = intent.metadata.get("billow_payment_id")
    if not account_id or not payment_id:
        return None
    row = store.get_payment(account_id, payment_id)
    if row is None or (row.payment_intent_id and row.payment_intent_id != intent.id):
        return None
    return row


def _payment_intent(event_id: str, event_type: str, payment_intent_id: str) -> str:
    intent = stripe_gateway.get_payment_intent(payment_intent_id) if payment_intent_id else None
    row = _payment_of(intent)
    if row is None or intent is None:
        return _record(event_id, event_type, None, "unknown")

    succeeded = intent.status == "succeeded"
    if not succeeded and intent.status not in ("requires_payment_method", "canceled"):
        return _record(event_id, event_type, row.account_id, "pending")
    marker = _marker(event_id, event_type, row.account_id, "applied" if succeeded else "failed")

    def attempt() -> charging.Reply:
        reply = charging.record_reply(row.account_id, row.id, intent, None)
        UnitOfWork().add(*reply.ops, marker).commit()
        return reply

    reply = retrying(attempt, ledger.APPLY_ATTEMPTS)
    after = charging.finish(reply)
    if succeeded:
        receipts.ensure_receipt(row.account_id, row.id, intent.id)
        return "applied"
    if after.status != store.FAILED:
        return "no_change"
    if reply.effect == "recorded" and after.source == "one_time":
        # this delivery recorded the failure of a console payment (PayPal cancelled, 3-D Secure failed)
        # after its request answered: tell the customer why, and the support path — once
        failures.payment_failed(after)
    return "failed"


def _receipt_owed(obj: dict[str, Any]) -> None:
    """A redelivered payment_intent.succeeded (Stripe redelivers until a 2xx): the receipt the first
    delivery could not send. The event's copy only locates the row; the row must name this
    PaymentIntent and be succeeded."""
    metadata = obj.get("metadata") or {}
    account_id, payment_id = metadata.get("billow_account_id"), metadata.get("billow_payment_id")
    if isinstance(account_id, str) and isinstance(payment_id, str) and obj.get("id"):
        receipts.ensure_receipt(account_id, payment_id, str(obj["id"]))


def _charge_refunded(event_id: str, event_type: str, charge_id: str) -> str:
    """Refunds of a charge, as Stripe has them now: billow's own are finished if still `creating` (the
    process died between Stripe and the ledger); the others (the Dashboard) become money back. Each
    effect is deduped on its Stripe refund id, so the marker follows them in its own transaction."""
    charge = stripe_gateway.get_charge(charge_id) if charge_id else None
    intent = stripe_gateway.get_payment_intent(charge.payment_intent) if charge and charge.payment_intent else None
    row = _payment_of(intent)
    if row is None or charge is None:
        return _record(event_id, event_type, None, "unknown")
    outcomes = {_one_refund(row, r) for r in charge.refunds if r.status in refunds.ACCEPTED}
    outcome = next((o for o in ("own_refund_finished", "money_back", "own_refund") if o in outcomes), "no_change")
    return _record(event_id, event_type, row.account_id, outcome)


def _one_refund(row: PaymentRecord, refund: stripe_gateway.Refund) -> str:
    """One refund Stripe accepted: billow's own (our refund id in its metadata, on a row of ours for this
    payment) is booked if still `creating`; any other is money back on the payment."""
    own = _own_refund(row, refund)
    if own is not None and own.status == store.CREATING:
        refunds.finish(own, refund, charging.SYSTEM)
        return "own_refund_finished"
    if own is not None and own.status == store.SUCCEEDED:
        return "own_refund"
    # not ours, or ours closed `failed` (abandoned after 23 h) yet accepted at Stripe: the money went
    # back all the same, so it is money back on the payment
    return "money_back" if _post_money_back(row.account_id, row.id, refund) else "no_change"


def _own_refund(row: PaymentRecord, refund: stripe_gateway.Refund) -> store.RefundRecord | None:
    refund_id = refund.metadata.get("billow_refund_id")
    if not refund_id or refund.metadata.get("billow_account_id") != row.account_id:
        return None
    own = store.get_refund(row.account_id, refund_id)
    if own is None or own.payment_id != row.id:
        return None
    if own.stripe_refund_id and own.stripe_refund_id != refund.id:
        return None
    return own


def _post_money_back(account_id: str, payment_id: str, refund: stripe_gateway.Refund) -> bool:
    """A refund made outside billow (the Dashboard): money back on the payment, once per refund id."""
    row = store.get_payment(account_id, payment_id)
    if row is None:
        raise ValueError(f"no payment {payment_id}")
    ops = [
        store.add_refunded(account_id, payment_id, refund.amount),
        audit.record(
            account_id,
            charging.SYSTEM,
            "payment.refunded_outside",
            payment_id,
            {"refunded": row.refunded},
            {"refunded": row.refunded + refund.amount, "stripe_refund_id": refund.id},
        ),
        outbox.event(
            account_id,
            "payment.refunded",
            refund_object(
                refund.id, payment_id, refund.amount, row.currency, "outside_billow", stripe_refund_id=refund.id
            ),
        ),
    ]
    return refunds.money_back(account_id, refund.id, refund.amount, row, ops)


def _refund_updated(event_id: str, event_type: str, refund_id: str) -> str:
    """`charge.refund.updated`: a refund that failed after Stripe accepted it (the bank returned it)
    reverses its money-back entry and releases what it took of the payment's refunded total."""
    refund = stripe_gateway.get_refund(refund_id) if refund_id else None
    intent = stripe_gateway.get_payment_intent(refund.payment_intent) if refund and refund.payment_intent else None
    if intent is None and refund is not None and refund.charge:
        charge = stripe_gateway.get_charge(refund.charge)
        intent = stripe_gateway.get_payment_intent(charge.payment_intent) if charge and charge.payment_intent else None
    row = _payment_of(intent)
    if row is None or refund is None:
        return _record(event_id, event_type, None, "unknown")
    if refund.status not in ("failed", "canceled"):
        return _record(event_id, event_type, row.account_id, "no_change")
    marker = _marker(event_id, event_type, row.account_id, "refund_failed")
    own = _own_refund(row, refund)
    if own is not None and own.status == store.CREATING:  # never booked: close it and release
        UnitOfWork().add(*store.fail_refund(own, refund.id), marker).commit()
        return "refund_failed"
    if not ledger.ledger_store.ref_exists(row.account_id, refund.id):  # never booked as money back
        return _record(event_id, event_type, row.account_id, "no_change")
    if own is not None and own.status == store.SUCCEEDED:
        ops = [*store.refund_failed_later(own), marker]
    else:
        ops = [store.add_refunded(row.account_id, row.id, -refund.amount), marker]
    ops.append(
        audit.record(
            row.account_id,
            charging.SYSTEM,
            "refund.failed",
            own.id if own else refund.id,
            None,
            {"stripe_refund_id": refund.id, "amount": refund.amount, "payment_id": row.id},
        )
    )
    if refunds.reverse_money_back(row.account_id, refund.id, refund.amount, ops):
        return "refund_failed"
    return _record(event_id, event_type, row.account_id, "no_change")


def _dispute_of(dispute_id: str) -> tuple[stripe_gateway.Dispute | None, PaymentRecord | None]:
    dispute = stripe_gateway.get_dispute(dispute_id) if dispute_id else None
    intent = None
    if dispute is not None:
        pi_id = dispute.payment_intent
        if pi_id is None:
            charge = stripe_gateway.get_charge(dispute.charge)
            pi_id = charge.payment_intent if charge else None
        intent = stripe_gateway.get_payment_intent(pi_id) if pi_id else None
    return dispute, _payment_of(intent)


def _dispute_created(event_id: str, event_type: str, dispute_id: str) -> str:
    """A cardholder disputed a payment: Stripe took the disputed amount back, so it is money back on the
    payment (DESIGN §3 v4; placed by the ledger's money back, once per dispute id), the account's
    collection is paused, and the operator is e-mailed."""
    dispute, row = _dispute_of(dispute_id)
    if row is None or dispute is None:
        return _record(event_id, event_type, None, "unknown")
    at = clock.iso(clock.now())
    if dispute.status == "won":  # delivered after its closing: Stripe took nothing back in the end
        put = store.put_dispute(
            row.account_id, dispute.id, row.id, dispute.amount, dispute.currency, dispute.reason, at, "won"
        )
        UnitOfWork().add(put, _marker(event_id, event_type, row.account_id, "dispute_won")).commit()
        return "dispute_won"

    ops = [
        store.put_dispute(row.account_id, dispute.id, row.id, dispute.amount, dispute.currency, dispute.reason, at),
        store.mark_disputed(row.account_id, row.id, dispute.id, dispute.amount, at),
        store.pause_collection(row.account_id, f"dispute {dispute.id}", at),
        audit.record(
            row.account_id,
            charging.SYSTEM,
            "payment.disputed",
            row.id,
            None,
            {"dispute_id": dispute.id, "amount": dispute.amount, "reason": dispute.reason},
        ),
        outbox.event(row.account_id, "dispute.created", dispute_object(dispute, row.id, at)),
        _marker(event_id, event_type, row.account_id, "dispute_recorded"),
    ]
    if not refunds.money_back(row.account_id, dispute.id, dispute.amount, row, ops):
        return _record(event_id, event_type, row.account_id, "no_change")
    try:
        email.send(
            emails.dispute(
                get_settings().operator_email,
                row.account_id,
                dispute.id,
                row.id,
                dispute.amount,
                dispute.currency,
                dispute.reason,
            )
        )
    except Exception:  # recorded either way; the operator also sees it in Stripe's dashboard
        get_logger().exception("dispute e-mail failed", dispute_id=dispute.id)
    return "dispute_recorded"


def _dispute_closed(event_id: str, event_type: str, dispute_id: str) -> str:
    """A dispute closed: won, the disputed amount comes back and is a payment again (applied like one,
    once per dispute) and collection resumes; lost (or any other end), the money back stands."""
    dispute, row = _dispute_of(dispute_id)
    if row is None or dispute is None:
        return _record(event_id, event_type, None, "unknown")
    if store.get_dispute(row.account_id, dispute.id) is None:  # before its creation event: that one reads the end
        return _record(event_id, event_type, row.account_id, "no_change")
    at = clock.iso(clock.now())
    marker = _marker(event_id, event_type, row.account_id, f"dispute_{dispute.status}")
    closing = [
        store.close_dispute(row.account_id, dispute.id, dispute.status, at),
        audit.record(
            row.account_id,
            charging.SYSTEM,
            "payment.dispute_closed",
            row.id,
            None,
            {"dispute_id": dispute.id, "status": dispute.status, "amount": dispute.amount},
        ),
        marker,
    ]
    if dispute.status != "won" or not ledger.ledger_store.ref_exists(row.account_id, dispute.id):
        UnitOfWork().add(*closing).commit()
        return f"dispute_{dispute.status}"
    ops = [
        *closing,
        store.mark_disputed(row.account_id, row.id, dispute.id, -dispute.amount, at),
        store.resume_collection(row.account_id, f"dispute {dispute.id}"),
    ]
    if not refunds.money_in(row.account_id, f"{dispute.id}:won", dispute.amount, "dispute_won", ops):
        return _record(event_id, event_type, row.account_id, "no_change")
    return "dispute_won"
