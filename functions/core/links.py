"""Links into the billing console (settings.console_url) that e-mails carry: the pages of §8.

The console is a static app with hash routes (docs/console.md), so a link is `<console>/#/<page>`,
with the account it is about as `?account=` (a token says who, not which account): a path such as
`/accounts/…/invoices/…` would be a file the console's static host does not have."""

from __future__ import annotations

from urllib.parse import urlencode

from functions.core.settings import get_settings


def _page(route: str, account_id: str) -> str:
    return f"{get_settings().console_url}/#/{route}?{urlencode({'account': account_id})}"


def invoice_page(account_id: str, invoice_id: str) -> str:
    """The console's page for one invoice: its detail, PDF, and "pay this invoice"."""
    return _page(f"invoices/{invoice_id}", account_id)


def payment_page(account_id: str, payment_id: str) -> str:
    """The console's page for a payment, where Stripe.js completes 3-D Secure with the payment's
    client_secret (GET /v1/accounts/{id}/payments/{payment_id} gives it to the console)."""
    return _page(f"payments/{payment_id}", account_id)


def support_page(account_id: str) -> str:
    """The console's support page (open and list tickets)."""
    return _page("support", account_id)


def usage_page(account_id: str) -> str:
    """The console's usage page (by service, metric, device, day; the budget)."""
    return _page("usage", account_id)
