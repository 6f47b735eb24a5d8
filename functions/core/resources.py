"""The other AWS resources billow uses, named once: queues (each with a DLQ), the invoice bucket and
the SES sender. Like the table spec, this feeds the local stack, the tests and the CDK app."""

from __future__ import annotations

import os
from dataclasses import dataclass

from functions.core.settings import get_settings


@dataclass(frozen=True)
class QueueSpec:
    name: str
    purpose: str
    consumer_timeout_seconds: int = 60
    max_receive_count: int = 5


QUEUES: dict[str, QueueSpec] = {
    q.name: q
    for q in (
        QueueSpec("card-validation", "attach and confirm a new card, e-mail the billing contact"),
        QueueSpec("billing-run", "one message per shard of due accounts for a run date", 300),
        QueueSpec("billing-account", "one message per due account: invoice, charge, PDF, e-mail", 120),
    )
}

BUCKET = "invoices"


def queue_name(name: str) -> str:
    return f"{get_settings().table_prefix}{QUEUES[name].name}"


def dlq_name(name: str) -> str:
    return f"{queue_name(name)}-dlq"


def bucket_name() -> str:
    return os.environ.get("BILLOW_INVOICE_BUCKET", f"{get_settings().table_prefix}{BUCKET}")


def email_sender() -> str:
    return os.environ.get("BILLOW_EMAIL_FROM", "billing@billow.example")
