"""The usage view (GET /v1/accounts/{id}/usage and usage.csv; DESIGN §3 v4 The usage view): a period's
usage priced as it will be invoiced (`lines.priced_usage`, the one pricing function), grouped by
service, metric, device or day. It reads aggregates only — the period's lines (one Query) and, for
device or day, their shares (one more Query) — so its reads do not grow with the number of records.

Device and day groups share their metric's amount in proportion to their quantity (largest remainder:
each gets the floor of its exact share, then the cents left go one each to the largest remainders,
ties in the groups' order), so the groups of a metric add up to its line."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from datetime import date

from functions.accounts.service import AccountAccess
from functions.core.money import decimal_amount
from functions.usage import schemas
from functions.usage.lines import PricedLine, priced_usage, text
from functions.usage.periods import period_of_month, this_period
from functions.usage.store import records as store
from functions.usage.store.records import NO_DEVICE, Aggregate


def shares(amount: int, weights: list[int]) -> list[int]:
    """`amount` split in proportion to `weights` (largest remainder); Σ = amount (all 0 when Σ weights is 0)."""
    total = sum(weights)
    if total == 0:
        return [0] * len(weights)
    floors = [amount * w // total for w in weights]
    remainders = [amount * w % total for w in weights]
    left = amount - sum(floors)
    order = sorted(range(len(weights)), key=lambda i: -remainders[i])  # stable: ties keep the groups' order
    for i in order[:left]:
        floors[i] += 1
    return floors


def _period(access: AccountAccess, period: str) -> tuple[date, date]:
    return this_period(access.account) if period == "current" else period_of_month(access.account, period)


def _metric_line(line: PricedLine) -> schemas.UsageLine:
    p = line.priced
    return schemas.UsageLine(
        service=line.service,
        metric=line.metric,
        description=line.description,
        quantity=text(p.quantity),
        included=text(p.included),
        billable=text(p.billable),
        amount=p.amount,
    )


def _by_service(priced: list[PricedLine]) -> list[schemas.UsageLine]:
    amounts: dict[str, int] = defaultdict(int)
    for line in priced:
        amounts[line.service] += line.priced.amount
    return [schemas.UsageLine(service=s, amount=a) for s, a in amounts.items()]


def _by_part(priced: list[PricedLine], parts: list[Aggregate], by: str) -> list[schemas.UsageLine]:
    grouped: dict[tuple[str, str], list[Aggregate]] = defaultdict(list)
    for part in parts:
        grouped[(part.service, part.metric)].append(part)
    out = []
    for line in priced:
        members = grouped.get((line.service, line.metric), [])
        for part, amount in zip(members, shares(line.priced.amount, [m.quantity_scaled for m in members]), strict=True):
            device = None if by == "day" or part.device_id == NO_DEVICE else part.device_id
            out.append(
                schemas.UsageLine(
                    service=line.service,
                    metric=line.metric,
                    description=line.description,
                    device_id=device,
                    day=date.fromisoformat(part.day) if by == "day" and part.day else None,
                    quantity=text(part.quantity),
                    amount=amount,
                )
            )
    return out


def usage_view(access: AccountAccess, period: str, group_by: str) -> schemas.UsageView:
    account = access.account
    start, end = _period(access, period)
    priced = priced_usage(account.id, account.currency, start)
    if group_by == "service":
        lines = _by_service(priced)
    elif group_by == "metric":
        lines = [_metric_line(line) for line in priced]
    else:
        lines = _by_part(priced, store.parts(account.id, start, group_by), group_by)
    return schemas.UsageView(
        account_id=account.id,
        period=schemas.Period(start=start, end=end),
        currency=account.currency,
        group_by=group_by,
        lines=lines,
        total=sum(line.priced.amount for line in priced),
    )


CSV_COLUMNS = [
    "period_start",
    "period_end",
    "service",
    "metric",
    "device_id",
    "day",
    "quantity",
    "included",
    "billable",
    "currency",
    "amount",
    "amount_minor",
]


def _cell(value: object) -> object:
    """Neutralise text a spreadsheet would run as a formula (OWASP CSV injection)."""
    if isinstance(value, str) and value.startswith(("=", "+", "-", "@", "\t", "\r")):
        return "'" + value
    return "" if value is None else value


def usage_csv(access: AccountAccess, period: str, group_by: str) -> str:
    """The same view as CSV: amounts as decimals for people beside their minor units."""
    view = usage_view(access, period, group_by)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for line in view.lines:
        values = [view.period.start, view.period.end, line.service, line.metric, line.device_id, line.day]
        values += [line.quantity, line.included, line.billable, view.currency]
        values += [decimal_amount(line.amount, view.currency), line.amount]
        writer.writerow([_cell(v.isoformat() if isinstance(v, date) else v) for v in values])
    return out.getvalue()
