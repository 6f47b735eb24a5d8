"""Usage table:

    pk = REC#<service>#<record id>   sk = REC                     dedupe marker (expires after 400 days)
    pk = <account>                   sk = AGG#<period>#<service>#<metric>#<unit price>   aggregate
    pk = <account>                   sk = SEAL#<period>           the period was invoiced: closed to usage

Quantities are stored as integers scaled by 10^6 (QUANTITY_SCALE), never floats; aggregates grow by ADD.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from fractions import Fraction

from pynamodb.attributes import UnicodeAttribute
from pynamodb.models import Model

from functions.core import clock
from functions.core.db import IntegerAttribute, get_or_none, meta
from functions.core.errors import ConflictError
from functions.core.money import MAX_AMOUNT
from functions.core.uow import Op, put_if_absent

QUANTITY_SCALE = 10**6
MARKER_TTL_SECONDS = 400 * 24 * 3600


class DuplicateRecordError(ConflictError):
    """A usage record with this (service, id) was already counted."""

    code = "usage-duplicate"


class PeriodSealedError(ConflictError):
    """The period was invoiced while this batch ran; its records go to the next period."""

    code = "usage-period-sealed"


class LineLimitError(ConflictError):
    """Adding these records would take the aggregate's line past MAX_AMOUNT (another batch filled it)."""

    code = "amount-too-large"


class _Usage(Model):
    Meta = meta("usage")
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)


class MarkerModel(_Usage):
    account_id = UnicodeAttribute()
    period = UnicodeAttribute()
    expires_at = IntegerAttribute()


class AggregateModel(_Usage):
    service = UnicodeAttribute()
    metric = UnicodeAttribute()
    unit_amount = UnicodeAttribute()
    quantity = IntegerAttribute(default=0)  # scaled by QUANTITY_SCALE
    records = IntegerAttribute(default=0)


class SealModel(_Usage):
    sealed_at = UnicodeAttribute()
    invoice_id = UnicodeAttribute(null=True)


@dataclass(frozen=True)
class Aggregate:
    service: str
    metric: str
    unit_amount: str
    quantity_scaled: int
    records: int

    @property
    def quantity(self) -> Decimal:
        return Decimal(self.quantity_scaled) / QUANTITY_SCALE


def scale(quantity: int | str) -> int:
    return int(Decimal(str(quantity)) * QUANTITY_SCALE)


def max_line_quantity(unit_amount: str) -> int | None:
    """The largest scaled quantity whose line, round_half_up(quantity * unit price), stays within
    MAX_AMOUNT; None for a price of 0 (no amount to limit). Exact: fractions, never floats.
    round_half_up(x) <= MAX  <=>  x < MAX + 1/2  <=>  s * P * 2 < (2 * MAX + 1) * SCALE."""
    price = Fraction(Decimal(unit_amount))
    if price == 0:
        return None
    bound = (2 * MAX_AMOUNT + 1) * QUANTITY_SCALE * price.denominator
    return (bound - 1) // (2 * price.numerator)


def _marker_pk(service: str, record_id: str) -> str:
    return f"REC#{service}#{record_id}"


def _agg_sk(period: date, service: str, metric: str, unit_amount: str) -> str:
    return f"AGG#{period.isoformat()}#{service}#{metric}#{unit_amount}"


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
    account_id: str,
    period: date,
    service: str,
    metric: str,
    unit_amount: str,
    quantity: int,
    records: int,
    limit: int | None = None,
) -> Op:
    """ADD to the aggregate; with `limit` (max_line_quantity), only while the sum stays within it: the
    check and the update are one conditional write, so concurrent batches cannot push a line over."""
    model = AggregateModel(account_id, _agg_sk(period, service, metric, unit_amount))
    condition = None
    if limit is not None:
        if quantity > limit:
            raise ValueError(f"a quantity of {quantity} alone passes the line's limit {limit}")
        condition = AggregateModel.quantity.does_not_exist() | (AggregateModel.quantity <= limit - quantity)
    actions = [
        AggregateModel.service.set(service),
        AggregateModel.metric.set(metric),
        AggregateModel.unit_amount.set(unit_amount),
        AggregateModel.quantity.add(quantity),
        AggregateModel.records.add(records),
    ]
    return Op(
        "update",
        model,
        actions=actions,
        condition=condition,
        on_conflict=lambda: LineLimitError(f"the line {service} · {metric} at {unit_amount} is full"),
        label="aggregate",
    )


def aggregate_quantity(account_id: str, period: date, service: str, metric: str, unit_amount: str) -> int:
    """The aggregate's scaled quantity so far (0 when none), strongly consistent."""
    m = get_or_none(AggregateModel, account_id, _agg_sk(period, service, metric, unit_amount), consistent_read=True)
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


def aggregates(account_id: str, period: date) -> list[Aggregate]:
    result = AggregateModel.query(
        account_id, AggregateModel.sk.startswith(f"AGG#{period.isoformat()}#"), consistent_read=True
    )
    return [Aggregate(m.service, m.metric, m.unit_amount, m.quantity, m.records) for m in result]
