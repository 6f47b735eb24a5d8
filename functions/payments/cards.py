"""The card on file: the SetupIntent the console confirms with Stripe.js, the change request, its
validation by the `card-validation` queue consumer, and what other flows read (the summary's payment
method; `chargeable_card`: active, not past its expiry month, with its Stripe customer and payment
method ids).

The flow (DESIGN §2, §4):
  1. start_setup: the account's Stripe customer (created once, idempotency key from the account) and a
     SetupIntent (usage off_session) for Stripe.js to confirm with the card; billow never sees the card.
  2. request_change: the SetupIntent must be this account's and `succeeded`; the change (brand, last4,
     expiry, billing contact) is stored as pending with an audit event, and one message is queued.
  3. validate_change (queue): attach the payment method to the customer, make it the default, detach
     the previous card, make the new one the card on file (one transaction with the audit event), then
     e-mail the billing contact once. Every step is idempotent, so a redelivered message finishes
     whatever the previous delivery left undone, and never does a step twice.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, replace
from datetime import date
from typing import Any

from functions.accounts.service import AccountAccess, get_account
from functions.core import audit, clock, email, queues, stripe_gateway
from functions.core.errors import ConcurrentUpdateError, ConflictError, NotFoundError, ValidationFailedError
from functions.core.logs import get_logger
from functions.core.resources import CARD_VALIDATION
from functions.core.stripe_gateway import StripeRejectedError
from functions.core.stripe_objects import Card
from functions.core.uow import UnitOfWork
from functions.payments import collection_dunning, emails, failures, store, upgrades
from functions.payments.payment_view import card_event
from functions.payments.schemas import CardValidationMessage
from functions.payments.store import CardChangeRecord, PaymentMethodState

QUEUE = CARD_VALIDATION
PENDING_VALIDATION = "pending_validation"
SYSTEM = failures.SYSTEM
TIMED_OUT = failures.TIMED_OUT


@dataclass(frozen=True)
class ChargeableCard:
    """A card billow may charge off-session: active and not past its expiry month."""

    customer_id: str
    payment_method_id: str
    brand: str
    last4: str
    exp_month: int
    exp_year: int


def is_expired(exp_month: int, exp_year: int, today: date | None = None) -> bool:
    """A card is valid through the last day of its expiry month (UTC)."""
    today = today or clock.today()
    return (today.year, today.month) > (exp_year, exp_month)


def chargeable_card(account_id: str) -> ChargeableCard | None:
    """The account's card on file with its Stripe customer and payment method ids, or None when there is
    no card or it has expired (an expired card counts as no card)."""
    return card_of(store.get_state(account_id))


def card_of(state: PaymentMethodState | None) -> ChargeableCard | None:
    """`chargeable_card` of a card state already read."""
    if state is None or state.card is None or state.customer_id is None:
        return None
    c = state.card.card
    if is_expired(c.exp_month, c.exp_year):
        return None
    return ChargeableCard(
        customer_id=state.customer_id,
        payment_method_id=state.card.payment_method_id,
        **asdict(c),
    )


def card_summary(account_id: str, collection: str | None = None, net_days: int | None = None) -> dict[str, Any]:
    """What the summary shows of how the account pays, from one read of the card state: `payment_method`
    — the card (type card, brand, last4, expiry, status active | expired), or `{type: "invoice",
    net_days}` for a send_invoice account, or None — and `upgrade`, a lite account's upgrade (or None)."""
    state = store.get_state(account_id)
    upgrade = asdict(state.upgrade) if state is not None and state.upgrade is not None else None
    method: dict[str, Any] | None = None
    if collection == "send_invoice":
        method = {"type": "invoice", "net_days": net_days}
    elif state is not None and state.card is not None:
        method = {"type": "card"} | _card_view(state.card.card) | {"status": _status(state.card.card)}
    return {"payment_method": method, "upgrade": upgrade}


def _card_view(card: Card) -> dict[str, Any]:
    return asdict(card)


def _status(card: Card) -> str:
    return "expired" if is_expired(card.exp_month, card.exp_year) else "active"


# --- routes ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SetupStarted:
    setup_intent_id: str
    client_secret: str
    publishable_key: str


def _customer_id(access: AccountAccess) -> str:
    """The account's Stripe customer, created on first use. The idempotency key derives from the
    account, so two racing first calls get one customer from Stripe; the id is then recorded once."""
    state = store.get_state(access.account.id)
    if state is not None and state.customer_id:
        return state.customer_id
    account = access.account
    customer_id = stripe_gateway.create_customer(
        name=account.name,
        email=str(account.billing_contact.get("email", "")),
        metadata={"billow_account_id": account.id, "billow_account_number": str(account.number)},
        idempotency_key=f"customer:create:{account.id}",
    )
    if not store.save_customer(account.id, customer_id):
        recorded = store.get_state(account.id, consistent=True)
        assert recorded is not None and recorded.customer_id
        return recorded.customer_id
    return customer_id


def start_setup(access: AccountAccess) -> SetupStarted:
    """A SetupIntent on the account's Stripe customer for the console's Stripe.js to confirm."""
    customer_id = _customer_id(access)
    intent = stripe_gateway.create_setup_intent(
        customer_id,
        metadata={"billow_account_id": access.account.id},
        # a fresh intent per request; the key makes the gateway's own retries of this call safe
        idempotency_key=f"setup_intent:create:{access.account.id}:{uuid.uuid4()}",
    )
    return SetupStarted(
        setup_intent_id=intent.id,
        client_secret=intent.client_secret,
        publishable_key=stripe_gateway.publishable_key(),
    )


@dataclass(frozen=True)
class ChangeAccepted:
    status: str  # pending_validation, or the final status of a change already made with this SetupIntent
    setup_intent_id: str
    card: dict[str, Any]


def _setup_intent_not_found(setup_intent_id: str) -> NotFoundError:
    return NotFoundError(f"no SetupIntent {setup_intent_id} for this account", code="setup-intent-not-found")


def request_change(
    access: AccountAccess, setup_intent_id: str, billing_contact: dict[str, Any], *, upgrade: bool = False
) -> ChangeAccepted:
    """Accept a succeeded SetupIntent of this account as the next card: stored as pending, queued for
    validation. The same SetupIntent again answers the state of the change it already made. `upgrade`:
    the change is a lite account's upgrade (its validation makes the account payg, payments/lifecycle.py)."""
    account_id = access.account.id
    state = store.get_state(account_id)
    if state is None or not state.customer_id:
        raise _setup_intent_not_found(setup_intent_id)  # no customer yet: no SetupIntent can be ours
    existing = store.get_change(account_id, setup_intent_id)
    if existing is not None:
        if existing.status == store.PENDING:
            _enqueue(existing)  # a retry after a lost send still gets its message
        return _accepted(existing)
    payment_method_id, card = _saved_card(setup_intent_id, state.customer_id)
    change = CardChangeRecord(
        account_id=account_id,
        setup_intent_id=setup_intent_id,
        payment_method_id=payment_method_id,
        card=card,
        billing_contact=billing_contact,
        status=store.PENDING,
        requested_at=clock.iso(clock.now()),
        requested_by=access.actor.id,
        purpose="upgrade" if upgrade else None,
    )
    try:
        UnitOfWork().add(
            *store.merged(
                [store.put_change(change), store.set_pending(change)]
                + (
                    [store.set_upgrade(account_id, setup_intent_id, PENDING_VALIDATION, change.requested_at)]
                    if upgrade
                    else []
                )
            ),
            audit.record(
                account_id,
                access.actor,
                "account.upgrade_requested" if upgrade else "payment_method.change_requested",
                setup_intent_id,
                _card_view(state.card.card) if state.card else None,
                _card_view(card),
            ),
        ).commit()
    except ConcurrentUpdateError:
        raced = store.get_change(account_id, setup_intent_id)
        if raced is None:
            raise
        return _accepted(raced)
    _enqueue(change)
    return _accepted(change)


def _saved_card(setup_intent_id: str, customer_id: str) -> tuple[str, Card]:
    """The payment method and card a succeeded SetupIntent of this customer saved (404, 409, 422 otherwise)."""
    intent = stripe_gateway.get_setup_intent(setup_intent_id)
    if intent is None or intent.customer != customer_id:
        raise _setup_intent_not_found(setup_intent_id)
    if intent.status != "succeeded" or intent.payment_method is None or intent.payment_method.card is None:
        raise ConflictError(
            f"the SetupIntent is {intent.status}: confirm it with Stripe.js (and complete any authentication) "
            "before submitting it",
            code="setup-not-succeeded",
        )
    card = intent.payment_method.card
    if is_expired(card.exp_month, card.exp_year):
        raise ValidationFailedError("this card has expired; use another card", code="card-expired")
    return intent.payment_method.id, card


def _accepted(change: CardChangeRecord) -> ChangeAccepted:
    status = "pending_validation" if change.status == store.PENDING else change.status
    return ChangeAccepted(status=status, setup_intent_id=change.setup_intent_id, card=_card_view(change.card))


def _enqueue(change: CardChangeRecord) -> None:
    queues.send(QUEUE, {"account_id": change.account_id, "setup_intent_id": change.setup_intent_id})


def payment_method(account_id: str) -> dict[str, Any]:
    """The card on file (with its status) and the pending change, as GET payment-method shows them."""
    state = store.get_state(account_id)
    card = pending = None
    if state is not None and state.card is not None:
        card = _card_view(state.card.card) | {
            "status": _status(state.card.card),
            "activated_at": state.card.activated_at,
            "billing_contact": state.card.billing_contact,
        }
    if state is not None and state.pending is not None:
        pending = _card_view(state.pending.card) | {
            "status": "pending_validation",
            "setup_intent_id": state.pending.setup_intent_id,
            "requested_at": state.pending.requested_at,
        }
    failed = None
    if state is not None and state.last_failure is not None:
        f = state.last_failure
        failed = _card_view(f.card) | {
            "setup_intent_id": f.setup_intent_id,
            "code": f.code,
            "message": failures.change_reason(f.code),
            "failed_at": f.at,
        }
    upgrade = asdict(state.upgrade) if state is not None and state.upgrade is not None else None
    return {"card": card, "pending_change": pending, "last_failed_change": failed, "upgrade": upgrade}


# --- the card-validation queue ------------------------------------------------------------------------


class CardChangeNotFoundError(Exception):
    """A card-validation message names a change that does not exist (a poison message: it goes to the DLQ)."""


def validate_change(account_id: str, setup_intent_id: str) -> str:
    """Make a pending card change the card on file and confirm it by e-mail; returns what was done
    (activated, already_active, superseded, failed, already_closed). Safe to run any number of times."""
    change = store.get_change(account_id, setup_intent_id)
    if change is None:
        raise CardChangeNotFoundError(f"no card change {setup_intent_id} on {account_id}")
    outcome = "already_active"
    if change.status == store.PENDING and failures.timed_out(change):
        return failures.fail_change(change, TIMED_OUT)  # too late to keep the promise: never activated after 24 h
    if change.status == store.PENDING:
        state = store.get_state(account_id, consistent=True)
        assert state is not None and state.customer_id, "a pending change implies a customer"
        if state.pending is None or state.pending.setup_intent_id != setup_intent_id:
            outcome = _supersede(change, state)
        else:
            outcome = _activate(change, state)
        if outcome == "activated":  # what the transaction wrote; otherwise read what another worker did
            previous = state.card.payment_method_id if state.card else None
            change = replace(change, status=store.ACTIVE, replaced_payment_method_id=previous)
        else:
            change = store.get_change(account_id, setup_intent_id) or change
    elif change.status != store.ACTIVE:
        return "already_closed"
    if change.status == store.ACTIVE and change.email_sent_at is None:
        _send_confirmation(change)
    if outcome == "activated":  # a collection in dunning retries at once (DESIGN §3 v4 Dunning)
        collection_dunning.card_added(account_id)
    get_logger().info("card change validated", account_id=account_id, outcome=outcome)
    return outcome


def _activate(change: CardChangeRecord, state: PaymentMethodState) -> str:
    customer_id = state.customer_id
    assert customer_id is not None
    seti = change.setup_intent_id
    previous = state.card
    try:
        stripe_gateway.attach_payment_method(change.payment_method_id, customer_id, idempotency_key=f"pm:attach:{seti}")
        stripe_gateway.set_default_payment_method(
            customer_id, change.payment_method_id, idempotency_key=f"customer:default:{seti}"
        )
        if previous is not None and previous.payment_method_id != change.payment_method_id:
            stripe_gateway.detach_payment_method(
                previous.payment_method_id, customer_id, idempotency_key=f"pm:detach:{seti}"
            )
    except StripeRejectedError as exc:
        return failures.fail_change(change, exc.code or f"stripe_{exc.http_status}")
    now = clock.iso(clock.now())
    try:
        UnitOfWork().add(
            *store.merged(
                store.activate(change, now, previous.payment_method_id if previous else None)
                + upgrades.completed(change, SYSTEM, now)
            ),
            audit.record(
                change.account_id,
                SYSTEM,
                "payment_method.activated",
                seti,
                _card_view(previous.card) | {"payment_method_id": previous.payment_method_id} if previous else None,
                _card_view(change.card) | {"payment_method_id": change.payment_method_id},
            ),
            card_event("payment_method.updated", change, store.ACTIVE),
        ).commit()
    except ConcurrentUpdateError:
        # Another delivery activated it, or a newer change replaced it meanwhile: look again.
        latest = store.get_change(change.account_id, seti)
        if latest is not None and latest.status == store.ACTIVE:
            return "already_active"
        state = store.get_state(change.account_id, consistent=True)
        assert state is not None
        return _supersede(change, state)
    return "activated"


def _supersede(change: CardChangeRecord, state: PaymentMethodState) -> str:
    """A newer change replaced this one before it was validated: its card is not kept. Real Stripe
    attached it to the customer when the SetupIntent succeeded, so detach it unless it is the card."""
    current = state.card.payment_method_id if state.card else None
    if state.customer_id and change.payment_method_id != current:
        key = f"pm:detach-superseded:{change.setup_intent_id}"
        stripe_gateway.detach_payment_method(change.payment_method_id, state.customer_id, idempotency_key=key)
    try:
        UnitOfWork().add(store.close_change(change, store.SUPERSEDED, clock.iso(clock.now()))).commit()
    except ConcurrentUpdateError:
        pass  # another delivery closed it
    return "superseded"


def _send_confirmation(change: CardChangeRecord) -> None:
    """E-mail the billing contact, then write the sent marker: a redelivery after the marker sends
    nothing; only a crash between SES accepting the message and the marker could send it twice."""
    account = get_account(change.account_id)
    contact = change.billing_contact
    message = emails.card_confirmation(
        emails.CardConfirmation(
            to=str(contact["email"]),
            contact_name=str(contact.get("name", "")),
            account_name=account.name,
            account_number=account.number,
            **asdict(change.card),
            locale=account.locale,
            replaced=change.replaced_payment_method_id is not None,
            upgraded=change.purpose == "upgrade" and account.type == "payg",
        )
    )
    message_id = email.send(message)
    store.mark_email_sent(change, message_id, clock.iso(clock.now()))


def handle_validation_message(body: dict[str, Any]) -> None:
    """One `card-validation` message (see schemas.CardValidationMessage)."""
    message = CardValidationMessage.model_validate(body)
    validate_change(message.account_id, message.setup_intent_id)
