"""PynamoDB base: integer attribute, Meta built from the table spec, table creation, connections."""

from __future__ import annotations

from typing import Any, TypeVar

from botocore.exceptions import ClientError
from pynamodb.attributes import NumberAttribute
from pynamodb.connection import Connection
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model

from functions.core import aws_sessions  # botocore sessions share one loader, PynamoDB one client per thread
from functions.core.settings import get_settings
from functions.core.tables import TABLES, table_name

M = TypeVar("M", bound=Model)


def aws_error_code(exc: Exception) -> str | None:
    """The AWS error code behind a PynamoDB exception, or None when DynamoDB never answered (a timeout,
    a lost connection): PynamoDB's own `cause_response_code` raises AttributeError then."""
    cause = getattr(exc, "cause", None)
    return cause.response.get("Error", {}).get("Code") if isinstance(cause, ClientError) else None


class IntegerAttribute(NumberAttribute):
    """A number that is always an int: money and counters never become floats on the way in or out."""

    def serialize(self, value: Any) -> str:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"IntegerAttribute takes int, got {type(value).__name__}")
        return str(value)

    def deserialize(self, value: str) -> int:
        return int(value)


def meta(name: str) -> type:
    """A PynamoDB Meta for the spec'd table `name` (names and region from settings)."""
    settings = get_settings()
    attrs = {"table_name": table_name(name), "region": settings.region, "max_retry_attempts": 3, "spec_name": name}
    return type("Meta", (), attrs)


def index_meta(table: str, index: str) -> type:
    """Meta for a GlobalSecondaryIndex declared in the table spec."""
    spec = next(i for i in TABLES[table].indexes if i.name == index)
    projection = AllProjection() if spec.projection == "ALL" else KeysOnlyProjection()
    return type("Meta", (), {"index_name": spec.name, "projection": projection})


class SpecIndex(GlobalSecondaryIndex):
    """Base for indexes; subclasses set Meta = index_meta(...)."""


_connection: Connection | None = None


def connection() -> Connection:
    """The shared low-level connection used for transactions (created on first use)."""
    global _connection
    if _connection is None:
        _connection = Connection(region=get_settings().region)
    return _connection


def reset_connections() -> None:
    """Drop cached clients (tests start a fresh moto per test)."""
    global _connection
    _connection = None
    aws_sessions.forget_clients()
    for cls in _all_subclasses(Model):
        cls._connection = None


def retarget_tables() -> None:
    """Point every model at its table as the current settings name it (the `billow --stage` CLI picks a
    deployed stack's table prefix after the models were defined), and drop cached clients."""
    for cls in _all_subclasses(Model):
        model_meta = getattr(cls, "Meta", None)
        if getattr(model_meta, "spec_name", None):
            model_meta.table_name = table_name(model_meta.spec_name)  # type: ignore[union-attr]
            model_meta.region = get_settings().region  # type: ignore[union-attr]
    reset_connections()


def _all_subclasses(cls: type) -> list[type]:
    out = []
    for sub in cls.__subclasses__():
        out.append(sub)
        out.extend(_all_subclasses(sub))
    return out


def table_definition(name: str) -> dict[str, Any]:
    """The CreateTable request for a spec'd table (on-demand billing)."""
    spec = TABLES[name]
    attrs = {spec.hash_key} | ({spec.range_key} if spec.range_key else set())
    keys = [{"AttributeName": spec.hash_key, "KeyType": "HASH"}]
    if spec.range_key:
        keys.append({"AttributeName": spec.range_key, "KeyType": "RANGE"})
    request: dict[str, Any] = {
        "TableName": table_name(name),
        "KeySchema": keys,
        "BillingMode": "PAY_PER_REQUEST",
    }
    gsis = []
    for index in spec.indexes:
        attrs |= {index.hash_key} | ({index.range_key} if index.range_key else set())
        schema = [{"AttributeName": index.hash_key, "KeyType": "HASH"}]
        if index.range_key:
            schema.append({"AttributeName": index.range_key, "KeyType": "RANGE"})
        gsis.append({"IndexName": index.name, "KeySchema": schema, "Projection": {"ProjectionType": index.projection}})
    if gsis:
        request["GlobalSecondaryIndexes"] = gsis
    if spec.stream:
        request["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": spec.stream}
    request["AttributeDefinitions"] = [{"AttributeName": a, "AttributeType": "S"} for a in sorted(attrs)]
    return request


def create_tables(client: Any) -> list[str]:
    """Create every spec'd table that does not exist yet (and its TTL); returns the names created."""
    existing = set(client.list_tables().get("TableNames", []))
    created = []
    for name, spec in TABLES.items():
        physical = table_name(name)
        if physical in existing:
            continue
        client.create_table(**table_definition(name))
        if spec.ttl_attribute:
            client.update_time_to_live(
                TableName=physical, TimeToLiveSpecification={"Enabled": True, "AttributeName": spec.ttl_attribute}
            )
        created.append(physical)
    return created


def one_page(result: Any, model: type) -> tuple[list[Any], dict[str, Any] | None]:
    """Exactly one DynamoDB Query/Scan page of a PynamoDB result (its `page_size` is the Limit).

    PynamoDB's iterator keeps fetching pages until `limit` items *pass the filter*; a list route must
    instead read a bounded number of items whatever the history, and may answer a shorter page."""
    try:
        page = next(result.page_iter)
    except StopIteration:
        return [], None
    return [model.from_raw_data(item) for item in page.get("Items", [])], result.page_iter.last_evaluated_key


def get_or_none(
    model: type[M], hash_key: str, range_key: str | None = None, *, consistent_read: bool = False
) -> M | None:
    """The item at these keys, or None when there is none (GetItem)."""
    try:
        return model.get(hash_key, range_key, consistent_read=consistent_read)
    except model.DoesNotExist:
        return None
