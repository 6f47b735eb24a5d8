"""The invoice as documents: its PDF (functions/invoices/render.py) kept in S3 behind short-lived
presigned URLs, and the CSV exports of one invoice's lines and of the filtered list.

A stored PDF is never stale (docs/invoices.md, "PDF"): it carries, as S3 metadata, the fingerprint of
everything it shows that can change — status, amounts paid and due, what was applied (payments,
credits, refunds, money returned) and where a Credit or Refund went, the account's name, contact and
language, the layout's version. The PDF route never renders (issue 21): it computes the invoice's
fingerprint now and presigns when the stored one is the same; otherwise (no PDF, or a stale one) it queues
a render on `pdf-render` (once per invoice and fingerprint within `RENDER_REQUEST_SECONDS`) and answers 409
`pdf-not-ready` with `Retry-After`. The queue's worker (functions/invoices/rendering.py) renders under the
same key and the same file name (`<number>.pdf`); every issued invoice is queued when it is issued.

CSV amounts come twice: a decimal for people and spreadsheets (functions/core/money.py
`decimal_amount`) and minor units for machines, every column naming its unit (`unit_amount` /
`unit_amount_minor`, `amount` / `amount_minor`)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from datetime import date, timedelta

from functions.accounts.service import AccountAccess
from functions.core import catalogue, clock, cursor, ledger, pdf_renders
from functions.core.errors import ConflictError
from functions.core.ledger import Invoice, Line
from functions.core.money import decimal_amount, decimal_unit_price
from functions.core.settings import get_settings
from functions.invoices import render, schemas, store
from functions.invoices.views import require_invoice
from functions.payments import service as payments


def _party(access: AccountAccess) -> render.Party:
    account = access.account
    return render.Party(name=account.name, account_number=account.number, contact=account.billing_contact)


def _seller() -> render.Seller:
    s = get_settings()
    return render.Seller(name=s.seller_name, address=s.seller_address, email=s.seller_email, tax_id=s.seller_tax_id)


def described(account_id: str, inv: Invoice, locale: str) -> dict[str, str]:
    """Each payment and invoice the invoice's applications (or a Credit's or Refund's targets) name, as
    the documents describe it: by method and day, or by type and number (`catalogue.payment_text`,
    `catalogue.document_text`). One GetItem per payment, one BatchGetItem for the invoices."""
    refs = {ref for a in inv.applications for ref in (a.source, a.origin) if ref}
    refs |= {str(target["invoice_id"]) for target in inv.applied_to if target.get("invoice_id")}
    out = {}
    for payment_id in sorted(ref for ref in refs if ref.startswith("pay_")):
        pay = payments.get_payment(account_id, payment_id)
        if pay is not None:
            day = date.fromisoformat((pay.received_on or pay.created_at)[:10])
            out[payment_id] = catalogue.payment_text(
                locale, method=pay.method, day=day, brand=pay.brand, last4=pay.last4, reference=pay.reference
            )
    for other in ledger.get_invoices(account_id, sorted(ref for ref in refs if ref.startswith("inv_"))):
        out[other.id] = catalogue.document_text(locale, other.type, other.number)
    return out


def fingerprint(inv: Invoice, party: render.Party, locale: str, sources: dict[str, str]) -> str:
    """What the PDF shows that can change, hashed: a stored PDF with another fingerprint is stale."""
    state = asdict(inv)
    for moving in ("in_flight", "past_due", "carried_forward"):  # not shown on the document
        state.pop(moving, None)
    shown = {"v": render.LAYOUT_VERSION, "invoice": state, "party": asdict(party), "locale": locale, "src": sources}
    return hashlib.sha256(json.dumps(shown, sort_keys=True, default=str).encode()).hexdigest()[:32]


def current_fingerprint(access: AccountAccess, inv: Invoice) -> tuple[str, dict[str, str]]:
    """The invoice's fingerprint as it stands now, and the descriptions of what it names (`described`)."""
    account = access.account
    sources = described(account.id, inv, account.locale)
    return fingerprint(inv, _party(access), account.locale, sources), sources


def store_pdf(
    access: AccountAccess, inv: Invoice, lines: list[Line] | None = None, sources: dict[str, str] | None = None
) -> str:
    """Render the invoice's PDF and put it in S3 with its fingerprint (the `pdf-render` worker calls this);
    returns the fingerprint."""
    account = access.account
    if lines is None:
        lines = ledger.get_lines(account.id, inv.id)
    if sources is None:
        sources = described(account.id, inv, account.locale)
    party = _party(access)
    pdf = render.render_pdf(inv, lines, party, _seller(), account.locale, sources)
    print_ = fingerprint(inv, party, account.locale, sources)
    store.put_pdf(account.id, inv.id, pdf, f"{inv.number}.pdf", print_)
    return print_


# A render asked for (invoice, fingerprint) is not asked again for this long: a console polling the route
# every Retry-After seconds queues one render, not one per poll. After it, a render that failed is asked again.
RENDER_REQUEST_SECONDS = 60


def invoice_pdf(access: AccountAccess, invoice_id: str) -> schemas.PdfLink:
    """A presigned URL to the invoice's PDF as it stands now; when the stored one is missing or its
    fingerprint is not the invoice's (a payment, a credit, a refund, its status changed since), a render
    queued and 409 `pdf-not-ready` (Retry-After): the API never renders."""
    account = access.account
    inv = require_invoice(account.id, invoice_id)
    current, _ = current_fingerprint(access, inv)
    if store.pdf_fingerprint(account.id, inv.id) != current:
        _request_render(account.id, inv.id, current)
        raise ConflictError(
            "The invoice's PDF is being prepared: ask again after Retry-After seconds.", code="pdf-not-ready"
        )
    seconds = get_settings().pdf_url_seconds
    expires = clock.now() + timedelta(seconds=seconds)
    url = store.pdf_url(account.id, inv.id, seconds, f"{inv.number}.pdf")
    return schemas.PdfLink(url=url, expires_at=clock.iso(expires))


def _request_render(account_id: str, invoice_id: str, print_: str) -> None:
    """Queue the invoice's render unless one was asked for this fingerprint less than
    RENDER_REQUEST_SECONDS ago (a marker object in the bucket; two racing requests may both queue one:
    the worker renders once)."""
    asked = store.render_requested_at(account_id, invoice_id, print_)
    if asked is not None and (clock.now() - asked).total_seconds() < RENDER_REQUEST_SECONDS:
        return
    pdf_renders.request_renders(account_id, [invoice_id])
    store.mark_render_requested(account_id, invoice_id, print_, clock.iso(clock.now()))


LINE_COLUMNS = [
    "invoice_number",
    "group",
    "description",
    "period_start",
    "period_last_day",
    "quantity",
    "unit_amount",
    "unit_amount_minor",
    "included",
    "billable",
    "tiers_minor",
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
    """The invoice's lines as CSV: amounts both as decimals (for people) and minor units (for machines),
    each column naming its unit; the period's last day inclusive; billow's own words in the account's
    language (the PDF's catalogue)."""
    locale = access.account.locale
    inv = require_invoice(access.account.id, invoice_id)
    lines = ledger.get_lines(access.account.id, inv.id)
    rows = [
        [
            inv.number,
            catalogue.local_text(line.group, locale),
            render.line_description(line, locale),
            line.period_start.isoformat(),
            catalogue.last_day(line.period_start, line.period_end).isoformat(),
            line.quantity or "1",
            decimal_unit_price(line.unit_amount, inv.currency) if line.unit_amount else "",
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
