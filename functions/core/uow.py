"""Unit of work: operations from several stores committed in one DynamoDB TransactWrite.

Stores build `Op`s (a put, update, delete or condition check with its condition); models never
leave the store. `commit()` writes all of them or none. When DynamoDB cancels the transaction, the
first operation whose condition failed decides the domain error raised (its `on_conflict`), except
that a failed Idempotency-Key record always decides: a duplicate request won the race.

The service owns the transaction: it writes one attempt — read, plan (the ledger's planners return
their ops and result, they never commit), add its own rows, the audit event and the stored reply,
commit — and runs it with `retrying(attempt)`, which reads and plans again when another writer
moved a record first.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from functions.core.db import aws_error_code, connection
from functions.core.errors import BillowError, ConcurrentUpdateError

# DynamoDB's limit on items in one TransactWriteItems call.
MAX_TRANSACTION_ITEMS = 100
# The label of the Idempotency-Key record's op (functions/core/idempotency.py).
IDEMPOTENCY_LABEL = "idem"

# PynamoDB sends condition checks, then deletes, puts and updates; cancellation reasons follow
# that order, so ops are sorted the same way to map a reason back to its op.
_KIND_ORDER = {"check": 0, "delete": 1, "put": 2, "update": 3}
# How often an attempt is read, planned and committed again when another writer moved a record first.
ATTEMPTS = 8
# How often a transaction whose only failed ops are Planned ones is resolved and committed again; the labels
# of the ops Planned items resolve to start with PLANNED_LABEL.
REPLANS = 8
PLANNED_LABEL = "planned:"

T = TypeVar("T")


def _default_conflict() -> BillowError:
    return ConcurrentUpdateError("the record changed while this request ran; retry the request")


@dataclass
class Op:
    kind: str  # put | update | delete | check
    target: Any  # a model instance (put/update/delete) or (model class, hash key, range key) for check
    condition: Any = None
    actions: list[Any] = field(default_factory=list)
    on_conflict: Callable[[], BillowError] = _default_conflict
    label: str = ""
    # Told once the transaction holding this op committed (e.g. the idempotency record's new state).
    on_commit: Callable[[], None] | None = None

    def apply(self, tw: TransactWrite) -> None:
        if self.kind == "put":
            tw.save(self.target, condition=self.condition)
        elif self.kind == "update":
            tw.update(self.target, actions=self.actions, condition=self.condition)
        elif self.kind == "delete":
            tw.delete(self.target, condition=self.condition)
        elif self.kind == "check":
            model_cls, hash_key, range_key = self.target
            tw.condition_check(model_cls, hash_key, range_key, condition=self.condition)
        else:  # pragma: no cover - programming error
            raise ValueError(self.kind)


@dataclass
class Planned:
    """An item of the transaction whose op is only known at commit, from every item of its kind in the same
    unit of work: the outbox's events (functions/core/outbox.py), whose sequence numbers are allocated from
    one counter read per account. `resolve(values)` turns the values of every Planned item sharing that
    `resolve` into ops. A store or planner returns it beside its Ops; nothing else changes for the caller."""

    value: Any
    resolve: Callable[[list[Any]], list[Op]]
    kind: str = "planned"
    target: Any = None
    label: str = "planned"


def expanded(items: list[Any]) -> list[Op]:
    """The ops of a transaction: its Ops as they are, then each kind of Planned item resolved once."""
    ops = [item for item in items if not isinstance(item, Planned)]
    groups: dict[Any, list[Any]] = {}
    for item in items:
        if isinstance(item, Planned):
            groups.setdefault(item.resolve, []).append(item.value)
    for resolve, values in groups.items():
        ops.extend(resolve(values))
    return ops


def put_if_absent(model: Any, *, label: str, on_conflict: Callable[[], BillowError] = _default_conflict) -> Op:
    """Put `model` only if no item has its key yet, else the transaction fails with `on_conflict`'s error
    (by default ConcurrentUpdateError): "put if absent", for the rows a request creates."""
    hash_key = next(a for a in type(model).get_attributes().values() if a.is_hash_key)
    return Op("put", model, condition=hash_key.does_not_exist(), on_conflict=on_conflict, label=label)


class UnitOfWork:
    """Collects ops and commits them atomically. One instance per business operation."""

    def __init__(self) -> None:
        self.ops: list[Op | Planned] = []

    def add(self, *ops: Op | Planned) -> UnitOfWork:
        self.ops.extend(ops)
        return self

    def commit(self) -> None:
        """Commit every op in one TransactWriteItems. When only ops resolved from Planned items failed (the
        outbox's sequence counter moved: another change of the account committed first), or DynamoDB
        cancelled the transaction for a conflict, the Planned items are resolved again from fresh reads
        and the transaction tried again (REPLANS times): their values never depend on those reads, and
        every other op keeps its own condition."""
        if not self.ops:
            return
        replans = REPLANS if any(isinstance(item, Planned) for item in self.ops) else 1
        for n in range(replans):
            try:
                ops = self._commit_once()
                break
            except _ReplanError as exc:
                if n == replans - 1:
                    raise exc.error from exc
                time.sleep(random.uniform(0, 0.01 * n))  # noqa: S311 - jitter, not a secret
        for op in ops:
            if op.on_commit is not None:
                op.on_commit()

    def _commit_once(self) -> list[Op]:
        ops = expanded(self.ops)  # the outbox reads its counters here: inside the caller's attempt
        if len(ops) > MAX_TRANSACTION_ITEMS:
            raise ValueError(f"{len(ops)} items exceed one transaction's {MAX_TRANSACTION_ITEMS}")
        ordered = sorted(ops, key=lambda op: _KIND_ORDER[op.kind])
        try:
            with TransactWrite(connection=connection()) as tw:
                for op in ordered:
                    op.apply(tw)
        except TransactWriteError as exc:
            reasons = exc.cancellation_reasons or []
            failed = [
                op
                for op, reason in zip(ordered, reasons, strict=False)
                if reason is not None and reason.code == "ConditionalCheckFailed"
            ]
            own = [op for op in failed if not op.label.startswith(PLANNED_LABEL)]
            if own:
                # A failed Idempotency-Key record means a duplicate of this request won the race: that
                # decides the error (replay or 409 in progress), not the records the duplicate changed.
                raise next((op for op in own if op.label == IDEMPOTENCY_LABEL), own[0]).on_conflict() from exc
            if failed:
                raise _ReplanError(failed[0].on_conflict()) from exc
            if aws_error_code(exc) == "TransactionCanceledException":
                # TransactionConflict: another transaction touched the same items; safe to retry.
                raise _ReplanError(_default_conflict()) from exc
            raise
        return ops


class _ReplanError(Exception):
    """Only ops resolved from Planned items failed (or a TransactionConflict): resolve them again."""

    def __init__(self, error: BillowError) -> None:
        super().__init__(str(error))
        self.error = error


def retrying(attempt: Callable[[], T], attempts: int = ATTEMPTS) -> T:
    """Run `attempt` (read, plan, commit) again when another writer moved a record first (a condition
    rejected the commit: ConcurrentUpdateError); from the third try on after a short random pause, so
    racing writers spread out. The last failure is raised."""
    for n in range(attempts):
        try:
            return attempt()
        except ConcurrentUpdateError:
            if n == attempts - 1:
                raise
            if n >= 2:
                time.sleep(random.uniform(0, 0.02 * n))  # noqa: S311 - jitter, not a secret
    raise AssertionError("unreachable")
