"""The other AWS resources billow uses, named once: queues (each with a DLQ), the invoice bucket and
the SES sender. Like the table spec, this feeds the local stack, the tests and the CDK app."""

from __future__ import annotations

from dataclasses import dataclass

from functions.core.settings import get_settings


@dataclass(frozen=True)
class QueueSpec:
    name: str
    purpose: str
    consumer_timeout_seconds: int = 60
    max_receive_count: int = 5


# The queues' names, spelled once: senders, consumers, the local stack, the tests and infra/ use these.
CARD_VALIDATION = "card-validation"
BILLING_RUN = "billing-run"
BILLING_ACCOUNT = "billing-account"
COLLECTIONS = "collections"
SES_FEEDBACK = "ses-feedback"
WEBHOOK_DELIVERIES = "webhook-deliveries"
PDF_RENDER = "pdf-render"

QUEUES: dict[str, QueueSpec] = {
    q.name: q
    for q in (
        # 120 s: a message's worst case is 4 Stripe calls with the workers' retries (infra/budgets.py)
        QueueSpec(CARD_VALIDATION, "attach and confirm a new card, e-mail the billing contact", 120),
        QueueSpec(BILLING_RUN, "one message per shard of due accounts for a run date", 300),
        QueueSpec(BILLING_ACCOUNT, "one message per due account: invoice, PDF, e-mail, collection requested", 120),
        QueueSpec(COLLECTIONS, "one message per collection: the account's balance charged off-session once", 120),
        QueueSpec(SES_FEEDBACK, "SES bounces and complaints (configuration set → SNS): the address suppressed"),
        # 10 messages x a 10 s POST each fit the 120 s; a retry waits as a delayed message (chained past 900 s)
        QueueSpec(WEBHOOK_DELIVERIES, "one message per (event, webhook endpoint) attempt: sign, POST, record", 120),
        # 10 renders of the largest invoices fit the 120 s (infra/budgets.py); a redelivery renders nothing new
        QueueSpec(PDF_RENDER, "one message per invoice PDF to (re)render: issued, or found stale by GET …/pdf", 120),
    )
}

BUCKET = "invoices"
# The EventBridge bus of outbound events (DESIGN §7), and what the local stack and tests hang on it: a rule
# sending every billow event to a queue they read (in AWS, consumers add their own rules).
EVENT_BUS = "events"
EVENT_SOURCE = "billow"
EVENT_TAP_QUEUE = "events-tap"


def queue_name(name: str) -> str:
    return f"{get_settings().table_prefix}{QUEUES[name].name}"


def dlq_name(name: str) -> str:
    return f"{queue_name(name)}-dlq"


def bucket_name() -> str:
    settings = get_settings()
    return settings.invoice_bucket or f"{settings.table_prefix}{BUCKET}"


def event_bus_name() -> str:
    settings = get_settings()
    return settings.event_bus or f"{settings.table_prefix}{EVENT_BUS}"


def event_tap_queue_name() -> str:
    """The queue the local stack's and the tests' rule sends every event of the bus to (never deployed)."""
    return f"{get_settings().table_prefix}{EVENT_TAP_QUEUE}"


def webhook_key() -> str:
    """The KMS key (id, ARN or alias) that encrypts webhook endpoint secrets."""
    settings = get_settings()
    return settings.webhook_kms_key or f"alias/{settings.table_prefix}webhooks"


def email_sender() -> str:
    return get_settings().email_from
