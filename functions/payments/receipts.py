"""Receipts: ONE e-mail after every payment that succeeded, in the account's language (docs/invoices.md,
"E-mails"): a one-time payment's (payments/emails.py `receipt`) and a collection's — its first attempt,
a retry, a retry on a card the customer replaced, a 3-D Secure payment completed later in the console
and applied by Stripe's webhook, or one applied when a retry found it succeeded
(payments/collection_emails.py). Each names the invoices the payment paid, by number.

At least once, and once in practice: sent, then the payment row's `receipt_sent_at` marker written
(conditional: a second writer keeps the first). Whoever applies the money (charging.finish, after the
apply step's commit, whichever path) sends it; until the marker exists the webhook's redelivery
(`ensure_receipt`) and the collection's close send it again."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from functions.accounts.service import get_account
from functions.core import catalogue, clock, email, ledger
from functions.core.settings import get_settings
from functions.payments import collection_emails, emails, store
from functions.payments.store import PaymentRecord

SOURCES = ("one_time", "off_session")


def paid_numbers(row: PaymentRecord) -> list[str]:
    """The numbers of the invoices the payment paid (one BatchGetItem), in order."""
    ids = [str(a["invoice_id"]) for a in row.applied_to if a.get("invoice_id")]
    return sorted(inv.number for inv in ledger.get_invoices(row.account_id, ids))


def card_label(row: PaymentRecord, locale: str = "en") -> str:
    return catalogue.card(row.brand, row.last4, locale)


def message(account: Any, row: PaymentRecord) -> email.Email:
    """The receipt of `row` (a succeeded payment of the console or of the collector)."""
    numbers = paid_numbers(row)
    if row.source == "one_time":
        return emails.receipt(account, row, numbers)
    receipt = collection_emails.Message(
        "receipt", row.amount, row.currency, card_label(row, account.locale), invoices=tuple(numbers)
    )
    return collection_emails.build(account, receipt, get_settings().console_url)


def send_receipt(row: PaymentRecord, account: Any = None) -> PaymentRecord:
    """Send the receipt of a succeeded payment once its money is applied, then mark it; returns the row
    as marked. A failure raises (the caller logs it, or answers Stripe 5xx so the webhook comes again)."""
    if row.source not in SOURCES or row.status != store.SUCCEEDED or row.receipt_sent_at:
        return row
    account = account or get_account(row.account_id)
    if account.billing_contact.get("email"):
        email.send(message(account, row))
    at = clock.iso(clock.now())
    store.mark_receipt_sent(row, at)
    return replace(row, receipt_sent_at=at)


def ensure_receipt(account_id: str, payment_id: str, payment_intent_id: str) -> None:
    """Send the receipt of a succeeded payment if it has not been sent (the webhook's part of the
    at-least-once receipt); raises when it cannot, so the webhook is answered 5xx and redelivered."""
    row = store.get_payment(account_id, payment_id)
    if row is not None and row.payment_intent_id == payment_intent_id:
        send_receipt(row)
