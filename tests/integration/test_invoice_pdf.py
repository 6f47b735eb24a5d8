"""Invoice PDFs against moto's *server* (presigned URLs need real HTTP): rendered once into S3, read
through a presigned URL that downloads over loopback, text checked with pypdf."""

from __future__ import annotations

import io
import os
import uuid
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
import requests
from pypdf import PdfReader

from functions.core import clock
from tests.integration.documents_helpers import moto_stack
from tests.integration.render_helpers import drain_renders, pdf_link


@pytest.fixture
def moto_api(mint, monkeypatch):
    yield from moto_stack(mint, monkeypatch)


def _text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def _post(api, account_id, kind, body):
    status, data, _ = api.call(
        "POST",
        f"/v1/accounts/{account_id}/{kind}",
        body,
        token=api.admin,
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    assert status == 201, data
    return data


def test_a_french_invoice_pdf_downloads_from_its_presigned_url_and_reads_right(moto_api):
    api, moto_url = moto_api
    account = api.create_account(name="Démo Robotique SARL", currency="eur", locale="fr")
    token = api.member_token(account["id"], role="viewer", scopes=("billing:read",))
    charge = _post(api, account["id"], "charges", {"description": "Hébergement dédié — décembre", "amount": 123_456})
    _post(api, account["id"], "credits", {"amount": 23_456, "reason": "Geste commercial"})
    now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    with clock.frozen(now):
        status, link, _ = pdf_link(api, f"/v1/accounts/{account['id']}/invoices/{charge['id']}/pdf", token)
    assert status == 200, link
    assert link["url"].startswith(moto_url)
    assert link["expires_at"] == "2026-12-01T09:05:00.000Z"
    assert parse_qs(urlparse(link["url"]).query)["X-Amz-Expires"] == ["300"]  # moto does not enforce it
    response = requests.get(link["url"], timeout=10)
    assert response.status_code == 200 and response.content.startswith(b"%PDF")
    # a browser following the link downloads the file (the console's "Download PDF")
    assert response.headers["Content-Disposition"] == f'attachment; filename="{charge["number"]}.pdf"'
    text = _text(response.content)
    for expected in (
        "FACTURE",
        charge["number"],
        "Hébergement dédié — décembre",
        "1 234,56 €",
        "234,56 €",
        "Reste à payer",
        "1 000,00 €",
        "Démo Robotique SARL",
        "Page 1 sur 1",
        "Frais ponctuels",
    ):
        assert expected.replace("\u202f", " ") in text.replace("\u202f", " ").replace("\u00a0", " "), expected


def test_the_pdf_is_rendered_once_by_the_queue_and_kept(moto_api, monkeypatch):
    """Issue 21 changed this on purpose: the route never renders. Issuing queued the render; before the
    worker ran the route answers 409 pdf-not-ready; once it ran, presigned links to the one render."""
    api, _ = moto_api
    from functions.invoices import render

    account = api.create_account(name="Acme", currency="gbp")
    charge = _post(api, account["id"], "charges", {"description": "Consulting", "amount": 9_999})
    calls = []
    real = render.render_pdf
    monkeypatch.setattr(render, "render_pdf", lambda *a, **k: calls.append(1) or real(*a, **k))
    path = f"/v1/accounts/{account['id']}/invoices/{charge['id']}/pdf"
    status, problem, headers = api.call("GET", path, token=api.admin)
    assert (status, problem["code"], headers["Retry-After"]) == (409, "pdf-not-ready", "2") and calls == []
    assert drain_renders(api.client) == 2  # the render, and the one the 409 queued: rendered once
    first = api.call("GET", path, token=api.admin)[1]["url"]
    second = api.call("GET", path, token=api.admin)[1]["url"]
    assert len(calls) == 1
    text = _text(requests.get(second, timeout=10).content)
    assert "INVOICE" in text and "£99.99" in text and "Balance due" in text and "One-time charges" in text
    assert requests.get(first, timeout=10).content == requests.get(second, timeout=10).content


def test_an_invoice_of_many_lines_spans_pages_with_numbers(moto_api):
    from datetime import date

    from functions.core.ledger_store import Invoice, Line
    from functions.invoices import render

    lines = [
        Line(f"vm-{n:03d} compute", 1000 + n, date(2026, 11, 1), date(2026, 11, 30), group=f"Device: rack-{n % 3}")
        for n in range(120)
    ]
    inv = Invoice(
        account_id="acct_x",
        id="inv_x",
        number="3-000042",
        type="recurring",
        status="open",
        date=date(2026, 12, 1),
        period_start=date(2026, 12, 1),
        period_end=date(2026, 12, 31),
        currency="usd",
        subtotal=sum(x.amount for x in lines),
        total=sum(x.amount for x in lines),
        amount_paid=0,
        balance_due=sum(x.amount for x in lines),
        description="",
        line_count=120,
        balance_before=0,
        balance_after=0,
        created_at="2026-12-01T00:05:00.000Z",
    )
    party = render.Party("Acme", 3, {"name": "A", "email": "a@example.com", "address": {}})
    seller = render.Seller("Billow Cloud SAS", ["Paris"], "billing@billow.example", "FR 1")
    text = _text(render.render_pdf(inv, lines, party, seller, "en"))
    pages = text.count("3-000042 · Page ")
    assert pages >= 3 and f"Page {pages} of {pages}" in text
    assert "vm-119 compute" in text and "Device: rack-2" in text
    assert f"${inv.total / 100:,.2f}" in text
    assert os.environ.get("AWS_ENDPOINT_URL", "").startswith("http://127.0.0.1")


# ---- the text of the PDF, pinned -----------------------------------------------------------------

SNAPSHOTS = Path(__file__).with_name("invoice_pdf_text")


def _documents():
    """An English and a French Recurring invoice (groups, usage lines with sub-cent unit prices, every
    kind of application, a postal address in each country's order) and a French Credit note applied to
    an invoice and left partly as credit: what `render_pdf` draws, each branch at least once."""
    from datetime import date

    from functions.core.ledger_store import Application, Invoice, Line
    from functions.invoices import render

    lines = [
        Line("Serveur bare-metal — 2 Xeon", 30_000, date(2026, 12, 1), date(2027, 1, 1), group="Device: rack-1"),
        Line("IPv4 <supplémentaire>", 500, date(2026, 12, 15), date(2027, 1, 1), group="Device: rack-1"),
        Line("Object storage GB-month", 1_234, date(2026, 11, 1), date(2026, 12, 1), "4936", "0.25", "Service: s3"),
        Line("Egress GB", 99, date(2026, 11, 1), date(2026, 12, 1), "1234.5", "0.08", "Service: s3"),
        Line("Support plan · setup", 4_900, date(2026, 12, 1), date(2027, 2, 1), item_id="item_x"),
    ]
    subtotal = sum(line.amount for line in lines)
    applications = [
        Application("pay_aaaaaaaaaaaaaaaaaaaa", "payment", 10_000, "2026-12-02T00:00:00.000Z"),
        Application("inv_cccccccccccccccccccc", "credit", 2_500, "2026-12-02T00:00:00.000Z"),
        Application("unapplied_credit", "unapplied_credit", 1_000, "2026-12-02T00:00:00.000Z", "pay_" + "b" * 20),
    ]
    common = dict(account_id="acct_x", date=date(2026, 12, 1), subtotal=subtotal, amount_paid=13_500)
    common |= dict(description="", line_count=len(lines), created_at="2026-12-01T00:05:00.000Z")
    tax = 7_347
    invoice = dict(common, id="inv_x", number="3-000042", type="recurring", status="open")
    invoice |= dict(period_start=date(2026, 12, 1), period_end=date(2027, 1, 1), total=subtotal + tax)
    invoice |= dict(balance_due=subtotal + tax - 13_500, balance_before=1_000, balance_after=subtotal + tax - 12_500)
    credit = dict(common, id="inv_y", number="3-000043", type="credit", status="closed", total=-5_000)
    credit |= dict(period_start=date(2026, 12, 3), period_end=date(2026, 12, 3), subtotal=-5_000, amount_paid=0)
    credit |= dict(balance_due=0, balance_before=20_000, balance_after=15_000, line_count=1)
    seller = render.Seller("Billow Cloud SAS", ["12 rue de la Paix", "75002 Paris"], "billing@billow.example", "FR 1")
    us = {"line1": "1 Main St", "city": "Boston", "state": "MA", "postal_code": "02110", "country": "US"}
    fr = {"line1": "3 place Bellecour", "line2": "Bât. B", "city": "Lyon", "postal_code": "69002", "country": "FR"}
    contact = {"name": "Ada Lovelace", "email": "ada@example.com"}
    described = {
        "en": {
            "pay_aaaaaaaaaaaaaaaaaaaa": "Card payment of Dec 2, 2026, Visa •••• 4242",
            "pay_bbbbbbbbbbbbbbbbbbbb": "PayPal payment of Nov 20, 2026",
            "inv_cccccccccccccccccccc": "Credit note 3-000040",
        },
        "fr": {
            "pay_aaaaaaaaaaaaaaaaaaaa": "Paiement par carte du 2 décembre 2026, Visa •••• 4242",
            "pay_bbbbbbbbbbbbbbbbbbbb": "Paiement PayPal du 20 novembre 2026",
            "inv_cccccccccccccccccccc": "Avoir 3-000040",
            "inv_x": "Facture 3-000042",
        },
    }
    return {
        "recurring_en": (
            Invoice(**invoice, currency="usd", applications=applications),
            lines,
            render.Party("Acme Robotics", 1042, contact | {"address": us}),
            seller,
            "en",
            described["en"],
        ),
        "recurring_fr": (
            Invoice(**invoice, currency="eur", applications=applications),
            lines,
            render.Party("Démo Robotique SARL", 1043, contact | {"address": fr}),
            seller,
            "fr",
            described["fr"],
        ),
        "credit_fr": (
            Invoice(
                **credit,
                currency="eur",
                applied_to=[{"invoice_id": "inv_x", "amount": 3_000}, {"invoice_id": None, "amount": 2_000}],
            ),
            [Line("Geste commercial", -5_000, date(2026, 12, 3), date(2026, 12, 3))],
            render.Party("Démo Robotique SARL", 1043, contact | {"address": fr}),
            seller,
            "fr",
            described["fr"],
        ),
    }


@pytest.mark.parametrize("name", ["recurring_en", "recurring_fr", "credit_fr"])
def test_the_pdf_s_text_is_the_one_pinned(name):
    """The text pypdf reads from each PDF is the one pinned in invoice_pdf_text/ (taken from render_pdf
    before issue 15 split it into functions of at most 60 lines: the split changed nothing a reader sees)."""
    from functions.invoices import render

    text = _text(render.render_pdf(*_documents()[name]))
    assert text == (SNAPSHOTS / f"{name}.txt").read_text(encoding="utf-8")
