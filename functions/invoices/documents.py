"""The invoice as documents: its PDF (rendered by functions/invoices/render.py on first request, or by
the monthly run when it issues a Recurring invoice, and kept in S3 behind short-lived presigned URLs)
and the CSV exports of one invoice's lines and of the filtered list. CSV amounts come twice: a decimal
for people and spreadsheets (functions/core/money.py `decimal_amount`) and minor units for machines."""

from __future__ import annotations

import json
from datetime import timedelta

from functions.accounts.service import AccountAccess
from functions.core import clock, cursor, ledger
from functions.core.ledger import Invoice, Line
from functions.core.money import decimal_amount
from functions.core.settings import get_settings
from functions.invoices import render, schemas, store
from functions.invoices.views import require_invoice


def _party(access: AccountAccess) -> render.Party:
    account = access.account
    return render.Party(name=account.name, account_number=account.number, contact=account.billing_contact)


def _seller() -> render.Seller:
    s = get_settings()
    return render.Seller(name=s.seller_name, address=s.seller_address, email=s.seller_email, tax_id=s.seller_tax_id)


def store_pdf(access: AccountAccess, inv: Invoice, lines: list[Line] | None = None) -> None:
    """Render the invoice's PDF and put it in S3 (the monthly run calls this when it issues one, with
    the lines it has just posted)."""
    if lines is None:
        lines = ledger.get_lines(access.account.id, inv.id)
    pdf = render.render_pdf(inv, lines, _party(access), _seller(), access.account.locale)
    store.put_pdf(access.account.id, inv.id, pdf, f"{inv.number}.pdf")


def invoice_pdf(access: AccountAccess, invoice_id: str) -> schemas.PdfLink:
    """A presigned URL to the invoice's PDF, rendered on first request and kept in S3 afterwards."""
    inv = require_invoice(access.account.id, invoice_id)
    if not store.pdf_exists(access.account.id, inv.id):
        store_pdf(access, inv)
    seconds = get_settings().pdf_url_seconds
    expires = clock.now() + timedelta(seconds=seconds)
    return schemas.PdfLink(
        url=store.pdf_url(access.account.id, inv.id, seconds, f"{inv.number}.pdf"), expires_at=clock.iso(expires)
    )


LINE_COLUMNS = [
    "invoice_number",
    "group",
    "description",
    "period_start",
    "period_end",
    "quantity",
    "unit_amount",
    "included",
    "billable",
    "tiers",
    "currency",
    "amount",
    "amount_minor",
]
LIST_COLUMNS = [
    "number",
    "id",
    "date",
    "type",
    "status",
    "currency",
    "total",
    "amount_paid",
    "balance_due",
    "total_minor",
    "amount_paid_minor",
    "balance_due_minor",
    "due_date",
]


def tiers_text(tiers: str | None) -> str:
    """A usage line's tier breakdown on one CSV cell: "0-1000: 1000 x 2; 1000-: 500 x 1 + 300" (minor units)."""
    if not tiers:
        return ""
    parts = []
    for t in json.loads(tiers):
        flat = f" + {t['flat_amount']}" if t["flat_amount"] else ""
        parts.append(f"{t['start']}-{t['up_to'] or ''}: {t['quantity']} x {t['unit_amount_decimal']}{flat}")
    return "; ".join(parts)


def invoice_lines_csv(access: AccountAccess, invoice_id: str) -> str:
    """The invoice's lines as CSV: amounts both as decimals (for people) and minor units (for machines)."""
    inv = require_invoice(access.account.id, invoice_id)
    lines = ledger.get_lines(access.account.id, inv.id)
    rows = [
        [
            inv.number,
            line.group or "",
            line.description,
            line.period_start.isoformat(),
            line.period_end.isoformat(),
            line.quantity or "1",
            line.unit_amount or "",
            line.included or "",
            line.billable or "",
            tiers_text(line.tiers),
            inv.currency,
            decimal_amount(line.amount, inv.currency),
            line.amount,
        ]
        for line in lines
    ]
    return render.to_csv(LINE_COLUMNS, rows)


def invoices_csv(access: AccountAccess, query: schemas.InvoiceCsvQuery, route: str) -> tuple[str, str | None]:
    """The filtered list as CSV, up to `limit` rows (pages of 100 read in turn); the cursor of the rest."""
    account_id = access.account.id
    filters = query.filters()
    last_key = cursor.decode(query.cursor, account_id, route, filters)
    rows: list[list[object]] = []
    while True:
        page, last_key = ledger.list_invoices(
            account_id,
            limit=min(100, query.limit - len(rows)),
            last_key=last_key,
            types=query.types(),
            status=query.status,
            date_from=query.from_,
            date_to=query.to,
        )
        for inv in page:
            c = inv.currency
            rows.append(
                [
                    inv.number,
                    inv.id,
                    inv.date.isoformat(),
                    inv.type,
                    inv.status,
                    c,
                    decimal_amount(inv.total, c),
                    decimal_amount(inv.amount_paid, c),
                    decimal_amount(inv.balance_due, c),
                    inv.total,
                    inv.amount_paid,
                    inv.balance_due,
                    inv.due_date.isoformat() if inv.due_date else "",
                ]
            )
        if last_key is None or len(rows) >= query.limit:
            break
    return render.to_csv(LIST_COLUMNS, rows), cursor.encode(account_id, route, filters, last_key)
