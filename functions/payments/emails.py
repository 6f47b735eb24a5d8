"""The card confirmation e-mail, in the account's language (English or French), as text and HTML.

It names the card by brand, last four digits and expiry only, like the rest of billow.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from functions.core.email import Email


@dataclass(frozen=True)
class CardConfirmation:
    to: str
    contact_name: str
    account_name: str
    account_number: int
    brand: str
    last4: str
    exp_month: int
    exp_year: int
    locale: str  # en | fr
    replaced: bool = False  # True when it took the place of a previous card


_BRANDS = {"visa": "Visa", "mastercard": "Mastercard", "amex": "American Express", "discover": "Discover"}

_TEXT = {
    "en": {
        "subject": "Your new card is active on {account}",
        "greeting": "Hello {name},",
        "body": (
            "The card {brand} ending in {last4} (expires {exp}) is now the card on file for the account "
            "{account} (no. {number}). It will be charged for this account's invoices from now on."
        ),
        "replaced": "The previous card was removed from the account.",
        "footer": (
            "You receive this message because you are the billing contact for this card. If you did not make "
            "this change, contact your account administrator."
        ),
        "sign": "The billing team",
    },
    "fr": {
        "subject": "Votre nouvelle carte est active sur {account}",
        "greeting": "Bonjour {name},",
        "body": (
            "La carte {brand} se terminant par {last4} (expire fin {exp}) est désormais la carte enregistrée "
            "du compte {account} (n° {number}). Elle sera débitée pour les factures de ce compte."
        ),
        "replaced": "L'ancienne carte a été retirée du compte.",
        "footer": (
            "Vous recevez ce message parce que vous êtes le contact de facturation de cette carte. Si vous "
            "n'êtes pas à l'origine de ce changement, contactez l'administrateur de votre compte."
        ),
        "sign": "L'équipe facturation",
    },
}


def card_confirmation(c: CardConfirmation) -> Email:
    """The confirmation that a new card is on file (sent once per card change)."""
    words = _TEXT.get(c.locale, _TEXT["en"])
    values = {
        "name": c.contact_name,
        "account": c.account_name,
        "number": str(c.account_number),
        "brand": _BRANDS.get(c.brand.lower(), c.brand.title()),
        "last4": c.last4,
        "exp": f"{c.exp_month:02d}/{c.exp_year}",
    }
    subject = words["subject"].format(**values)
    greeting, body = words["greeting"].format(**values), words["body"].format(**values)
    if c.replaced:
        body = f"{body} {words['replaced']}"
    text = f"{greeting}\n\n{body}\n\n{words['footer']}\n\n{words['sign']}\n"
    safe = {k: escape(v) for k, v in values.items()}
    html = (
        f'<!doctype html><html lang="{escape(c.locale)}"><body style="font-family:sans-serif">'
        f"<p>{escape(words['greeting']).format(**safe)}</p>"
        f"<p>{escape(words['body']).format(**safe)}{' ' + escape(words['replaced']) if c.replaced else ''}</p>"
        f'<p style="color:#666;font-size:smaller">{escape(words["footer"])}</p>'
        f"<p>{escape(words['sign'])}</p></body></html>"
    )
    return Email(to=c.to, subject=subject, text=text, html=html)
