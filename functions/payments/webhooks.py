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

from functions.core import audit, clock, email, ledger, stripe_gateway
from functions.core.errors import BadRequestError
from functions.core.ledger import AlreadyPostedError
from functions.core.logs import get_logger
from functions.core.secrets import STRIPE_WEBHOOK_SECRET, get_secret
from functions.core.settings import get_settings
from functions.core.text import same_secret
from functions.core.uow import Op, UnitOfWork
from functions.payments import charging, money_emails
from functions.payments import payment_store as ps
from functions.payments.payment_store import EventAlreadyHandledError, PaymentRecord

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
    if abs(clock.epoch_seconds() - timestamp) > TOLERANCE_SECONDS:
        raise _invalid("the signature is too old (or from the future)")
    try:
        event = json.loads(raw)
    except ValueError:
        raise _invalid("the signed body is not JSON") from None
    if not isinstance(event, dict) or not isinstance(event.get("id"), str) or not isinstance(event.get("type"), str):
        raise _invalid("the signed body is not a Stripe event")
    return event


def handle(raw: bytes, header: str | None) -> dict[str, Any]:
    """Verify and handle one delivery; returns what was done (for the 200 reply and the logs)."""
    event = verify(raw, header)
    event_id, event_type = event["id"], event["type"]
    obj = (event.get("data") or {}).get("object") or {}
    object_id = str(obj.get("id", ""))
    if ps.event_seen(event_id):
        if event_type == "payment_intent.succeeded":
            _receipt_owed(obj)
        return {"received": True, "event": event_id, "outcome": "duplicate"}
    try:
        if event_type.startswith("payment_intent."):
            outcome = _payment_intent(event_id, event_type, object_id)
        elif event_type == "charge.refunded":
            outcome = _charge_refunded(event_id, event_type, object_id)
        elif event_type == "charge.dispute.created":
            outcome = _dispute_created(event_id, event_type, object_id)
        else:
            outcome = _record(event_id, event_type, None, "ignored")
    except EventAlreadyHandledError:
        outcome = "duplicate"
    get_logger().info("stripe event", event_id=event_id, event_type=event_type, outcome=outcome)
    return {"received": True, "event": event_id, "outcome": outcome}


def _marker(event_id: str, event_type: str, account_id: str | None, outcome: str) -> Op:
    return ps.put_event_marker(event_id, event_type, outcome, account_id, clock.iso(clock.now()))


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
    row = ps.get_payment(account_id, payment_id)
    if row is None or (row.payment_intent_id and row.payment_intent_id != intent.id):
        return None
    return row


def _payment_intent(event_id: str, event_type: str, payment_intent_id: str) -> str:
    intent = stripe_gateway.get_payment_intent(payment_intent_id) if payment_intent_id else None
    row = _payment_of(intent)
    if row is None or intent is None:
        return _record(event_id, event_type, None, "unknown")

    def marker(outcome: str) -> charging.LastOps:
        return lambda _row: [_marker(event_id, event_type, row.account_id, outcome)]

    if intent.status == "succeeded":
        charging.apply_accepted(row.account_id, row.id, intent, marker("applied"))
        charging.ensure_receipt(row.account_id, row.id, intent.id)
        return "applied"
    if intent.status in ("requires_payment_method", "canceled"):
        after = charging.mark_failed(row.account_id, row.id, intent, marker("failed"))
        return "failed" if after.status == ps.FAILED else "no_change"
    return _record(event_id, event_type, row.account_id, "pending")


def _receipt_owed(obj: dict[str, Any]) -> None:
    """A redelivered payment_intent.succeeded (Stripe redelivers until a 2xx): the receipt the first
    delivery could not send. The event's copy only locates the row; the row must name this
    PaymentIntent and be succeeded."""
    metadata = obj.get("metadata") or {}
    account_id, payment_id = metadata.get("billow_account_id"), metadata.get("billow_payment_id")
    if isinstance(account_id, str) and isinstance(payment_id, str) and obj.get("id"):
        charging.ensure_receipt(account_id, payment_id, str(obj["id"]))


def _charge_refunded(event_id: str, event_type: str, charge_id: str) -> str:
    charge = stripe_gateway.get_charge(charge_id) if charge_id else None
    intent = stripe_gateway.get_payment_intent(charge.payment_intent) if charge and charge.payment_intent else None
    row = _payment_of(intent)
    if row is None or charge is None:
        return _record(event_id, event_type, None, "unknown")
    outside = [
        r for r in charge.refunds if r.status in ("succeeded", "pending") and "billow_refund_id" not in r.metadata
    ]
    posted = 0
    for n, refund in enumerate(outside):
        last = n == len(outside) - 1
        if _post_money_back(row.account_id, row.id, refund, event_id, event_type, with_marker=last):
            posted += 1
        elif last:
            _record(event_id, event_type, row.account_id, "money_back")
    if not outside:
        return _record(event_id, event_type, row.account_id, "own_refund")
    return "money_back" if posted else "no_change"


def _post_money_back(
    account_id: str, payment_id: str, refund: stripe_gateway.Refund, event_id: str, event_type: str, with_marker: bool
) -> bool:
    """A refund made outside billow (the Dashboard): money back on the payment, once per refund id."""
    row = ps.get_payment(account_id, payment_id)
    assert row is not None
    settled = [a["invoice_id"] for a in row.applied_to if a.get("invoice_id")]

    def ops(result: object) -> list[Op]:
        current = ps.get_payment(account_id, payment_id)
        assert current is not None
        after = _refunded(current, refund.amount)
        out = [
            ps.save_payment(current, after),
            audit.record(
                account_id,
                charging.SYSTEM,
                "payment.refunded_outside",
                payment_id,
                {"refunded": current.refunded},
                {"refunded": after.refunded, "stripe_refund_id": refund.id},
            ),
        ]
        if with_marker:
            out.append(_marker(event_id, event_type, account_id, "money_back"))
        return out

    try:
        ledger.money_back(
            account_id,
            refund_id=refund.id,
            amount=refund.amount,
            payment_id=payment_id,
            settled_invoice_ids=settled,
            extra_ops=ops,
        )
    except AlreadyPostedError:
        return False
    return True


def _refunded(row: PaymentRecord, amount: int) -> PaymentRecord:
    from dataclasses import replace

    return replace(row, refunded=row.refunded + amount, updated_at=clock.iso(clock.now()))


def _dispute_created(event_id: str, event_type: str, dispute_id: str) -> str:
    dispute = stripe_gateway.get_dispute(dispute_id) if dispute_id else None
    intent = None
    if dispute is not None:
        pi_id = dispute.payment_intent
        if pi_id is None:
            charge = stripe_gateway.get_charge(dispute.charge)
            pi_id = charge.payment_intent if charge else None
        intent = stripe_gateway.get_payment_intent(pi_id) if pi_id else None
    row = _payment_of(intent)
    if row is None or dispute is None:
        return _record(event_id, event_type, None, "unknown")
    from dataclasses import replace

    at = clock.iso(clock.now())
    after = replace(row, dispute_id=dispute.id, updated_at=at)
    UnitOfWork().add(
        ps.put_dispute(row.account_id, dispute.id, row.id, dispute.amount, dispute.currency, dispute.reason, at),
        ps.save_payment(row, after),
        audit.record(
            row.account_id,
            charging.SYSTEM,
            "payment.disputed",
            row.id,
            None,
            {"dispute_id": dispute.id, "amount": dispute.amount, "reason": dispute.reason},
        ),
        _marker(event_id, event_type, row.account_id, "dispute_recorded"),
    ).commit()
    try:
        email.send(
            money_emails.dispute(
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
