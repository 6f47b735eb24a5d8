"""The usage domain's front door (what routes and later domains call): usage records in, the rate card,
usage priced at invoice time (ONE function for the Recurring invoice, the preview, `next_estimated`,
the view and budgets), the usage view, budgets, and the seal of an invoiced period.

Modules behind it: ingest.py / batch.py / counting.py (records), periods.py, rates.py (the card),
pricing.py (tier arithmetic), lines.py (priced lines), view.py (the usage view), budgets.py."""

from __future__ import annotations

from datetime import date

from functions.core.uow import Op
from functions.usage import budgets, ingest, schemas
from functions.usage.budgets import check_shard, delete_budget, get_budget, put_budget
from functions.usage.lines import UsageOverLimitError, priced_usage, usage_lines, usage_total
from functions.usage.periods import cycle_start
from functions.usage.rates import rate_card, retire_rate, set_rate
from functions.usage.store import records as store
from functions.usage.view import usage_csv, usage_view

__all__ = [
    "UsageOverLimitError",
    "check_shard",
    "cycle_start",
    "delete_budget",
    "get_budget",
    "priced_usage",
    "put_budget",
    "rate_card",
    "record_usage",
    "retire_rate",
    "seal_period",
    "set_rate",
    "usage_csv",
    "usage_lines",
    "usage_total",
    "usage_view",
]


def record_usage(raw_records: list[dict]) -> schemas.UsageResult:
    """Count a batch of up to 500 records; answer per record (accepted, duplicate, rejected with why)."""
    result, grown = ingest.record_usage(raw_records)
    budgets.check_after_usage(grown)  # the budgets of the accounts whose usage grew (DESIGN §3 v4 Budgets)
    return result


def seal_period(account_id: str, period_start: date, invoice_id: str) -> Op:
    """The op that closes a period to usage, for the transaction that invoices it."""
    return store.seal(account_id, period_start, invoice_id)
