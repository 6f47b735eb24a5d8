"""One batch of usage records: what it reads once (accounts, devices, seals, rates) and each record
that passed its own checks, with where it goes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from functions.accounts.service import CAPABILITY_RULES, AccountRecord, get_account, get_device
from functions.core import clock
from functions.core.errors import NotFoundError
from functions.core.ids import is_id
from functions.usage import schemas
from functions.usage.periods import Periods
from functions.usage.pricing import Price, max_quantity_scaled
from functions.usage.rates import Rate, RateBook
from functions.usage.store import records as store
from functions.usage.store.records import NO_DEVICE

# The largest line quantity the amount limit is searched up to (a line past it is not limited further).
LINE_CEILING = 10**15 * store.QUANTITY_SCALE
UNKNOWN_METRIC = "unknown-metric"


@dataclass(frozen=True)
class Accepted:
    """A record that passed every check, with where it goes."""

    index: int
    record: schemas.UsageRecord
    account: AccountRecord
    day: date  # occurred_at's UTC date

    @property
    def device(self) -> str:
        return self.record.device_id or NO_DEVICE

    @property
    def scaled(self) -> int:
        return store.scale(self.record.quantity)


def reject(index: int, record_id: object, reason: str) -> schemas.RecordResult:
    return schemas.RecordResult(
        index=index, id=record_id if isinstance(record_id, str) else None, status="rejected", reason=reason
    )


class Batch:
    """What one batch reads once: accounts, devices, seals and rates."""

    def __init__(self) -> None:
        self.now = clock.now()
        self.accounts: dict[str, AccountRecord | None] = {}
        self.devices: dict[tuple[str, str], bool] = {}
        self.periods = Periods()
        self.rates = RateBook()
        self.limits: dict[Price, int | None] = {}

    def account(self, account_id: str) -> AccountRecord | None:
        if account_id not in self.accounts:
            self.accounts[account_id] = _usage_account(account_id)
        return self.accounts[account_id]

    def has_device(self, account_id: str, device_id: str) -> bool:
        key = (account_id, device_id)
        if key not in self.devices:
            try:
                get_device(account_id, device_id)
                self.devices[key] = True
            except NotFoundError:
                self.devices[key] = False
        return self.devices[key]

    def rate(self, account: AccountRecord, service: str, metric: str, period: date) -> Rate | None:
        return self.rates.rate(account.id, account.currency, service, metric, period)

    def limit(self, rate: Rate) -> int | None:
        """The largest scaled quantity of a line at this rate within the amount limit (None: no limit)."""
        key = rate.price  # frozen, hashable: the same price has the same limit
        if key not in self.limits:
            self.limits[key] = max_quantity_scaled(rate.price, store.QUANTITY_SCALE, LINE_CEILING)
        return self.limits[key]


def _usage_account(account_id: str) -> AccountRecord | None:
    if not is_id(account_id, "acct"):
        return None
    try:
        account = get_account(account_id)
    except NotFoundError:
        return None
    return account if CAPABILITY_RULES["usage"](account) else None
