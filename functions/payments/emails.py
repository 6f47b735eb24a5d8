"""The payments domain's e-mails, built on functions/core/email.py `compose`:

- to the account's billing contact, in the account's language (English or French): the confirmation
  of a new card on file (naming it by brand, last four digits and expiry only, like the rest of
  billow) and the receipt of a one-time payment;
- to billow's own people, in English: a support ticket (to the support address), a dispute Stripe
  reported and a payment held because Stripe's amount disagrees (to the operator address).
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from functions.core import catalogue
from functions.core.clock import display_day
from functions.core.email import Email, compose
from functions.core.money import display, format_amount, minimum_charge
from functions.payments.store import PaymentRecord


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
    upgraded: bool = False  # True when this card upgraded the lite account to pay-as-you-go


brand_name = catalogue.brand_name  # a card brand as people write it ("visa" -> "Visa"), one rule everywhere


_CARD = {
    "en": {
        "subject": "Your new card is active on {account}",
        "greeting": "Hello {name},",
        "body": (
            "The card {brand} ending in {last4} (expires {exp}) is now the card on file for the account "
            "{account} (no. {number}). It will be charged for this account's invoices from now on."
        ),
        "replaced": "The previous card was removed from the account.",
        "upgraded_subject": "{account} is now pay-as-you-go",
        "upgraded": (
            "Your account {account} (no. {number}) is now a pay-as-you-go account, billed monthly on this card "
            "from today."
        ),
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
        "upgraded_subject": "{account} est passé au paiement à l'usage",
        "upgraded": (
            "Votre compte {account} (n° {number}) est désormais un compte à l'usage, facturé chaque mois sur "
            "cette carte à partir d'aujourd'hui."
        ),
        "footer": (
            "Vous recevez ce message parce que vous êtes le contact de facturation de cette carte. Si vous "
            "n'êtes pas à l'origine de ce changement, contactez l'administrateur de votre compte."
        ),
        "sign": "L'équipe facturation",
    },
}


def card_confirmation(c: CardConfirmation) -> Email:
    """The confirmation that a new card is on file (sent once per card change)."""
    words = _CARD.get(c.locale, _CARD["en"])
    values = {
        "name": c.contact_name,
        "account": c.account_name,
        "number": str(c.account_number),
        "brand": brand_name(c.brand),
        "last4": c.last4,
        "exp": f"{c.exp_month:02d}/{c.exp_year}",
    }
    body = words["body"].format(**values)
    if c.replaced:
        body = f"{body} {words['replaced']}"
    subject = words["subject"]
    if c.upgraded:
        body = f"{words['upgraded'].format(**values)} {body}"
        subject = words["upgraded_subject"]
    return compose(
        c.to,
        subject.format(**values),
        c.locale,
        [words["greeting"].format(**values), body],
        footer=[words["footer"], words["sign"]],
    )


_RECEIPT = {
    "en": {
        "subject": "Payment received: {amount} for {account}",
        "hello": "Hello {name},",
        "body": "We received your payment of {amount} ({method}) for the account {account} (no. {number}).",
        "paid": "It paid {invoices}.",
        "credit": "It is kept as credit for the account's next invoices.",
        "thanks": "Thank you.",
        "sign": "The billing team",
    },
    "fr": {
        "subject": "Paiement reçu : {amount} pour {account}",
        "hello": "Bonjour {name},",
        "body": "Nous avons bien reçu votre paiement de {amount} ({method}) pour le compte {account} (n° {number}).",
        "paid": "Il règle {invoices}.",
        "credit": "Il est conservé en crédit pour les prochaines factures du compte.",
        "thanks": "Merci.",
        "sign": "L'équipe facturation",
    },
}


def receipt(account: Any, row: PaymentRecord, numbers: Sequence[str] = ()) -> Email:
    """The receipt of a one-time payment, once the money is applied: what it paid, by invoice number."""
    words = _RECEIPT.get(account.locale, _RECEIPT["en"])
    method = "PayPal" if row.method == "paypal" else catalogue.card(row.brand, row.last4, account.locale)
    values = {
        "name": str(account.billing_contact.get("name", "")),
        "amount": display(row.amount, row.currency, account.locale),
        "method": method,
        "account": account.name,
        "number": str(account.number),
        "invoices": catalogue.invoices_named(list(numbers), account.locale),
    }
    paid = words["paid"] if numbers else words["credit"]
    return compose(
        str(account.billing_contact["email"]),
        words["subject"].format(**values),
        account.locale,
        [words["hello"].format(**values), f"{words['body']} {paid}".format(**values), words["thanks"]],
        footer=[words["sign"]],
    )


def ticket(to: str, account: Any, ticket_id: str, subject: str, message: str, refs: dict[str, str | None]) -> Email:
    """A support ticket for the support team (the text is already redacted)."""
    return compose(
        to,
        f"[billow ticket {ticket_id}] {subject}",
        "en",
        [
            f"Ticket {ticket_id} from account {account.name} (no. {account.number}, {account.id}).",
            f"Subject: {subject}",
            message,
        ],
        rows=[(k, v) for k, v in refs.items() if v],
    )


def dispute(
    to: str, account_id: str, dispute_id: str, payment_id: str, amount: int, currency: str, reason: str
) -> Email:
    """A dispute Stripe reported: the operator answers it in Stripe's dashboard before its deadline."""
    return compose(
        to,
        f"[billow] Dispute {dispute_id} on {payment_id}",
        "en",
        [
            f"Stripe reported dispute {dispute_id} on payment {payment_id} of account {account_id}: "
            f"{format_amount(amount, currency)}, reason {reason or 'unknown'}.",
            "Respond with evidence in Stripe's dashboard before the deadline Stripe gives.",
        ],
    )


def held_payment(to: str, row: PaymentRecord, payment_intent_id: str) -> Email:
    """A payment held because Stripe's amount or currency disagrees with its row (`row` is the held
    row, its failure message says how): nothing was applied, an operator decides."""
    return compose(
        to,
        f"Payment {row.id} held: Stripe's amount or currency disagrees",
        "en",
        [
            f"Account {row.account_id}, payment {row.id}, PaymentIntent {payment_intent_id}: {row.failure_message}. "
            "Nothing was applied to the ledger; check the PaymentIntent at Stripe and refund it or apply it by hand."
        ],
    )


def credit_left_at_closure(to: str, account_id: str, amount: int, currency: str, why: str) -> Email:
    """A closed account still holds unapplied credit that billow could not send back to a card."""
    return compose(
        to,
        f"[billow] Credit left on closed account {account_id}",
        "en",
        [
            f"Account {account_id} was closed with {format_amount(amount, currency)} of unapplied credit that "
            f"could not be refunded to the card payments it came from ({why}).",
            "Return it by another means (an offline refund) or keep it on the account; it stays as credit.",
        ],
    )


# ---- the invoice notice (DESIGN §3 v4 Notices) ---------------------------------------------------

_NOTICE = {
    "en": {
        "kind": {
            "new": "invoice",
            "recurring": "invoice",
            "one_time": "invoice",
            "credit": "credit note",
            "refund": "refund note",
        },
        "subject": "Your {kind} {number} for {account}: {total}",
        "hello": "Hello {name},",
        "issued": "We issued {kind} {number} on {date} for the account {account} (no. {number_account}).",
        "rows": ("Number", "Date", "Total", "Amount due", "See it online", "Due date"),
        "card": "The amount due will be charged shortly to your card {card}.",
        "carried": "What the account owes is below the minimum card charge ({minimum}): it will be charged to your "
        "card {card} with the next invoice.",
        "no_card": "There is no valid card on file: please add one in the console (Payment method) so that we "
        "can charge the amount due.",
        "pay": "Please pay the amount due from the invoice's page in the console.",
        "pay_by": "Please pay the amount due by {due_date}: from the invoice's page in the console (card or "
        "PayPal), or by bank transfer quoting the invoice number {number}.",
        "nothing_due": "Nothing is left to pay on it.",
        "credit": "We credited {total} to the account ({description}). It settles open invoices, oldest first; "
        "what is left is kept as credit for your next invoices.",
        "refund": "We refunded {total} on the account ({description}).",
        "footer": "You can see and download this document in the billing console. A question? Open a support "
        "ticket in the console (Support).",
        "sign": "The billing team",
    },
    "fr": {
        "kind": {
            "new": "facture",
            "recurring": "facture",
            "one_time": "facture",
            "credit": "avoir",
            "refund": "avoir de remboursement",
        },
        "subject": "Votre {kind} {number} pour {account} : {total}",
        "hello": "Bonjour {name},",
        "issued": "Nous avons émis le document « {kind} » n° {number} le {date} pour le compte {account} "
        "(n° {number_account}).",
        "rows": ("Numéro", "Date", "Total", "Montant dû", "Consulter en ligne", "Échéance"),
        "card": "Le montant dû sera prochainement débité sur votre carte {card}.",
        "carried": "Le solde du compte est inférieur au débit minimum par carte ({minimum}) : il sera débité sur "
        "votre carte {card} avec la prochaine facture.",
        "no_card": "Aucune carte valide n'est enregistrée : ajoutez-en une dans la console (Moyen de paiement) "
        "afin que nous puissions débiter le montant dû.",
        "pay": "Veuillez régler le montant dû depuis la page de la facture dans la console.",
        "pay_by": "Veuillez régler le montant dû avant le {due_date} : depuis la page de la facture dans la "
        "console (carte ou PayPal), ou par virement en indiquant le numéro de facture {number}.",
        "nothing_due": "Il ne reste rien à payer.",
        "credit": "Nous avons crédité {total} sur le compte ({description}). Ce crédit règle les factures "
        "ouvertes, de la plus ancienne à la plus récente ; le reste est conservé pour vos prochaines factures.",
        "refund": "Nous avons remboursé {total} sur le compte ({description}).",
        "footer": "Vous pouvez consulter et télécharger ce document dans la console de facturation. Une question ? "
        "Ouvrez un ticket de support dans la console (Support).",
        "sign": "L'équipe facturation",
    },
}


@dataclass(frozen=True)
class InvoiceNotice:
    """What the notice of one issued invoice says. `how` is what happens to the amount due: `card`
    (charged shortly to `card`), `carried` (the account owes less than the minimum charge: collected
    with the next invoice), `no_card` (automatic, no valid card), `pay` (the customer pays it),
    `nothing_due`, or `credit` / `refund` for the money-in documents."""

    to: str
    contact_name: str
    account_name: str
    account_number: int
    locale: str
    type: str
    number: str
    date: datetime.date
    currency: str
    total: int
    due: int
    description: str
    link: str
    how: str
    card: str = ""
    due_date: datetime.date | None = None  # send_invoice accounts' debit invoices


def invoice_notice(n: InvoiceNotice) -> Email:
    """The notice of an issued invoice (any type), in the account's language."""
    words = _NOTICE.get(n.locale, _NOTICE["en"])
    values = {
        "kind": words["kind"].get(n.type, words["kind"]["one_time"]),
        "number": n.number,
        "number_account": str(n.account_number),
        "account": n.account_name,
        "name": n.contact_name,
        "date": display_day(n.date, n.locale),
        "total": display(n.total, n.currency, n.locale),
        "description": n.description,
        "card": n.card,
        "minimum": display(minimum_charge(n.currency), n.currency, n.locale),
        "due_date": display_day(n.due_date, n.locale) if n.due_date else "",
    }
    labels = words["rows"]
    rows = [(labels[0], n.number), (labels[1], values["date"]), (labels[2], values["total"])]
    if n.how not in ("credit", "refund"):
        rows.append((labels[3], display(n.due, n.currency, n.locale)))
    if n.due_date is not None and n.how == "pay":
        rows.append((labels[5], values["due_date"]))
    rows.append((labels[4], n.link))
    how = "pay_by" if n.how == "pay" and n.due_date is not None else n.how
    return compose(
        n.to,
        words["subject"].format(**values),
        n.locale,
        [words["hello"].format(**values) + "\n\n" + words["issued"].format(**values), words[how].format(**values)],
        rows=rows,
        footer=[words["footer"], words["sign"]],
    )


_REMINDER = {
    "en": {
        "subject_before": "Invoice {number} is due on {due_date}",
        "subject_after": "Invoice {number} is overdue",
        "hello": "Hello {name},",
        "before": "Invoice {number} of {date} for the account {account} ({total}) is due on {due_date}; {due} is "
        "left to pay.",
        "after": "Invoice {number} of {date} for the account {account} was due on {due_date} and {due} is still "
        "unpaid. The account will be past due from {past_due_on} if it is not paid by then.",
        "how": "Pay it in the billing console: {link} — by card or PayPal — or by bank transfer quoting the "
        "invoice number {number}.",
        "footer": "Already paid? Thank you: a transfer can take a few days to reach us.",
    },
    "fr": {
        "subject_before": "La facture {number} arrive à échéance le {due_date}",
        "subject_after": "La facture {number} est échue",
        "hello": "Bonjour {name},",
        "before": "La facture {number} du {date} pour le compte {account} ({total}) arrive à échéance le "
        "{due_date} ; il reste {due} à payer.",
        "after": "La facture {number} du {date} pour le compte {account} était due le {due_date} et {due} reste "
        "impayé. Sans règlement d'ici là, le compte sera en retard de paiement à partir du {past_due_on}.",
        "how": "Réglez-la dans la console de facturation : {link} — par carte ou PayPal — ou par virement en "
        "indiquant le numéro de facture {number}.",
        "footer": "Déjà réglée ? Merci : un virement peut mettre quelques jours à nous parvenir.",
    },
}


def invoice_reminder(account: Any, inv: Any, step: str, link: str, past_due_on: Any) -> Email:
    """A send_invoice account's reminder (`step` = before | after the due date), in its language."""
    words = _REMINDER.get(account.locale, _REMINDER["en"])
    locale = account.locale
    values = {
        "name": str(account.billing_contact.get("name", "")),
        "account": account.name,
        "number": inv.number,
        "date": display_day(inv.date, locale),
        "due_date": display_day(inv.due_date, locale),
        "past_due_on": display_day(past_due_on, locale),
        "total": display(inv.total, inv.currency, locale),
        "due": display(inv.balance_due, inv.currency, locale),
        "link": link,
    }
    return compose(
        str(account.billing_contact.get("email", "")),
        words[f"subject_{step}"].format(**values),
        locale,
        [words["hello"].format(**values), words[step].format(**values), words["how"].format(**values)],
        footer=[words["footer"]],
    )
