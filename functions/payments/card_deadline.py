"""The 24-hour promise (DESIGN §3 v4 Notices): a card change still pending 24 h after its PUT fails
with `validation-timed-out`, e-mailed with the reason and the support path, and GET payment-method
shows it as the last failed change.

Two places enforce it: the card-validation consumer refuses to activate a change past its deadline
(cards.validate_change, failures.timed_out), and `expire_pending_changes` — run by the daily schedule (billing_run's
`daily_run`, 00:05 UTC) — fails every change still pending past it, so a change whose message was
lost or sits in the DLQ is not pending for ever. The pending changes are a sparse index partition
(PENDING_CARD_CHANGES, sorted by request time): the sweep reads only those past the deadline, by a
Query, never a Scan. A deployed stack therefore fails a stuck change between 24 h and 48 h after the
PUT; the validator's own check makes it exactly 24 h whenever its message is delivered.
"""

from __future__ import annotations

from datetime import datetime

from functions.core import clock, stripe_gateway
from functions.core.logs import get_logger
from functions.core.stripe_gateway import StripeRejectedError
from functions.payments import failures, store

PAGE = 100


def expire_pending_changes(now: datetime | None = None) -> int:
    """Fail every card change still pending 24 h after its PUT; returns how many this call failed."""
    cutoff = clock.iso((now or clock.now()) - failures.VALIDATION_DEADLINE)
    failed = 0
    while True:
        due = store.pending_changes_before(cutoff, PAGE)
        for account_id, setup_intent_id in due:
            change = store.get_change(account_id, setup_intent_id)
            if change is None or change.status != store.PENDING:
                continue
            _detach(change)
            failed += failures.fail_change(change, failures.TIMED_OUT) == "failed"
        if len(due) < PAGE:
            return failed


def _detach(change: store.CardChangeRecord) -> None:
    """Real Stripe attached the card to the customer when its SetupIntent succeeded: it is not kept."""
    state = store.get_state(change.account_id)
    if state is None or not state.customer_id:
        return
    if state.card is not None and state.card.payment_method_id == change.payment_method_id:
        return
    try:
        key = f"pm:detach-timed-out:{change.setup_intent_id}"
        stripe_gateway.detach_payment_method(change.payment_method_id, state.customer_id, idempotency_key=key)
    except StripeRejectedError:  # never attached, or gone already: nothing to remove
        get_logger().info("timed-out card not detached", account_id=change.account_id)
