"""Invoice documents: the PDF (fpdf2; DejaVu Sans embedded, with CJK fallbacks and Arabic shaping when a
document needs them: functions/invoices/typefaces.py) and the CSV writer. English or French by the
account's locale: every word from functions/core/catalogue.py (the e-mails use the same catalogue),
amounts by functions/core/money.py `display`, days by functions/core/clock.py `display_day`, periods
with their inclusive last day (`catalogue.period`). Pure functions of the invoice: no I/O.

`render_pdf` draws the document top to bottom (`_drawn`), a function per part: `_document` (page, fonts,
the footer on every page), `_heading` (seller, title, the invoice's facts), `_bill_to`, `_lines_table`
(lines grouped by device or service, drawn by functions/invoices/render_table.py) and `_totals` (rows
from `_total_rows`). Layout rules (docs/invoices.md): names and descriptions wrap, amounts never do —
the amount columns are as wide as their widest amount (`render_table.column_widths`)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from functions.core.catalogue import DASH, local_text, period, words
from functions.core.clock import display_day
from functions.core.ledger import Application, Invoice, Line
from functions.core.money import display, display_unit_price
from functions.core.text import single_line
from functions.invoices import render_table, typefaces

FONT = typefaces.MAIN
# Bump when the layout changes: every stored PDF is then rendered again on its next download.
LAYOUT_VERSION = "2"


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


def _texts(lines: list[Line], party: Party, seller: Seller, described: Mapping[str, str]) -> list[str]:
    """Every free text the document shows (for the fonts it needs)."""
    contact = party.contact or {}
    address = contact.get("address") or {}
    return [
        party.name,
        seller.name,
        *seller.address,
        *(str(v) for v in (*contact.values(), *address.values()) if isinstance(v, str)),
        *(f"{line.description}{line.group or ''}" for line in lines),
        *described.values(),
    ]


def render_pdf(
    inv: Invoice,
    lines: list[Line],
    party: Party,
    seller: Seller,
    locale: str,
    described: Mapping[str, str] | None = None,
) -> bytes:
    """The invoice as a PDF a customer can file: seller, customer, number, date, type, period, lines
    grouped by device or service with their periods, totals, what was applied (`described`: each
    payment's or document's description by its id — "Card payment of Dec 6, 2026, Visa •••• 4242",
    "Credit note 3-000043"; an id is never shown), balance due, page numbers."""
    described = described or {}
    pdf = _drawn(inv, lines, party, seller, locale, described, full=False)
    written = bytes(pdf.output())
    if typefaces.missing(pdf):  # a character outside the Latin fonts (typefaces.py): the full fonts
        written = bytes(_drawn(inv, lines, party, seller, locale, described, full=True).output())
    return written


def _drawn(
    inv: Invoice,
    lines: list[Line],
    party: Party,
    seller: Seller,
    locale: str,
    described: Mapping[str, str],
    full: bool,
) -> Any:
    """The document drawn, not written yet (`full`: with the full fonts, whatever its characters)."""
    t = words(locale)
    pdf = _document(inv, seller, t, _texts(lines, party, seller, described), full)
    _heading(pdf, inv, party, seller, locale)
    _bill_to(pdf, party, t)
    _lines_table(pdf, lines, inv.currency, locale)
    _totals(pdf, _total_rows(inv, locale, described))
    return pdf


def _document(inv: Invoice, seller: Seller, t: Mapping[str, str], texts: list[str], full: bool) -> Any:
    """An A4 fpdf2 document with the fonts, the margins and a footer on every page (the amounts'
    currency, whom to ask, the invoice number and "page n of N"); its first page added."""

    class Document(typefaces.document_class()):  # type: ignore[misc]
        def footer(self) -> None:
            self.set_y(-14)
            self.set_font(FONT, size=7.5)
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
    typefaces.add_fonts(pdf, texts, full)
    pdf.set_margins(16, 16, 16)
    pdf.set_auto_page_break(True, margin=20)
    pdf.alias_nb_pages("{nb}")
    pdf.add_page()
    return pdf


def status_label(inv: Invoice, locale: str) -> str:
    """Open / Paid for an invoice; a closed Credit or Refund was Issued (it is never "paid")."""
    t = words(locale)
    if inv.status == "closed" and inv.type in ("credit", "refund"):
        return t["closed_credit"]
    return t.get(inv.status, inv.status)


def _heading(pdf: Any, inv: Invoice, party: Party, seller: Seller, locale: str) -> None:
    """The seller on the left; the document's title and its facts (number, date, type, ...) on the right."""
    t = words(locale)
    width = pdf.epw
    top = pdf.get_y()
    pdf.set_font(FONT, "B", 15)
    pdf.multi_cell(width / 2, 7, single_line(seller.name), new_x="LMARGIN", new_y="NEXT", align="L")
    pdf.set_font(FONT, size=8.5)
    pdf.set_text_color(70)
    for line in [*seller.address, seller.email, seller.tax_id]:
        if line:
            pdf.multi_cell(width / 2, 4.2, single_line(line), new_x="LMARGIN", new_y="NEXT", align="L")
    seller_bottom = pdf.get_y()
    title = {"credit": t["credit_title"], "refund": t["refund_title"]}.get(inv.type, t["invoice"])
    pdf.set_xy(pdf.l_margin + width / 2, top)
    pdf.set_text_color(20, 60, 120)
    pdf.set_font(FONT, "B", 20)
    pdf.cell(width / 2, 9, title, align="R", new_x="LEFT", new_y="NEXT")
    pdf.set_text_color(30)
    facts = [
        (t["number"], inv.number),
        (t["date"], display_day(inv.date, locale)),
        (t["type"], t[inv.type]),
        (t["period"], period(inv.period_start, inv.period_end, locale)),
        (t["account"], str(party.account_number)),
        (t["status"], status_label(inv, locale)),
    ]
    if inv.due_date is not None:
        facts.append((t["due_date"], display_day(inv.due_date, locale)))
    for label, value in facts:
        pdf.set_x(pdf.l_margin + width / 2 - 10)
        pdf.set_font(FONT, size=8.5)
        pdf.cell(28, 5, label, align="R")
        pdf.set_font(FONT, "B", 8.5)
        pdf.cell(width / 2 - 18, 5, value, align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.set_y(max(pdf.get_y(), seller_bottom) + 6)


def _bill_to(pdf: Any, party: Party, t: Mapping[str, str]) -> None:
    """The customer: the account's name, then its billing contact's name, postal address and e-mail —
    each wrapped within the page however long it is."""
    pdf.set_font(FONT, "B", 8)
    pdf.set_text_color(110)
    pdf.cell(0, 5, t["bill_to"].upper(), new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(30)
    pdf.set_font(FONT, "B", 10.5)
    pdf.multi_cell(0, 5.5, single_line(party.name), new_x="LMARGIN", new_y="NEXT", align="L")
    pdf.set_font(FONT, size=9)
    contact = party.contact or {}
    address = contact.get("address") or {}
    for line in (contact.get("name"), *_address_lines(address), contact.get("email")):
        if line:
            pdf.multi_cell(0, 4.5, single_line(str(line)), new_x="LMARGIN", new_y="NEXT", align="L")
    pdf.ln(6)


def _lines_table(pdf: Any, lines: list[Line], cur: str, locale: str) -> None:
    """The lines in a table, grouped by device or service, each group headed by its subtotal
    (functions/invoices/render_table.py draws it)."""
    t = words(locale)
    rows: list[tuple[str, list[str]]] = [("head", [t["description"], t["period"], t["qty"], t["unit"], t["amount"]])]
    for group, members in _groups(lines):
        label = local_text(single_line(group), locale) if group else t["general"]
        rows.append(("group", [label, "", "", "", display(sum(line.amount for line in members), cur, locale)]))
        for line in members:
            rows.append(("line", _line_cells(line, cur, locale)))
            rows += [("line", cells) for cells in _usage_rows(line, cur, t, locale)]
    render_table.draw(pdf, rows)


def line_description(line: Line, locale: str) -> str:
    """A line's description for people: billow's own words translated on the lines billow wrote (a
    billing item's or usage's: with an item or a group); a charge's or credit's description, typed by an
    operator, as typed (an operator's "Unused hours" stays itself)."""
    text = single_line(line.description)
    return local_text(text, locale) if line.item_id or line.group else text


def _line_cells(line: Line, cur: str, locale: str) -> list[str]:
    unit = display_unit_price(line.unit_amount, cur, locale) if line.unit_amount is not None else ""
    when = period(line.period_start, line.period_end, locale)
    description = line_description(line, locale)
    return [description, when, line.quantity or "1", unit, display(line.amount, cur, locale)]


def _usage_rows(line: Line, cur: str, t: Mapping[str, str], locale: str) -> list[list[str]]:
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


def applied_label(application: Application, locale: str, described: Mapping[str, str]) -> str:
    """What settled an invoice, for people: the payment's day and method, the document's number — or,
    not known, the kind of money alone ("Payment"); never an id, never a raw kind like money_back."""
    t = words(locale)
    if application.kind == "unapplied_credit":
        origin = described.get(application.origin or "")
        return t["from_credit_of"].format(source=origin) if origin else t["from_credit"]
    source = described.get(application.source)
    if application.kind == "money_back":
        return t["money_back"].format(source=source or t["payment"])
    return source or {"credit": t["credit"], "refund": t["refund"]}.get(application.kind, t["payment"])


def _total_rows(inv: Invoice, locale: str, described: Mapping[str, str]) -> list[tuple[str, str, bool]]:
    """(label, amount, strong) under the lines: the totals; where a Credit or Refund went, or what was
    applied to an invoice and its balance due; the account's balance before and after."""
    t, cur = words(locale), inv.currency
    rows: list[tuple[str, str, bool]] = [
        (t["subtotal"], display(inv.subtotal, cur, locale), False),
        (t["tax"], display(inv.total - inv.subtotal, cur, locale), False),
        (t["total"], display(inv.total, cur, locale), True),
    ]
    if inv.type in ("credit", "refund"):
        for target in inv.applied_to:
            target_id = target["invoice_id"]
            label = f"{t['applied_to']} {described.get(target_id, '')}".strip() if target_id else t["unapplied"]
            rows.append((label, display(target["amount"], cur, locale), False))
    else:
        for application in inv.applications:
            rows.append(
                (applied_label(application, locale, described), display(-application.amount, cur, locale), False)
            )
        rows.append((t["balance_due"], display(inv.balance_due, cur, locale), True))
    rows.append((t["balance_before"], display(inv.balance_before, cur, locale), False))
    rows.append((t["balance_after"], display(inv.balance_after, cur, locale), False))
    return rows


def _totals(pdf: Any, rows: list[tuple[str, str, bool]]) -> None:
    """The total rows, right-aligned, all on one page (a new page first when they would not fit): the
    amounts in a column as wide as the widest (never wrapped), 4 mm from their labels."""
    pdf.ln(4)
    pdf.set_font(FONT, "B", 10)
    value_w = max([30.0, *(pdf.get_string_width(value) + 2 for _, value, _ in rows)])
    label_w = min(110.0, pdf.epw - value_w) - 4
    if pdf.will_page_break(6 * len(rows)):
        pdf.add_page()
    for label, value, strong in rows:
        pdf.set_font(FONT, "B" if strong else "", 10 if strong else 8.5)
        pdf.set_text_color(30 if strong else 60)
        height = 6 if strong else 5
        top = pdf.get_y()
        wrapped = pdf.multi_cell(label_w, height, label, align="R", dry_run=True, output="LINES")
        pdf.set_x(pdf.l_margin + pdf.epw - value_w - 4 - label_w)
        pdf.multi_cell(label_w, height, label, align="R", new_x="RIGHT", new_y="TOP")
        pdf.set_xy(pdf.l_margin + pdf.epw - value_w, top)
        pdf.cell(value_w, height, value, align="R")
        pdf.set_xy(pdf.l_margin, top + height * len(wrapped))


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
