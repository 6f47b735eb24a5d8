"""Issue 22, "Invoices and e-mails a customer can trust": each fault the outside read found, proven gone.

- every invoice type renders in English and French, to PNG under build/documents/ (looked at);
- no internal id (inv_…, pay_…) nor raw label (money_back) in a PDF: applications by day, method, number;
- no English word of the catalogue in a French PDF or e-mail;
- periods with their inclusive last day;
- the longest name the API accepts, the largest amount and every currency stay inside the page, amounts
  never wrapped, "Total" apart from its amount;
- Japanese, Chinese, Korean and Arabic text extracted from the PDF equals the input.
The stale PDF, the CSV's units and the receipts are proven against the API (tests below and in
test_collections.py)."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date

import pytest

from functions.core.money import CURRENCIES, MAX_AMOUNT, display
from functions.invoices import render
from tests.integration.documents_helpers import (
    A4_WIDTH_PT,
    MARGIN_PT,
    described,
    english_fragments,
    flat,
    invoices,
    text,
    to_png,
    word_boxes,
)
from tests.integration.render_helpers import pdf_link

SELLER = render.Seller("Billow Cloud SAS", ["12 rue de la Paix", "75002 Paris"], "billing@billow.example", "FR 1")
FR_ADDRESS = {"line1": "3 place Bellecour", "city": "Lyon", "postal_code": "69002", "country": "FR"}
PARTY = render.Party(
    "Démo Robotique SARL", 1043, {"name": "Ada Lovelace", "email": "ada@example.com", "address": FR_ADDRESS}
)
TYPES = ("new", "recurring", "one_time", "credit", "refund")
DASH = "\u2013"


def _pdf(name: str, locale: str, currency: str = "eur", party: render.Party = PARTY) -> bytes:
    inv, lines = invoices(currency)[name]
    return render.render_pdf(inv, lines, party, SELLER, locale, described(locale))


@pytest.mark.parametrize("locale", ["en", "fr"])
@pytest.mark.parametrize("name", TYPES)
def test_each_invoice_type_renders_to_png_without_ids_or_raw_labels(name, locale):
    pdf = _pdf(name, locale)
    (png,) = to_png(pdf, f"{name}_{locale}")
    assert png.stat().st_size > 10_000  # a page was drawn, not a blank
    body = text(pdf)
    assert invoices()[name][0].number in body
    for leak in ("inv_", "pay_", "re_123", "money_back", "unapplied_credit", "one_time"):
        assert leak not in body, (leak, body)


def test_applications_are_told_by_day_method_and_number():
    en = flat(text(_pdf("recurring", "en")))
    assert "Card payment of Dec 10, 2026, Visa •••• 4242 -€100.00" in en
    assert "Account credit from Credit note 19-000000 -€37.33" in en
    assert "Status Paid" in en and "Balance due €0.00" in en
    fr = flat(text(_pdf("recurring", "fr")))
    assert "Paiement par carte du 10 décembre 2026, Visa •••• 4242 -100,00 €" in fr
    assert "Statut Payée" in fr
    one_time = flat(text(_pdf("one_time", "en")))
    assert "PayPal payment of Dec 6, 2026 -€42.00" in one_time
    assert "Money returned: PayPal payment of Dec 6, 2026 €42.00" in one_time
    credit = flat(text(_pdf("credit", "en")))
    assert "Applied to Invoice 19-000001 €10.00" in credit and "Left as account credit €20.00" in credit


def test_billow_s_own_words_are_translated_and_people_s_words_kept():
    fr = flat(text(_pdf("new", "fr")) + text(_pdf("recurring", "fr")) + text(_pdf("refund", "fr")))
    for french in (
        "Appareil : Serveur Lyon",
        "Machine virtuelle · mise en service",
        "Sans appareil · logiciel",
        "Service : cdn",
        "Bande passante (partie 1 sur 2)",
        "Part non utilisée : Machine virtuelle",
    ):
        assert french in fr, french
    # what an operator typed on a charge is shown as typed, even when it reads like billow's words
    inv, lines = invoices()["one_time"]
    typed = render.render_pdf(inv, [replace(lines[0], description="Unused hours")], PARTY, SELLER, "fr", {})
    assert "Unused hours" in text(typed)


def test_periods_show_their_inclusive_last_day():
    """A New invoice [Dec 6, Dec 10) then the Recurring [Dec 10, Jan 10): no day named twice."""
    new, recurring = flat(text(_pdf("new", "en"))), flat(text(_pdf("recurring", "en")))
    assert f"Period Dec 6 {DASH} Dec 9, 2026" in new and "Dec 10" not in new
    assert f"Period Dec 10, 2026 {DASH} Jan 9, 2027" in recurring
    assert "Machine virtuelle · setup fee Dec 6, 2026" in new  # a one-day charge is its day
    assert f"Période 6 déc. {DASH} 9 déc. 2026" in flat(text(_pdf("new", "fr")))


def _french_emails() -> list[str]:
    """Every e-mail a French customer can receive, built by its module, as text."""
    from types import SimpleNamespace

    from functions.payments import closure, collection_emails, emails, failures
    from functions.usage import budget_emails

    contact = {"name": "Ada", "email": "ada@example.com"}
    account = SimpleNamespace(locale="fr", name="Démo", number=7, billing_contact=contact, id="acct_x")
    row = SimpleNamespace(method="card", brand="visa", last4="4242", amount=123_456, currency="eur", id="pay_x")
    inv = SimpleNamespace(number="19-000001", date=date(2026, 12, 6), due_date=date(2027, 1, 5), total=4200)
    inv.currency, inv.balance_due = "eur", 4200
    mails = [emails.receipt(account, row, ["19-000001", "19-000002"]), emails.receipt(account, row)]
    for step in ("before", "after"):
        mails.append(emails.invoice_reminder(account, inv, step, "https://c/x", date(2027, 1, 19)))
    for how in ("card", "carried", "no_card", "pay", "nothing_due", "credit", "refund"):
        notice = emails.InvoiceNotice(
            "ada@example.com", "Ada", "Démo", 7, "fr", "credit" if how == "credit" else "new", "19-000001",
            date(2026, 12, 6), "eur", 4200, 4200, "Geste commercial", "https://c/x", how, "Visa •••• 4242",
            date(2027, 1, 5) if how == "pay" else None,
        )  # fmt: skip
        mails.append(emails.invoice_notice(notice))
    card = emails.CardConfirmation("a@x", "Ada", "Démo", 7, "visa", "4242", 12, 2030, "fr", True, True)
    mails.append(emails.card_confirmation(card))
    for kind in ("receipt", "declined", "requires_action", "no_card", "past_due"):
        message = collection_emails.Message(
            kind, 2500, "eur", "Visa •••• 4242", "insufficient_funds", date(2026, 12, 22)
        )
        mails.append(collection_emails.build(account, replace(message, invoices=("19-000001",)), "https://c"))
    for kind in ("paypal", "3ds", "card"):
        values = {
            "name": "Ada",
            "account": "Démo",
            "amount": "25,00 €",
            "card": "Visa •••• 4242",
            "ref": "",
            "account_id": "a",
        }
        values["reason"] = "la banque l'a refusée"
        mails.append(failures.failure_email(failures.Failure("a@x", "fr", kind, values, "card_declined")))
    paid = SimpleNamespace(method="card", brand="visa", last4="4242", currency="eur", created_at="2026-12-06T09:00:00Z")
    mails.append(closure.credit_returned(account, [(replace_ns(paid, received_on=None), 1000)]))
    budget = SimpleNamespace(locale="fr", name="Démo", billing_contact=contact, currency="eur", id="acct_x")
    mails.append(budget_emails.alert_email(budget, 10_000, 80, 8_000, date(2026, 12, 1)))
    return [f"{m.subject}\n{m.text}" for m in mails]


def replace_ns(ns, **changes):
    from types import SimpleNamespace

    return SimpleNamespace(**(vars(ns) | changes))


def test_no_english_word_of_the_catalogue_in_a_french_document():
    fragments = english_fragments()
    assert len(fragments) > 100  # the check reads the whole catalogue
    documents = [flat(text(_pdf(name, "fr"))) for name in TYPES] + _french_emails()
    for document in documents:
        found = [f for f in fragments if f in document]
        assert not found, (found, document)


def test_every_e_mail_names_no_internal_id_nor_raw_code():
    for mail in _french_emails():
        # links carry ids (the console's `#/usage?account=acct_…`): the words a customer reads must not
        words = re.sub(r"https?://\S+", "<link>", mail)
        for leak in ("pay_", "inv_", "acct_", "card_declined", "insufficient_funds"):
            assert leak not in words, (leak, mail)


@pytest.mark.parametrize("locale", ["en", "fr"])
def test_the_longest_name_the_largest_amounts_and_every_currency_stay_inside_the_page(locale):
    long_name = ("Société Très Longue de Services Informatiques Internationaux " * 4)[:200]
    party = render.Party(long_name, 99_999, {"name": "N" * 100, "email": "ada@example.com", "address": FR_ADDRESS})
    left, right = MARGIN_PT - 1, A4_WIDTH_PT - MARGIN_PT + 1
    for currency in sorted(CURRENCIES):
        inv, lines = invoices(currency)["one_time"]
        big = [replace(lines[0], description="Intervention " * 38, amount=MAX_AMOUNT, unit_amount=str(MAX_AMOUNT))]
        inv = replace(inv, subtotal=MAX_AMOUNT, total=MAX_AMOUNT, balance_due=MAX_AMOUNT, balance_before=MAX_AMOUNT)
        inv = replace(inv, balance_after=2 * MAX_AMOUNT, applications=[])
        pdf = render.render_pdf(inv, big, party, SELLER, locale, {})
        boxes = word_boxes(pdf)
        outside = [(w, x0, x1) for w, x0, x1 in boxes if x0 < left or x1 > right]
        assert not outside, (currency, outside)
        body = flat(text(pdf))
        for amount in (MAX_AMOUNT, 2 * MAX_AMOUNT):
            assert flat(display(amount, currency, locale)) in body, (currency, display(amount, currency, locale))
        total = next(i for i, (w, _, _) in enumerate(boxes) if w == "Total")
        gap_pt = boxes[total + 1][1] - boxes[total][2]
        assert gap_pt > 8, (currency, boxes[total : total + 2])  # ~3 mm between "Total" and its amount
        if currency in ("chf", "sek"):
            to_png(pdf, f"largest_{currency}_{locale}")


SCRIPTS = {
    "ja": ("株式会社サンプル", "サーバー保守"),
    "zh": ("北京云计算有限公司", "云服务器维护"),
    "ko": ("주식회사 샘플", "서버 유지보수"),
    "ar": ("شركة المثال للتقنية", "صيانة الخادم"),
}


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_cjk_and_arabic_text_extracted_from_the_pdf_equals_the_input(script):
    name, description = SCRIPTS[script]
    inv, lines = invoices("jpy")["one_time"]
    party = render.Party(name, 5, {"name": name, "email": "ada@example.com", "address": {}})
    pdf = render.render_pdf(inv, [replace(lines[0], description=description)], party, SELLER, "en", {})
    rows = text(pdf).splitlines()
    assert name in rows, rows  # the customer's name, a line of its own
    assert any(row.startswith(f"{description} ") for row in rows), rows
    to_png(pdf, f"script_{script}")
    assert len(pdf) < 200_000  # the fonts are embedded as subsets


# ---- against the API: the stale PDF, the CSV's units ----------------------------------------------


@pytest.fixture
def moto_api(mint, monkeypatch):
    from tests.integration.documents_helpers import moto_stack

    yield from moto_stack(mint, monkeypatch)


def _call(api, method, path, body=None):
    import uuid

    headers = {"Idempotency-Key": str(uuid.uuid4())} if method == "POST" else None
    status, data, response_headers = api.call(method, path, body, token=api.admin, headers=headers)
    assert status in (200, 201), data
    return data, response_headers


def _download(api, account_id, invoice_id):
    import requests

    status, link, _ = pdf_link(api, f"/v1/accounts/{account_id}/invoices/{invoice_id}/pdf", api.admin)
    assert status == 200, link
    response = requests.get(link["url"], timeout=10)
    assert response.status_code == 200
    return flat(text(response.content)), response.headers.get("Content-Disposition")


def test_a_pdf_downloaded_open_then_paid_reads_paid_under_the_same_file_name(moto_api):
    api, _ = moto_api
    account = api.create_account(name="Acme", currency="usd")
    base = f"/v1/accounts/{account['id']}"
    charge, _ = _call(api, "POST", f"{base}/charges", {"description": "Consulting", "amount": 4_200})
    before, name_before = _download(api, account["id"], charge["id"])
    assert "Status Open" in before and "Balance due $42.00" in before
    payment = {"amount": 4_200, "method": "offline", "reference": "ACME-42", "received_on": "2026-12-06"}
    _call(api, "POST", f"{base}/payments", payment)
    # issue 21: the stored PDF reads Open now, so the route queues a render and answers 409 until it is stored
    status, problem, headers = api.call("GET", f"{base}/invoices/{charge['id']}/pdf", token=api.admin)
    assert (status, problem["code"], headers["Retry-After"]) == (409, "pdf-not-ready", "2")
    after, name_after = _download(api, account["id"], charge["id"])
    assert "Status Paid" in after and "Balance due $0.00" in after, after
    assert "Transfer received Dec 6, 2026, ref. ACME-42 -$42.00" in after, after
    assert "pay_" not in after and "inv_" not in after
    assert name_before == name_after == f'attachment; filename="{charge["number"]}.pdf"'


def test_the_line_csv_names_its_units_and_the_period_s_last_day(moto_api):
    import csv
    import io

    api, _ = moto_api
    account = api.create_account(name="Acme", currency="eur", locale="fr")
    base = f"/v1/accounts/{account['id']}"
    charge, _ = _call(api, "POST", f"{base}/charges", {"description": "Licence", "amount": 2_533})
    status, body, _ = api.call("GET", f"{base}/invoices/{charge['id']}/csv", token=api.admin)
    assert status == 200
    (row,) = list(csv.DictReader(io.StringIO(body.decode() if isinstance(body, bytes) else body)))
    assert {"unit_amount", "unit_amount_minor", "amount", "amount_minor", "period_last_day", "tiers_minor"} <= set(row)
    assert "period_end" not in row and "tiers" not in row
    assert (row["amount"], row["amount_minor"]) == ("25.33", "2533")
    assert row["period_last_day"] == row["period_start"]  # a one-day charge
