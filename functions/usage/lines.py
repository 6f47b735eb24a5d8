"""Pricing usage at invoice time — the ONE function (`priced_usage`) the Recurring invoice, the upcoming
preview, `next_estimated`, the usage view and the budget estimate all use: each line of a period (one
aggregate per service and metric, one Query) priced by the rate in force on the period's first day
(the account's negotiated rate first, then the card), round_half_up once per line."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from functions.core.errors import ConflictError
from functions.core.ledger import Line
from functions.core.money import MAX_AMOUNT
from functions.usage.pricing import Price, Priced, price
from functions.usage.rates import RateBook
from functions.usage.store import records as store
from functions.usage.store.records import Aggregate

# An aggregate priced above MAX_AMOUNT (only one counted before the limit was enforced at ingestion)
# is invoiced as at most this many lines, each within the limit; more needs an operator.
MAX_LINE_PARTS = 100


class UsageOverLimitError(ConflictError):
    """A usage aggregate far above the amount limit (counted before it was enforced): not invoiceable
    as it stands; an operator settles it (the preview answers 409, the run's message goes to the DLQ)."""

    code = "usage-over-limit"


@dataclass(frozen=True)
class PricedLine:
    service: str
    metric: str
    description: str
    priced: Priced
    quantity_scaled: int


def text(quantity: Decimal) -> str:
    """A quantity as the API shows it: plain decimal, no exponent, no trailing zeros."""
    return format(quantity.normalize(), "f") if quantity else "0"


def _line_price(
    agg: Aggregate, account_id: str, currency: str, period_start: date, book: RateBook
) -> tuple[str, Price]:
    if agg.unit_amount is not None:  # counted before v4 with its own price
        return f"{agg.service} · {agg.metric}", Price(unit_amount_decimal=agg.unit_amount)
    rate = book.rate(account_id, currency, agg.service, agg.metric, period_start)
    if rate is None:  # retired on the period's first day after records were counted: shown, not charged
        return f"{agg.service} · {agg.metric} (no rate)", Price(unit_amount_decimal="0")
    return rate.description, rate.price


def priced_usage(account_id: str, currency: str, period_start: date, book: RateBook | None = None) -> list[PricedLine]:
    """Every usage line of the period starting `period_start`, priced as it will be invoiced."""
    book = book or RateBook()
    out = []
    for agg in store.aggregates(account_id, period_start):
        description, line_price = _line_price(agg, account_id, currency, period_start, book)
        out.append(
            PricedLine(agg.service, agg.metric, description, price(line_price, agg.quantity), agg.quantity_scaled)
        )
    return out


def usage_total(account_id: str, currency: str, period_start: date) -> int:
    """What the usage of the period starting `period_start` comes to so far."""
    return sum(line.priced.amount for line in priced_usage(account_id, currency, period_start))


def tiers_json(priced: Priced) -> str | None:
    if not priced.tiers:
        return None
    parts = [
        {
            "start": text(t.first),
            "up_to": None if t.up_to is None else text(t.up_to),
            "quantity": text(t.quantity),
            "unit_amount_decimal": t.unit_amount_decimal,
            "flat_amount": t.flat_amount,
            "amount": text(t.amount),
        }
        for t in priced.tiers
    ]
    return json.dumps(parts, separators=(",", ":"))


def _parts(line: PricedLine) -> list[tuple[str, int]]:
    """(quantity, amount) of the invoice lines of one usage line: one, or — for a line counted before the
    amount limit was enforced at ingestion — n lines, amounts and quantities shared as evenly as they
    divide, each within it."""
    amount = line.priced.amount
    if amount <= MAX_AMOUNT:
        return [(text(line.priced.quantity), amount)]
    n = -(-amount // MAX_AMOUNT)
    if n > MAX_LINE_PARTS:
        raise UsageOverLimitError(
            f"usage {line.service} · {line.metric} comes to {amount}, more than {MAX_LINE_PARTS} lines of {MAX_AMOUNT}"
        )
    amounts = [amount // n + (i < amount % n) for i in range(n)]
    q = line.quantity_scaled
    scaled = [q // n + (i < q % n) for i in range(n)]
    return [(text(Decimal(s) / store.QUANTITY_SCALE), a) for s, a in zip(scaled, amounts, strict=True)]


def usage_lines(account_id: str, currency: str, period_start: date, period_end: date) -> list[Line]:
    """The usage of [period_start, period_end) as invoice lines, in arrears: quantity, included, billable
    and the unit price or the tier breakdown. A line that comes to 0 is left out. No line is above
    MAX_AMOUNT: ingestion keeps every line within it; one counted before that is invoiced as several."""
    lines = []
    for line in priced_usage(account_id, currency, period_start):
        p = line.priced
        if p.amount <= 0:
            continue
        parts = _parts(line)
        for n, (quantity, amount) in enumerate(parts, 1):
            suffix = f" (part {n} of {len(parts)})" if len(parts) > 1 else ""
            lines.append(
                Line(
                    f"{line.description}{suffix}",
                    amount,
                    period_start,
                    period_end,
                    quantity=quantity,
                    unit_amount=None if p.tiers and p.unit_amount_decimal is None else p.unit_amount_decimal,
                    group=f"Service: {line.service}",
                    included=text(p.included) if len(parts) == 1 else None,
                    billable=text(p.billable) if len(parts) == 1 else None,
                    tiers=tiers_json(p),
                )
            )
    return lines
