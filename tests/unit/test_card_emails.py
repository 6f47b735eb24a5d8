"""The card confirmation e-mail in English and French, as text and HTML."""

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
