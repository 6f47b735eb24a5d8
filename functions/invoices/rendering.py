"""The `pdf-render` queue's work (issue 21, docs/invoices.md "PDF"): one message per invoice, sent when it
is issued (payments' `invoice_issued` hook) and when `GET …/pdf` finds its stored PDF missing or stale.

`render_invoice_pdf` reads the invoice as it stands now, computes its fingerprint and renders only when the
stored PDF's differs (or there is none): a redelivered message, a duplicate, or a message for an invoice
rendered since renders nothing. An invoice or account not found renders nothing either (an id no issuer
made cannot become one later); any other failure raises, so the message comes back and, after the queue's
`max_receive_count`, goes to the DLQ."""

from __future__ import annotations

from functions.accounts.service import AccountAccess, get_account
from functions.core import ledger
from functions.core.audit import Actor
from functions.core.errors import NotFoundError
from functions.core.logs import get_logger
from functions.invoices import store
from functions.invoices.documents import current_fingerprint, store_pdf

RENDERER = Actor("pdf-render", "system")


def render_invoice_pdf(account_id: str, invoice_id: str) -> bool:
    """Render the invoice's PDF if the stored one is missing or stale; True when it rendered."""
    try:
        account = get_account(account_id)
    except NotFoundError:
        get_logger().warning("pdf render for an unknown account", account_id=account_id)
        return False
    inv = ledger.get_invoice(account_id, invoice_id)
    if inv is None:
        get_logger().warning("pdf render for an unknown invoice", account_id=account_id, invoice_id=invoice_id)
        return False
    access = AccountAccess(account, RENDERER, "operator")
    current, sources = current_fingerprint(access, inv)
    if store.pdf_fingerprint(account_id, invoice_id) == current:
        return False  # already current: a redelivery, a duplicate request, or rendered since
    store_pdf(access, inv, sources=sources)
    return True
