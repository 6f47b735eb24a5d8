"""Payments table: the account's Stripe customer, its card on file and pending change, and each card
change. Models stay here; the service gets the frozen records below.

Items (pk = account id):
  PAYMENT_METHOD     the Stripe customer id, the card on file (card_*) and the pending change
                     (pending_*): what GET payment-method and the summary read, in one GetItem
  CHANGE#<seti_…>    one card change per SetupIntent: the card's display fields, the billing contact
                     it was entered with, its status (pending → active | superseded | failed) and the
                     confirmation e-mail's sent marker
Only brand, last4 and expiry of a card are ever stored; Stripe keeps the card itself.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pynamodb.attributes import UnicodeAttribute, UnicodeSetAttribute
from pynamodb.exceptions import UpdateError
from pynamodb.models import Model

from functions.core.db import IntegerAttribute, aws_error_code, meta
from functions.core.errors import ConcurrentUpdateError
from functions.core.uow import Op

STATE = "PAYMENT_METHOD"
CHANGE = "CHANGE#"

PENDING = "pending"
ACTIVE = "active"
SUPERSEDED = "superseded"
FAILED = "failed"


class PaymentsModel(Model):
    """One table, item kinds told apart by the sort key (PAYMENT_METHOD, CHANGE#seti)."""

    Meta = meta("payments")
    pk = UnicodeAttribute(hash_key=True)  # account id
    sk = UnicodeAttribute(range_key=True)
    # PAYMENT_METHOD
    customer_id = UnicodeAttribute(null=True)
    card_payment_method_id = UnicodeAttribute(null=True)
    card_brand = UnicodeAttribute(null=True)
    card_last4 = UnicodeAttribute(null=True)
    card_exp_month = IntegerAttribute(null=True)
    card_exp_year = IntegerAttribute(null=True)
    card_setup_intent_id = UnicodeAttribute(null=True)
    card_activated_at = UnicodeAttribute(null=True)
    card_billing_contact = UnicodeAttribute(null=True)  # JSON
    pending_setup_intent_id = UnicodeAttribute(null=True)
    pending_brand = UnicodeAttribute(null=True)
    pending_last4 = UnicodeAttribute(null=True)
    pending_exp_month = IntegerAttribute(null=True)
    pending_exp_year = IntegerAttribute(null=True)
    pending_requested_at = UnicodeAttribute(null=True)
    # why collection is paused (e.g. "dispute dp_…"): paused while the set is not empty (DESIGN §3 v4)
    collection_paused_by = UnicodeSetAttribute(null=True)
    # CHANGE#
    setup_intent_id = UnicodeAttribute(null=True)
    payment_method_id = UnicodeAttribute(null=True)
    brand = UnicodeAttribute(null=True)
    last4 = UnicodeAttribute(null=True)
    exp_month = IntegerAttribute(null=True)
    exp_year = IntegerAttribute(null=True)
    billing_contact = UnicodeAttribute(null=True)  # JSON
    status = UnicodeAttribute(null=True)
    requested_at = UnicodeAttribute(null=True)
    requested_by = UnicodeAttribute(null=True)
    closed_at = UnicodeAttribute(null=True)
    failure_code = UnicodeAttribute(null=True)
    replaced_payment_method_id = UnicodeAttribute(null=True)  # the card this one took the place of
    email_message_id = UnicodeAttribute(null=True)
    email_sent_at = UnicodeAttribute(null=True)


@dataclass(frozen=True)
class CardFields:
    brand: str
    last4: str
    exp_month: int
    exp_year: int


@dataclass(frozen=True)
class CardOnFileRecord:
    payment_method_id: str
    card: CardFields
    setup_intent_id: str
    activated_at: str
    billing_contact: dict[str, Any]


@dataclass(frozen=True)
class PendingRecord:
    setup_intent_id: str
    card: CardFields
    requested_at: str


@dataclass(frozen=True)
class PaymentMethodState:
    account_id: str
    customer_id: str | None
    card: CardOnFileRecord | None
    pending: PendingRecord | None
    collection_paused_by: tuple[str, ...] = ()

    @property
    def collection_paused(self) -> bool:
        return bool(self.collection_paused_by)


@dataclass(frozen=True)
class CardChangeRecord:
    account_id: str
    setup_intent_id: str
    payment_method_id: str
    card: CardFields
    billing_contact: dict[str, Any]
    status: str
    requested_at: str
    requested_by: str
    closed_at: str | None = None
    failure_code: str | None = None
    replaced_payment_method_id: str | None = None
    email_sent_at: str | None = None


def _state(m: PaymentsModel) -> PaymentMethodState:
    card = None
    if m.card_payment_method_id:
        card = CardOnFileRecord(
            payment_method_id=m.card_payment_method_id,
            card=CardFields(m.card_brand or "", m.card_last4 or "", m.card_exp_month or 0, m.card_exp_year or 0),
            setup_intent_id=m.card_setup_intent_id or "",
            activated_at=m.card_activated_at or "",
            billing_contact=json.loads(m.card_billing_contact or "{}"),
        )
    pending = None
    if m.pending_setup_intent_id:
        pending = PendingRecord(
            setup_intent_id=m.pending_setup_intent_id,
            card=CardFields(
                m.pending_brand or "", m.pending_last4 or "", m.pending_exp_month or 0, m.pending_exp_year or 0
            ),
            requested_at=m.pending_requested_at or "",
        )
    return PaymentMethodState(
        account_id=m.pk,
        customer_id=m.customer_id,
        card=card,
        pending=pending,
        collection_paused_by=tuple(sorted(m.collection_paused_by or ())),
    )


def _change(m: PaymentsModel) -> CardChangeRecord:
    return CardChangeRecord(
        account_id=m.pk,
        setup_intent_id=m.setup_intent_id or "",
        payment_method_id=m.payment_method_id or "",
        card=CardFields(m.brand or "", m.last4 or "", m.exp_month or 0, m.exp_year or 0),
        billing_contact=json.loads(m.billing_contact or "{}"),
        status=m.status or "",
        requested_at=m.requested_at or "",
        requested_by=m.requested_by or "",
        closed_at=m.closed_at,
        failure_code=m.failure_code,
        replaced_payment_method_id=m.replaced_payment_method_id,
        email_sent_at=m.email_sent_at,
    )


def get_state(account_id: str, consistent: bool = False) -> PaymentMethodState | None:
    try:
        return _state(PaymentsModel.get(account_id, STATE, consistent_read=consistent))
    except PaymentsModel.DoesNotExist:
        return None


def save_customer(account_id: str, customer_id: str) -> bool:
    """Record the account's Stripe customer once; False when one was already recorded (keep that one)."""
    try:
        PaymentsModel(account_id, STATE).update(
            actions=[PaymentsModel.customer_id.set(customer_id)],
            condition=PaymentsModel.customer_id.does_not_exist(),
        )
    except UpdateError as exc:
        if aws_error_code(exc) == "ConditionalCheckFailedException":
            return False
        raise
    return True


def get_change(account_id: str, setup_intent_id: str) -> CardChangeRecord | None:
    try:
        return _change(PaymentsModel.get(account_id, CHANGE + setup_intent_id, consistent_read=True))
    except PaymentsModel.DoesNotExist:
        return None


def put_change(change: CardChangeRecord) -> Op:
    """The new card change; fails if this SetupIntent was already used for one."""
    model = PaymentsModel(
        change.account_id,
        CHANGE + change.setup_intent_id,
        setup_intent_id=change.setup_intent_id,
        payment_method_id=change.payment_method_id,
        brand=change.card.brand,
        last4=change.card.last4,
        exp_month=change.card.exp_month,
        exp_year=change.card.exp_year,
        billing_contact=json.dumps(change.billing_contact, sort_keys=True),
        status=change.status,
        requested_at=change.requested_at,
        requested_by=change.requested_by,
    )
    return Op(
        "put",
        model,
        condition=PaymentsModel.sk.does_not_exist(),
        on_conflict=lambda: ConcurrentUpdateError("this SetupIntent was just submitted by another request"),
        label="card-change",
    )


def set_pending(change: CardChangeRecord) -> Op:
    """The change becomes the account's pending one (a newer request replaces an older pending one)."""
    c = change.card
    return Op(
        "update",
        PaymentsModel(change.account_id, STATE),
        actions=[
            PaymentsModel.pending_setup_intent_id.set(change.setup_intent_id),
            PaymentsModel.pending_brand.set(c.brand),
            PaymentsModel.pending_last4.set(c.last4),
            PaymentsModel.pending_exp_month.set(c.exp_month),
            PaymentsModel.pending_exp_year.set(c.exp_year),
            PaymentsModel.pending_requested_at.set(change.requested_at),
        ],
        condition=PaymentsModel.customer_id.exists(),
        label="pending",
    )


def activate(change: CardChangeRecord, at: str, replaced_payment_method_id: str | None) -> list[Op]:
    """The change's card becomes the card on file and the pending change is cleared; only while this
    change is still the pending one (a newer request, or another worker, makes this op fail)."""
    c = change.card
    state = Op(
        "update",
        PaymentsModel(change.account_id, STATE),
        actions=[
            PaymentsModel.card_payment_method_id.set(change.payment_method_id),
            PaymentsModel.card_brand.set(c.brand),
            PaymentsModel.card_last4.set(c.last4),
            PaymentsModel.card_exp_month.set(c.exp_month),
            PaymentsModel.card_exp_year.set(c.exp_year),
            PaymentsModel.card_setup_intent_id.set(change.setup_intent_id),
            PaymentsModel.card_activated_at.set(at),
            PaymentsModel.card_billing_contact.set(json.dumps(change.billing_contact, sort_keys=True)),
            PaymentsModel.pending_setup_intent_id.remove(),
            PaymentsModel.pending_brand.remove(),
            PaymentsModel.pending_last4.remove(),
            PaymentsModel.pending_exp_month.remove(),
            PaymentsModel.pending_exp_year.remove(),
            PaymentsModel.pending_requested_at.remove(),
        ],
        condition=PaymentsModel.pending_setup_intent_id == change.setup_intent_id,
        on_conflict=lambda: ConcurrentUpdateError("the pending card change changed while it was validated"),
        label="card-on-file",
    )
    return [state, close_change(change, ACTIVE, at, replaced_payment_method_id=replaced_payment_method_id)]


def close_change(
    change: CardChangeRecord,
    status: str,
    at: str,
    failure_code: str | None = None,
    replaced_payment_method_id: str | None = None,
) -> Op:
    """Move a pending change to its final status (active, superseded or failed)."""
    actions = [PaymentsModel.status.set(status), PaymentsModel.closed_at.set(at)]
    if failure_code:
        actions.append(PaymentsModel.failure_code.set(failure_code))
    if replaced_payment_method_id:
        actions.append(PaymentsModel.replaced_payment_method_id.set(replaced_payment_method_id))
    return Op(
        "update",
        PaymentsModel(change.account_id, CHANGE + change.setup_intent_id),
        actions=actions,
        condition=PaymentsModel.status == PENDING,
        on_conflict=lambda: ConcurrentUpdateError("the card change was closed by another worker"),
        label="card-change",
    )


def clear_pending(change: CardChangeRecord) -> Op:
    """Forget the pending change if it is still this one (a failed validation)."""
    return Op(
        "update",
        PaymentsModel(change.account_id, STATE),
        actions=[
            PaymentsModel.pending_setup_intent_id.remove(),
            PaymentsModel.pending_brand.remove(),
            PaymentsModel.pending_last4.remove(),
            PaymentsModel.pending_exp_month.remove(),
            PaymentsModel.pending_exp_year.remove(),
            PaymentsModel.pending_requested_at.remove(),
        ],
        condition=PaymentsModel.pending_setup_intent_id == change.setup_intent_id,
        label="pending",
    )


def mark_email_sent(change: CardChangeRecord, message_id: str, at: str) -> None:
    """The confirmation's sent marker; written once (a second writer leaves the first marker)."""
    try:
        PaymentsModel(change.account_id, CHANGE + change.setup_intent_id).update(
            actions=[PaymentsModel.email_sent_at.set(at), PaymentsModel.email_message_id.set(message_id)],
            condition=PaymentsModel.email_sent_at.does_not_exist() & PaymentsModel.sk.exists(),
        )
    except UpdateError as exc:
        if aws_error_code(exc) != "ConditionalCheckFailedException":
            raise


def pause_collection(account_id: str, reason: str, at: str) -> Op:
    """Pause the account's collection for `reason` (a dispute): no automatic charge while any reason
    stands. The collector reads `PaymentMethodState.collection_paused`."""
    del at  # the audit event of the same transaction says when
    model = PaymentsModel(account_id, STATE)
    return Op("update", model, actions=[PaymentsModel.collection_paused_by.add({reason})], label="collection")


def resume_collection(account_id: str, reason: str) -> Op:
    """Withdraw one reason for pausing (a dispute won); other reasons keep collection paused."""
    model = PaymentsModel(account_id, STATE)
    return Op("update", model, actions=[PaymentsModel.collection_paused_by.delete({reason})], label="collection")
