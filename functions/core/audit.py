"""Audit events: who changed what, when, before/after — written in the same transaction as the change."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict
from pynamodb.attributes import UnicodeAttribute
from pynamodb.models import Model

from functions.core import clock, cursor
from functions.core.db import meta
from functions.core.ids import new_id
from functions.core.uow import Op, put_if_absent


class AuditModel(Model):
    Meta = meta("audit")
    pk = UnicodeAttribute(hash_key=True)  # account id
    sk = UnicodeAttribute(range_key=True)  # <iso time>#<event id>: newest first when read backwards
    event_id = UnicodeAttribute()
    at = UnicodeAttribute()
    actor = UnicodeAttribute()  # the caller's sub, or "system:<worker>"
    actor_kind = UnicodeAttribute()  # customer | operator | system
    action = UnicodeAttribute()  # e.g. account.created, member.granted, charge.posted
    target = UnicodeAttribute()  # the id the action is about
    before = UnicodeAttribute(null=True)  # JSON
    after = UnicodeAttribute(null=True)  # JSON


@dataclass(frozen=True)
class Actor:
    id: str
    kind: str  # customer | operator | system


# One declaration for the stored event as read back and as GET /v1/accounts/{id}/events shows it (the
# response schema `Event`: no docstring here, it would become the schema's description).
class Event(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    at: str
    actor: str
    actor_kind: str
    action: str
    target: str
    before: dict | list | str | int | None
    after: dict | list | str | int | None


def _dump(value: Any) -> str | None:
    return None if value is None else json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def record(account_id: str, actor: Actor, action: str, target: str, before: Any = None, after: Any = None) -> Op:
    """The op that writes one audit event; add it to the unit of work of the change it describes."""
    event_id = new_id("evt")
    at = clock.iso(clock.now())
    model = AuditModel(
        account_id,
        f"{at}#{event_id}",
        event_id=event_id,
        at=at,
        actor=actor.id,
        actor_kind=actor.kind,
        action=action,
        target=target,
        before=_dump(before),
        after=_dump(after),
    )
    return put_if_absent(model, label="audit")


def list_events(account_id: str, limit: int, after: str | None, route: str) -> tuple[list[Event], str | None]:
    """One page of the account's audit trail, newest first, and the cursor of the next page."""
    last_key = cursor.decode(after, account_id, route, {})
    result = AuditModel.query(account_id, scan_index_forward=False, limit=limit, last_evaluated_key=last_key)
    events = [
        Event(
            id=m.event_id,
            at=m.at,
            actor=m.actor,
            actor_kind=m.actor_kind,
            action=m.action,
            target=m.target,
            before=json.loads(m.before) if m.before else None,
            after=json.loads(m.after) if m.after else None,
        )
        for m in result
    ]
    return events, cursor.encode(account_id, route, {}, result.last_evaluated_key)
