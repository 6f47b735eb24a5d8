"""Count DynamoDB calls and items read, per operation type, whatever client made them (boto3 or
PynamoDB): a wrapper around botocore's BaseClient._make_api_call, the point every call passes."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from botocore.client import BaseClient


@dataclass
class Counts:
    calls: Counter = field(default_factory=Counter)
    items_read: int = 0
    items_written: int = 0
    other: Counter = field(default_factory=Counter)  # (service, operation) of every non-DynamoDB AWS call
    write_units: int = 0  # DynamoDB write request units, 1 KB items: a transactional write counts 2
    # read requests per kind of row: "<table>:<sort key up to its first #>" for each key a GetItem or
    # BatchGetItem asks for (found or not), "<table>[.<index>]:Query" for each Query
    reads: Counter = field(default_factory=Counter)

    @property
    def total(self) -> int:
        return sum(self.calls.values())

    def describe(self) -> str:
        ops = ", ".join(f"{op} {n}" for op, n in sorted(self.calls.items()))
        return f"{self.total} calls ({ops}); {self.items_read} items read, {self.items_written} written"

    def describe_reads(self) -> str:
        return ", ".join(f"{kind} {n}" for kind, n in sorted(self.reads.items())) or "none"


def _items_read(operation: str, response: dict[str, Any]) -> int:
    if operation == "GetItem":
        return 1 if "Item" in response else 0
    if operation in ("Query", "Scan"):
        # what DynamoDB read (and bills), before any filter expression dropped items
        return int(response.get("ScannedCount", response.get("Count", 0)))
    if operation == "BatchGetItem":
        return sum(len(v) for v in response.get("Responses", {}).values())
    return 0


def _table(name: str) -> str:
    """The table's spec name (functions/core/tables.py) from its physical name (stage prefix dropped)."""
    from functions.core.tables import TABLES

    return next((t for t in sorted(TABLES, key=len, reverse=True) if name.endswith(t)), name)


def _kind(table: str, key: dict[str, Any]) -> str:
    sk = key.get("sk", {}).get("S") if "sk" in key else None
    return f"{_table(table)}:{sk.split('#')[0]}" if sk else _table(table)


def _reads(operation: str, params: dict[str, Any]) -> list[str]:
    if operation == "GetItem":
        return [_kind(params["TableName"], params["Key"])]
    if operation == "BatchGetItem":
        return [_kind(t, k) for t, req in params.get("RequestItems", {}).items() for k in req.get("Keys", [])]
    if operation in ("Query", "Scan"):
        index = f".{params['IndexName']}" if params.get("IndexName") else ""
        return [f"{_table(params['TableName'])}{index}:{operation}"]
    return []


def _items_written(operation: str, params: dict[str, Any]) -> int:
    if operation == "TransactWriteItems":
        return sum(1 for item in params.get("TransactItems", []) if "ConditionCheck" not in item)
    if operation == "BatchWriteItem":
        return sum(len(v) for v in params.get("RequestItems", {}).values())
    if operation in ("PutItem", "UpdateItem", "DeleteItem"):
        return 1
    return 0


@contextmanager
def counting() -> Iterator[Counts]:
    counts = Counts()
    original = BaseClient._make_api_call

    def counted(self: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        response = original(self, operation, params)
        service = self.meta.service_model.service_name
        if service == "dynamodb":
            counts.calls[operation] += 1
            counts.items_read += _items_read(operation, response)
            counts.reads.update(_reads(operation, params))
            written = _items_written(operation, params)
            counts.items_written += written
            counts.write_units += written * (2 if operation == "TransactWriteItems" else 1)
        else:
            counts.other[(service, operation)] += 1
        return response

    BaseClient._make_api_call = counted  # type: ignore[method-assign]
    try:
        yield counts
    finally:
        BaseClient._make_api_call = original  # type: ignore[method-assign]
