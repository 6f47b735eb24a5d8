"""Issue 22's documents: one invoice of each type (New, Recurring, One-time, Credit, Refund) as billow
stores them (stored words in English, half-open periods, applications naming ids), what the documents
service would describe them with, and readers of a PDF: its text (pypdf; poppler's pdftotext -layout),
its words' boxes (poppler's pdftotext -bbox) and its pages as PNG (pdftoppm) under build/documents/."""

from __future__ import annotations

import io
import re
import subprocess
import tempfile
from datetime import date
from html import unescape
from pathlib import Path

import boto3
from pypdf import PdfReader

from functions.core import catalogue
from functions.core.ledger_store import Application, Invoice, Line

BUILD = Path(__file__).resolve().parents[2] / "build" / "documents"
A4_WIDTH_PT = 595.28
MARGIN_PT = 16 / 25.4 * 72  # render.py's 16 mm margins

PAY_CARD, PAY_PAYPAL, CREDIT_ID, FIRST_ID = "pay_" + "c" * 20, "pay_" + "p" * 20, "inv_" + "k" * 20, "inv_" + "n" * 20


def text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def flat(value: str) -> str:
    """Text with the narrow and ordinary no-break spaces as spaces (how a reader compares amounts)."""
    return value.replace("\u202f", " ").replace("\u00a0", " ")


def word_boxes(pdf: bytes) -> list[tuple[str, float, float]]:
    """Every word poppler finds on every page: (word, xMin, xMax) in points."""
    with tempfile.NamedTemporaryFile(suffix=".pdf") as f:
        f.write(pdf)
        f.flush()
        html = subprocess.run(["pdftotext", "-bbox", f.name, "-"], capture_output=True, check=True, text=True).stdout
    found = re.findall(r'<word xMin="([\d.]+)" yMin="[\d.]+" xMax="([\d.]+)" yMax="[\d.]+">(.*?)</word>', html)
    return [(unescape(word), float(x0), float(x1)) for x0, x1, word in found]


def poppler_text(pdf: bytes) -> str:
    """The PDF's text as poppler's `pdftotext -layout` reads it: every page, each line of words where
    it stands on the page (columns kept apart by spaces), pages ending with a form feed."""
    with tempfile.NamedTemporaryFile(suffix=".pdf") as f:
        f.write(pdf)
        f.flush()
        args = ["pdftotext", "-layout", "-enc", "UTF-8", f.name, "-"]
        return subprocess.run(args, capture_output=True, check=True, text=True).stdout


def to_png(pdf: bytes, name: str, dpi: int = 70) -> list[Path]:
    """The PDF's pages as build/documents/<name>-<page>.png."""
    BUILD.mkdir(parents=True, exist_ok=True)
    source = BUILD / f"{name}.pdf"
    source.write_bytes(pdf)
    for old in BUILD.glob(f"{name}-*.png"):
        old.unlink()
    subprocess.run(["pdftoppm", "-r", str(dpi), "-png", str(source), str(BUILD / name)], check=True)
    return sorted(BUILD.glob(f"{name}-*.png"))


def _invoice(type_: str, number: str, lines: list[Line], start: date, end: date, **extra) -> Invoice:
    total = sum(line.amount for line in lines)
    fields = dict(
        account_id="acct_" + "a" * 20,
        id="inv_" + type_[0] * 20,
        number=number,
        type=type_,
        status="open",
        date=start,
        period_start=start,
        period_end=end,
        currency="eur",
        subtotal=total,
        total=total,
        amount_paid=0,
        balance_due=total if total > 0 else 0,
        description="",
        line_count=len(lines),
        balance_before=0,
        balance_after=total,
        created_at=f"{start.isoformat()}T09:00:00.000Z",
    )
    return Invoice(**(fields | extra))


def invoices(currency: str = "eur") -> dict[str, tuple[Invoice, list[Line]]]:
    """One invoice of each type, with billow's stored words in its groups and lines."""
    device, unassigned, cdn = "Device: Serveur Lyon", "Unassigned · logiciel", "Service: cdn"
    dec6, dec10, jan10 = date(2026, 12, 6), date(2026, 12, 10), date(2027, 1, 10)
    new_lines = [
        Line("Machine virtuelle · setup", 5_000, dec6, dec6, group=device, quantity="1", unit_amount="5000"),
        Line("Machine virtuelle", 1_290, dec6, dec10, group=device, quantity="1", unit_amount="1290"),
    ]
    recurring_lines = [
        Line("Machine virtuelle", 10_000, dec10, jan10, group=device, quantity="1", unit_amount="10000"),
        Line("Licence annuelle", 2_533, dec10, jan10, group=unassigned, quantity="1", unit_amount="2533"),
        Line("Bande passante (part 1 of 2)", 1_200, date(2026, 11, 10), dec10, "1000", "1.2", cdn),
    ]
    one_time_lines = [Line("Intervention sur site", 4_200, dec6, dec6)]
    credit_lines = [Line("Geste commercial", -3_000, dec10, dec10)]
    refund_lines = [Line("Unused Machine virtuelle", -6_452, dec10, jan10, group=device)]
    paid = [
        Application(PAY_CARD, "payment", 10_000, "2026-12-10T09:05:00.000Z"),
        Application("unapplied_credit", "unapplied_credit", 3_733, "2026-12-10T09:00:00.000Z", CREDIT_ID),
    ]
    returned = [
        Application(PAY_PAYPAL, "payment", 4_200, "2026-12-06T10:00:00.000Z"),
        Application(PAY_PAYPAL, "money_back", -4_200, "2026-12-08T10:00:00.000Z", "re_123"),
    ]
    applied_to = [{"invoice_id": FIRST_ID, "amount": 1_000}, {"invoice_id": None, "amount": 2_000}]
    docs = {
        "new": _invoice("new", "19-000001", new_lines, dec6, dec10),
        "recurring": _invoice("recurring", "19-000003", recurring_lines, dec10, jan10, status="closed"),
        "one_time": _invoice("one_time", "19-000002", one_time_lines, dec6, dec6, applications=returned),
        "credit": _invoice("credit", "19-000004", credit_lines, dec10, dec10, status="closed", applied_to=applied_to),
        "refund": _invoice("refund", "19-000005", refund_lines, dec10, jan10, status="closed", applied_to=[]),
    }
    docs["recurring"].applications, docs["recurring"].amount_paid, docs["recurring"].balance_due = paid, 13_733, 0
    docs["refund"].description = "Cancelled: Machine virtuelle"
    lines = {"new": new_lines, "recurring": recurring_lines, "one_time": one_time_lines}
    lines |= {"credit": credit_lines, "refund": refund_lines}
    for inv in docs.values():
        inv.currency = currency
    return {name: (inv, lines[name]) for name, inv in docs.items()}


def described(locale: str) -> dict[str, str]:
    """What functions/invoices/documents.py `described` finds for the ids the samples name."""
    return {
        PAY_CARD: catalogue.payment_text(locale, method="card", day=date(2026, 12, 10), brand="visa", last4="4242"),
        PAY_PAYPAL: catalogue.payment_text(locale, method="paypal", day=date(2026, 12, 6)),
        CREDIT_ID: catalogue.document_text(locale, "credit", "19-000000"),
        FIRST_ID: catalogue.document_text(locale, "new", "19-000001"),
    }


def english_fragments() -> list[str]:
    """The catalogue's English (core/catalogue.py and every customer e-mail's table): each string's parts
    between placeholders that the French string of the same key does not also hold, 4 letters or more."""
    from functions.payments import closure, collection_emails, emails, failures
    from functions.usage import budget_emails

    pairs: list[tuple[str, str]] = []
    tables = [catalogue.TEXT, emails._CARD, emails._RECEIPT, emails._NOTICE, emails._REMINDER]
    tables += [collection_emails.TEXT, failures._TEXT, failures.CHANGE_REASONS, catalogue.DECLINES]
    tables += [closure._RETURNED, budget_emails.TEXT]
    for table in tables:
        for key, en in table["en"].items():
            fr = table["fr"][key]
            if isinstance(en, str):
                pairs.append((en, fr))
            elif isinstance(en, dict):
                pairs += [(en[k], fr[k]) for k in en]
            else:
                pairs += list(zip(en, fr, strict=True))
    fragments = set()
    for en, fr in pairs:
        for part in re.split(r"\{[^}]*\}", en):
            part = part.strip(" .,:;()")
            if sum(c.isalpha() for c in part) >= 4 and part not in fr:
                fragments.add(part)
    return sorted(fragments)


def moto_stack(mint, monkeypatch):
    """The app over moto's *server* (presigned URLs need real HTTP), with every queue: (Api, the server's URL)."""
    from chalice.test import Client

    from functions.core import db
    from functions.core.resources import bucket_name
    from functions.invoices import store
    from local import moto_server
    from tests.integration.conftest import Api

    server, url = moto_server.start(0)
    monkeypatch.setenv("AWS_ENDPOINT_URL", url)
    db.reset_connections()
    store.reset_client()
    db.create_tables(boto3.client("dynamodb", region_name="us-east-1"))
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=bucket_name())
    from app import app
    from tests.integration.conftest import queues_and_mail_created

    try:
        with queues_and_mail_created(), Client(app) as client:  # the pdf-render queue renders the PDFs
            yield Api(client, mint), url
    finally:
        db.reset_connections()
        store.reset_client()
        moto_server.stop(server)
