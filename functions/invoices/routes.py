"""Invoice routes: the account summary, invoice list/detail/PDF/CSV, the upcoming preview, operator charges,
credits and refunds."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalice import Blueprint
from pydantic import BaseModel

from functions.accounts.service import account_guard
from functions.core.auth import ADMIN, READ
from functions.core.http import Call, Raw, api
from functions.invoices import documents, service, views
from functions.invoices.schemas import (
    ChargeRequest,
    CreditRequest,
    CreditReturn,
    Invoice,
    InvoiceCsvQuery,
    InvoiceList,
    InvoiceQuery,
    PdfLink,
    RefundRequest,
    RefundResult,
    Summary,
    SummaryBalance,
    UpcomingInvoice,
)

CSV = "text/csv; charset=utf-8"

bp = Blueprint(__name__)


ACCOUNT = "/v1/accounts/{account_id}"
INVOICES = f"{ACCOUNT}/invoices"


def _read(under_invoices: str, summary: str, **spec: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A GET under the account's invoices, for any member who may read them."""
    return api(
        bp, "GET", INVOICES + under_invoices, scope=READ, guard=account_guard("invoices"), summary=summary, **spec
    )


def _operator(
    under_account: str, body: type[BaseModel], response: type[BaseModel], summary: str
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """An operator's POST under the account (billing:admin): idempotent, 201 with what it created."""
    operator = {"scope": ADMIN, "status": 201, "idempotent": True, "guard": account_guard("invoices")}
    return api(bp, "POST", f"{ACCOUNT}/{under_account}", body=body, response=response, summary=summary, **operator)


@api(
    bp,
    "GET",
    f"{ACCOUNT}/summary",
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


@_operator("charges", ChargeRequest, Invoice, "Post a One-time charge (operator): a One-time invoice")
def post_charge(call: Call, account_id: str) -> Invoice:
    body: ChargeRequest = call.body
    return service.post_charge(call.account, call.idem, body.description, body.amount, body.currency)


@_operator(
    "credits", CreditRequest, Invoice, "Grant a credit (operator): a closed Credit invoice applied to open invoices"
)
def post_credit(call: Call, account_id: str) -> Invoice:
    body: CreditRequest = call.body
    return service.post_credit(call.account, call.idem, body.amount, body.reason, body.currency)


@_read(
    "",
    "The account's invoices, newest first (filters: type, status, from, to)",
    query=InvoiceQuery,
    response=InvoiceList,
)
def list_invoices(call: Call, account_id: str) -> InvoiceList:
    return views.list_invoices(call.account, call.query, "invoices")


@_read(
    ".csv",
    "The same list as CSV (up to `limit` rows; X-Next-Cursor when more remain)",
    query=InvoiceCsvQuery,
    produces=CSV,
)
def list_invoices_csv(call: Call, account_id: str) -> Raw:
    text, next_cursor = documents.invoices_csv(call.account, call.query, "invoices.csv")
    headers = {"Content-Disposition": 'attachment; filename="invoices.csv"'}
    if next_cursor:
        headers["X-Next-Cursor"] = next_cursor
    return Raw(text, CSV, headers)


@_read("/upcoming", "The next Recurring invoice as it stands now", response=UpcomingInvoice)
def upcoming_invoice(call: Call, account_id: str) -> UpcomingInvoice:
    return service.upcoming_invoice(call.account)


@_read(
    "/{invoice_id}",
    "One invoice with its lines, what was applied to it, and the balance before and after",
    response=Invoice,
)
def get_invoice(call: Call, account_id: str, invoice_id: str) -> Invoice:
    return views.get_invoice(call.account, invoice_id)


@_read("/{invoice_id}/pdf", "A short-lived URL to the invoice's PDF", response=PdfLink)
def get_invoice_pdf(call: Call, account_id: str, invoice_id: str) -> PdfLink:
    return documents.invoice_pdf(call.account, invoice_id)


@_read("/{invoice_id}/csv", "The invoice's lines as CSV", produces=CSV)
def get_invoice_csv(call: Call, account_id: str, invoice_id: str) -> Raw:
    text = documents.invoice_lines_csv(call.account, invoice_id)
    return Raw(text, CSV, {"Content-Disposition": f'attachment; filename="{invoice_id}.csv"'})


@_operator(
    "refunds",
    RefundRequest,
    RefundResult,
    "Issue a Refund invoice (operator), applied to the given invoice first, or refunded to a payment's card; "
    "with return_credit, send unapplied credit back to a payment's card",
)
def post_refund(call: Call, account_id: str) -> Invoice | CreditReturn:
    body: RefundRequest = call.body
    return service.post_refund(
        call.account,
        call.idem,
        body.amount,
        body.reason,
        body.invoice_id,
        body.currency,
        body.payment_id,
        return_credit=body.return_credit,
    )
