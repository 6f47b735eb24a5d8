"""Invoice routes: the account summary, invoice list/detail/PDF/CSV, the upcoming preview, operator charges,
credits and refunds."""

from __future__ import annotations

from chalice import Blueprint

from functions.accounts.service import account_guard
from functions.core.auth import ADMIN, READ
from functions.core.http import Call, Raw, api
from functions.invoices import service
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


INVOICES = "/v1/accounts/{account_id}/invoices"


@api(
    bp,
    "GET",
    INVOICES,
    scope=READ,
    query=InvoiceQuery,
    response=InvoiceList,
    guard=account_guard("invoices"),
    summary="The account's invoices, newest first (filters: type, status, from, to)",
)
def list_invoices(call: Call, account_id: str) -> InvoiceList:
    return service.list_invoices(call.account, call.query, "invoices")


@api(
    bp,
    "GET",
    "/v1/accounts/{account_id}/invoices.csv",
    scope=READ,
    query=InvoiceCsvQuery,
    guard=account_guard("invoices"),
    produces=CSV,
    summary="The same list as CSV (up to `limit` rows; X-Next-Cursor when more remain)",
)
def list_invoices_csv(call: Call, account_id: str) -> Raw:
    text, next_cursor = service.invoices_csv(call.account, call.query, "invoices.csv")
    headers = {"Content-Disposition": 'attachment; filename="invoices.csv"'}
    if next_cursor:
        headers["X-Next-Cursor"] = next_cursor
    return Raw(text, CSV, headers)


@api(
    bp,
    "GET",
    f"{INVOICES}/upcoming",
    scope=READ,
    response=UpcomingInvoice,
    guard=account_guard("invoices"),
    summary="The next Recurring invoice as it stands now",
)
def upcoming_invoice(call: Call, account_id: str) -> UpcomingInvoice:
    return service.upcoming_invoice(call.account)


@api(
    bp,
    "GET",
    f"{INVOICES}/{{invoice_id}}",
    scope=READ,
    response=Invoice,
    guard=account_guard("invoices"),
    summary="One invoice with its lines, what was applied to it, and the balance before and after",
)
def get_invoice(call: Call, account_id: str, invoice_id: str) -> Invoice:
    return service.get_invoice(call.account, invoice_id)


@api(
    bp,
    "GET",
    f"{INVOICES}/{{invoice_id}}/pdf",
    scope=READ,
    response=PdfLink,
    guard=account_guard("invoices"),
    summary="A short-lived URL to the invoice's PDF",
)
def get_invoice_pdf(call: Call, account_id: str, invoice_id: str) -> PdfLink:
    return service.invoice_pdf(call.account, invoice_id)


@api(
    bp,
    "GET",
    f"{INVOICES}/{{invoice_id}}/csv",
    scope=READ,
    guard=account_guard("invoices"),
    produces=CSV,
    summary="The invoice's lines as CSV",
)
def get_invoice_csv(call: Call, account_id: str, invoice_id: str) -> Raw:
    text = service.invoice_lines_csv(call.account, invoice_id)
    return Raw(text, CSV, {"Content-Disposition": f'attachment; filename="{invoice_id}.csv"'})


@api(
    bp,
    "POST",
    "/v1/accounts/{account_id}/refunds",
    scope=ADMIN,
    body=RefundRequest,
    response=RefundResult,
    status=201,
    idempotent=True,
    guard=account_guard("invoices"),
    summary="Issue a Refund invoice (operator), applied to the given invoice first, or refunded to a payment's card; "
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
