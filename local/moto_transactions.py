"""moto's TransactWriteItems, rolled back from a journal instead of whole-table copies.

moto 5.2's `DynamoDBBackend.transact_write_items` deep-copies every table a transaction names before
it applies the writes, and puts the copies back when the transaction is cancelled. The copy costs
time in proportion to everything the table holds, so every transaction gets slower as a test or the
local stack writes more (a test running many cases in one moto measured 0.4 s a case at first, 3 s
after 40 cases; `tests/integration/conftest.recreate_tables` exists because of it). Real DynamoDB's
cost does not grow with the table.

`install()` keeps moto's own method (its checks, conditions, writes, errors and cancellation reasons
are unchanged) and changes only what it saves and how it restores:

- before the call, a journal keeps a deep copy of each item the transaction names (as it was, or
  absent) and the length of each named table's stream shard;
- during the call, moto's copy of a whole `Table` is the table itself (the `copy` module moto's
  backend sees answers `deepcopy(table)` with the same object, on this thread, inside this call only;
  every other deep copy is the real one);
- when the call raises (a cancelled transaction, a validation error), the journal puts each item back
  as it was and cuts the stream shards back to their length, in place.

What a caller sees is what moto gives: the same items and the same stream records after a commit or a
cancel (a cancelled transaction leaves no record; the next record reuses its sequence number, as after
moto's restore). Two differences, both on purpose and both what real DynamoDB does:

- moto replaced the table object on a cancel, so a stream reader holding the old shard could still read
  the cancelled writes' records (local/stream_pump.py documents that bug); here the shard is cut in
  place and never shows them;
- an entry holding two operations (TransactWriteSingleOpException) is raised outside moto's rollback,
  so moto kept the earlier entries' writes; the journal undoes them (DynamoDB refuses the whole
  request).
Tested in tests/integration/test_moto_transactions.py against moto's own behaviour.
"""

from __future__ import annotations

import copy
import threading
from dataclasses import dataclass, field
from typing import Any

_installed = False
_state = threading.local()


class _TableCopiesAreTheTable:
    """Stands for the `copy` module inside `moto.dynamodb.models`: `deepcopy(table)` returns the table
    while this thread is inside a journaled transaction; everything else is the real `copy`."""

    def __init__(self, table_type: type) -> None:
        self._table_type = table_type

    def deepcopy(self, obj: Any, memo: dict[int, Any] | None = None) -> Any:
        if getattr(_state, "journaling", False) and isinstance(obj, self._table_type):
            return obj
        return copy.deepcopy(obj, memo)

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)


@dataclass
class _Journal:
    """Each named item as it was before the transaction, and each named table's stream length."""

    items: list[tuple[Any, Any, Any, Any]] = field(default_factory=list)  # (table, hash, range, item or None)
    streams: list[tuple[list[Any], int]] = field(default_factory=list)  # (shard's record list, its length)

    @classmethod
    def of(cls, backend: Any, transact_items: list[dict[str, Any]]) -> _Journal:
        from moto.dynamodb.models.dynamo_type import DynamoType

        journal = cls()
        seen_tables: set[int] = set()
        for entry in transact_items:
            op = next(iter(entry.values()), None)
            if not isinstance(op, dict):
                continue
            table = backend.tables.get(op.get("TableName"))
            key = op.get("Item") if "Put" in entry else op.get("Key")
            if table is None or not isinstance(key, dict):
                continue
            if id(table) not in seen_tables:
                seen_tables.add(id(table))
                if table.stream_shard is not None:
                    journal.streams.append((table.stream_shard.items, len(table.stream_shard.items)))
            try:
                hash_key = DynamoType(key[table.hash_key_attr])
                range_key = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
                before = copy.deepcopy(_stored(table, hash_key, range_key))
            except Exception:  # noqa: S112 - a key moto refuses (missing, a list, "N": "abc"…): moto writes nothing of it
                continue
            journal.items.append((table, hash_key, range_key, before))
        return journal

    def restore(self) -> None:
        for table, hash_key, range_key, before in reversed(self.items):
            if range_key is None:
                if before is None:
                    table.items.pop(hash_key, None)
                else:
                    table.items[hash_key] = before
            elif before is None:
                table.items.get(hash_key, {}).pop(range_key, None)
            else:
                table.items[hash_key][range_key] = before
        for records, length in self.streams:
            del records[length:]


def _stored(table: Any, hash_key: Any, range_key: Any) -> Any:
    """The item stored under the key, or None; reads without adding a key to moto's defaultdict."""
    if range_key is None:
        return table.items.get(hash_key)
    return table.items.get(hash_key, {}).get(range_key)


def install() -> None:
    """Journal moto's transactions in this process (idempotent)."""
    global _installed
    if _installed:
        return
    import moto.dynamodb.models as backend_module
    from moto.dynamodb.models.table import Table

    original = backend_module.DynamoDBBackend.transact_write_items
    backend_module.copy = _TableCopiesAreTheTable(Table)

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        journal = _Journal.of(self, transact_items)
        _state.journaling = True
        try:
            return original(self, transact_items)
        except BaseException:
            journal.restore()
            raise
        finally:
            _state.journaling = False

    transact_write_items.__doc__ = original.__doc__
    backend_module.DynamoDBBackend.transact_write_items = transact_write_items
    _installed = True
