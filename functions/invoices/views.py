"""Reading invoices: the API's view of one invoice (`invoice_view`, also the reply of every posting),
the account's invoice list a page at a time, and one invoice with its lines. Another account's invoice
is 404 `invoice-not-found`."""

from __future__ import annotations

from dataclasses import asdict

from functions.accounts.service import AccountAccess
from functions.core import cursor, ledger
from functions.core.errors import NotFoundError
from functions.core.ids import is_id
from functions.core.ledger import Invoice, Line
from functions.invoices import schemas


def invoice_view(inv: Invoice, lines: list[Line]) -> schemas.Invoice:
    """The API's view of an invoice record and its lines."""
    data = asdict(inv)
    data["lines"] = [asdict(line) for line in lines]
    return schemas.Invoice.model_validate(data)


def require_invoice(account_id: str, invoice_id: str) -> Invoice:
    """The account's invoice, or 404 `invoice-not-found` (another account's id included)."""
    inv = ledger.get_invoice(account_id, invoice_id) if is_id(invoice_id, "inv") else None
    if inv is None:
        raise NotFoundError(f"no invoice {invoice_id} on this account", code="invoice-not-found")
    return inv


def list_invoices(access: AccountAccess, query: schemas.InvoiceQuery, route: str) -> schemas.InvoiceList:
    """A page of the account's invoices, newest first (one bounded Query on the date index)."""
    account_id = access.account.id
    filters = query.filters()
    last_key = cursor.decode(query.cursor, account_id, route, filters)
    rows, last = ledger.list_invoices(
        account_id,
        limit=query.limit,
        last_key=last_key,
        types=query.types(),
        status=query.status,
        date_from=query.from_,
        date_to=query.to,
    )
    return schemas.InvoiceList(
        data=[schemas.InvoiceRow.model_validate(asdict(inv), from_attributes=False) for inv in rows],
        next_cursor=cursor.encode(account_id, route, filters, last),
    )


def get_invoice(access: AccountAccess, invoice_id: str) -> schemas.Invoice:
    """One invoice with its lines, what was applied to it, and the balance before and after it."""
    inv = require_invoice(access.account.id, invoice_id)
    return invoice_view(inv, ledger.get_lines(access.account.id, inv.id))
