"""Invoice routes: the account summary, operator charges and credits."""

from __future__ import annotations

from chalice import Blueprint

from functions.accounts.service import account_guard
from functions.core.auth import ADMIN, READ
from functions.core.http import Call, api
from functions.invoices import service
from functions.invoices.schemas import ChargeRequest, CreditRequest, Invoice, Summary, SummaryBalance

bp = Blueprint(__name__)


@api(
    bp,
    "GET",
    "/v1/accounts/{account_id}/summary",
    scope=READ,
    response=Summary,
    guard=account_guard(),
    summary="Billing summary: balances, payment method, recurring dates, capabilities",
)
def get_summary(call: Call, account_id: str) -> Summary:
    s = service.account_summary(call.account)
    return Summary(
        account_id=s.account_id,
        number=s.number,
        name=s.name,
        type=s.type,
        linked=s.linked,
        currency=s.currency,
        locale=s.locale,
        balance=SummaryBalance(current=s.current, unapplied_credit=s.unapplied_credit, next_estimated=s.next_estimated),
        payment_method=s.payment_method,
        last_recurring_invoice_date=s.last_recurring_invoice_date,
        next_recurring_invoice_date=s.next_recurring_invoice_date,
        past_due=s.past_due,
        capabilities=s.capabilities,
    )


@api(
    bp,
    "POST",
    "/v1/accounts/{account_id}/charges",
    scope=ADMIN,
    body=ChargeRequest,
    response=Invoice,
    status=201,
    idempotent=True,
    guard=account_guard("invoices"),
    summary="Post a One-time charge (operator): a One-time invoice",
)
def post_charge(call: Call, account_id: str) -> Invoice:
    body: ChargeRequest = call.body
    return service.post_charge(call.account, call.idem, body.description, body.amount, body.currency)


@api(
    bp,
    "POST",
    "/v1/accounts/{account_id}/credits",
    scope=ADMIN,
    body=CreditRequest,
    response=Invoice,
    status=201,
    idempotent=True,
    guard=account_guard("invoices"),
    summary="Grant a credit (operator): a closed Credit invoice applied to open invoices",
)
def post_credit(call: Call, account_id: str) -> Invoice:
    body: CreditRequest = call.body
    return service.post_credit(call.account, call.idem, body.amount, body.reason, body.currency)
