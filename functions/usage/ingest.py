"""Usage records (POST /v1/usage): validated one by one, deduplicated on (service, id), summed into their
line's aggregate per (account, period, service, metric) — and its shares per UTC day and per device —
in the same transaction as their dedupe markers. Records carry no price (DESIGN §3 v4).

A record belongs to the billing period that contains `occurred_at` in UTC; when that period was already
invoiced (sealed), it goes to the next open one. It is rejected, per record, with a stable `reason`:
a price in it (`price-not-accepted`), no rate for its (service, metric) at its period's start
(`unknown-metric`), a closing or closed account (`account-closed`), a device not of the account
(`device-not-found`), a time before the account's first period (`before-account-start`), a quantity
above 10^12 (`quantity-too-large`), or a line that would pass MAX_AMOUNT (`amount-too-large`; the
aggregate's update is conditional on the line staying within it, so concurrent batches cannot push a
line over). docs/usage.md lists every reason."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, date, timedelta

from pydantic import ValidationError

from functions.accounts.service import AccountRecord
from functions.usage import schemas
from functions.usage.batch import UNKNOWN_METRIC, Accepted, Batch, reject
from functions.usage.counting import count_group
from functions.usage.periods import first_period_start
from functions.usage.store import records as store

# How far in the future a record's time may be (clock skew between services).
FUTURE_TOLERANCE = timedelta(minutes=5)
# The largest quantity one record may carry (DESIGN §3 v4 Amount limits).
MAX_QUANTITY = 10**12
# Per-record reasons (docs/usage.md lists every one).
QUANTITY_TOO_LARGE = "quantity-too-large"
PRICE_NOT_ACCEPTED = "price-not-accepted"
ACCOUNT_CLOSED = "account-closed"
DEVICE_NOT_FOUND = "device-not-found"
BEFORE_ACCOUNT_START = "before-account-start"
UNKNOWN_ACCOUNT = "unknown-account"
IN_THE_FUTURE = "occurred-in-the-future"


def _parse(index: int, raw: object) -> schemas.UsageRecord | schemas.RecordResult:
    if isinstance(raw, dict) and "unit_amount_decimal" in raw:
        return reject(index, raw.get("id"), PRICE_NOT_ACCEPTED)
    try:
        # JSON mode + strict: integers stay integers (a float quantity is refused), times parse from text.
        return schemas.UsageRecord.model_validate_json(json.dumps(raw), strict=True)
    except (ValidationError, TypeError, ValueError) as exc:
        reason = (
            "; ".join(f"{'.'.join(map(str, e['loc'])) or 'record'}: {e['msg']}" for e in exc.errors())
            if isinstance(exc, ValidationError)
            else "not a JSON object"
        )
        return reject(index, raw.get("id") if isinstance(raw, dict) else None, reason)


def check(index: int, raw: object, batch: Batch) -> Accepted | schemas.RecordResult:
    """The record, checked on its own (before dedupe): accepted so far, or rejected with why."""
    record = _parse(index, raw)
    if isinstance(record, schemas.RecordResult):
        return record
    account = batch.account(record.account_id)
    occurred = record.occurred_at if record.occurred_at.tzinfo else record.occurred_at.replace(tzinfo=UTC)
    occurred = occurred.astimezone(UTC)  # its period is chosen in UTC (DESIGN §3 v4 Usage time)
    reason = None
    if account is None:
        reason = UNKNOWN_ACCOUNT
    elif account.status in ("closing", "closed"):
        reason = ACCOUNT_CLOSED
    elif store.scale(record.quantity) > MAX_QUANTITY * store.QUANTITY_SCALE:
        reason = QUANTITY_TOO_LARGE
    elif occurred > batch.now + FUTURE_TOLERANCE:
        reason = IN_THE_FUTURE
    elif occurred.date() < first_period_start(account):
        reason = BEFORE_ACCOUNT_START
    elif record.device_id is not None and not batch.has_device(account.id, record.device_id):
        reason = DEVICE_NOT_FOUND
    if reason is not None:
        return reject(index, record.id, reason)
    assert account is not None
    return Accepted(index, record.model_copy(update={"occurred_at": occurred}), account, occurred.date())


def record_usage(raw_records: list[dict]) -> tuple[schemas.UsageResult, dict[str, AccountRecord]]:
    """Count a batch of up to 500 records; answer per record (accepted, duplicate, rejected with why).
    Also the accounts whose usage grew (for the budget check)."""
    batch = Batch()
    results: dict[int, schemas.RecordResult] = {}
    valid: list[Accepted] = []
    for index, raw in enumerate(raw_records):
        outcome = check(index, raw, batch)
        if isinstance(outcome, Accepted):
            valid.append(outcome)
        else:
            results[index] = outcome

    groups: dict[tuple[str, date, str, str], list[Accepted]] = defaultdict(list)
    for a in _fresh(valid, results):
        period = batch.periods.open_period(a.account, a.day)
        if batch.rate(a.account, a.record.service, a.record.metric, period) is None:
            results[a.index] = reject(a.index, a.record.id, UNKNOWN_METRIC)
            continue
        groups[(a.account.id, period, a.record.service, a.record.metric)].append(a)
    for key, members in groups.items():
        count_group(key, members, batch, results)

    ordered = [results[i] for i in range(len(raw_records))]
    grown = {a.account.id: a.account for a in valid if results[a.index].status == "accepted"}
    return (
        schemas.UsageResult(
            accepted=sum(r.status == "accepted" for r in ordered),
            duplicates=sum(r.status == "duplicate" for r in ordered),
            rejected=sum(r.status == "rejected" for r in ordered),
            results=ordered,
        ),
        grown,
    )


def _fresh(valid: list[Accepted], results: dict[int, schemas.RecordResult]) -> list[Accepted]:
    """The records not counted before (one BatchGetItem per 100) nor earlier in this batch."""
    seen: set[tuple[str, str]] = set()
    already = store.existing_markers([(a.record.service, a.record.id) for a in valid])
    fresh = []
    for a in valid:
        key = (a.record.service, a.record.id)
        if key in already or key in seen:
            results[a.index] = schemas.RecordResult(index=a.index, id=a.record.id, status="duplicate")
        else:
            seen.add(key)
            fresh.append(a)
    return fresh
