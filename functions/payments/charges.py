"""Money moved through Stripe, in one sequence for every flow that calls Stripe between two writes
(DESIGN §2 Idempotency): one-time payments, off-session charges, refunds to cards.

  1. the lease: ONE transaction writes the row `creating` (its id ours: derived from the request's
     idempotency scope, or from the invoice and attempt), what the row reserves, and the
     Idempotency-Key record in progress with its lease — or, for a resumed request, renews the lease;
  2. Stripe, with our id as the idempotency key — except that a row still `creating` after 23 h never
     sends its key again (Stripe forgets keys after 24 h and would do it twice): it adopts what Stripe
     made for it, found by our id in its metadata, else it is abandoned (`KEY_EXPIRED`);
  3. the final write: ONE transaction, tried again on a race, with the row final, the ledger's plan,
     the audit event and the stored reply (`reply`) — each service writes that attempt itself.

A crash anywhere is safe: the row is found again by its id, Stripe replays its first answer for the
same key, and the ledger posts a payment or refund id at most once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from functions.core import ledger, stripe_gateway
from functions.core.errors import BillowError
from functions.core.idempotency import IdempotencyContext
from functions.core.problems import problem_body
from functions.core.stripe_gateway import StripeRejectedError
from functions.core.uow import Op, UnitOfWork

T = TypeVar("T")

# The failure code of a row abandoned because its Stripe idempotency key may have expired.
KEY_EXPIRED = "idempotency_window_expired"
# Reading and reserving again when another payment or invoice moved the balance in between.
LEASE_ATTEMPTS = 12


def lease(row_ops: Callable[[], list[Op]], idem: IdempotencyContext | None = None) -> None:
    """Step 1, for a new row: `row_ops()` (the row `creating` and what it reserves, read afresh on each
    try) with the idempotency record in progress, in one transaction. A reservation the balance moved
    under (ReservationMovedError) is read and tried again."""
    for n in range(LEASE_ATTEMPTS):
        try:
            UnitOfWork().add(*row_ops(), *([idem.started()] if idem else [])).commit()
            return
        except ledger.ReservationMovedError:
            if n == LEASE_ATTEMPTS - 1:
                raise


def renew(idem: IdempotencyContext) -> None:
    """Step 1, for a resumed request whose row exists: its lease renewed."""
    UnitOfWork().add(idem.started()).commit()


@dataclass(frozen=True)
class Answer(Generic[T]):
    """Stripe's answer: the object (a PaymentIntent, a Refund), or the refusal (with the object it is
    about, when Stripe sends one: a declined PaymentIntent)."""

    value: T | None
    rejected: StripeRejectedError | None = None


def ask(
    created_at: str,
    send: Callable[[], T],
    adopt: Callable[[], T | None],
    abandoned: str,
    about: Callable[[StripeRejectedError], T | None] = lambda _exc: None,
) -> Answer[T]:
    """Step 2: `send()` the request keyed by our id; or, for a row created 23 h ago or more, `adopt()`
    what Stripe made for it, else answer it `abandoned` (nothing was done at Stripe)."""
    if stripe_gateway.key_expired(created_at):
        found = adopt()
        if found is not None:
            return Answer(found)
        return Answer(None, StripeRejectedError(400, KEY_EXPIRED, abandoned))
    try:
        return Answer(send())
    except StripeRejectedError as exc:
        return Answer(about(exc), exc)


def reply(idem: IdempotencyContext, body: Any = None, error: BillowError | None = None) -> Op:
    """Step 3's stored reply: the response body, or the problem the request answers (with its status)."""
    if error is not None:
        return idem.completed(problem_body(error), status=error.status)
    return idem.completed(body)
