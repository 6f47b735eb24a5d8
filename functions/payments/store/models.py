"""The payments table's items, one PynamoDB model per kind (told apart by the sort key; the attribute
names are what is stored). Models never leave the store package.

  pk=<account>        sk=PAY#<pay_…>       PaymentModel: one payment (one-time or off-session)
  pk=<account>        sk=REFUND#<ref_…>    RefundModel: one refund to a card through billow
  pk=<account>        sk=DISPUTE#<dp_…>    DisputeModel: a dispute Stripe reported on a payment
  pk=<account>        sk=TKT#<tkt_…>       TicketModel: a support ticket (card-like digit runs redacted)
  pk=WEBHOOK#<evt_…>  sk=EVENT             EventMarkerModel: a Stripe event handled (dedupe marker)
  pk=<account>        sk=PAYMENT_METHOD    CardStateModel: the Stripe customer, the card on file, the
                                           pending change and why collection is paused
  pk=<account>        sk=CHANGE#<seti_…>   CardChangeModel: one card change per SetupIntent (while
                                           pending, gsi1_pk=PENDING_CARD_CHANGES: the 24 h sweep's list)
  pk=<account>        sk=NOTICE#<inv_…>    NoticeModel: an invoice's notice, claimed before it is sent
Payments carry gsi1_pk=<account>#PAY, gsi1_sk=<created at>#<id> (index `by_created`: newest first);
tickets the same with <account>#TKT.
Only brand, last4 and expiry of a card are ever stored; Stripe keeps the card itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from pynamodb.attributes import UnicodeAttribute, UnicodeSetAttribute
from pynamodb.exceptions import UpdateError
from pynamodb.models import Model

from functions.core.db import IntegerAttribute, SpecIndex, aws_error_code, index_meta, meta
from functions.core.errors import ConcurrentUpdateError
from functions.core.records import item_of, record_of

PAY = "PAY#"
REFUND = "REFUND#"
DISPUTE = "DISPUTE#"
TICKET = "TKT#"
WEBHOOK = "WEBHOOK#"
EVENT_SK = "EVENT"
STATE = "PAYMENT_METHOD"
CHANGE = "CHANGE#"
NOTICE = "NOTICE#"

# Payment and refund statuses (docs/payments.md has the state machine).
CREATING = "creating"  # the row exists, Stripe not called yet (or its answer was lost)
REQUIRES_ACTION = "requires_action"  # 3-D Secure or PayPal approval pending
PROCESSING = "processing"
SUCCEEDED = "succeeded"  # Stripe accepted it and the ledger has it
FAILED = "failed"  # a payment or refund that did not happen; a card change Stripe refused
# Stripe took an amount or currency the row did not ask for: nothing applied, operators alarmed.
HELD = "held"
FINAL = (SUCCEEDED, FAILED, HELD)
# Card change statuses: pending → active | superseded | failed.
PENDING = "pending"
ACTIVE = "active"
SUPERSEDED = "superseded"


class PaymentsByCreated(SpecIndex):
    Meta = index_meta("payments", "by_created")
    gsi1_pk = UnicodeAttribute(hash_key=True)
    gsi1_sk = UnicodeAttribute(range_key=True)


class _Row(Model):
    Meta = meta("payments")
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)


class PaymentModel(_Row):
    kind = UnicodeAttribute(null=True)  # "payment"
    payment_id = UnicodeAttribute(null=True)
    amount = IntegerAttribute(null=True)
    currency = UnicodeAttribute(null=True)
    method = UnicodeAttribute(null=True)  # card | paypal | offline
    source = UnicodeAttribute(null=True)  # one_time | off_session | offline
    reference = UnicodeAttribute(null=True)  # offline: the bank transfer's or cheque's reference
    received_on = UnicodeAttribute(null=True)  # offline: the day the money was received (ISO date)
    status = UnicodeAttribute(null=True)
    invoice_id = UnicodeAttribute(null=True)  # the invoice the payment targets
    payment_intent_id = UnicodeAttribute(null=True)
    client_secret = UnicodeAttribute(null=True)  # while requires_action, for Stripe.js; never logged
    next_action = UnicodeAttribute(null=True)  # JSON
    failure_code = UnicodeAttribute(null=True)
    decline_code = UnicodeAttribute(null=True)
    failure_message = UnicodeAttribute(null=True)
    brand = UnicodeAttribute(null=True)
    last4 = UnicodeAttribute(null=True)
    applied_to = UnicodeAttribute(null=True)  # JSON [{invoice_id, amount}], None-invoice = unapplied credit
    refunded = IntegerAttribute(null=True)
    reserved = IntegerAttribute(null=True)  # what the payment holds in flight on the balance (0 once released)
    dispute_id = UnicodeAttribute(null=True)
    receipt_sent_at = UnicodeAttribute(null=True)
    created_by = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute(null=True)
    updated_at = UnicodeAttribute(null=True)
    gsi1_pk = UnicodeAttribute(null=True)
    gsi1_sk = UnicodeAttribute(null=True)
    by_created = PaymentsByCreated()


class RefundModel(_Row):
    kind = UnicodeAttribute(null=True)  # "refund"
    refund_id = UnicodeAttribute(null=True)
    payment_id = UnicodeAttribute(null=True)
    amount = IntegerAttribute(null=True)
    reason = UnicodeAttribute(null=True)
    status = UnicodeAttribute(null=True)
    invoice_id = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute(null=True)
    stripe_id = UnicodeAttribute(null=True)  # re_…
    return_credit = UnicodeAttribute(null=True)  # "true" when the refund returns unapplied credit


class DisputeModel(_Row):
    kind = UnicodeAttribute(null=True)  # "dispute"
    stripe_id = UnicodeAttribute(null=True)  # dp_…
    payment_id = UnicodeAttribute(null=True)
    amount = IntegerAttribute(null=True)
    currency = UnicodeAttribute(null=True)
    reason = UnicodeAttribute(null=True)
    status = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute(null=True)
    updated_at = UnicodeAttribute(null=True)


class TicketsByCreated(SpecIndex):
    """The same index as the payments' (by_created), keyed <account>#TKT for tickets: its own class, so
    each model's index returns its own items."""

    Meta = index_meta("payments", "by_created")
    gsi1_pk = UnicodeAttribute(hash_key=True)
    gsi1_sk = UnicodeAttribute(range_key=True)


class TicketModel(_Row):
    kind = UnicodeAttribute(null=True)  # "ticket"
    subject = UnicodeAttribute(null=True)
    message = UnicodeAttribute(null=True)
    payment_id = UnicodeAttribute(null=True)
    invoice_id = UnicodeAttribute(null=True)
    status = UnicodeAttribute(null=True)
    created_by = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute(null=True)
    gsi1_pk = UnicodeAttribute(null=True)  # <account>#TKT
    gsi1_sk = UnicodeAttribute(null=True)  # <created at>#<ticket id>: newest first, never rewritten
    by_created = TicketsByCreated()


class EventMarkerModel(_Row):
    kind = UnicodeAttribute(null=True)  # "webhook"
    event_type = UnicodeAttribute(null=True)
    outcome = UnicodeAttribute(null=True)
    account_id = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute(null=True)


class CardStateModel(_Row):
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
    # the lite account's upgrade through the card flow (DESIGN §2 v4): pending_validation | completed | failed
    upgrade_setup_intent_id = UnicodeAttribute(null=True)
    upgrade_status = UnicodeAttribute(null=True)
    upgrade_failure_code = UnicodeAttribute(null=True)
    upgrade_at = UnicodeAttribute(null=True)
    # the last card change that failed (GET payment-method shows it until a newer card is active)
    failed_setup_intent_id = UnicodeAttribute(null=True)
    failed_brand = UnicodeAttribute(null=True)
    failed_last4 = UnicodeAttribute(null=True)
    failed_exp_month = IntegerAttribute(null=True)
    failed_exp_year = IntegerAttribute(null=True)
    failed_code = UnicodeAttribute(null=True)
    failed_at = UnicodeAttribute(null=True)


class CardChangesPending(SpecIndex):
    """The payments table's by_created index, keyed PENDING_CARD_CHANGES for card changes while they are
    pending (the keys are removed when the change closes: a sparse list the daily sweep reads)."""

    Meta = index_meta("payments", "by_created")
    gsi1_pk = UnicodeAttribute(hash_key=True)
    gsi1_sk = UnicodeAttribute(range_key=True)


class CardChangeModel(_Row):
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
    gsi1_pk = UnicodeAttribute(null=True)  # PENDING_CARD_CHANGES while pending
    gsi1_sk = UnicodeAttribute(null=True)  # <requested at>#<account>#<seti_…>
    pending_since = CardChangesPending()
    purpose = UnicodeAttribute(null=True)  # "upgrade" for a lite account's upgrade; absent: a card change


class NoticeModel(_Row):
    kind = UnicodeAttribute(null=True)  # "notice"
    invoice_id = UnicodeAttribute(null=True)
    status = UnicodeAttribute(null=True)  # sent
    sent_at = UnicodeAttribute(null=True)


R = TypeVar("R")
M = TypeVar("M", bound=_Row)


def entry_record(record_type: type[R], kind: str, m: _Row, **given: Any) -> R:
    """The record of a payment or refund row: its account is the row's key, its id the row's `<kind>_id`,
    a row without a status is still `creating`."""
    status = getattr(m, "status", None) or CREATING
    return record_of(record_type, m, account_id=m.pk, id=getattr(m, f"{kind}_id") or "", status=status, **given)


def entry_item(model_type: type[M], kind: str, prefix: str, record: Any, **given: Any) -> M:
    """The row of a payment or refund record: keyed by its account and `prefix` + its id, which it also
    keeps as `<kind>_id` beside its `kind`."""
    keys = (record.account_id, prefix + record.id)
    return item_of(model_type, record, *keys, kind=kind, **{f"{kind}_id": record.id}, **given)


def already(what: str) -> Callable[[], ConcurrentUpdateError]:
    """The error of an op whose condition found the item moved on (or already there)."""
    return lambda: ConcurrentUpdateError(what)


def set_once(item: _Row, actions: list[Any], condition: Any) -> bool:
    """A direct update made once (a marker): False when its condition failed (made already)."""
    try:
        item.update(actions=actions, condition=condition)
    except UpdateError as exc:
        if aws_error_code(exc) != "ConditionalCheckFailedException":
            raise
        return False
    return True
