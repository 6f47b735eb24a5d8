"""Invoice routes: the account summary, invoice list/detail/PDF/CSV, the upcoming preview, operator charges,
credits and refunds."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from functions.accounts.service import account_guard
from functions.core import queues
from functions.core.auth import ADMIN, READ, WRITE
from functions.core.http import Call, Raw, api, routes
from functions.core.middleware import deployed_worker
from functions.core.resources import PDF_RENDER, queue_name
from functions.invoices import closure, documents, service, views
from functions.invoices.schemas import (
    ChargeRequest,
    CloseRequest,
    Closure,
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
    UpcomingInvoice,
)

CSV = "text/csv; charset=utf-8"

bp = Blueprint(__name__)
ACCOUNT = "/v1/accounts/{account_id}"
INVOICES = f"{ACCOUNT}/invoices"
route = routes(bp, guard=account_guard("invoices"))
# an operator's posting (billing:admin): idempotent, 201 with what it created
OPERATOR: dict[str, Any] = {"scope": ADMIN, "status": 201, "idempotent": True}


@api(bp, "GET", f"{ACCOUNT}/summary", scope=READ, response=Summary, guard=account_guard())
def get_summary(call: Call, account_id: str) -> Summary:
    """Billing summary: balances, payment method, recurring dates, capabilities"""
    return service.account_summary(call.account)


@route(
    "POST", f"{ACCOUNT}/charges", body=ChargeRequest, response=Invoice, problems=((409, "account-closed"),), **OPERATOR
)
def post_charge(call: Call, account_id: str) -> Invoice:
    """Post a One-time charge (operator): a One-time invoice"""
    body: ChargeRequest = call.body
    return service.post_charge(call.account, call.idem, body.description, body.amount, body.currency)


@route("POST", f"{ACCOUNT}/credits", body=CreditRequest, response=Invoice, **OPERATOR)
def post_credit(call: Call, account_id: str) -> Invoice:
    """Grant a credit (operator): a closed Credit invoice applied to open invoices"""
    body: CreditRequest = call.body
    return service.post_credit(call.account, call.idem, body.amount, body.reason, body.currency)


@route("GET", INVOICES, scope=READ, query=InvoiceQuery, response=InvoiceList)
def list_invoices(call: Call, account_id: str) -> InvoiceList:
    """The account's invoices, newest first (filters: type, status, from, to)"""
    return views.list_invoices(call.account, call.query, "invoices")


@route("GET", INVOICES + ".csv", scope=READ, query=InvoiceCsvQuery, produces=CSV)
def list_invoices_csv(call: Call, account_id: str) -> Raw:
    """The same list as CSV (up to `limit` rows; X-Next-Cursor when more remain)"""
    text, next_cursor = documents.invoices_csv(call.account, call.query, "invoices.csv")
    headers = {"Content-Disposition": 'attachment; filename="invoices.csv"'}
    if next_cursor:
        headers["X-Next-Cursor"] = next_cursor
    return Raw(text, CSV, headers)


@route("GET", INVOICES + "/upcoming", scope=READ, response=UpcomingInvoice)
def upcoming_invoice(call: Call, account_id: str) -> UpcomingInvoice:
    """The next Recurring invoice as it stands now"""
    return service.upcoming_invoice(call.account)


@route("GET", INVOICES + "/{invoice_id}", scope=READ, response=Invoice)
def get_invoice(call: Call, account_id: str, invoice_id: str) -> Invoice:
    """One invoice with its lines, what was applied to it, and the balance before and after"""
    return views.get_invoice(call.account, invoice_id)


@route("GET", INVOICES + "/{invoice_id}/pdf", scope=READ, response=PdfLink, problems=((409, "pdf-not-ready"),))
def get_invoice_pdf(call: Call, account_id: str, invoice_id: str) -> PdfLink:
    """A short-lived URL to the invoice's PDF (409 pdf-not-ready, with Retry-After, while it is being rendered)"""
    return documents.invoice_pdf(call.account, invoice_id)


@route("GET", INVOICES + "/{invoice_id}/csv", scope=READ, produces=CSV)
def get_invoice_csv(call: Call, account_id: str, invoice_id: str) -> Raw:
    """The invoice's lines as CSV"""
    text = documents.invoice_lines_csv(call.account, invoice_id)
    return Raw(text, CSV, {"Content-Disposition": f'attachment; filename="{invoice_id}.csv"'})


@route("POST", f"{ACCOUNT}/refunds", body=RefundRequest, response=RefundResult, **OPERATOR)
def post_refund(call: Call, account_id: str) -> Invoice | CreditReturn:
    """Issue a Refund invoice (operator), applied to the given invoice first, or refunded to a payment's card;
    with return_credit, send unapplied credit back to a payment's card"""
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


@api(
    bp,
    "POST",
    f"{ACCOUNT}/closure",
    scope=WRITE,
    body=CloseRequest,
    response=Closure,
    idempotent=True,
    guard=account_guard(),
    problems=((409, "account-closed"),),
)
def close_account(call: Call, account_id: str) -> Closure:
    """Close the account now (items cancelled with proration, final invoice) or at the end of its period"""
    return closure.close_account(call.account, call.idem, call.body.when)


@deployed_worker
@bp.on_sqs_message(queue=queue_name(PDF_RENDER), batch_size=10, name="render_pdfs", maximum_concurrency=5)
def render_pdfs(event: Any) -> dict[str, Any]:
    """The `pdf-render` queue: each message's invoice PDF rendered when the stored one is missing or stale
    (a redelivery renders nothing new); failures reported per message, then the DLQ."""

    def handle(body: dict[str, Any]) -> None:
        service.render_invoice_pdf(str(body["account_id"]), str(body["invoice_id"]))

    return queues.process_batch(PDF_RENDER, event, handle)
