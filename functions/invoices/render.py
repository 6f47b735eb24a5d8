"""Invoice documents: the PDF (fpdf2, embedded DejaVu Sans so €, £, ¥ and accents render) and the
CSV writer. English or French by the account's locale; amounts and dates as functions/core/money.py
`display` and functions/core/clock.py `display_day` write them (the e-mails use the same). Pure
functions of the invoice: no I/O.

`render_pdf` draws the document top to bottom, a function per part: `_document` (page, fonts, the
footer on every page), `_heading` (seller, title, the invoice's facts), `_bill_to`, `_lines_table`
(lines grouped by device or service) and `_totals` (rows from `_total_rows`)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from functions.core.clock import display_day
from functions.core.ledger import Invoice, Line
from functions.core.money import display, display_unit_price
from functions.core.text import single_line

FONTS = Path(__file__).with_name("fonts")
DASH = "\u2013"  # en dash between the dates of a period

_MONTHS_FR_SHORT = ["janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.", "déc."]

TEXT: dict[str, dict[str, str]] = {
    "en": {
        "new": "New invoice",
        "recurring": "Recurring invoice",
        "one_time": "One-time charges",
        "credit": "Credit note",
        "refund": "Refund",
        "invoice": "INVOICE",
        "credit_title": "CREDIT NOTE",
        "refund_title": "REFUND",
        "number": "Number",
        "date": "Date",
        "type": "Type",
        "period": "Period",
        "due_date": "Due date",
        "account": "Account",
        "status": "Status",
        "open": "Open",
        "closed": "Closed",
        "bill_to": "Bill to",
        "description": "Description",
        "qty": "Qty",
        "unit": "Unit price",
        "included": "included",
        "billable": "billable",
        "tier": "Tier",
        "amount": "Amount",
        "general": "General",
        "subtotal": "Subtotal",
        "tax": "Tax",
        "total": "Total",
        "applied": "Payments and credits applied",
        "applied_to": "Applied to",
        "balance_due": "Balance due",
        "unapplied": "Left as account credit",
        "page": "Page {n} of {nb}",
        "payment": "Payment",
        "credit_src": "Credit",
        "refund_src": "Refund",
        "unapplied_credit": "Account credit",
        "thanks": "Amounts in {cur}. Questions about this invoice: {email}.",
        "balance_before": "Account balance before",
        "balance_after": "Account balance after",
    },
    "fr": {
        "new": "Nouvelle facture",
        "recurring": "Facture récurrente",
        "one_time": "Frais ponctuels",
        "credit": "Avoir",
        "refund": "Remboursement",
        "invoice": "FACTURE",
        "credit_title": "AVOIR",
        "refund_title": "REMBOURSEMENT",
        "number": "Numéro",
        "date": "Date",
        "type": "Type",
        "period": "Période",
        "due_date": "Échéance",
        "account": "Compte",
        "status": "Statut",
        "open": "Ouverte",
        "closed": "Soldée",
        "bill_to": "Facturé à",
        "description": "Désignation",
        "qty": "Qté",
        "unit": "Prix unitaire",
        "included": "inclus",
        "billable": "facturable",
        "tier": "Palier",
        "amount": "Montant",
        "general": "Général",
        "subtotal": "Sous-total",
        "tax": "TVA",
        "total": "Total",
        "applied": "Paiements et avoirs imputés",
        "applied_to": "Imputé sur",
        "balance_due": "Reste à payer",
        "unapplied": "Laissé en crédit sur le compte",
        "page": "Page {n} sur {nb}",
        "payment": "Paiement",
        "credit_src": "Avoir",
        "refund_src": "Remboursement",
        "unapplied_credit": "Crédit du compte",
        "thanks": "Montants en {cur}. Pour toute question sur cette facture : {email}.",
        "balance_before": "Solde du compte avant",
        "balance_after": "Solde du compte après",
    },
}


@dataclass(frozen=True)
class Party:
    """Who the invoice is for: the account's name, number and billing contact."""

    name: str
    account_number: int
    contact: dict[str, Any]


@dataclass(frozen=True)
class Seller:
    name: str
    address: Sequence[str]
    email: str
    tax_id: str


def _address_lines(address: dict[str, Any]) -> list[str]:
    """Postal lines in the country's usual order: "Boston, MA 02110" in North America and Australia,
    "75001 Paris" elsewhere."""
    city, state, postal = address.get("city") or "", address.get("state") or "", address.get("postal_code") or ""
    if address.get("country") in ("US", "CA", "AU"):
        last = f"{city}, {state} {postal}".strip(", ") if state else f"{city} {postal}".strip()
        locality = [last]
    else:
        locality = [f"{postal} {city}".strip(), state]
    return [x for x in (address.get("line1"), address.get("line2"), *locality, address.get("country")) if x]


def _groups(lines: Iterable[Line]) -> list[tuple[str | None, list[Line]]]:
    groups: dict[str | None, list[Line]] = {}
    for line in lines:
        groups.setdefault(line.group, []).append(line)
    return list(groups.items())


def render_pdf(inv: Invoice, lines: list[Line], party: Party, seller: Seller, locale: str) -> bytes:
    """The invoice as a PDF a customer can file: seller, customer, number, date, type, period, lines
    grouped by device or service with their periods, totals, what was applied, balance due, page numbers."""
    t = TEXT.get(locale, TEXT["en"])
    pdf = _document(inv, seller, t)
    _heading(pdf, inv, party, seller, t, locale)
    _bill_to(pdf, party, t)
    _lines_table(pdf, lines, inv.currency, t, locale)
    _totals(pdf, _total_rows(inv, t, locale))
    return bytes(pdf.output())


def _document(inv: Invoice, seller: Seller, t: dict[str, str]) -> Any:
    """An A4 fpdf2 document with the fonts, the margins and a footer on every page (the amounts'
    currency, whom to ask, the invoice number and "page n of N"); its first page added."""
    from fpdf import FPDF

    class Document(FPDF):
        def footer(self) -> None:
            self.set_y(-14)
            self.set_font("DejaVu", size=7.5)
            self.set_text_color(110)
            self.cell(0, 4, t["thanks"].format(cur=inv.currency.upper(), email=seller.email), align="L")
            self.cell(
                0,
                4,
                f"{inv.number} · " + t["page"].format(n=self.page_no(), nb="{nb}"),
                align="R",
                new_x="LMARGIN",
                new_y="NEXT",
            )

    pdf = Document(format="A4", unit="mm")
    pdf.set_creation_date(datetime.fromisoformat(inv.created_at.replace("Z", "+00:00")))
    pdf.set_title(f"{t['invoice'].title()} {inv.number}")
    pdf.set_author(seller.name)
    pdf.add_font("DejaVu", "", str(FONTS / "DejaVuSans.ttf"))
    pdf.add_font("DejaVu", "B", str(FONTS / "DejaVuSans-Bold.ttf"))
    pdf.set_margins(16, 16, 16)
    pdf.set_auto_page_break(True, margin=20)
    pdf.alias_nb_pages("{nb}")
    pdf.add_page()
    return pdf


def _heading(pdf: Any, inv: Invoice, party: Party, seller: Seller, t: dict[str, str], locale: str) -> None:
    """The seller on the left; the document's title and its facts (number, date, type, ...) on the right."""
    width = pdf.epw
    top = pdf.get_y()
    pdf.set_font("DejaVu", "B", 15)
    pdf.cell(width / 2, 7, seller.name, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", size=8.5)
    pdf.set_text_color(70)
    for line in [*seller.address, seller.email, seller.tax_id]:
        if line:
            pdf.cell(width / 2, 4.2, line, new_x="LMARGIN", new_y="NEXT")
    seller_bottom = pdf.get_y()
    title = {"credit": t["credit_title"], "refund": t["refund_title"]}.get(inv.type, t["invoice"])
    pdf.set_xy(pdf.l_margin + width / 2, top)
    pdf.set_text_color(20, 60, 120)
    pdf.set_font("DejaVu", "B", 20)
    pdf.cell(width / 2, 9, title, align="R", new_x="LEFT", new_y="NEXT")
    pdf.set_text_color(30)
    facts = [
        (t["number"], inv.number),
        (t["date"], display_day(inv.date, locale)),
        (t["type"], t[inv.type]),
        (t["period"], short_period(inv.period_start, inv.period_end, locale)),
        (t["account"], str(party.account_number)),
        (t["status"], t[inv.status]),
    ]
    if inv.due_date is not None:
        facts.append((t["due_date"], display_day(inv.due_date, locale)))
    for label, value in facts:
        pdf.set_x(pdf.l_margin + width / 2 - 10)
        pdf.set_font("DejaVu", size=8.5)
        pdf.cell(28, 5, label, align="R")
        pdf.set_font("DejaVu", "B", 8.5)
        pdf.cell(width / 2 - 18, 5, value, align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.set_y(max(pdf.get_y(), seller_bottom) + 6)


def _bill_to(pdf: Any, party: Party, t: dict[str, str]) -> None:
    """The customer: the account's name, then its billing contact's name, postal address and e-mail."""
    pdf.set_font("DejaVu", "B", 8)
    pdf.set_text_color(110)
    pdf.cell(0, 5, t["bill_to"].upper(), new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(30)
    pdf.set_font("DejaVu", "B", 10.5)
    pdf.cell(0, 5.5, single_line(party.name), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", size=9)
    contact = party.contact or {}
    address = contact.get("address") or {}
    for line in (contact.get("name"), *_address_lines(address), contact.get("email")):
        if line:
            pdf.cell(0, 4.5, single_line(str(line)), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(6)


def _lines_table(pdf: Any, lines: list[Line], cur: str, t: dict[str, str], locale: str) -> None:
    """The lines in a table, grouped by device or service, each group headed by its subtotal."""
    from fpdf.fonts import FontFace

    pdf.set_draw_color(200)
    heading = FontFace(emphasis="BOLD", color=255, fill_color=(20, 60, 120))
    group_style = FontFace(emphasis="BOLD", fill_color=(232, 238, 247))
    widths = (66, 42, 16, 28, 26)
    with pdf.table(
        col_widths=widths,
        text_align=("LEFT", "LEFT", "RIGHT", "RIGHT", "RIGHT"),
        line_height=5.2,
        headings_style=heading,
        first_row_as_headings=True,
        borders_layout="HORIZONTAL_LINES",
        padding=1.2,
    ) as table:
        pdf.set_font("DejaVu", size=8.5)
        table.row([t["description"], t["period"], t["qty"], t["unit"], t["amount"]])
        for group, members in _groups(lines):
            row = table.row(style=group_style)
            row.cell(single_line(group) if group else t["general"], colspan=4)
            row.cell(display(sum(line.amount for line in members), cur, locale))
            for line in members:
                table.row(_line_cells(line, cur, locale))
                for cells in _usage_rows(line, cur, t, locale):
                    table.row(cells)


def _line_cells(line: Line, cur: str, locale: str) -> list[str]:
    unit = display_unit_price(line.unit_amount, cur, locale) if line.unit_amount is not None else ""
    period = short_period(line.period_start, line.period_end, locale)
    return [single_line(line.description), period, line.quantity or "1", unit, display(line.amount, cur, locale)]


def _usage_rows(line: Line, cur: str, t: dict[str, str], locale: str) -> list[list[str]]:
    """Under a usage line: its allowance and billable quantity, and a tiered rate's breakdown."""
    rows = []
    if line.included not in (None, "0"):
        rows.append([f"  {line.included} {t['included']} · {line.billable} {t['billable']}", "", "", "", ""])
    for tier in json.loads(line.tiers) if line.tiers else []:
        bounds = f"{tier['start']}{DASH}{tier['up_to'] or '∞'}"
        flat = f" + {display(tier['flat_amount'], cur, locale)}" if tier["flat_amount"] else ""
        unit = display_unit_price(tier["unit_amount_decimal"], cur, locale)
        amount = display_unit_price(tier["amount"], cur, locale)
        rows.append([f"  {t['tier']} {bounds}{flat}", "", tier["quantity"], unit, amount])
    return rows


def _total_rows(inv: Invoice, t: dict[str, str], locale: str) -> list[tuple[str, str, bool]]:
    """(label, amount, strong) under the lines: the totals; where a Credit or Refund went, or what was
    applied to an invoice and its balance due; the account's balance before and after."""
    cur = inv.currency
    rows: list[tuple[str, str, bool]] = [
        (t["subtotal"], display(inv.subtotal, cur, locale), False),
        (t["tax"], display(inv.total - inv.subtotal, cur, locale), False),
        (t["total"], display(inv.total, cur, locale), True),
    ]
    if inv.type in ("credit", "refund"):
        for target in inv.applied_to:
            label = f"{t['applied_to']} {target['invoice_id']}" if target["invoice_id"] else t["unapplied"]
            rows.append((label, display(target["amount"], cur, locale), False))
    else:
        for application in inv.applications:
            source = t.get(f"{application.kind}_src") or t.get(application.kind) or application.kind
            label = source if application.source == "unapplied_credit" else f"{source} {application.source}"
            rows.append((label, display(-application.amount, cur, locale), False))
        rows.append((t["balance_due"], display(inv.balance_due, cur, locale), True))
    rows.append((t["balance_before"], display(inv.balance_before, cur, locale), False))
    rows.append((t["balance_after"], display(inv.balance_after, cur, locale), False))
    return rows


def _totals(pdf: Any, rows: list[tuple[str, str, bool]]) -> None:
    """The total rows, right-aligned, all on one page (a new page first when they would not fit)."""
    pdf.ln(4)
    width = pdf.epw
    if pdf.will_page_break(6 * len(rows)):
        pdf.add_page()
    for label, value, strong in rows:
        pdf.set_x(pdf.l_margin + width - 110)
        pdf.set_font("DejaVu", "B" if strong else "", 10 if strong else 8.5)
        pdf.set_text_color(30 if strong else 60)
        pdf.cell(80, 6 if strong else 5, label, align="R")
        pdf.cell(30, 6 if strong else 5, value, align="R", new_x="LMARGIN", new_y="NEXT")


def short_period(start: date, end: date, locale: str) -> str:
    """A line's period, compact: "Dec 1 - Dec 31, 2026" / "1 déc. - 31 déc. 2026" (with an en dash)."""
    if start == end:
        return display_day(start, locale)
    if start.year != end.year:
        return f"{display_day(start, locale)} {DASH} {display_day(end, locale)}"
    if locale == "fr":
        first, last = _MONTHS_FR_SHORT[start.month - 1], _MONTHS_FR_SHORT[end.month - 1]
        return f"{start.day} {first} {DASH} {end.day} {last} {end.year}"
    return f"{start.strftime('%b')} {start.day} {DASH} {end.strftime('%b')} {end.day}, {end.year}"


# ---- CSV -----------------------------------------------------------------------------------------

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """Neutralise text a spreadsheet would run as a formula (OWASP CSV injection): prefix with '."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def to_csv(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([safe_cell(v) for v in row])
    return out.getvalue()
