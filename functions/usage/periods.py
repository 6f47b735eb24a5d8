"""Billing periods of usage: the period a day falls in, the account's first one, and the open period a
record goes to (the next one when its own was already invoiced)."""

from __future__ import annotations

from datetime import date

from functions.accounts.service import AccountRecord, current_period, next_recurring_date
from functions.usage.store import records as store
from functions.usage.store.records import PeriodSealedError


def cycle_start(billing_day: int, day: date) -> date:
    """The start of the billing period containing `day`: the last `billing_day` on or before it."""
    if day.day >= billing_day:
        return day.replace(day=billing_day)
    year, month = (day.year - 1, 12) if day.month == 1 else (day.year, day.month - 1)
    return date(year, month, billing_day)


def first_period_start(account: AccountRecord) -> date:
    """The start of the account's first billing period: the one containing the day it was created (UTC).
    Usage before it is rejected `before-account-start`: no Recurring invoice would ever bill it."""
    return cycle_start(account.billing_day, date.fromisoformat(account.created_at[:10]))


def period_of_month(account: AccountRecord, month: str) -> tuple[date, date]:
    """`period=YYYY-MM`: the billing period that starts in that month (DESIGN §3 v4 The usage view)."""
    year, number = (int(part) for part in month.split("-"))
    start = date(year, number, account.billing_day)
    return start, next_recurring_date(account.billing_day, start)


def this_period(account: AccountRecord) -> tuple[date, date]:
    """The period the account is in now: [previous recurring date, next recurring date)."""
    return current_period(account)


class Periods:
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
