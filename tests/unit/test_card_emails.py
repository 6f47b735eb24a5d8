"""The card confirmation and payment receipt e-mails in English and French, as text and HTML."""

from __future__ import annotations

from functions.payments.emails import CardConfirmation, card_confirmation


def confirmation(**overrides):
    values = {
        "to": "ada@example.com",
        "contact_name": "Ada Lovelace",
        "account_name": "Acme Robotics",
        "account_number": 1042,
        "brand": "visa",
        "last4": "4242",
        "exp_month": 3,
        "exp_year": 2031,
        "locale": "en",
    }
    return card_confirmation(CardConfirmation(**(values | overrides)))


def test_english():
    mail = confirmation()
    assert mail.to == "ada@example.com"
    assert mail.subject == "Your new card is active on Acme Robotics"
    assert mail.text.startswith("Hello Ada Lovelace,\n\n")
    assert "The card Visa ending in 4242 (expires 03/2031) is now the card on file for the account" in mail.text
    assert "Acme Robotics (no. 1042)" in mail.text
    assert '<html lang="en">' in mail.html and "Visa ending in 4242 (expires 03/2031)" in mail.html
    assert "previous card" not in mail.text and "previous card" not in mail.html
    replacing = confirmation(replaced=True)
    assert "from now on. The previous card was removed from the account." in replacing.text
    assert "The previous card was removed from the account." in replacing.html


def test_french():
    mail = confirmation(locale="fr", account_name="Démo Robotique", brand="mastercard")
    assert mail.subject == "Votre nouvelle carte est active sur Démo Robotique"
    assert mail.text.startswith("Bonjour Ada Lovelace,\n\n")
    assert "La carte Mastercard se terminant par 4242 (expire fin 03/2031)" in mail.text
    assert "du compte Démo Robotique (n° 1042)" in mail.text
    assert "L'équipe facturation" in mail.text
    assert '<html lang="fr">' in mail.html and "Mastercard se terminant par 4242" in mail.html
    assert "L&#x27;ancienne carte a été retirée du compte." in confirmation(locale="fr", replaced=True).html


def test_names_are_escaped_in_html_and_plain_in_text():
    mail = confirmation(contact_name="<script>alert(1)</script>", account_name="Tom & Jerry")
    assert "<script>" not in mail.html and "&lt;script&gt;" in mail.html
    assert "Tom &amp; Jerry" in mail.html
    assert "Hello <script>alert(1)</script>," in mail.text and "Tom & Jerry" in mail.subject


def test_an_unknown_locale_falls_back_to_english():
    assert confirmation(locale="de").subject.startswith("Your new card")


def receipt(locale, amount=123456, currency="eur"):
    from types import SimpleNamespace

    from functions.payments.emails import receipt as build

    account = SimpleNamespace(
        locale=locale, name="Acme", number=7, billing_contact={"name": "Ada", "email": "ada@example.com"}
    )
    row = SimpleNamespace(method="card", brand="visa", last4="4242", amount=amount, currency=currency, id="pay_1")
    return build(account, row, ["3-000042"])


def test_the_receipt_writes_its_amount_as_the_invoice_notices_do():
    """Issue 15: receipts said "1,234.56 EUR" to a French account whose notices said "1 234,56 €";
    both now use functions/core/money.py `display` in the account's language."""
    french = receipt("fr")
    assert french.subject == "Paiement reçu : 1\u202f234,56\u00a0€ pour Acme"
    assert "Nous avons bien reçu votre paiement de 1\u202f234,56\u00a0€ (Visa •••• 4242)" in french.text
    english = receipt("en", 3500, "usd")
    assert english.subject == "Payment received: $35.00 for Acme"
    assert english.text == (
        "Hello Ada,\n\nWe received your payment of $35.00 (Visa •••• 4242) for the account Acme (no. 7). "
        "It paid invoice 3-000042.\n\nThank you.\n\nThe billing team\n"
    )
    assert '<html lang="en">' in english.html and "$35.00" in english.html
