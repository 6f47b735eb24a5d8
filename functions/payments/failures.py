"""Failures that happen after the customer's request (DESIGN §3 v4 Notices): e-mailed to the billing
contact, in the account's language, with the reason and the support path (open a ticket in the
console). Here: a PayPal payment cancelled or not approved, a 3-D Secure authentication that failed
(both told by Stripe's `payment_intent.payment_failed` / `.canceled` webhook for a console payment),
and a card change whose validation failed — refused by Stripe, or still pending 24 h after the PUT
(`validation-timed-out`). The off-session declines are the collector's (issue 16).

`fail_change` closes a failed card change (the validator's and the 24 h sweep's one path). Each is
sent by the one writer whose transaction recorded the failure (the webhook's marker, the
change's `pending -> failed` condition), so a redelivery sends nothing: at most once. An SES failure
is logged, never raised: the failure is recorded and shown (GET payments/{id}, GET payment-method).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from functions.accounts.service import AccountRecord, get_account
from functions.core import audit, catalogue, clock, email
from functions.core.audit import Actor
from functions.core.email import Email, compose
from functions.core.errors import ConcurrentUpdateError
from functions.core.links import support_page
from functions.core.logs import get_logger
from functions.core.money import display
from functions.core.resources import CARD_VALIDATION
from functions.core.uow import UnitOfWork
from functions.payments import store
from functions.payments.payment_view import card_event
from functions.payments.store import CardChangeRecord, PaymentRecord

SYSTEM = Actor(f"system:{CARD_VALIDATION}", "system")
# A card change still pending this long after the PUT fails (DESIGN §3 v4 Notices).
VALIDATION_DEADLINE = timedelta(hours=24)
TIMED_OUT = "validation-timed-out"

# Why a card change failed, for people (GET payment-method's `message`, the e-mail).
CHANGE_REASONS = {
    "en": {
        "validation-timed-out": "it was not validated within 24 hours",
        "card_declined": "the bank declined it",
        "expired_card": "the card has expired",
        "incorrect_cvc": "the security code was refused",
        "processing_error": "the bank could not process it",
        "": "Stripe refused it",
    },
    "fr": {
        "validation-timed-out": "elle n'a pas été validée dans les 24 heures",
        "card_declined": "la banque l'a refusée",
        "expired_card": "la carte a expiré",
        "incorrect_cvc": "le code de sécurité a été refusé",
        "processing_error": "la banque n'a pas pu la traiter",
        "": "Stripe l'a refusée",
    },
}

_TEXT = {
    "en": {
        "hello": "Hello {name},",
        "paypal_subject": "Your PayPal payment for {account} did not go through",
        "paypal": "Your PayPal payment of {amount} for the account {account} was cancelled or not approved: "
        "nothing was charged, and the balance is unchanged.",
        "3ds_subject": "Your card payment for {account} was not authenticated",
        "3ds": "The authentication (3-D Secure) your bank asked for the payment of {amount} with the card "
        "{card} did not succeed: nothing was charged, and the balance is unchanged.",
        "card_subject": "Your new card for {account} could not be validated",
        "card": "The card {card} could not become the card on file of the account {account}: {reason}. "
        "The card on file is unchanged.",
        "reason": "Reason: {reason}.",
        "retry": "You can try again from the console, with another card or another payment method.",
        "support": "Need help? Open a support ticket in the console (Support){ref}.",
        "ref": ", naming {ref}",
        "sign": "The billing team",
    },
    "fr": {
        "hello": "Bonjour {name},",
        "paypal_subject": "Votre paiement PayPal pour {account} n'a pas abouti",
        "paypal": "Votre paiement PayPal de {amount} pour le compte {account} a été annulé ou n'a pas été "
        "approuvé : rien n'a été débité et le solde est inchangé.",
        "3ds_subject": "Votre paiement par carte pour {account} n'a pas été authentifié",
        "3ds": "L'authentification (3-D Secure) demandée par votre banque pour le paiement de {amount} avec la "
        "carte {card} n'a pas abouti : rien n'a été débité et le solde est inchangé.",
        "card_subject": "Votre nouvelle carte pour {account} n'a pas pu être validée",
        "card": "La carte {card} n'a pas pu devenir la carte enregistrée du compte {account} : {reason}. "
        "La carte enregistrée est inchangée.",
        "reason": "Motif : {reason}.",
        "retry": "Vous pouvez réessayer depuis la console, avec une autre carte ou un autre moyen de paiement.",
        "support": "Besoin d'aide ? Ouvrez un ticket de support dans la console (Support){ref}.",
        "ref": " en indiquant {ref}",
        "sign": "L'équipe facturation",
    },
}


def change_reason(code: str, locale: str = "en") -> str:
    reasons = CHANGE_REASONS.get(locale, CHANGE_REASONS["en"])
    return reasons.get(code, reasons[""])


@dataclass(frozen=True)
class Failure:
    to: str
    locale: str
    kind: str  # paypal | 3ds | card
    values: dict[str, str]
    reason: str = ""


def failure_email(f: Failure) -> Email:
    """The e-mail of one failure: what failed, the reason, what to do, the support path."""
    t = _TEXT.get(f.locale, _TEXT["en"])
    ref = t["ref"].format(ref=f.values["ref"]) if f.values.get("ref") else ""
    paragraphs = [t["hello"].format(**f.values), t[f.kind].format(**f.values)]
    if f.reason and f.kind != "card":
        paragraphs.append(t["reason"].format(reason=catalogue.decline_reason(f.reason, f.locale)))
    paragraphs += [t["retry"], t["support"].format(ref=ref)]
    link = support_page(f.values["account_id"])
    return compose(
        f.to,
        t[f"{f.kind}_subject"].format(**f.values),
        f.locale,
        paragraphs,
        rows=[("Support", link)],
        footer=[t["sign"]],
    )


def _values(account: AccountRecord, **more: str) -> dict[str, str]:
    return {
        "name": str(account.billing_contact.get("name", "")),
        "account": account.name,
        "account_id": account.id,
        **more,
    }


def _send(account: AccountRecord, kind: str, values: dict[str, str], reason: str = "", to: str = "") -> None:
    to = to or str(account.billing_contact.get("email", ""))
    if not to:
        return
    try:
        email.send(failure_email(Failure(to, account.locale, kind, values, reason)))
    except Exception:  # recorded and shown by the API; the e-mail is the courtesy
        get_logger().exception("failure e-mail not sent", account_id=account.id, kind=kind)


def payment_failed(row: PaymentRecord) -> None:
    """A console payment that failed after the request answered (PayPal cancelled, 3-D Secure failed)."""
    account = get_account(row.account_id)
    kind = "paypal" if row.method == "paypal" else "3ds"
    card = catalogue.card(row.brand, row.last4, account.locale) if row.last4 else ""
    amount = display(row.amount, row.currency, account.locale)
    values = _values(account, amount=amount, card=card, ref="")  # never an internal id in a customer's e-mail
    _send(account, kind, values, row.decline_code or row.failure_code or "")  # a code, told in words


def card_change_failed(change: CardChangeRecord, code: str) -> None:
    """A card change whose validation failed (Stripe refused it, or 24 h passed): told to the billing
    contact given with the change, as its confirmation would have been."""
    account = get_account(change.account_id)
    card = catalogue.card(change.card.brand, change.card.last4, account.locale)
    values = _values(account, card=card, reason=change_reason(code, account.locale), ref="")
    values["name"] = str(change.billing_contact.get("name", "")) or values["name"]
    _send(account, "card", values, to=str(change.billing_contact.get("email", "")))


def fail_change(change: CardChangeRecord, code: str) -> str:
    """The change failed — Stripe refused the card at attachment (declined, or no longer usable), or
    it was still pending 24 h after the PUT (`validation-timed-out`): the card on file stays, the
    failure becomes the account's last failed change, and the one writer whose transaction closed the
    change e-mails the reason and the support path (payments/failures.py)."""
    state = store.get_state(change.account_id, consistent=True)
    now = clock.iso(clock.now())
    pending = (
        state is not None and state.pending is not None and state.pending.setup_intent_id == change.setup_intent_id
    )
    uow = UnitOfWork().add(
        store.close_change(change, store.FAILED, now, failure_code=code),
        store.record_failure(change, code, now, was_pending=pending),
        audit.record(
            change.account_id, SYSTEM, "payment_method.change_failed", change.setup_intent_id, None, {"code": code}
        ),
        card_event("payment_method.validation_failed", change, store.FAILED, code),
    )
    if change.purpose == "upgrade":  # the account stays lite; GET payment-method and the summary say why
        uow.add(store.set_upgrade(change.account_id, change.setup_intent_id, store.FAILED, now, code))
    try:
        UnitOfWork().add(*store.merged(uow.ops)).commit()
    except ConcurrentUpdateError:
        return "already_closed"  # another worker closed it (and told the customer if it failed)
    card_change_failed(change, code)
    return "failed"


def timed_out(change: CardChangeRecord, now: datetime | None = None) -> bool:
    """Still pending 24 h after the PUT: the product promises a new card within 24 h."""
    return (now or clock.now()) - datetime.fromisoformat(change.requested_at) >= VALIDATION_DEADLINE
