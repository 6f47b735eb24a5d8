"""The collector's e-mails to the billing contact (DESIGN §3 v4 Collection), in English or French: one
receipt when a collection succeeds, and the dunning messages — a decline (the reason, the next try, the
console), a payment the bank wants confirmed (the console's page for it), no valid card (add one), and
past due after the last try. Built on functions/core/email.py `compose`."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from functions.core import catalogue
from functions.core.clock import display_day
from functions.core.email import Email, compose
from functions.core.money import display

TEXT = {
    "en": {
        "subject_receipt": "Payment received: {amount} for {account}",
        "subject_failed": "Action needed: we could not collect {amount} for {account}",
        "subject_past_due": "Your account {account} is past due",
        "hello": "Hello {name},",
        "receipt": "We charged {amount} to your card {card} for the account {account}: it paid {invoices}. Thank you.",
        "receipt_credit": "We charged {amount} to your card {card} for the account {account}: it is kept as credit "
        "for the account's next invoices. Thank you.",
        "declined": "Your card {card} was declined for {amount} ({reason}). We will try again on {retry}; you can "
        "also pay now or change the card in the console: {console}.",
        "requires_action": "Your bank asks you to confirm the payment of {amount}: open {link} to complete it. "
        "Otherwise we will try again on {retry}.",
        "no_card": "There is no valid card on file to collect {amount}: please add one in the console ({console}). "
        "We will try again as soon as a card is added, and on {retry} at the latest.",
        "past_due": "We could not collect {amount} ({reason}); the account is past due until the open invoices "
        "are paid. Pay them or add a card in the console: {console}.",
        "support": "Questions? Open a support ticket from the console.",
        "sign": "The billing team",
    },
    "fr": {
        "subject_receipt": "Paiement reçu : {amount} pour {account}",
        "subject_failed": "Action requise : nous n'avons pas pu encaisser {amount} pour {account}",
        "subject_past_due": "Votre compte {account} est en retard de paiement",
        "hello": "Bonjour {name},",
        "receipt": "Nous avons débité {amount} sur votre carte {card} pour le compte {account} : il règle "
        "{invoices}. Merci.",
        "receipt_credit": "Nous avons débité {amount} sur votre carte {card} pour le compte {account} : il est "
        "conservé en crédit pour les prochaines factures du compte. Merci.",
        "declined": "Votre carte {card} a été refusée pour {amount} ({reason}). Nous réessaierons le {retry} ; vous "
        "pouvez aussi payer ou changer de carte dans la console : {console}.",
        "requires_action": "Votre banque demande de confirmer le paiement de {amount} : ouvrez {link} pour le "
        "finaliser. Sinon, nous réessaierons le {retry}.",
        "no_card": "Aucune carte valide n'est enregistrée pour encaisser {amount} : ajoutez-en une dans la console "
        "({console}). Nous réessaierons dès qu'une carte sera ajoutée, et au plus tard le {retry}.",
        "past_due": "Nous n'avons pas pu encaisser {amount} ({reason}) ; le compte est en retard de paiement "
        "jusqu'au règlement des factures ouvertes. Réglez-les ou ajoutez une carte dans la console : {console}.",
        "support": "Des questions ? Ouvrez un ticket de support depuis la console.",
        "sign": "L'équipe facturation",
    },
}


@dataclass(frozen=True)
class Message:
    kind: str  # receipt | declined | requires_action | no_card | past_due
    amount: int
    currency: str
    card: str = ""
    reason: str = ""
    retry: datetime.date | None = None
    link: str = ""
    invoices: tuple[str, ...] = ()  # a receipt: the numbers of the invoices it paid


def build(account: Any, message: Message, console: str) -> Email:
    """The collector's message `message.kind` to the account's billing contact."""
    t = TEXT.get(account.locale, TEXT["en"])
    values = {
        "name": str(account.billing_contact.get("name", "")),
        "account": account.name,
        "amount": display(message.amount, message.currency, account.locale),
        "card": message.card,
        "reason": catalogue.decline_reason(message.reason, account.locale),
        "retry": display_day(message.retry, account.locale) if message.retry else "",
        "link": message.link,
        "console": console,
        "invoices": catalogue.invoices_named(message.invoices, account.locale),
    }
    kind = "receipt_credit" if message.kind == "receipt" and not message.invoices else message.kind
    subject = {"receipt": "subject_receipt", "past_due": "subject_past_due"}.get(message.kind, "subject_failed")
    footer = [t["sign"]] if message.kind == "receipt" else [t["support"], t["sign"]]
    return compose(
        str(account.billing_contact["email"]),
        t[subject].format(**values),
        account.locale,
        [t["hello"].format(**values), t[kind].format(**values)],
        footer=footer,
    )
