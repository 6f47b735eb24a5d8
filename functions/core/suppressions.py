"""E-mail addresses SES told billow not to write to again: a hard bounce or a complaint (DESIGN §9).

SES publishes bounces and complaints of every message sent through the stage's configuration set to
an SNS topic, which feeds the `ses-feedback` queue (infra/mail.py); its consumer
(functions/accounts/suppression.py) records each address here, once, with what happened. Then
functions/core/email.py `send` skips any message to a recorded address (the `EmailsSuppressed`
metric counts them), and an account whose billing contact is recorded says so in its summary
(`billing_contact_suppressed`). A soft (transient) bounce suppresses nothing. An operator lifts a
suppression by deleting the row (docs/operations.md, "E-mail suppressed").

Addresses are compared lower-cased; the row's key is the address itself (it is what SES reports).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pynamodb.attributes import UnicodeAttribute
from pynamodb.exceptions import DoesNotExist, PutError
from pynamodb.models import Model

from functions.core import clock
from functions.core.db import get_or_none, meta
from functions.core.errors import ConflictError
from functions.core.uow import Op, put_if_absent

BOUNCE, COMPLAINT = "bounce", "complaint"


class SuppressionModel(Model):
    Meta = meta("suppressions")
    pk = UnicodeAttribute(hash_key=True)  # the address, lower-cased
    kind = UnicodeAttribute()  # bounce | complaint
    detail = UnicodeAttribute()  # SES's bounce type/subtype or complaint type
    feedback_id = UnicodeAttribute()  # SES's id of the bounce or complaint
    at = UnicodeAttribute()
    operators_told = UnicodeAttribute(null=True)  # when the operators' e-mail listing its accounts went out


@dataclass(frozen=True)
class Feedback:
    address: str
    kind: str
    detail: str
    feedback_id: str


def address_key(address: str) -> str:
    return address.strip().lower()


def is_suppressed(address: str) -> bool:
    """True when SES reported a hard bounce or a complaint for `address` (one GetItem)."""
    if not address.strip():
        return False
    try:
        SuppressionModel.get(address_key(address), consistent_read=False, attributes_to_get=["pk"])
    except DoesNotExist:
        return False
    return True


@dataclass(frozen=True)
class Recorded:
    """The suppression as stored after a report: `new` when this report made it; `since` (when it was
    made) names this suppression apart from an earlier one an operator lifted; `operators_told` once the
    operators' e-mail about it went out."""

    new: bool
    since: str
    operators_told: bool


def record(feedback: Feedback) -> Recorded:
    """Record the suppression (put if absent: the first report stays); an address suppressed already is
    read back (a consistent GetItem) to say how far its handling went."""
    row = SuppressionModel(
        address_key(feedback.address),
        kind=feedback.kind,
        detail=feedback.detail or "-",
        feedback_id=feedback.feedback_id or "-",
        at=clock.iso(clock.now()),
    )
    try:
        row.save(condition=SuppressionModel.pk.does_not_exist())
    except PutError as exc:
        if getattr(exc, "cause_response_code", "") != "ConditionalCheckFailedException":
            raise
        stored = get_or_none(SuppressionModel, row.pk, consistent_read=True)
        if stored is None:  # lifted meanwhile: this report suppresses it again
            return record(feedback)
        return Recorded(False, stored.at, stored.operators_told is not None)
    return Recorded(True, row.at, False)


def told_operators(address: str) -> None:
    """Mark the suppression's operator e-mail as sent: a redelivered SES event sends no second one."""
    SuppressionModel(address_key(address)).update(
        actions=[SuppressionModel.operators_told.set(clock.iso(clock.now()))],
        condition=SuppressionModel.pk.exists(),
    )


def account_noticed(address: str, since: str, account_id: str, kind: str) -> Op:
    """The marker, in the account's own transaction (its audit event and `account.updated`), that the
    account was told its billing contact is suppressed (the suppression made at `since`): put only if
    absent (ConflictError `already-noticed` otherwise), so a redelivered SES event changes the account
    once, and a suppression lifted then made again tells it again. Its key holds spaces, which no address
    has, so no address ever reads as this row."""
    row = SuppressionModel(f"{account_id} {address_key(address)} {since}", kind=kind, detail="account", feedback_id="-")
    row.at = clock.iso(clock.now())
    return put_if_absent(
        row,
        label="suppression-notice",
        on_conflict=lambda: ConflictError(f"{account_id} was told already", code="already-noticed"),
    )


def parse(body: dict[str, Any]) -> list[Feedback]:
    """The addresses an SES event (configuration set → SNS → SQS) suppresses. An SNS envelope (raw
    delivery off) is opened; a permanent bounce and a complaint suppress their recipients, anything
    else (a transient bounce, a delivery) nothing."""
    if body.get("Type") == "Notification" and isinstance(body.get("Message"), str):
        body = json.loads(body["Message"])
    kind = str(body.get("eventType") or body.get("notificationType") or "").lower()
    if kind == BOUNCE:
        bounce = body.get("bounce") or {}
        if bounce.get("bounceType") != "Permanent":
            return []
        detail = f"{bounce.get('bounceType')}/{bounce.get('bounceSubType')}"
        people = bounce.get("bouncedRecipients") or []
        return [Feedback(p["emailAddress"], BOUNCE, detail, str(bounce.get("feedbackId", ""))) for p in people]
    if kind == COMPLAINT:
        complaint = body.get("complaint") or {}
        detail = str(complaint.get("complaintFeedbackType") or "complaint")
        people = complaint.get("complainedRecipients") or []
        return [Feedback(p["emailAddress"], COMPLAINT, detail, str(complaint.get("feedbackId", ""))) for p in people]
    return []
