"""Issue 21: the PDF renderer was rewritten for speed (fpdf2's `table()` replaced by billow's own row
layout, fonts parsed once per process); a customer must not see a difference. Each invoice below was
rendered by the renderer as it stood BEFORE that work, its text read by poppler's `pdftotext -layout`
(words where they stand on the page, columns apart) and stored under golden/pdf/; the test renders
the same invoices now and compares the text, byte for byte (no normalisation).

The set: each invoice type (New, Recurring, One-time, Credit, Refund) in English and French, a
long-wrapping one (the longest name, a 500-character description, the largest amounts), a multi-page
one (wrapped French lines, groups, usage and tier rows, the heading repeated on every page) and
Japanese and Arabic ones (the fallback fonts, the shaped script). Fixed dates only. In-process, ~2 s.

After an intended change of what the PDF shows, write the files again:
`python -m tests.integration.test_invoice_pdf_golden` (and say so in the commit)."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from functions.core.ledger_store import Invoice, Line
from functions.core.money import MAX_AMOUNT
from functions.invoices import render
from tests.integration.documents_helpers import described, invoices, poppler_text

GOLDEN = Path(__file__).with_name("golden") / "pdf"
SELLER = render.Seller("Billow Cloud SAS", ["12 rue de la Paix", "75002 Paris"], "billing@billow.example", "FR 1")
FR_ADDRESS = {"line1": "3 place Bellecour", "city": "Lyon", "postal_code": "69002", "country": "FR"}
CONTACT = {"name": "Ada Lovelace", "email": "ada@example.com", "address": FR_ADDRESS}
PARTY = render.Party("Démo Robotique SARL", 1043, CONTACT)
TYPES = ("new", "recurring", "one_time", "credit", "refund")


def _many_lines(count: int) -> list[Line]:
    """Wrapped French descriptions in 7 groups, every 9th a usage line with tiers."""
    tier = {"start": 0, "up_to": 1000, "quantity": "1000", "unit_amount_decimal": "0.5", "flat_amount": 0}
    tiers = [tier | {"amount": "500"}, tier | {"start": 1000, "up_to": None, "quantity": "234"}]
    tiers[1] |= {"unit_amount_decimal": "0.25", "flat_amount": 100, "amount": "158.5"}
    lines = []
    for n in range(count):
        usage = n % 9 == 4
        text = f"Machine virtuelle n° {n} — hébergement dédié, sauvegardes chiffrées et supervision 24 h/24"
        lines.append(
            Line(
                text if n % 3 else f"vm-{n:03d}",
                1_234 * (n % 97 + 1),
                date(2026, 11, 1),
                date(2026, 12, 1),
                "1234" if usage else str(n % 4 + 1),
                None if usage else str(1_234 * (n % 97 + 1)),
                f"Device: Serveur Lyon {n % 7}",
                included="200" if usage else None,
                billable="1034" if usage else None,
                tiers=json.dumps(tiers) if usage else None,
            )
        )
    return lines


def _invoice_of(lines: list[Line], number: str, currency: str, **extra) -> Invoice:
    total = sum(line.amount for line in lines)
    fields = dict(account_id="acct_" + "g" * 20, id="inv_" + "g" * 20, number=number, type="recurring")
    fields |= dict(status="open", date=date(2026, 12, 1), period_start=date(2026, 12, 1))
    fields |= dict(period_end=date(2027, 1, 1), currency=currency, subtotal=total, total=total, amount_paid=0)
    fields |= dict(balance_due=total, description="", line_count=len(lines), balance_before=0)
    fields |= dict(balance_after=total, created_at="2026-12-01T00:05:00.000Z")
    return Invoice(**(fields | extra))


def _long_wrapping(locale: str) -> tuple:
    name = ("Société Très Longue de Services Informatiques Internationaux " * 4)[:200]
    party = render.Party(name, 99_999, {"name": "N" * 100, "email": "ada@example.com", "address": FR_ADDRESS})
    inv, lines = invoices("sek")["one_time"]
    big = [replace(lines[0], description=("Intervention sur site " * 23)[:500], amount=MAX_AMOUNT)]
    big[0] = replace(big[0], unit_amount=str(MAX_AMOUNT))
    inv = replace(inv, subtotal=MAX_AMOUNT, total=MAX_AMOUNT, balance_due=MAX_AMOUNT, balance_before=MAX_AMOUNT)
    inv = replace(inv, balance_after=2 * MAX_AMOUNT, applications=[])
    return inv, big, party, SELLER, locale, {}


def _script(name: str, description: str) -> tuple:
    inv, lines = invoices("jpy")["one_time"]
    party = render.Party(name, 5, {"name": name, "email": "ada@example.com", "address": {}})
    return inv, [replace(lines[0], description=description)], party, SELLER, "en", {}


def documents() -> dict[str, tuple]:
    """name -> render_pdf's arguments."""
    docs: dict[str, tuple] = {}
    for locale in ("en", "fr"):
        for name in TYPES:
            inv, lines = invoices()[name]
            docs[f"{name}_{locale}"] = (inv, lines, PARTY, SELLER, locale, described(locale))
        docs[f"long_wrapping_{locale}"] = _long_wrapping(locale)
    many = _many_lines(150)
    docs["multi_page_fr"] = (_invoice_of(many, "19-000150", "eur"), many, PARTY, SELLER, "fr", {})
    docs["script_ja"] = _script("株式会社サンプル", "サーバー保守 — 月額プラン")
    docs["script_ar"] = _script("شركة المثال للتقنية", "صيانة الخادم")
    return docs


def test_the_set_is_what_it_says():
    docs = documents()
    assert len(docs) == 15 and {p.stem for p in GOLDEN.glob("*.txt")} == set(docs)
    assert poppler_text(render.render_pdf(*docs["multi_page_fr"])).count("\f") >= 4  # pages


@pytest.mark.parametrize("name", sorted(documents()))
def test_the_pdf_reads_as_before(name):
    expected = (GOLDEN / f"{name}.txt").read_text(encoding="utf-8")
    assert poppler_text(render.render_pdf(*documents()[name])) == expected


@pytest.mark.parametrize("name", ["script_ja", "script_ar"])
def test_fonts_parsed_once_write_the_same_bytes_as_fpdf2_s_add_font(name, monkeypatch):
    """typefaces.py parses each font once per process and leaves out, before the PDF is written, the
    tables fpdf2 drops when writing it: the PDF is the one fpdf2's own `add_font` gives, byte for byte,
    rendered again after other documents (nothing of one document's fonts leaks into the next)."""
    from functions.invoices import typefaces

    args = documents()[name]
    ours = render.render_pdf(*args)
    render.render_pdf(*documents()["multi_page_fr"])
    assert render.render_pdf(*args) == ours
    monkeypatch.setattr(
        typefaces,
        "_add_font",
        lambda pdf, family, style, file, latin=False: pdf.add_font(family, style, str(typefaces.FONTS / file)),
    )
    assert render.render_pdf(*args) == ours


def _pages_png(pdf: bytes) -> bytes:
    return subprocess.run(["pdftoppm", "-r", "72", "-png", "-"], input=pdf, capture_output=True, check=True).stdout


def test_a_latin_document_s_cut_fonts_draw_the_same_pages_and_a_missing_character_takes_the_full_fonts(monkeypatch):
    """A Latin document is drawn with DejaVu cut to its Latin characters: the same pixels as with the
    full fonts. A character outside the cut that the free texts did not show (here "€", taken out of
    the cut) is missing from the cut fonts: the document is rendered again with the full fonts."""
    from functions.invoices import typefaces

    args = documents()["multi_page_fr"]
    cut = render.render_pdf(*args)
    assert render.render_pdf(*documents()["recurring_en"]) and render.render_pdf(*args) == cut
    monkeypatch.setattr(typefaces, "LATIN", frozenset())  # nothing is Latin: the full fonts
    typefaces._parsed.cache_clear()
    full = render.render_pdf(*args)
    assert full != cut and _pages_png(full) == _pages_png(cut)
    monkeypatch.setattr(typefaces, "LATIN", frozenset(range(0x20, 0x2300)) - {ord("€")})
    typefaces._latin.cache_clear()
    typefaces._parsed.cache_clear()
    try:
        assert render.render_pdf(*args) == full
    finally:
        typefaces._latin.cache_clear()
        typefaces._parsed.cache_clear()


def test_the_pen_wraps_as_fpdf2_wraps():
    """render_text.Pen breaks lines word by word where fpdf2's multi_cell breaks them character by
    character: 400 seeded random texts (short and over-long words, double spaces, no-break spaces,
    accents, narrow no-break spaces in amounts) in both styles, at widths from 6 to 120 mm."""
    import random

    from fpdf import FPDF

    from functions.invoices import render_text, typefaces

    pdf = FPDF(format="A4", unit="mm")
    typefaces.add_fonts(pdf, [])
    pdf.add_page()
    words = ["Machine", "virtuelle", "n°", "—", "hébergement", "dédié,", "a", "", "1\u202f234,56\u00a0€", "W" * 40]
    words += ["supervision", "24\u00a0h/24", "Ç", "x" * 12, "€"]
    rng = random.Random(21)
    for n in range(400):
        style = "B" if n % 2 else ""
        pen = render_text.Pen(pdf, style, 8.5)
        pdf.set_font(typefaces.MAIN, style, 8.5)
        text = " ".join(rng.choice(words) for _ in range(rng.randint(1, 30))).strip() or "x"
        width = rng.uniform(6, 120)
        wrapped = pen.wrap(text, width)
        expected = pdf.multi_cell(w=width, h=5.2, text=text, padding=1.2, dry_run=True, output="LINES")
        assert wrapped.lines is not None and list(wrapped.lines) == expected, (text, width)


if __name__ == "__main__":  # write the golden files from the renderer as it is
    GOLDEN.mkdir(parents=True, exist_ok=True)
    for name, args in documents().items():
        (GOLDEN / f"{name}.txt").write_text(poppler_text(render.render_pdf(*args)), encoding="utf-8")
        print("wrote", GOLDEN / f"{name}.txt", file=sys.stderr)
