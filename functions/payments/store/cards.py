"""The card on file's items: the account's Stripe customer, its card and pending change (one
PAYMENT_METHOD item: what GET payment-method and the summary read, in one GetItem), each card change
(CHANGE#<seti_…>, pending → active | superseded | failed, with the confirmation e-mail's sent marker),
and why collection is paused."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from typing import Any

from functions.core.db import get_or_none
from functions.core.records import record_of
from functions.core.stripe_objects import Card
from functions.core.uow import Op, put_if_absent
from functions.payments.store.models import (
    ACTIVE,
    CHANGE,
    PENDING,
    STATE,
    CardChangeModel,
    CardStateModel,
    already,
    set_once,
)

# The index partition of the card changes still pending (DESIGN §3 v4: failed after 24 h).
PENDING_CHANGES = "PENDING_CARD_CHANGES"

# The card's four stored fields (Stripe's own view of a card), kept under a prefix of the card state:
# `card_` for the card on file, `pending_` for the pending change ("" on a card change's own item).
CARD_FIELDS = ("brand", "last4", "exp_month", "exp_year")


@dataclass(frozen=True)
class SetupCard:
    """A card as a SetupIntent saved it: the card on file, the pending change and each card change."""

    setup_intent_id: str
    card: Card


@dataclass(frozen=True)
class CardOnFileRecord(SetupCard):
    payment_method_id: str
    activated_at: str
    billing_contact: dict[str, Any]


@dataclass(frozen=True)
class PendingRecord(SetupCard):
    requested_at: str


@dataclass(frozen=True)
class FailedRecord(SetupCard):
    """The last card change that failed: its card, the failure's code, when."""

    code: str
    at: str


@dataclass(frozen=True)
class UpgradeState:
    """A lite account's upgrade: its SetupIntent, pending_validation | completed | failed (with the code)."""

    setup_intent_id: str
    status: str
    at: str
    failure_code: str | None = None


@dataclass(frozen=True)
class PaymentMethodState:
    account_id: str
    customer_id: str | None
    card: CardOnFileRecord | None
    pending: PendingRecord | None
    collection_paused_by: tuple[str, ...] = ()
    last_failure: FailedRecord | None = None
    upgrade: UpgradeState | None = None

    @property
    def collection_paused(self) -> bool:
        return bool(self.collection_paused_by)


@dataclass(frozen=True)
class CardChangeRecord(SetupCard):
    account_id: str
    payment_method_id: str
    billing_contact: dict[str, Any]
    status: str
    requested_at: str
    requested_by: str
    closed_at: str | None = None
    failure_code: str | None = None
    replaced_payment_method_id: str | None = None
    email_sent_at: str | None = None
    purpose: str | None = None  # "upgrade": validating it upgrades the lite account to payg


def _card(m: CardStateModel | CardChangeModel, prefix: str) -> Card:
    """The card stored under `prefix` on the item (missing fields read as "" and 0)."""
    return record_of(Card, m, prefix)


def _set_card(prefix: str, card: Card) -> list[Any]:
    """The actions that store `card` under `prefix` on the card state."""
    return [getattr(CardStateModel, prefix + name).set(getattr(card, name)) for name in CARD_FIELDS]


def _state(m: CardStateModel) -> PaymentMethodState:
    card = None
    if m.card_payment_method_id:
        contact = json.loads(m.card_billing_contact or "{}")
        card = record_of(CardOnFileRecord, m, "card_", card=_card(m, "card_"), billing_contact=contact)
    pending = None
    if m.pending_setup_intent_id:
        pending = record_of(PendingRecord, m, "pending_", card=_card(m, "pending_"))
    failed = None
    if m.failed_setup_intent_id:
        failed = record_of(FailedRecord, m, "failed_", card=_card(m, "failed_"))
    return PaymentMethodState(
        account_id=m.pk,
        customer_id=m.customer_id,
        card=card,
        pending=pending,
        collection_paused_by=tuple(sorted(m.collection_paused_by or ())),
        last_failure=failed,
        upgrade=record_of(UpgradeState, m, "upgrade_") if m.upgrade_setup_intent_id else None,
    )


def _change(m: CardChangeModel) -> CardChangeRecord:
    return record_of(
        CardChangeRecord, m, account_id=m.pk, card=_card(m, ""), billing_contact=json.loads(m.billing_contact or "{}")
    )


def _forget_pending() -> list[Any]:
    """The actions that clear the pending change's fields of the card state."""
    fields = ("setup_intent_id", *CARD_FIELDS, "requested_at")
    return [getattr(CardStateModel, f"pending_{name}").remove() for name in fields]


def get_state(account_id: str, consistent: bool = False) -> PaymentMethodState | None:
    m = get_or_none(CardStateModel, account_id, STATE, consistent_read=consistent)
    return _state(m) if m is not None else None


def save_customer(account_id: str, customer_id: str) -> bool:
    """Record the account's Stripe customer once; False when one was already recorded (keep that one)."""
    condition = CardStateModel.customer_id.does_not_exist()
    return set_once(CardStateModel(account_id, STATE), [CardStateModel.customer_id.set(customer_id)], condition)


def get_change(account_id: str, setup_intent_id: str) -> CardChangeRecord | None:
    m = get_or_none(CardChangeModel, account_id, CHANGE + setup_intent_id, consistent_read=True)
    return _change(m) if m is not None else None


def put_change(change: CardChangeRecord) -> Op:
    """The new card change; fails if this SetupIntent was already used for one."""
    model = CardChangeModel(
        change.account_id,
        CHANGE + change.setup_intent_id,
        setup_intent_id=change.setup_intent_id,
        payment_method_id=change.payment_method_id,
        **asdict(change.card),
        billing_contact=json.dumps(change.billing_contact, sort_keys=True),
        status=change.status,
        requested_at=change.requested_at,
        requested_by=change.requested_by,
        gsi1_pk=PENDING_CHANGES if change.status == PENDING else None,
        gsi1_sk=f"{change.requested_at}#{change.account_id}#{change.setup_intent_id}",
        purpose=change.purpose,
    )
    return put_if_absent(
        model, label="card-change", on_conflict=already("this SetupIntent was just submitted by another request")
    )


def set_pending(change: CardChangeRecord) -> Op:
    """The change becomes the account's pending one (a newer request replaces an older pending one)."""
    return Op(
        "update",
        CardStateModel(change.account_id, STATE),
        actions=[
            CardStateModel.pending_setup_intent_id.set(change.setup_intent_id),
            *_set_card("pending_", change.card),
            CardStateModel.pending_requested_at.set(change.requested_at),
        ],
        condition=CardStateModel.customer_id.exists(),
        label="pending",
    )


def activate(change: CardChangeRecord, at: str, replaced_payment_method_id: str | None) -> list[Op]:
    """The change's card becomes the card on file and the pending change is cleared; only while this
    change is still the pending one (a newer request, or another worker, makes this op fail)."""
    state = Op(
        "update",
        CardStateModel(change.account_id, STATE),
        actions=[
            CardStateModel.card_payment_method_id.set(change.payment_method_id),
            *_set_card("card_", change.card),
            CardStateModel.card_setup_intent_id.set(change.setup_intent_id),
            CardStateModel.card_activated_at.set(at),
            CardStateModel.card_billing_contact.set(json.dumps(change.billing_contact, sort_keys=True)),
            *_forget_pending(),
            *_forget_failure(),
        ],
        condition=CardStateModel.pending_setup_intent_id == change.setup_intent_id,
        on_conflict=already("the pending card change changed while it was validated"),
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
    """Move a pending change to its final status (active, superseded or failed); it leaves the list of
    pending changes (the index keys go)."""
    actions = [
        CardChangeModel.status.set(status),
        CardChangeModel.closed_at.set(at),
        CardChangeModel.gsi1_pk.remove(),
        CardChangeModel.gsi1_sk.remove(),
    ]
    if failure_code:
        actions.append(CardChangeModel.failure_code.set(failure_code))
    if replaced_payment_method_id:
        actions.append(CardChangeModel.replaced_payment_method_id.set(replaced_payment_method_id))
    return Op(
        "update",
        CardChangeModel(change.account_id, CHANGE + change.setup_intent_id),
        actions=actions,
        condition=CardChangeModel.status == PENDING,
        on_conflict=already("the card change was closed by another worker"),
        label="card-change",
    )


def _forget_failure() -> list[Any]:
    """The actions that clear the last failed change of the card state (a newer card is active)."""
    fields = ("setup_intent_id", *CARD_FIELDS, "code", "at")
    return [getattr(CardStateModel, f"failed_{name}").remove() for name in fields]


def record_failure(change: CardChangeRecord, code: str, at: str, *, was_pending: bool) -> Op:
    """The change's failure becomes the account's last failed change (GET payment-method shows it);
    `was_pending`: it is still the account's pending change, forgotten in the same update (only while
    it is: a newer request keeps its own)."""
    actions = [
        CardStateModel.failed_setup_intent_id.set(change.setup_intent_id),
        *_set_card("failed_", change.card),
        CardStateModel.failed_code.set(code),
        CardStateModel.failed_at.set(at),
    ]
    condition = None
    if was_pending:
        actions += _forget_pending()
        condition = CardStateModel.pending_setup_intent_id == change.setup_intent_id
    return Op("update", CardStateModel(change.account_id, STATE), actions=actions, condition=condition, label="pending")


def pending_changes_before(cutoff: str, limit: int = 100) -> list[tuple[str, str]]:
    """(account, SetupIntent) of the card changes still pending that were requested before `cutoff`
    (an ISO time), oldest first, at most `limit` (a Query on the sparse list, never a Scan)."""
    query = CardChangeModel.pending_since.query(
        PENDING_CHANGES, CardChangeModel.gsi1_sk < cutoff, limit=limit, page_size=limit
    )
    return [(m.pk, m.sk.removeprefix(CHANGE)) for m in query]


def mark_email_sent(change: CardChangeRecord, message_id: str, at: str) -> None:
    """The confirmation's sent marker; written once (a second writer leaves the first marker)."""
    actions = [CardChangeModel.email_sent_at.set(at), CardChangeModel.email_message_id.set(message_id)]
    condition = CardChangeModel.email_sent_at.does_not_exist() & CardChangeModel.sk.exists()
    set_once(CardChangeModel(change.account_id, CHANGE + change.setup_intent_id), actions, condition)


def pause_collection(account_id: str, reason: str, at: str) -> Op:
    """Pause the account's collection for `reason` (a dispute): no automatic charge while any reason
    stands. The collector reads `PaymentMethodState.collection_paused`."""
    del at  # the audit event of the same transaction says when
    model = CardStateModel(account_id, STATE)
    return Op("update", model, actions=[CardStateModel.collection_paused_by.add({reason})], label="collection")


def resume_collection(account_id: str, reason: str) -> Op:
    """Withdraw one reason for pausing (a dispute won); other reasons keep collection paused."""
    model = CardStateModel(account_id, STATE)
    return Op("update", model, actions=[CardStateModel.collection_paused_by.delete({reason})], label="collection")


def set_upgrade(account_id: str, setup_intent_id: str, status: str, at: str, failure_code: str | None = None) -> Op:
    """The account's upgrade state (what GET payment-method and the summary show): requested, completed,
    or failed with the card's failure code; a newer upgrade request replaces it."""
    actions = [
        CardStateModel.upgrade_setup_intent_id.set(setup_intent_id),
        CardStateModel.upgrade_status.set(status),
        CardStateModel.upgrade_at.set(at),
        CardStateModel.upgrade_failure_code.set(failure_code)
        if failure_code
        else CardStateModel.upgrade_failure_code.remove(),
    ]
    return Op("update", CardStateModel(account_id, STATE), actions=actions, label="upgrade")


def merged(ops: list[Op]) -> list[Op]:
    """`ops` with the updates of one item made one update (DynamoDB refuses two operations on one item in
    a transaction): their actions joined, their conditions and-ed, the first's conflict and label kept."""
    out: list[Op] = []
    by_item: dict[tuple[Any, ...], Op] = {}
    for op in ops:
        target = op.target
        key = (type(target), getattr(target, "pk", None), getattr(target, "sk", None))
        first = by_item.get(key) if op.kind == "update" else None
        if first is None:
            if op.kind == "update":
                op = replace(op, actions=list(op.actions))
                by_item[key] = op
            out.append(op)
            continue
        first.actions.extend(op.actions)
        if op.condition is not None:
            first.condition = op.condition if first.condition is None else first.condition & op.condition
    return out
