"""Links into the billing console (settings.console_url) that e-mails carry: the pages of §8."""

from __future__ import annotations

from functions.core.settings import get_settings


def invoice_page(account_id: str, invoice_id: str) -> str:
    """The console's page for one invoice: its detail, PDF, and "pay this invoice"."""
    return f"{get_settings().console_url}/accounts/{account_id}/invoices/{invoice_id}"


def payment_page(account_id: str, payment_id: str) -> str:
    """The console's page for a payment, where Stripe.js completes 3-D Secure with the payment's
    client_secret (GET /v1/accounts/{id}/payments/{payment_id} gives it to the console)."""
    return f"{get_settings().console_url}/accounts/{account_id}/payments/{payment_id}"
