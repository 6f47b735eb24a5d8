"""E-mails about money: the receipt of a one-time payment (the account's language), and the messages
to billow's own people — a support ticket to the support address, a dispute to the operator address."""

from __future__ import annotations

from html import escape
from typing import Any

from functions.core.email import Email
from functions.core.money import format_amount
from functions.payments.payment_store import PaymentRecord

_RECEIPT = {
    "en": {
        "subject": "Payment received: {amount} for {account}",
        "body": (
            "Hello {name},\n\nWe received your payment of {amount} ({method}) for the account {account} "
            "(no. {number}). Payment reference: {payment_id}.\n\nThank you.\n\nThe billing team\n"
        ),
    },
    "fr": {
        "subject": "Paiement reçu : {amount} pour {account}",
        "body": (
            "Bonjour {name},\n\nNous avons bien reçu votre paiement de {amount} ({method}) pour le compte "
            "{account} (n° {number}). Référence du paiement : {payment_id}.\n\nMerci.\n\nL'équipe facturation\n"
        ),
    },
}


def _html(text: str, lang: str) -> str:
    paragraphs = "".join(f"<p>{escape(p).replace(chr(10), '<br>')}</p>" for p in text.strip().split("\n\n"))
    return f'<!doctype html><html lang="{escape(lang)}"><body style="font-family:sans-serif">{paragraphs}</body></html>'


def receipt(account: Any, row: PaymentRecord) -> Email:
    """The receipt of a one-time payment, once the money is applied."""
    words = _RECEIPT.get(account.locale, _RECEIPT["en"])
    method = "PayPal" if row.method == "paypal" else f"{(row.brand or 'card').title()} •••• {row.last4 or ''}".strip()
    values = {
        "name": str(account.billing_contact.get("name", "")),
        "amount": format_amount(row.amount, row.currency),
        "method": method,
        "account": account.name,
        "number": str(account.number),
        "payment_id": row.id,
    }
    text = words["body"].format(**values)
    return Email(
        to=str(account.billing_contact["email"]),
        subject=words["subject"].format(**values),
        text=text,
        html=_html(text, account.locale),
    )


def ticket(to: str, account: Any, ticket_id: str, subject: str, message: str, refs: dict[str, str | None]) -> Email:
    """A support ticket for the support team (the text is already redacted)."""
    lines = [f"Ticket {ticket_id} from account {account.name} (no. {account.number}, {account.id})."]
    lines += [f"{k}: {v}" for k, v in refs.items() if v]
    text = "\n".join(lines) + f"\n\nSubject: {subject}\n\n{message}\n"
    return Email(to=to, subject=f"[billow ticket {ticket_id}] {subject}", text=text, html=_html(text, "en"))


def dispute(
    to: str, account_id: str, dispute_id: str, payment_id: str, amount: int, currency: str, reason: str
) -> Email:
    """A dispute Stripe reported: the operator answers it in Stripe's dashboard before its deadline."""
    text = (
        f"Stripe reported dispute {dispute_id} on payment {payment_id} of account {account_id}: "
        f"{format_amount(amount, currency)}, reason {reason or 'unknown'}.\n\n"
        "Respond with evidence in Stripe's dashboard before the deadline Stripe gives.\n"
    )
    return Email(to=to, subject=f"[billow] Dispute {dispute_id} on {payment_id}", text=text, html=_html(text, "en"))
