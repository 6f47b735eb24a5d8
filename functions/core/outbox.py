"""The outbox (DESIGN §7): every change's outbound event, written in the change's own transaction.

A service (or a ledger planner) adds `outbox.event(account_id, type, obj)` to its unit of work beside
its ops, as it adds its audit event. At commit (functions/core/uow.py `Planned`), the events of the
transaction are given their `sequence`: per sequence space (the account, or `run` for the billing
run's events), ONE consistent read of the space's counter item, then the counter moved from the value
read to read + k by a conditional update and the k event items put — all in the same
TransactWriteItems. Another change of the account that took a number meanwhile cancels the transaction;
when only the outbox's ops failed, `UnitOfWork.commit` reads the counter again and commits again (the
rest of the plan never depends on the counter, and keeps its own conditions). So:

- a change never commits without its event, nor an event without its change (one transaction);
- per account, sequences are 1, 2, 3, … with no gap and no repeat (a number is only taken by a commit);
- the event item is immutable; the table's stream (NEW_IMAGE) feeds the publisher
  (functions/events/publisher.py), which puts each event on the EventBridge bus, at least once.

Items (table `events`): `pk`=<account id> | `run`; `sk`=`SEQ` (the counter: `last`),
`EVT#<sequence, 12 digits>` (an event) or `ONCE#<key>` (an event recorded once per key: `once`).
Events expire after RETENTION_DAYS (TTL); counters never do.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.models import Model

from functions.core import clock
from functions.core.db import IntegerAttribute, SpecIndex, index_meta, meta
from functions.core.errors import ConcurrentUpdateError
from functions.core.ids import outbound_event_id
from functions.core.logs import correlation_id
from functions.core.uow import Op, Planned, put_if_absent

API_VERSION = "v1"
# The billing run's events (`billing_run.completed`) are about no account: their own sequence space.
RUN_SPACE = "run"
COUNTER_SK = "SEQ"
EVT = "EVT#"
ALL_EVENTS = "events"  # by_created's one partition
RETENTION_DAYS = 90
# An event is one item: what a change puts in `data.object` stays well inside DynamoDB's 400 KB.
MAX_OBJECT_BYTES = 64 * 1024

# Every type an event may have (DESIGN §7); the OpenAPI document's `webhooks` describe each.
EVENT_TYPES: tuple[str, ...] = (
    "account.created",
    "account.updated",
    "account.upgraded",
    "account.closed",
    "account.past_due",
    "account.restored",
    "invoice.issued",
    "invoice.paid",
    "invoice.collection_failed",
    "invoice.carried_forward",
    "payment.succeeded",
    "payment.failed",
    "payment.requires_action",
    "payment.refunded",
    "payment_method.updated",
    "payment_method.validation_failed",
    "billing_item.provisioned",
    "billing_item.associated",
    "billing_item.dissociated",
    "billing_item.cancellation_scheduled",
    "billing_item.cancellation_undone",
    "billing_item.cancelled",
    "usage.budget_threshold_crossed",
    "billing_run.completed",
    "dispute.created",
)


class EventsById(SpecIndex):
    Meta = index_meta("events", "by_id")
    event_id = UnicodeAttribute(hash_key=True)


class EventsByCreated(SpecIndex):
    Meta = index_meta("events", "by_created")
    gsi1_pk = UnicodeAttribute(hash_key=True)  # "events"
    gsi1_sk = UnicodeAttribute(range_key=True)  # <created at>#<event id>


class _Outbox(Model):
    Meta = meta("events")
    pk = UnicodeAttribute(hash_key=True)  # account id, or "run"
    sk = UnicodeAttribute(range_key=True)


class CounterModel(_Outbox):
    last = IntegerAttribute()  # the last sequence number taken in this space


class MarkerModel(_Outbox):
    """ONCE#<key>: an event recorded once per key (`once`)."""


class EventModel(_Outbox):
    event_id = UnicodeAttribute()
    type = UnicodeAttribute()
    created_at = UnicodeAttribute()
    account_id = UnicodeAttribute(null=True)
    sequence = IntegerAttribute()
    data = UnicodeAttribute()  # JSON: {"object": ...}
    api_version = UnicodeAttribute()
    correlation_id = UnicodeAttribute(null=True)  # the work that made the change (functions/core/logs.py)
    gsi1_pk = UnicodeAttribute()
    gsi1_sk = UnicodeAttribute()
    expires_at = NumberAttribute()  # TTL (epoch seconds)
    by_id = EventsById()
    by_created = EventsByCreated()


@dataclass(frozen=True)
class Draft:
    """An event planned in a transaction, before its sequence is known."""

    space: str
    account_id: str | None
    type: str
    obj: dict[str, Any]


def _dump(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def event(account_id: str, type: str, obj: dict[str, Any]) -> Planned:
    """The outbox row of one change of `account_id`: add it to the change's unit of work. `obj` is the
    resource as the API shows it, without invoice lines (a consumer fetches them)."""
    return _planned(Draft(account_id, account_id, type, obj))


def run_event(type: str, obj: dict[str, Any]) -> Planned:
    """An event about no account (`billing_run.completed`): account_id null, the run's own sequence."""
    return _planned(Draft(RUN_SPACE, None, type, obj))


class AlreadyRecordedError(ConcurrentUpdateError):
    """The event `once(...)` guards was written before (a redelivered message): nothing to record."""


def _recorded() -> AlreadyRecordedError:
    return AlreadyRecordedError("this event was recorded already")


def once(space: str, key: str) -> Op:
    """A marker that makes an event of a redelivered message be recorded once (`billing_run.completed` per
    (run date, shard)): put if absent in the event's transaction; a second time the commit raises
    AlreadyRecordedError (catch it: nothing was written)."""
    return put_if_absent(MarkerModel(space, f"ONCE#{key}"), label="outbox_once", on_conflict=_recorded)


def _planned(draft: Draft) -> Planned:
    if draft.type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {draft.type!r}")
    if len(_dump(draft.obj).encode("utf-8")) > MAX_OBJECT_BYTES:
        raise ValueError(f"a {draft.type} event's object is above {MAX_OBJECT_BYTES} bytes")
    return Planned(draft, allocate)


def _taken() -> ConcurrentUpdateError:
    return ConcurrentUpdateError("another change of this account took the next event sequence first; retry")


def counter_op(space: str, read: int, taken: int, on_conflict: Callable[[], Any] = _taken) -> Op:
    """Move the space's counter from `read` (0: no counter yet) to read + taken, only if it is still `read`."""
    condition = CounterModel.pk.does_not_exist() if read == 0 else CounterModel.last == read
    return Op(
        "update",
        CounterModel(space, COUNTER_SK),
        actions=[CounterModel.last.set(read + taken)],
        condition=condition,
        on_conflict=on_conflict,
        label="planned:outbox_counter",
    )


def _event_model(draft: Draft, sequence: int, at: str) -> EventModel:
    event_id = outbound_event_id()
    return EventModel(
        draft.space,
        f"{EVT}{sequence:012d}",
        event_id=event_id,
        type=draft.type,
        created_at=at,
        account_id=draft.account_id,
        sequence=sequence,
        data=_dump({"object": draft.obj}),
        api_version=API_VERSION,
        correlation_id=correlation_id(),
        gsi1_pk=ALL_EVENTS,
        gsi1_sk=f"{at}#{event_id}",
        expires_at=int((clock.now() + timedelta(days=RETENTION_DAYS)).timestamp()),
    )


def _last_taken(spaces: list[str]) -> dict[str, int]:
    """Each space's last sequence number (0 when none was taken), read consistently: one GetItem for one
    space (the usual case), one BatchGetItem for several."""
    if len(spaces) == 1:
        try:
            return {spaces[0]: CounterModel.get(spaces[0], COUNTER_SK, consistent_read=True).last}
        except CounterModel.DoesNotExist:
            return {spaces[0]: 0}
    found = {m.pk: m.last for m in CounterModel.batch_get([(s, COUNTER_SK) for s in spaces], consistent_read=True)}
    return {s: found.get(s, 0) for s in spaces}


def allocate(drafts: list[Draft]) -> list[Op]:
    """The ops of a transaction's events (uow.Planned's resolve): per space, the counter moved by the number
    of its events and each event put at the next number, in the order they were added."""
    spaces = list(dict.fromkeys(d.space for d in drafts))
    last = _last_taken(spaces)
    at = clock.iso(clock.now())
    ops: list[Op] = []
    for space in spaces:
        mine = [d for d in drafts if d.space == space]
        for n, draft in enumerate(mine, 1):
            model = _event_model(draft, last[space] + n, at)
            ops.append(
                Op("put", model, condition=EventModel.pk.does_not_exist(), on_conflict=_taken, label="planned:outbox")
            )
        ops.append(counter_op(space, last[space], len(mine)))
    return ops


# ---- reading -----------------------------------------------------------------------------------------


def to_event(model: EventModel) -> dict[str, Any]:
    """The event as it is published and listed: {id, type, created_at, account_id, sequence, data, api_version},
    and `correlation_id` when the change was made by correlated work (an API request, a queue message)."""
    event = {
        "id": model.event_id,
        "type": model.type,
        "created_at": model.created_at,
        "account_id": model.account_id,
        "sequence": model.sequence,
        "data": json.loads(model.data),
        "api_version": model.api_version,
    }
    if model.correlation_id:
        event["correlation_id"] = model.correlation_id
    return event


def from_stream_image(image: dict[str, Any]) -> dict[str, Any] | None:
    """The event in a stream record's NewImage (DynamoDB JSON), or None for the counter items."""
    if not str(image.get("sk", {}).get("S", "")).startswith(EVT):
        return None
    return to_event(EventModel.from_raw_data(image))


def get_event(event_id: str) -> dict[str, Any] | None:
    for model in EventModel.by_id.query(event_id, limit=1):
        return to_event(model)
    return None


def events_of(space: str, after: int = 0) -> list[dict[str, Any]]:
    """Every event of a space (an account id or RUN_SPACE) with a sequence above `after`, in order."""
    return [
        to_event(m)
        for m in EventModel.query(space, EventModel.sk > f"{EVT}{after:012d}", consistent_read=True)
        if m.sk.startswith(EVT)
    ]


def last_sequence(space: str) -> int:
    return _last_taken([space])[space]


def query_page(
    account_id: str | None, limit: int, last_key: dict[str, Any] | None
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """One Query page of events, newest first: one account's (by sequence), or every event (by time)."""
    if account_id is not None:
        result = EventModel.query(
            account_id,
            EventModel.sk.startswith(EVT),
            scan_index_forward=False,
            limit=limit,
            last_evaluated_key=last_key,
        )
    else:
        result = EventModel.by_created.query(
            ALL_EVENTS, scan_index_forward=False, limit=limit, last_evaluated_key=last_key
        )
    page = [to_event(m) for m in result]
    return page, result.last_evaluated_key
