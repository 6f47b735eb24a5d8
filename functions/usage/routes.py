"""Usage routes: metering services post records (scope billing:usage; no customer data); members read
the usage view and its CSV, owners set the account's budget."""

from __future__ import annotations

from chalice import Blueprint

from functions.accounts.service import account_guard
from functions.core.auth import READ, USAGE, WRITE
from functions.core.http import Call, Raw, api, routes
from functions.usage import service
from functions.usage.schemas import BudgetDeleted, BudgetIn, BudgetView, UsageBatch, UsageQuery, UsageResult, UsageView

CSV = "text/csv; charset=utf-8"
ACCOUNT = "/v1/accounts/{account_id}"

bp = Blueprint(__name__)
route = routes(bp, guard=account_guard("usage"))


@api(
    bp,
    "POST",
    "/v1/usage",
    scope=USAGE,
    body=UsageBatch,
    response=UsageResult,
    summary="Post up to 500 usage records; each is accepted, a duplicate, or rejected with why",
)
def post_usage(call: Call) -> UsageResult:
    return service.record_usage(call.body.records)


@route("GET", f"{ACCOUNT}/usage", scope=READ, query=UsageQuery, response=UsageView)
def get_usage(call: Call, account_id: str) -> UsageView:
    """A period's usage priced as it will be invoiced, by service, metric, device or day"""
    return service.usage_view(call.account, call.query.period, call.query.group_by)


@route("GET", f"{ACCOUNT}/usage.csv", scope=READ, query=UsageQuery, produces=CSV)
def get_usage_csv(call: Call, account_id: str) -> Raw:
    """The same usage view as CSV"""
    text = service.usage_csv(call.account, call.query.period, call.query.group_by)
    name = f"usage-{call.query.period}-{call.query.group_by}.csv"
    return Raw(text, CSV, {"Content-Disposition": f'attachment; filename="{name}"'})


@route("GET", f"{ACCOUNT}/budget", scope=READ, response=BudgetView)
def get_budget(call: Call, account_id: str) -> BudgetView:
    """The monthly budget (amount null: none) with this period's estimate and the thresholds crossed"""
    return service.get_budget(call.account)


@route("PUT", f"{ACCOUNT}/budget", scope=WRITE, body=BudgetIn, response=BudgetView)
def put_budget(call: Call, account_id: str) -> BudgetView:
    """Set the monthly budget and its alert thresholds (percent; default 50, 80, 100)"""
    return service.put_budget(call.account, call.body)


@route("DELETE", f"{ACCOUNT}/budget", scope=WRITE, response=BudgetDeleted)
def delete_budget(call: Call, account_id: str) -> BudgetDeleted:
    """Remove the budget (no more alerts)"""
    return BudgetDeleted(account_id=account_id, deleted=service.delete_budget(call.account))
