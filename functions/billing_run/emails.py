"""The billing run's e-mails, built on functions/core/email.py `compose`: the invoice notice (one per
Recurring invoice, saying what the charge did) and the dunning reminders, in English or French."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from functions.core.clock import display_day
from functions.core.email import Email, compose
from functions.core.money import display

TEXT = {
    "en": {
        "subject": "Your invoice {number} from {seller}",
        "hello": "Hello {name},",
        "issued": "Invoice {number} of {date} for the account {account} comes to {total}.",
        "succeeded": "We charged {due} to your card {card}. Thank you.",
        "processing": "The payment of {due} with your card {card} is being processed.",
        "scheduled": "We will charge {due} to your card {card} shortly, with any other open invoice.",
        "pay_invoice": "Please pay {due} from the billing console or by bank transfer.",
        "nothing_due": "Nothing is left to pay on it.",
        "below_minimum": "{due} is below the minimum card charge: it will be collected with your next charge.",
        "no_card": "There is no valid card on file: please add one in the console, or pay {due} from the invoice.",
        "declined": "Your card {card} was declined for {due}. We will try again on {retry}; you can also pay now "
        "in the console.",
        "requires_action": "Your bank asks you to confirm the payment of {due}: open {link} to complete it.",
        "reminder": "Reminder: invoice {number} still has {due} to pay.",
        "past_due": "We could not collect {due} for invoice {number}; the account is past due until it is paid.",
        "footer": "You can see and download this invoice in the billing console.",
    },
    "fr": {
        "subject": "Votre facture {number} de {seller}",
        "hello": "Bonjour {name},",
        "issued": "La facture {number} du {date} pour le compte {account} s'élève à {total}.",
        "succeeded": "Nous avons débité {due} sur votre carte {card}. Merci.",
        "processing": "Le paiement de {due} par votre carte {card} est en cours de traitement.",
        "scheduled": "Nous débiterons {due} sur votre carte {card} sous peu, avec toute autre facture ouverte.",
        "pay_invoice": "Veuillez régler {due} depuis la console de facturation ou par virement.",
        "nothing_due": "Il ne reste rien à payer.",
        "below_minimum": "{due} est inférieur au débit minimal par carte : ce montant sera encaissé avec votre "
        "prochain débit.",
        "no_card": "Aucune carte valide n'est enregistrée : ajoutez-en une dans la console, ou réglez {due} "
        "depuis la facture.",
        "declined": "Votre carte {card} a été refusée pour {due}. Nous réessaierons le {retry} ; vous pouvez "
        "aussi payer dès maintenant dans la console.",
        "requires_action": "Votre banque demande de confirmer le paiement de {due} : ouvrez {link} pour le finaliser.",
        "reminder": "Rappel : il reste {due} à payer sur la facture {number}.",
        "past_due": "Nous n'avons pas pu encaisser {due} pour la facture {number} ; le compte est en retard de "
        "paiement jusqu'à son règlement.",
        "footer": "Vous pouvez consulter et télécharger cette facture dans la console de facturation.",
    },
}


@dataclass(frozen=True)
class Notice:
    to: str
    contact_name: str
    account_name: str
    locale: str
    seller: str
    number: str
    date: datetime.date
    currency: str
    total: int
    due: int
    outcome: str  # a key of TEXT: succeeded, declined, no_card, ..., reminder, past_due
    card: str = ""
    retry: datetime.date | None = None
    link: str = ""


def build(notice: Notice) -> Email:
    """The notice of `notice.outcome` (a key of TEXT) in the account's language."""
    t = TEXT.get(notice.locale, TEXT["en"])
    values = {
        "number": notice.number,
        "seller": notice.seller,
        "name": notice.contact_name,
        "account": notice.account_name,
        "date": display_day(notice.date, notice.locale),
        "total": display(notice.total, notice.currency, notice.locale),
        "due": display(notice.due, notice.currency, notice.locale),
        "card": notice.card,
        "retry": display_day(notice.retry, notice.locale) if notice.retry else "",
        "link": notice.link,
    }
    paragraphs = [t["hello"], t["issued"], t[notice.outcome]]
    if notice.outcome in ("reminder", "past_due"):
        paragraphs = [t["hello"], t[notice.outcome]]
    return compose(
        notice.to,
        t["subject"].format(**values),
        notice.locale,
        [p.format(**values) for p in paragraphs],
        footer=[t["footer"].format(**values)],
    )
