"""Budgets: the account's monthly budget, the thresholds crossed per period, and the list of accounts
with a budget (per shard) that the daily check pages through."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date

from pynamodb.attributes import UnicodeAttribute

from functions.core import clock
from functions.core.db import IntegerAttribute, get_or_none
from functions.core.errors import ConflictError
from functions.core.uow import Op, put_if_absent
from functions.usage.store.base import BUDGET_LIST, UsageItem


class AlertExistsError(ConflictError):
    """(internal) this threshold was already crossed in this period: one alert per threshold and period."""

    code = "budget-alert-exists"


class BudgetModel(UsageItem):
    amount = IntegerAttribute(null=True)
    thresholds = UnicodeAttribute(null=True)  # JSON [percent, …]
    updated_at = UnicodeAttribute(null=True)
    # ALERT# items
    estimate = IntegerAttribute(null=True)
    crossed_at = UnicodeAttribute(null=True)
    emailed_at = UnicodeAttribute(null=True)


@dataclass(frozen=True)
class Budget:
    account_id: str
    amount: int
    thresholds: tuple[int, ...]
    updated_at: str


@dataclass(frozen=True)
class Alert:
    percent: int
    estimate: int
    crossed_at: str
    emailed_at: str | None


def shard_key(shard: int) -> str:
    return f"{BUDGET_LIST}{shard}"


def get_budget(account_id: str) -> Budget | None:
    m = get_or_none(BudgetModel, account_id, "BUDGET", consistent_read=True)
    if m is None:
        return None
    return Budget(account_id, m.amount or 0, tuple(json.loads(m.thresholds or "[]")), m.updated_at or "")


def put_budget(budget: Budget, shard: int) -> list[Op]:
    """The budget and its entry in the daily check's list (both plain puts: PUT replaces)."""
    model = BudgetModel(
        budget.account_id,
        "BUDGET",
        amount=budget.amount,
        thresholds=json.dumps(list(budget.thresholds)),
        updated_at=budget.updated_at,
    )
    return [
        Op("put", model, label="budget"),
        Op("put", BudgetModel(shard_key(shard), budget.account_id), label="budget-list"),
    ]


def delete_budget(account_id: str, shard: int) -> list[Op]:
    return [
        Op("delete", BudgetModel(account_id, "BUDGET"), label="budget"),
        Op("delete", BudgetModel(shard_key(shard), account_id), label="budget-list"),
    ]


def _alert_sk(period: date, percent: int) -> str:
    return f"ALERT#{period.isoformat()}#{percent:03d}"


def alerts(account_id: str, period: date) -> list[Alert]:
    """The thresholds crossed in the period, lowest first (one Query)."""
    result = BudgetModel.query(
        account_id, BudgetModel.sk.startswith(f"ALERT#{period.isoformat()}#"), consistent_read=True
    )
    return [Alert(int(m.sk.rsplit("#", 1)[1]), m.estimate or 0, m.crossed_at or "", m.emailed_at) for m in result]


def put_alert(account_id: str, period: date, percent: int, estimate: int) -> Op:
    """A threshold crossed, once per period: put if absent."""
    model = BudgetModel(account_id, _alert_sk(period, percent), estimate=estimate, crossed_at=clock.iso(clock.now()))
    already = f"the {percent} % threshold was already crossed in the period of {period}"
    return put_if_absent(model, on_conflict=lambda: AlertExistsError(already), label="budget-alert")


def mark_emailed(account_id: str, period: date, percent: int) -> None:
    """After its e-mail went out (an alert without it is e-mailed by the next check)."""
    BudgetModel(account_id, _alert_sk(period, percent)).update(
        actions=[BudgetModel.emailed_at.set(clock.iso(clock.now()))]
    )


def listed(shard: int) -> list[str]:
    """The accounts of `shard` with a budget (one Query, paged by PynamoDB)."""
    return [m.sk for m in BudgetModel.query(shard_key(shard), consistent_read=True)]
