"""Usage records: validated one by one, deduplicated on (service, id), summed into their aggregate per
(account, period, service, metric, unit price) in the same transaction as their dedupe markers.

A record belongs to the billing period that contains `occurred_at`; when that period was already
invoiced (sealed), it goes to the next open one. The monthly run prices each aggregate once:
round_half_up(Σ quantity * unit price).

Amount limits (DESIGN §3 v4): a record's quantity is at most MAX_QUANTITY (else `quantity-too-large`),
and a record is rejected `amount-too-large` only when its aggregate's line would pass MAX_AMOUNT; the
aggregate's update is conditional on the line staying within it, so concurrent batches cannot push a
line over."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, date, timedelta
from decimal import Decimal

from pydantic import ValidationError

from functions.accounts.service import CAPABILITY_RULES, AccountRecord, get_account, next_recurring_date
from functions.core import clock
from functions.core.errors import ConflictError, NotFoundError
from functions.core.ids import is_id
from functions.core.ledger import Line
from functions.core.money import MAX_AMOUNT, round_half_up
from functions.core.uow import Op, UnitOfWork
from functions.usage import schemas, store
from functions.usage.store import Aggregate, DuplicateRecordError, LineLimitError, PeriodSealedError

# Markers per transaction: each record is one item, plus the aggregate and the seal check.
MAX_RECORDS_PER_TRANSACTION = 90
# How far in the future a record's time may be (clock skew between services).
FUTURE_TOLERANCE = timedelta(minutes=5)
# The largest quantity one record may carry (DESIGN §3 v4 Amount limits).
MAX_QUANTITY = 10**12
_ATTEMPTS = 6
# Per-record reasons that are codes (docs/usage.md lists every reason).
QUANTITY_TOO_LARGE = "quantity-too-large"
AMOUNT_TOO_LARGE = "amount-too-large"


def cycle_start(billing_day: int, day: date) -> date:
    """The start of the billing period containing `day`: the last `billing_day` on or before it."""
    if day.day >= billing_day:
        return day.replace(day=billing_day)
    year, month = (day.year - 1, 12) if day.month == 1 else (day.year, day.month - 1)
    return date(year, month, billing_day)


class _Periods:
    """The open period for a record, reading each (account, period) seal once per batch."""

    def __init__(self) -> None:
        self._sealed: dict[tuple[str, date], bool] = {}

    def forget(self, account_id: str, period: date) -> None:
        self._sealed.pop((account_id, period), None)

    def open_period(self, account: AccountRecord, occurred: date) -> date:
        period = cycle_start(account.billing_day, occurred)
        for _ in range(24):  # a record is never more than two years late
            key = (account.id, period)
            if key not in self._sealed:
                self._sealed[key] = store.is_sealed(account.id, period)
            if not self._sealed[key]:
                return period
            period = next_recurring_date(account.billing_day, period)
        raise PeriodSealedError("every period up to two years later is closed")


def _reject(index: int, record_id: object, reason: str) -> schemas.RecordResult:
    return schemas.RecordResult(
        index=index, id=record_id if isinstance(record_id, str) else None, status="rejected", reason=reason
    )


def record_usage(raw_records: list[dict]) -> schemas.UsageResult:
    """Count a batch of up to 500 records; answer per record (accepted, duplicate, rejected with why)."""
    results: dict[int, schemas.RecordResult] = {}
    valid: list[tuple[int, schemas.UsageRecord, AccountRecord]] = []
    accounts: dict[str, AccountRecord | None] = {}
    now = clock.now()
    for index, raw in enumerate(raw_records):
        try:
            # JSON mode + strict: integers stay integers (a float quantity is refused), times parse from text.
            record = schemas.UsageRecord.model_validate_json(json.dumps(raw), strict=True)
        except (ValidationError, TypeError, ValueError) as exc:
            reason = (
                "; ".join(f"{'.'.join(map(str, e['loc'])) or 'record'}: {e['msg']}" for e in exc.errors())
                if isinstance(exc, ValidationError)
                else "not a JSON object"
            )
            results[index] = _reject(index, raw.get("id") if isinstance(raw, dict) else None, reason)
            continue
        if record.account_id not in accounts:
            accounts[record.account_id] = _billable_account(record.account_id)
        account = accounts[record.account_id]
        occurred = record.occurred_at if record.occurred_at.tzinfo else record.occurred_at.replace(tzinfo=UTC)
        if account is None:
            results[index] = _reject(index, record.id, "unknown account, or one without usage billing")
        elif store.scale(record.quantity) > MAX_QUANTITY * store.QUANTITY_SCALE:
            results[index] = _reject(index, record.id, QUANTITY_TOO_LARGE)
        elif occurred > now + FUTURE_TOLERANCE:
            results[index] = _reject(index, record.id, "occurred_at is in the future")
        else:
            valid.append((index, record.model_copy(update={"occurred_at": occurred}), account))

    seen: set[tuple[str, str]] = set()
    already = store.existing_markers([(r.service, r.id) for _, r, _ in valid])
    fresh = []
    for index, record, account in valid:
        key = (record.service, record.id)
        if key in already or key in seen:
            results[index] = schemas.RecordResult(index=index, id=record.id, status="duplicate")
        else:
            seen.add(key)
            fresh.append((index, record, account))

    periods = _Periods()
    groups: dict[tuple[str, date, str, str, str], list[tuple[int, schemas.UsageRecord]]] = defaultdict(list)
    for index, record, account in fresh:
        period = periods.open_period(account, record.occurred_at.date())
        groups[(account.id, period, record.service, record.metric, record.unit_amount_decimal)].append((index, record))
    for key, members in groups.items():
        for start in range(0, len(members), MAX_RECORDS_PER_TRANSACTION):
            chunk = members[start : start + MAX_RECORDS_PER_TRANSACTION]
            _commit_chunk(key, chunk, accounts, periods, results)

    ordered = [results[i] for i in range(len(raw_records))]
    return schemas.UsageResult(
        accepted=sum(r.status == "accepted" for r in ordered),
        duplicates=sum(r.status == "duplicate" for r in ordered),
        rejected=sum(r.status == "rejected" for r in ordered),
        results=ordered,
    )


def _fit(
    chunk: list[tuple[int, schemas.UsageRecord]], base: int, limit: int
) -> tuple[list[tuple[int, schemas.UsageRecord]], list[tuple[int, schemas.UsageRecord]]]:
    """The records that fit in a line already holding `base` (scaled), in order, and those that would
    take it past `limit`: each is rejected only when, with the line as it stands and the records
    accepted before it, its line would pass MAX_AMOUNT."""
    fits, over = [], []
    for index, record in chunk:
        quantity = store.scale(record.quantity)
        if base + quantity <= limit:
            fits.append((index, record))
            base += quantity
        else:
            over.append((index, record))
    return fits, over


def _commit_chunk(
    key: tuple[str, date, str, str, str],
    chunk: list[tuple[int, schemas.UsageRecord]],
    accounts: dict[str, AccountRecord | None],
    periods: _Periods,
    results: dict[int, schemas.RecordResult],
) -> None:
    account_id, period, service, metric, unit = key
    limit = store.max_line_quantity(unit)
    base: int | None = None  # the aggregate's quantity as last read; None: not read, try optimistically
    for _ in range(_ATTEMPTS):
        if not chunk:
            return
        fits, over = chunk, []
        if limit is not None:
            if base is None and sum(store.scale(r.quantity) for _, r in chunk) > limit:
                base = store.aggregate_quantity(account_id, period, service, metric, unit)
            if base is not None:
                fits, over = _fit(chunk, base, limit)
        try:
            _chunk_write(key, period, fits, limit).commit()
        except DuplicateRecordError:
            # Another batch counted some of these first: mark them duplicate and count the rest.
            chunk = _without_duplicates(chunk, fits, results)
            continue
        except LineLimitError:
            # Another batch added to this line since it was read (or it was never read): read it again.
            base = store.aggregate_quantity(account_id, period, service, metric, unit)
            continue
        except PeriodSealedError:
            # The run closed the period meanwhile: the records go to the next open one.
            periods.forget(account_id, period)
            account = accounts[account_id]
            assert account is not None
            period = periods.open_period(account, period)
            base = None
            continue
        for index, record in fits:
            results[index] = schemas.RecordResult(
                index=index, id=record.id, status="accepted", period_start=period.isoformat()
            )
        for index, record in over:
            results[index] = _reject(index, record.id, AMOUNT_TOO_LARGE)
        return
    for index, record in chunk:
        results[index] = _reject(index, record.id, "too much contention on this aggregate; send it again")


def _chunk_write(
    key: tuple[str, date, str, str, str], period: date, fits: list[tuple[int, schemas.UsageRecord]], limit: int | None
) -> UnitOfWork:
    """One transaction: the period still open, a marker per record, their sum added to the aggregate."""
    account_id, _, service, metric, unit = key
    uow = UnitOfWork()
    if fits:
        uow.add(store.not_sealed(account_id, period))
        for _, record in fits:
            uow.add(store.put_marker(record.service, record.id, account_id, period))
        quantity = sum(store.scale(r.quantity) for _, r in fits)
        uow.add(store.add_to_aggregate(account_id, period, service, metric, unit, quantity, len(fits), limit))
    return uow


def _without_duplicates(
    chunk: list[tuple[int, schemas.UsageRecord]],
    fits: list[tuple[int, schemas.UsageRecord]],
    results: dict[int, schemas.RecordResult],
) -> list[tuple[int, schemas.UsageRecord]]:
    """The records of `chunk` not counted yet; those of `fits` another batch counted are marked duplicate."""
    taken = store.existing_markers([(r.service, r.id) for _, r in fits])
    for index, record in fits:
        if (record.service, record.id) in taken:
            results[index] = schemas.RecordResult(index=index, id=record.id, status="duplicate")
    return [(i, r) for i, r in chunk if (r.service, r.id) not in taken]


def _billable_account(account_id: str) -> AccountRecord | None:
    if not is_id(account_id, "acct"):
        return None
    try:
        account = get_account(account_id)
    except NotFoundError:
        return None
    return account if CAPABILITY_RULES["usage"](account) else None


def price(aggregate: Aggregate) -> int:
    """A line's amount: round_half_up(Σ quantity * unit price), in minor units."""
    return round_half_up(aggregate.quantity * Decimal(aggregate.unit_amount))


# An aggregate priced above MAX_AMOUNT (only one counted before the limit was enforced at ingestion)
# is invoiced as at most this many lines, each within the limit; more needs an operator.
MAX_LINE_PARTS = 100


class UsageOverLimitError(ConflictError):
    """A usage aggregate far above the amount limit (counted before it was enforced): not invoiceable
    as it stands; an operator settles it (the preview answers 409, the run's message goes to the DLQ)."""

    code = "usage-over-limit"


def _line_parts(agg: Aggregate, amount: int) -> list[tuple[str, int]]:
    """(quantity, amount) of the lines of one aggregate: one line, or — for an aggregate whose line would
    pass MAX_AMOUNT — n lines, amounts and quantities shared as evenly as they divide, each within it."""
    if amount <= MAX_AMOUNT:
        return [(format(agg.quantity.normalize(), "f"), amount)]
    n = -(-amount // MAX_AMOUNT)
    if n > MAX_LINE_PARTS:
        raise UsageOverLimitError(
            f"usage {agg.service} · {agg.metric} comes to {amount}, more than {MAX_LINE_PARTS} lines of {MAX_AMOUNT}"
        )
    amounts = [amount // n + (i < amount % n) for i in range(n)]
    scaled = [agg.quantity_scaled // n + (i < agg.quantity_scaled % n) for i in range(n)]
    return [
        (format((Decimal(q) / store.QUANTITY_SCALE).normalize(), "f"), a) for q, a in zip(scaled, amounts, strict=True)
    ]


def usage_lines(account_id: str, period_start: date, period_end: date) -> list[Line]:
    """The usage of [period_start, period_end), one line per (service, metric, unit price), in arrears.
    No line is above MAX_AMOUNT: ingestion keeps every aggregate within it; one counted before that is
    shown and invoiced as several lines (part i of n)."""
    lines = []
    for agg in store.aggregates(account_id, period_start):
        amount = price(agg)
        if amount <= 0:
            continue
        parts = _line_parts(agg, amount)
        for n, (quantity, part_amount) in enumerate(parts, 1):
            suffix = f" (part {n} of {len(parts)})" if len(parts) > 1 else ""
            lines.append(
                Line(
                    f"{agg.service} · {agg.metric}{suffix}",
                    part_amount,
                    period_start,
                    period_end,
                    quantity=quantity,
                    unit_amount=agg.unit_amount,
                    group=f"Service: {agg.service}",
                )
            )
    return lines


def usage_total(account_id: str, period_start: date) -> int:
    """What the usage of the period starting `period_start` comes to so far (one Query)."""
    return sum(price(agg) for agg in store.aggregates(account_id, period_start))


def seal_period(account_id: str, period_start: date, invoice_id: str) -> Op:
    """The op that closes a period to usage, for the transaction that invoices it."""
    return store.seal(account_id, period_start, invoice_id)
