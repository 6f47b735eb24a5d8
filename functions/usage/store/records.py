"""Usage records: dedupe markers, the aggregates a line (and the usage view) reads, and period seals.

An aggregate per (account, period, service, metric) holds the line's quantity; beside it, the same
quantity per UTC day and per device, so the usage view reads aggregates, never records: its reads do
not grow with the number of records. Aggregates written before v4 also carry their record's price
(`unit_amount`, in a 5th part of the sort key): they are priced at it (docs/usage.md)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from pynamodb.attributes import UnicodeAttribute

from functions.core import clock
from functions.core.db import IntegerAttribute, get_or_none
from functions.core.errors import ConflictError
from functions.core.uow import Op, put_if_absent
from functions.usage.store.base import UsageItem

QUANTITY_SCALE = 10**6
MARKER_TTL_SECONDS = 400 * 24 * 3600
NO_DEVICE = "-"


class DuplicateRecordError(ConflictError):
    """A usage record with this (service, id) was already counted."""

    code = "usage-duplicate"


class PeriodSealedError(ConflictError):
    """The period was invoiced while this batch ran; its records go to the next period."""

    code = "usage-period-sealed"


class LineLimitError(ConflictError):
    """Adding these records would take the aggregate's line past MAX_AMOUNT (another batch filled it)."""

    code = "amount-too-large"


class MarkerModel(UsageItem):
    account_id = UnicodeAttribute()
    period = UnicodeAttribute()
    expires_at = IntegerAttribute()


class AggregateModel(UsageItem):
    service = UnicodeAttribute()
    metric = UnicodeAttribute()
    unit_amount = UnicodeAttribute(null=True)  # only on aggregates written before v4 (priced records)
    day = UnicodeAttribute(null=True)  # DAY# items
    device_id = UnicodeAttribute(null=True)  # DEV# items (NO_DEVICE: records without one)
    quantity = IntegerAttribute(default=0)  # scaled by QUANTITY_SCALE
    records = IntegerAttribute(default=0)


class SealModel(UsageItem):
    sealed_at = UnicodeAttribute()
    invoice_id = UnicodeAttribute(null=True)


@dataclass(frozen=True)
class Aggregate:
    service: str
    metric: str
    quantity_scaled: int
    records: int
    unit_amount: str | None = None  # a pre-v4 aggregate's own price
    day: str | None = None
    device_id: str | None = None

    @property
    def quantity(self) -> Decimal:
        return Decimal(self.quantity_scaled) / QUANTITY_SCALE


def scale(quantity: int | str | Decimal) -> int:
    return int(Decimal(str(quantity)) * QUANTITY_SCALE)


def _marker_pk(service: str, record_id: str) -> str:
    return f"REC#{service}#{record_id}"


def _agg_sk(period: date, service: str, metric: str) -> str:
    return f"AGG#{period.isoformat()}#{service}#{metric}"


def existing_markers(keys: list[tuple[str, str]]) -> set[tuple[str, str]]:
    """Which (service, id) pairs were already counted (BatchGetItem, 100 keys per call)."""
    found: set[tuple[str, str]] = set()
    unique = list(dict.fromkeys(keys))
    for start in range(0, len(unique), 100):
        chunk = [(_marker_pk(s, i), "REC") for s, i in unique[start : start + 100]]
        for m in MarkerModel.batch_get(chunk, consistent_read=True):
            _, service, record_id = m.pk.split("#", 2)
            found.add((service, record_id))
    return found


def put_marker(service: str, record_id: str, account_id: str, period: date) -> Op:
    model = MarkerModel(
        _marker_pk(service, record_id),
        "REC",
        account_id=account_id,
        period=period.isoformat(),
        expires_at=clock.epoch_seconds() + MARKER_TTL_SECONDS,
    )
    already = f"{service}/{record_id} was already counted"
    return put_if_absent(model, on_conflict=lambda: DuplicateRecordError(already), label="marker")


def add_to_aggregate(
    account_id: str, period: date, service: str, metric: str, quantity: int, records: int, limit: int | None = None
) -> Op:
    """ADD to the line's aggregate; with `limit` (the largest scaled quantity whose line stays within the
    amount limit), only while the sum stays within it: the check and the update are one conditional
    write, so concurrent batches cannot push a line over."""
    model = AggregateModel(account_id, _agg_sk(period, service, metric))
    condition = None
    if limit is not None:
        if quantity > limit:
            raise ValueError(f"a quantity of {quantity} alone passes the line's limit {limit}")
        condition = AggregateModel.quantity.does_not_exist() | (AggregateModel.quantity <= limit - quantity)
    actions = [
        AggregateModel.service.set(service),
        AggregateModel.metric.set(metric),
        AggregateModel.quantity.add(quantity),
        AggregateModel.records.add(records),
    ]
    return Op(
        "update",
        model,
        actions=actions,
        condition=condition,
        on_conflict=lambda: LineLimitError(f"the line {service} · {metric} is full"),
        label="aggregate",
    )


def add_to_part(
    account_id: str,
    period: date,
    service: str,
    metric: str,
    *,
    quantity: int,
    records: int,
    day: str | None = None,
    device_id: str | None = None,
) -> Op:
    """ADD to the line's share of one UTC day (`day`) or one device (`device_id`, NO_DEVICE for none)."""
    kind, value = ("DAY", day) if day is not None else ("DEV", device_id)
    assert value is not None
    model = AggregateModel(account_id, f"{kind}#{period.isoformat()}#{service}#{metric}#{value}")
    where = AggregateModel.day.set(value) if kind == "DAY" else AggregateModel.device_id.set(value)
    actions = [
        AggregateModel.service.set(service),
        AggregateModel.metric.set(metric),
        where,
        AggregateModel.quantity.add(quantity),
        AggregateModel.records.add(records),
    ]
    return Op("update", model, actions=actions, label="aggregate-part")


def aggregate_quantity(account_id: str, period: date, service: str, metric: str) -> int:
    """The line's scaled quantity so far (0 when none), strongly consistent."""
    m = get_or_none(AggregateModel, account_id, _agg_sk(period, service, metric), consistent_read=True)
    return 0 if m is None else m.quantity or 0


def not_sealed(account_id: str, period: date) -> Op:
    return Op(
        "check",
        (SealModel, account_id, f"SEAL#{period.isoformat()}"),
        condition=SealModel.pk.does_not_exist(),
        on_conflict=lambda: PeriodSealedError(f"usage period {period} is closed"),
        label="seal-check",
    )


def seal(account_id: str, period: date, invoice_id: str) -> Op:
    """Close a period to usage; part of the transaction that posts its Recurring invoice."""
    model = SealModel(account_id, f"SEAL#{period.isoformat()}", sealed_at=clock.iso(clock.now()), invoice_id=invoice_id)
    already = f"usage period {period} is already sealed"
    return put_if_absent(model, on_conflict=lambda: PeriodSealedError(already), label="seal")


def is_sealed(account_id: str, period: date) -> bool:
    return get_or_none(SealModel, account_id, f"SEAL#{period.isoformat()}", consistent_read=True) is not None


def _aggregates(account_id: str, prefix: str) -> list[Aggregate]:
    result = AggregateModel.query(account_id, AggregateModel.sk.startswith(prefix), consistent_read=True)
    return [
        Aggregate(m.service, m.metric, m.quantity or 0, m.records or 0, m.unit_amount, m.day, m.device_id)
        for m in result
    ]


def aggregates(account_id: str, period: date) -> list[Aggregate]:
    """The period's lines so far: one Query, one item per (service, metric)."""
    return _aggregates(account_id, f"AGG#{period.isoformat()}#")


def parts(account_id: str, period: date, by: str) -> list[Aggregate]:
    """The period's quantities per UTC day (`by="day"`) or per device (`by="device"`): one Query."""
    return _aggregates(account_id, f"{'DAY' if by == 'day' else 'DEV'}#{period.isoformat()}#")
