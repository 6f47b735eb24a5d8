"""Asking for invoice PDFs to be rendered: one message per invoice to the `pdf-render` queue, whose worker
(functions/invoices/rendering.py, `render_pdfs`) renders the PDF only when the stored one's fingerprint is not
the invoice's (docs/invoices.md, "PDF"). Here in core because every issuer — payments' `invoice_issued` hook,
which every domain that issues an invoice calls, and the invoices domain's PDF route — sends them, and the
earlier domains may not import invoices.

A message names the invoice only (`{"account_id", "invoice_id"}`): the worker reads the invoice as it stands
when the message is handled, so a message sent before a payment still renders what is current."""

from __future__ import annotations

from collections.abc import Iterable

from functions.core import queues
from functions.core.logs import get_logger
from functions.core.resources import PDF_RENDER

QUEUE = PDF_RENDER


def request_renders(account_id: str, invoice_ids: Iterable[str]) -> int:
    """Queue one render per invoice (SendMessageBatch, 10 a call); the number of messages sent."""
    bodies = [{"account_id": account_id, "invoice_id": invoice_id} for invoice_id in dict.fromkeys(invoice_ids)]
    return sum(queues.send_batch(QUEUE, bodies[i : i + 10]) for i in range(0, len(bodies), 10))


def issued(account_id: str, invoice_ids: Iterable[str], *, raise_errors: bool = False) -> None:
    """What every issuer does once an invoice is committed: its render queued. A failure is logged (the PDF
    route queues it again when the PDF is asked for) and raised with `raise_errors` (queue workers, whose
    redelivery retries)."""
    try:
        request_renders(account_id, invoice_ids)
    except Exception:
        get_logger().exception("pdf render not queued", account_id=account_id)
        if raise_errors:
            raise
