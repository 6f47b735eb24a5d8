"""The collector's row (DESIGN §3 v4 Collection): one per account, pk=<account>, sk=COLLECTION.

    seq         the last collection's sequence (allocated by the write that opens it; never reused)
    state       idle | open | dunning | carried  (open/dunning: a collection is under way; carried: a
                balance below the minimum waits for the next invoice, or its write-off date)
    attempt     the attempt the collection makes next (1, then one more per dunning retry)
    opened_on   the day the collection opened (dunning retries are counted from it)
    retry_on    dunning: the day of the next attempt; carried: the day of the write-off
    last_payment_id, reason   the last attempt's payment and why it did not take the money

Every change is conditional on (seq, attempt, state) as read: a redelivery or a second collector that
lost the race is refused (ConcurrentUpdateError) and reads again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from pynamodb.attributes import UnicodeAttribute

from functions.core.db import IntegerAttribute, get_or_none
from functions.core.errors import ConcurrentUpdateError
from functions.core.uow import Op
from functions.payments.store.models import _Row

COLLECTION = "COLLECTION"
IDLE, OPEN, DUNNING, CARRIED = "idle", "open", "dunning", "carried"
UNDER_WAY = (OPEN, DUNNING)


class CollectionModel(_Row):
    seq = IntegerAttribute(null=True)
    state = UnicodeAttribute(null=True)
    attempt = IntegerAttribute(null=True)
    opened_on = UnicodeAttribute(null=True)
    retry_on = UnicodeAttribute(null=True)
    last_payment_id = UnicodeAttribute(null=True)
    reason = UnicodeAttribute(null=True)
    updated_at = UnicodeAttribute(null=True)


@dataclass(frozen=True)
class CollectionRecord:
    account_id: str
    seq: int = 0
    state: str = IDLE
    attempt: int = 1
    opened_on: date | None = None
    retry_on: date | None = None
    last_payment_id: str | None = None
    reason: str | None = None
    updated_at: str = ""

    @property
    def under_way(self) -> bool:
        return self.state in UNDER_WAY


def _date(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def get_collection(account_id: str) -> CollectionRecord:
    """The account's collection row (consistent read); an account never collected reads as idle, seq 0."""
    m = get_or_none(CollectionModel, account_id, COLLECTION, consistent_read=True)
    if m is None:
        return CollectionRecord(account_id)
    return CollectionRecord(
        account_id,
        m.seq or 0,
        m.state or IDLE,
        m.attempt or 1,
        _date(m.opened_on),
        _date(m.retry_on),
        m.last_payment_id,
        m.reason,
        m.updated_at or "",
    )


def _moved() -> ConcurrentUpdateError:
    return ConcurrentUpdateError("the account's collection moved while this worker ran; read it again")


def save_collection(before: CollectionRecord, after: CollectionRecord) -> Op:
    """Move the row from `before` to `after`, only if nobody moved it since `before` was read (its seq,
    attempt and state): the write that opens a collection (allocating seq + 1) and every transition."""
    model = CollectionModel(
        after.account_id,
        COLLECTION,
        seq=after.seq,
        state=after.state,
        attempt=after.attempt,
        opened_on=after.opened_on.isoformat() if after.opened_on else None,
        retry_on=after.retry_on.isoformat() if after.retry_on else None,
        last_payment_id=after.last_payment_id,
        reason=after.reason,
        updated_at=after.updated_at,
    )
    if before.seq == 0 and before.state == IDLE:
        condition = CollectionModel.pk.does_not_exist() | ((CollectionModel.seq == 0) & (CollectionModel.state == IDLE))
    else:
        condition = (
            (CollectionModel.seq == before.seq)
            & (CollectionModel.attempt == before.attempt)
            & (CollectionModel.state == before.state)
        )
    return Op("put", model, condition=condition, on_conflict=_moved, label="collection")
