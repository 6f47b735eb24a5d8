"""Rules the accounts modules share (service.py re-exports them): who acts on an account, its billing
cycle's dates, and the days a send_invoice account has to pay."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date

from functions.accounts.store import AccountRecord
from functions.core.audit import Actor
from functions.core.errors import FieldError, ValidationFailedError

DEFAULT_NET_DAYS = 30  # new subscription accounts pay by invoice, due 30 days after issue (DESIGN §3 v4)


@dataclass(frozen=True)
class AccountAccess:
    """What the guard established: the account, and who acts on it in which role."""

    account: AccountRecord
    actor: Actor
    role: str  # owner | viewer | operator


def next_recurring_date(billing_day: int, after: date) -> date:
    """The first date strictly after `after` whose day of month is `billing_day` (1..28)."""
    candidate = after.replace(day=billing_day) if after.day < billing_day else None
    if candidate is None:
        year, month = (after.year + 1, 1) if after.month == 12 else (after.year, after.month + 1)
        candidate = date(year, month, min(billing_day, calendar.monthrange(year, month)[1]))
    return candidate


def check_net_days(collection: str, net_days: int | None) -> int | None:
    """`net_days` belongs to send_invoice (default 30); with automatic it is refused."""
    if collection == "automatic":
        if net_days is not None:
            raise ValidationFailedError(
                "net_days is for send_invoice accounts", errors=[FieldError("net_days", "only with send_invoice")]
            )
        return None
    return DEFAULT_NET_DAYS if net_days is None else net_days
