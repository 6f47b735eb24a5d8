"""Counting the accepted records of one line (account, period, service, metric): in chunks of one
TransactWriteItems each — the period still open, a marker per record, their sum added to the line's
aggregate (conditional on the line staying within the amount limit) and to its day and device shares."""

from __future__ import annotations

from collections import defaultdict
from datetime import date

from functions.core.uow import UnitOfWork
from functions.usage import schemas
from functions.usage.batch import UNKNOWN_METRIC, Accepted, Batch, reject
from functions.usage.store import records as store
from functions.usage.store.records import DuplicateRecordError, LineLimitError, PeriodSealedError

_ATTEMPTS = 6
AMOUNT_TOO_LARGE = "amount-too-large"
CONTENTION = "contention-send-again"
# DynamoDB's limit on the items of one transaction.
TRANSACTION_ITEMS = 100


def chunks(members: list[Accepted]) -> list[list[Accepted]]:
    """The records in order, cut so that each chunk's transaction stays within TRANSACTION_ITEMS: the seal
    check and the aggregate, a marker per record, one share per distinct day and per distinct device."""
    out: list[list[Accepted]] = []
    chunk: list[Accepted] = []
    days: set[date] = set()
    devices: set[str] = set()
    for a in members:
        items = 2 + len(chunk) + 1 + len(days | {a.day}) + len(devices | {a.device})
        if chunk and items > TRANSACTION_ITEMS:
            out.append(chunk)
            chunk, days, devices = [], set(), set()
        chunk.append(a)
        days.add(a.day)
        devices.add(a.device)
    if chunk:
        out.append(chunk)
    return out


def count_group(
    key: tuple[str, date, str, str], members: list[Accepted], batch: Batch, results: dict[int, schemas.RecordResult]
) -> None:
    for chunk in chunks(members):
        _count_chunk(key, chunk, batch, results)


def _fit(chunk: list[Accepted], base: int, limit: int) -> tuple[list[Accepted], list[Accepted]]:
    """The records that fit in a line already holding `base` (scaled), in order, and those that would
    take it past `limit`: each is rejected only when, with the line as it stands and the records
    accepted before it, its line would pass MAX_AMOUNT."""
    fits, over = [], []
    for a in chunk:
        if base + a.scaled <= limit:
            fits.append(a)
            base += a.scaled
        else:
            over.append(a)
    return fits, over


def _count_chunk(
    key: tuple[str, date, str, str], chunk: list[Accepted], batch: Batch, results: dict[int, schemas.RecordResult]
) -> None:
    account_id, period, service, metric = key
    account = chunk[0].account
    rate = batch.rate(account, service, metric, period)
    base: int | None = None  # the aggregate's quantity as last read; None: not read, try optimistically
    for _ in range(_ATTEMPTS):
        if not chunk:
            return
        if rate is None:  # the period moved on to one no rate covers
            for a in chunk:
                results[a.index] = reject(a.index, a.record.id, UNKNOWN_METRIC)
            return
        limit = batch.limit(rate)
        fits, over = chunk, []
        if limit is not None:
            if base is None and sum(a.scaled for a in chunk) > limit:
                base = store.aggregate_quantity(account_id, period, service, metric)
            if base is not None:
                fits, over = _fit(chunk, base, limit)
        try:
            _write(account_id, period, service, metric, fits, limit).commit()
        except DuplicateRecordError:
            # Another batch counted some of these first: mark them duplicate and count the rest.
            chunk = _without_duplicates(chunk, fits, results)
            continue
        except LineLimitError:
            # Another batch added to this line since it was read (or it was never read): read it again.
            base = store.aggregate_quantity(account_id, period, service, metric)
            continue
        except PeriodSealedError:
            # The run closed the period meanwhile: the records go to the next open one, at its rate.
            batch.periods.forget(account_id, period)
            period = batch.periods.open_period(account, period)
            rate, base = batch.rate(account, service, metric, period), None
            continue
        for a in fits:
            results[a.index] = schemas.RecordResult(
                index=a.index, id=a.record.id, status="accepted", period_start=period.isoformat()
            )
        for a in over:
            results[a.index] = reject(a.index, a.record.id, AMOUNT_TOO_LARGE)
        return
    for a in chunk:
        results[a.index] = reject(a.index, a.record.id, CONTENTION)


def _write(
    account_id: str, period: date, service: str, metric: str, fits: list[Accepted], limit: int | None
) -> UnitOfWork:
    """One transaction: the period still open, a marker per record, their sum added to the line and to
    its day and device shares."""
    uow = UnitOfWork()
    if not fits:
        return uow
    uow.add(store.not_sealed(account_id, period))
    for a in fits:
        uow.add(store.put_marker(service, a.record.id, account_id, period))
    quantity = sum(a.scaled for a in fits)
    uow.add(store.add_to_aggregate(account_id, period, service, metric, quantity, len(fits), limit))
    by_day: dict[date, list[int]] = defaultdict(list)
    by_device: dict[str, list[int]] = defaultdict(list)
    for a in fits:
        by_day[a.day].append(a.scaled)
        by_device[a.device].append(a.scaled)
    for day, qs in by_day.items():
        uow.add(
            store.add_to_part(
                account_id, period, service, metric, quantity=sum(qs), records=len(qs), day=day.isoformat()
            )
        )
    for device, qs in by_device.items():
        uow.add(
            store.add_to_part(account_id, period, service, metric, quantity=sum(qs), records=len(qs), device_id=device)
        )
    return uow


def _without_duplicates(
    chunk: list[Accepted], fits: list[Accepted], results: dict[int, schemas.RecordResult]
) -> list[Accepted]:
    """The records of `chunk` not counted yet; those of `fits` another batch counted are marked duplicate."""
    taken = store.existing_markers([(a.record.service, a.record.id) for a in fits])
    for a in fits:
        if (a.record.service, a.record.id) in taken:
            results[a.index] = schemas.RecordResult(index=a.index, id=a.record.id, status="duplicate")
    return [a for a in chunk if (a.record.service, a.record.id) not in taken]
