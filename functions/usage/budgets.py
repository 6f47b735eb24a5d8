"""Budgets and alerts (DESIGN §3 v4 Budgets): an owner sets a monthly budget and thresholds (percent);
`period_estimate` = this billing period's recurring fees + its usage so far, priced as it will be
invoiced (`lines.usage_total`, the one pricing function). The estimate is checked when usage arrives
(after the batch is counted) and daily (the run's shard workers call `check_shard`); each threshold
crossed is recorded once per period (a put-if-absent row, with its audit event, in one transaction)
and e-mailed once to the billing contact, en or fr. An alert whose e-mail did not go out (SES down)
is e-mailed by the next check."""

from __future__ import annotations

import hashlib
from datetime import date

from functions.accounts.service import SHARDS, AccountAccess, AccountRecord, current_period, get_account
from functions.billing_items.service import recurring_total
from functions.core import audit, clock, email, outbox
from functions.core.audit import Actor
from functions.core.errors import NotFoundError, ValidationFailedError
from functions.core.logs import get_logger
from functions.core.uow import UnitOfWork
from functions.usage import schemas
from functions.usage.budget_emails import alert_email
from functions.usage.lines import usage_total
from functions.usage.store import budgets as store
from functions.usage.store.budgets import AlertExistsError, Budget

SYSTEM = Actor("system:budget-check", "system")
logger = get_logger()


def shard_of(account_id: str) -> int:
    return int(hashlib.sha256(account_id.encode()).hexdigest()[:8], 16) % SHARDS


def period_estimate(account: AccountRecord, start: date) -> int:
    """This period's recurring fees (the active items') + its usage so far, priced as it will be invoiced."""
    return recurring_total(account.id) + usage_total(account.id, account.currency, start)


def _view(account: AccountRecord, budget: Budget | None) -> schemas.BudgetView:
    """The budget (amount None: none set) with this period's estimate and the thresholds crossed."""
    start, end = current_period(account)
    thresholds = [] if budget is None else list(budget.thresholds)
    crossed = [a.percent for a in store.alerts(account.id, start) if a.percent in thresholds] if budget else []
    return schemas.BudgetView(
        account_id=account.id,
        currency=account.currency,
        amount=None if budget is None else budget.amount,
        thresholds=thresholds,
        period=schemas.Period(start=start, end=end),
        period_estimate=period_estimate(account, start),
        crossed=crossed,
        updated_at=None if budget is None else budget.updated_at,
    )


def get_budget(access: AccountAccess) -> schemas.BudgetView:
    """The budget, or — when none is set — `amount: null` with the estimate all the same."""
    return _view(access.account, store.get_budget(access.account.id))


def put_budget(access: AccountAccess, body: schemas.BudgetIn) -> schemas.BudgetView:
    """Set (or replace) the budget, with its audit event; then check it at once."""
    account = access.account
    if body.currency is not None and body.currency != account.currency:
        raise ValidationFailedError(
            f"this account is billed in {account.currency}; omit currency or send {account.currency}",
            code="currency-mismatch",
        )
    before = store.get_budget(account.id)
    budget = Budget(account.id, body.amount, tuple(body.thresholds), clock.iso(clock.now()))
    after = {"amount": budget.amount, "thresholds": list(budget.thresholds)}
    old = None if before is None else {"amount": before.amount, "thresholds": list(before.thresholds)}
    UnitOfWork().add(
        *store.put_budget(budget, shard_of(account.id)),
        audit.record(account.id, access.actor, "budget.set", account.id, old, after),
    ).commit()
    check(account)
    return _view(account, budget)


def delete_budget(access: AccountAccess) -> bool:
    """Remove the budget (no more alerts); False when there was none (nothing written)."""
    account = access.account
    before = store.get_budget(account.id)
    if before is None:
        return False
    UnitOfWork().add(
        *store.delete_budget(account.id, shard_of(account.id)),
        audit.record(account.id, access.actor, "budget.deleted", account.id, {"amount": before.amount}, None),
    ).commit()
    return True


def check(account: AccountRecord) -> list[int]:
    """Record and e-mail each threshold the period's estimate has crossed, once per period; the
    thresholds newly crossed. Nothing for an account without a budget (one GetItem)."""
    budget = store.get_budget(account.id)
    if budget is None or account.next_recurring_date is None or account.status != "active":
        return []
    start, _ = current_period(account)
    estimate = period_estimate(account, start)
    alerts = {a.percent: a for a in store.alerts(account.id, start)}
    newly = []
    for percent in budget.thresholds:
        if estimate * 100 < percent * budget.amount:
            break  # thresholds are sorted: the others are higher
        if percent not in alerts and _record(account, start, percent, estimate, budget.amount):
            newly.append(percent)
        if percent in newly or (percent in alerts and alerts[percent].emailed_at is None):
            _email(account, budget, start, percent, estimate)
    return newly


def _record(account: AccountRecord, start: date, percent: int, estimate: int, amount: int) -> bool:
    """The alert, its audit event and its outbound event in one transaction; False when another check
    recorded it first."""
    after = {"period_start": start.isoformat(), "percent": percent, "period_estimate": estimate}
    crossed = {"account_id": account.id, **after, "budget_amount": amount, "currency": account.currency}
    uow = UnitOfWork().add(
        store.put_alert(account.id, start, percent, estimate),
        audit.record(account.id, SYSTEM, "usage.budget_threshold_crossed", account.id, None, after),
        outbox.event(account.id, "usage.budget_threshold_crossed", crossed),
    )
    try:
        uow.commit()
    except AlertExistsError:
        return False
    return True


def _email(account: AccountRecord, budget: Budget, start: date, percent: int, estimate: int) -> None:
    try:
        email.send(alert_email(account, budget.amount, percent, estimate, start))
    except Exception:
        logger.exception("budget alert e-mail failed", extra={"account_id": account.id, "percent": percent})
        return
    store.mark_emailed(account.id, start, percent)


def check_after_usage(accounts: dict[str, AccountRecord]) -> None:
    """After a usage batch: check the budget of each account whose usage grew (as the batch read it). A
    failure here never fails the batch (the records are counted; the daily check catches up)."""
    for account_id, account in sorted(accounts.items()):
        try:
            check(account)
        except Exception:
            logger.exception("budget check failed", extra={"account_id": account_id})


def check_shard(shard: int) -> int:
    """The daily check of the accounts of `shard` with a budget; how many thresholds were newly crossed."""
    crossed = 0
    for account_id in store.listed(shard):
        try:
            crossed += len(check(get_account(account_id)))
        except NotFoundError:
            continue
    return crossed
