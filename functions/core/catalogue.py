"""The words of every document a customer reads — invoice PDFs, CSV cells, e-mails — in English and
French, from ONE catalogue (docs/invoices.md, "Documents a customer can trust"). Amounts are written by
functions/core/money.py `display` (one formatter by locale), days by functions/core/clock.py `display_day`.

- `words(locale)`: the labels of the documents (`TEXT`); any locale but "fr" reads English.
- `period(start, end, locale)`: a period as people read it, with its INCLUSIVE last day: billow stores
  periods half-open (`[start, end)`, the next period starts on `end`), a document shows `end - 1 day`
  ("Dec 6 - Dec 9, 2026", then "Dec 10, 2026 - Jan 9, 2027", with an en dash); a one-day period is that day.
- `card(brand, last4)`: a card as every document names it, "Visa •••• 4242" (`brand_name` capitalises).
- `local_text(text, locale)`: the words billow itself stored in lines and groups ("Device: rack-1",
  "Unassigned · software", "VM · setup", "Unused VM", "(part 1 of 2)", "Service: cdn") in the reader's
  language, and never an internal id ("Device dev_…" of a deleted device reads "Removed device").
  What a customer or an operator typed (a device's name, a description) is left as typed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, timedelta

from functions.core.clock import display_day

DASH = "\u2013"  # en dash between the days of a period
NBSP = "\u00a0"
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
        "closed": "Paid",
        "closed_credit": "Issued",
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
        "applied_to": "Applied to",
        "balance_due": "Balance due",
        "unapplied": "Left as account credit",
        "page": "Page {n} of {nb}",
        "thanks": "Amounts in {cur}. Questions about this invoice: {email}.",
        "balance_before": "Account balance before",
        "balance_after": "Account balance after",
        # what settled an invoice, or what a Credit/Refund settled: by number, day and method, never an id
        "card_payment": "Card payment of {date}, {card}",
        "paypal_payment": "PayPal payment of {date}",
        "offline_payment": "Transfer received {date}, ref. {reference}",
        "some_payment": "Payment of {date}",
        "payment": "Payment",
        "credit_doc": "Credit note {number}",
        "refund_doc": "Refund {number}",
        "invoice_doc": "Invoice {number}",
        "from_credit": "Account credit",
        "from_credit_of": "Account credit from {source}",
        "money_back": "Money returned: {source}",
        "card_fallback": "card",
        "paid_one": "invoice {numbers}",
        "paid_many": "invoices {numbers}",
        "and": "and",
        # the words billow stores in lines and groups (`local_text`)
        "device": "Device: {name}",
        "device_gone": "Removed device",
        "unassigned": "Unassigned · {category}",
        "service": "Service: {service}",
        "setup": "{description} · setup fee",
        "unused": "Unused {description}",
        "part": "{description} (part {n} of {m})",
        "cancelled": "Cancelled: {description}",
        "new_item": "New: {description}",
        "final": "Final: {start} to {end}",
        "below_minimum": "Below the minimum charge: written off",
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
        "closed": "Payée",
        "closed_credit": "Émis",
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
        "applied_to": "Imputé sur",
        "balance_due": "Reste à payer",
        "unapplied": "Laissé en crédit sur le compte",
        "page": "Page {n} sur {nb}",
        "thanks": "Montants en {cur}. Pour toute question sur cette facture : {email}.",
        "balance_before": "Solde du compte avant",
        "balance_after": "Solde du compte après",
        "card_payment": "Paiement par carte du {date}, {card}",
        "paypal_payment": "Paiement PayPal du {date}",
        "offline_payment": "Virement reçu le {date}, réf. {reference}",
        "some_payment": "Paiement du {date}",
        "payment": "Paiement",
        "credit_doc": "Avoir {number}",
        "refund_doc": "Remboursement {number}",
        "invoice_doc": "Facture {number}",
        "from_credit": "Crédit du compte",
        "from_credit_of": "Crédit du compte issu de : {source}",
        "money_back": "Somme restituée : {source}",
        "card_fallback": "carte",
        "paid_one": "la facture {numbers}",
        "paid_many": "les factures {numbers}",
        "and": "et",
        "device": "Appareil : {name}",
        "device_gone": "Appareil supprimé",
        "unassigned": "Sans appareil · {category}",
        "service": "Service : {service}",
        "setup": "{description} · mise en service",
        "unused": "Part non utilisée : {description}",
        "part": "{description} (partie {n} sur {m})",
        "cancelled": "Résiliation : {description}",
        "new_item": "Mise en service : {description}",
        "final": "Clôture : du {start} au {end}",
        "below_minimum": "Solde inférieur au débit minimum : abandonné",
    },
}


def words(locale: str) -> Mapping[str, str]:
    """The catalogue's words in `locale` (English for any locale but "fr")."""
    return TEXT.get(locale, TEXT["en"])


def last_day(start: date, end: date) -> date:
    """The inclusive last day of the half-open period [start, end); a one-day period (start == end) is start."""
    return end - timedelta(days=1) if end > start else start


def period(start: date, end: date, locale: str) -> str:
    """A period, compact, its last day included: "Dec 1 - Dec 31, 2026" / "1 déc. - 31 déc. 2026" (an en dash)."""
    end = last_day(start, end)
    if start == end:
        return display_day(start, locale)
    if start.year != end.year:  # each day kept whole on its line (no-break spaces): a wrap falls at the dash
        first, last = (display_day(day, locale).replace(" ", NBSP) for day in (start, end))
        return f"{first} {DASH} {last}"
    if locale == "fr":
        first, last = _MONTHS_FR_SHORT[start.month - 1], _MONTHS_FR_SHORT[end.month - 1]
        return f"{start.day} {first} {DASH} {end.day} {last} {end.year}"
    return f"{start.strftime('%b')} {start.day} {DASH} {end.strftime('%b')} {end.day}, {end.year}"


_BRANDS = {
    "visa": "Visa",
    "mastercard": "Mastercard",
    "amex": "American Express",
    "discover": "Discover",
    "diners": "Diners Club",
    "jcb": "JCB",
    "unionpay": "UnionPay",
    "cartes_bancaires": "Cartes Bancaires",
}


def brand_name(brand: str | None) -> str:
    """A card brand as people write it ("visa" -> "Visa", "amex" -> "American Express"), everywhere."""
    if not brand:
        return ""
    return _BRANDS.get(brand.lower(), brand.replace("_", " ").title())


def card(brand: str | None, last4: str | None, locale: str = "en") -> str:
    """A card as every document names it: "Visa •••• 4242" (no brand known: "card •••• 4242")."""
    name = brand_name(brand) or words(locale)["card_fallback"]
    return f"{name} •••• {last4}" if last4 else name


# The words billow stores in lines and groups, recognised by their English form (the form written in
# the ledger), each with its catalogue key: `local_text` rewrites them in the reader's language.
_STORED = [
    (re.compile(r"Device: (?P<name>.+)", re.S), "device"),
    (re.compile(r"Device dev_[0-9a-z]+"), "device_gone"),
    (re.compile(r"Unassigned · (?P<category>.+)", re.S), "unassigned"),
    (re.compile(r"Service: (?P<service>.+)", re.S), "service"),
    (re.compile(r"(?P<description>.+) \(part (?P<n>\d+) of (?P<m>\d+)\)", re.S), "part"),
    (re.compile(r"(?P<description>.+) · setup", re.S), "setup"),
    (re.compile(r"Unused (?P<description>.+)", re.S), "unused"),
    (re.compile(r"Cancelled: (?P<description>.+)", re.S), "cancelled"),
    (re.compile(r"New: (?P<description>.+)", re.S), "new_item"),
    (re.compile(r"Final: (?P<start>\d{4}-\d\d-\d\d) to (?P<end>\d{4}-\d\d-\d\d)"), "final"),
    (re.compile(r"Below the minimum charge: written off"), "below_minimum"),
]


def local_text(text: str | None, locale: str) -> str:
    """Stored text in the reader's language: billow's own words translated (`_STORED`), what people
    typed left as it is; "Final: <start> to <end>" shows its days."""
    if not text:
        return ""
    for pattern, key in _STORED:
        match = pattern.fullmatch(text)
        if match is None:
            continue
        values = match.groupdict()
        if key == "final":
            start, end = date.fromisoformat(values["start"]), date.fromisoformat(values["end"])
            values = {"start": display_day(start, locale), "end": display_day(last_day(start, end), locale)}
        elif key == "part":
            values["description"] = local_text(values["description"], locale)
        return words(locale)[key].format(**values)
    return text


def payment_text(
    locale: str,
    *,
    method: str,
    day: date,
    brand: str | None = None,
    last4: str | None = None,
    reference: str | None = None,
) -> str:
    """A payment as documents name it: "Card payment of Dec 6, 2026, Visa •••• 4242", "PayPal payment of
    …", "Transfer received Dec 6, 2026, ref. ACME-42" (an offline payment: its day received)."""
    t, when = words(locale), display_day(day, locale)
    if method == "paypal":
        return t["paypal_payment"].format(date=when)
    if method == "offline":
        return t["offline_payment"].format(date=when, reference=reference or "")
    if method == "card":
        return t["card_payment"].format(date=when, card=card(brand, last4, locale))
    return t["some_payment"].format(date=when)


def document_text(locale: str, invoice_type: str, number: str) -> str:
    """An invoice as documents name it: "Credit note 3-000043", "Refund 3-000044", "Invoice 3-000042"."""
    key = {"credit": "credit_doc", "refund": "refund_doc"}.get(invoice_type, "invoice_doc")
    return words(locale)[key].format(number=number)


def invoices_named(numbers: list[str] | tuple[str, ...], locale: str) -> str:
    """Invoices by number: "invoice 3-000042", "invoices 3-000042, 3-000043 and 3-000044" ("" for none)."""
    t = words(locale)
    if not numbers:
        return ""
    if len(numbers) == 1:
        return t["paid_one"].format(numbers=numbers[0])
    listed = f"{', '.join(numbers[:-1])} {t['and']} {numbers[-1]}"
    return t["paid_many"].format(numbers=listed)


# Why a payment took no money (Stripe's decline and error codes), for people; any other code reads
# as the general reason: a customer's e-mail never shows a raw code.
DECLINES: dict[str, dict[str, str]] = {
    "en": {
        "insufficient_funds": "insufficient funds",
        "card_declined": "the bank declined it",
        "generic_decline": "the bank declined it",
        "do_not_honor": "the bank declined it",
        "expired_card": "the card has expired",
        "incorrect_cvc": "the security code was refused",
        "processing_error": "the bank could not process it",
        "authentication_required": "your bank asks you to confirm it",
        "payment_intent_authentication_failure": "the authentication failed",
        "no_card": "no valid card on file",
        "lost_card": "the card was reported lost",
        "stolen_card": "the card was reported stolen",
        "": "the payment was refused",
    },
    "fr": {
        "insufficient_funds": "provision insuffisante",
        "card_declined": "la banque l'a refusé",
        "generic_decline": "la banque l'a refusé",
        "do_not_honor": "la banque l'a refusé",
        "expired_card": "la carte a expiré",
        "incorrect_cvc": "le code de sécurité a été refusé",
        "processing_error": "la banque n'a pas pu le traiter",
        "authentication_required": "votre banque demande de le confirmer",
        "payment_intent_authentication_failure": "l'authentification a échoué",
        "no_card": "aucune carte valide enregistrée",
        "lost_card": "la carte a été déclarée perdue",
        "stolen_card": "la carte a été déclarée volée",
        "": "le paiement a été refusé",
    },
}


def decline_reason(code: str | None, locale: str) -> str:
    """A decline or error code as people read it ("insufficient_funds" -> "provision insuffisante")."""
    reasons = DECLINES.get(locale, DECLINES["en"])
    return reasons.get(code or "", reasons[""])
