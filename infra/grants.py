"""Who may do what: the permissions of each kind of function, reviewed in one table.

Each function gets its own IAM role with only these grants (plus writing its own log group). A function's
kind comes from its trigger in sam.json (infra/sam.py): the REST API, the consumer of one queue, or the
daily schedule. A queue consumer is always granted consuming its own queue (the event source mapping
polls with the function's role); everything else is listed here. A handler that needs more gets it by a
reviewed edit of this table, never by a wildcard.

- tables: "read" = TABLE_READ on every billow table and its indexes; "read_write" = TABLE_READ and
  TABLE_WRITE. Never Scan (only the offline audit scans), never streams, never table management.
- bucket: the invoice PDFs: "read" = GetObject + ListBucket (without it, a HEAD on a PDF not rendered
  yet is a 403, not the 404 functions/invoices/store.py expects); "read_write" adds PutObject. Never
  delete: an invoice document is a record (versioning keeps overwritten ones 30 days).
- send_to: queues it sends to (SendMessage, GetQueueUrl, GetQueueAttributes).
- email: ses:SendEmail/SendRawEmail from the sender identity only.
- secrets: reading the one secret (Stripe keys, webhook secret, cursor key).
- put_events: events:PutEvents on the stack's event bus only (outbound events, DESIGN §7).

A stream consumer ("stream:<table>") is granted reading its table's stream by its event source (infra/
lambdas.py), and sending what it gives up on to its on-failure queue; nothing else unless listed here.
- webhook_key: the KMS key of webhook endpoint secrets: "encrypt" (kms:Encrypt; registering and rotating
  endpoints) or "decrypt" (kms:Decrypt; signing deliveries) — the API never decrypts a stored secret.
"""

from __future__ import annotations

from dataclasses import dataclass

from functions.core.resources import (
    BILLING_ACCOUNT,
    BILLING_RUN,
    CARD_VALIDATION,
    COLLECTIONS,
    PDF_RENDER,
    SES_FEEDBACK,
    WEBHOOK_DELIVERIES,
)

TABLE_READ = ("dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:DescribeTable")
BUCKET_READ = ("s3:GetObject",)
BUCKET_WRITE = ("s3:PutObject",)
# ConditionCheckItem: a TransactWrite's condition-only operations (the unit of work, functions/core/uow.py).
TABLE_WRITE = (
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:ConditionCheckItem",
)


@dataclass(frozen=True)
class Grants:
    tables: str = ""  # "" | "read" | "read_write"
    bucket: str = ""  # "" | "read" | "read_write"
    send_to: tuple[str, ...] = ()
    email: bool = False
    secrets: bool = False
    put_events: bool = False
    webhook_key: str = ""  # "" | "encrypt" | "decrypt"


GRANTS: dict[str, Grants] = {
    # Every route: accounts, ledger, invoices (presigned GETs of the PDFs; a PDF missing or stale queues its
    # render on pdf-render and writes the request's marker under renders/ — the API never renders), card
    # changes (sends to card-validation), Stripe webhooks (dispute e-mails), cursors (secret), invoices
    # issued (sends to collections and pdf-render), webhook endpoints (their secrets encrypted; redelivery sends to
    # webhook-deliveries).
    "api": Grants(
        tables="read_write",
        bucket="read_write",
        send_to=(CARD_VALIDATION, COLLECTIONS, WEBHOOK_DELIVERIES, PDF_RENDER),
        email=True,
        secrets=True,
        webhook_key="encrypt",
    ),
    # Attaches the card in Stripe, marks it active, e-mails the billing contact once; a collection in
    # dunning retries at once (sends to collections).
    f"sqs:{CARD_VALIDATION}": Grants(tables="read_write", send_to=(COLLECTIONS,), email=True, secrets=True),
    # The daily schedule: one message per shard to billing-run; reads nothing.
    "schedule": Grants(send_to=(BILLING_RUN,)),
    # A shard worker: queries the due-accounts index, one message per due account.
    f"sqs:{BILLING_RUN}": Grants(tables="read", send_to=(BILLING_ACCOUNT,)),
    # An account worker: Recurring invoice, e-mail, its PDF render queued (sends to pdf-render), its
    # collection requested (sends to collections); a dunning retry found in the due index is collected here.
    f"sqs:{BILLING_ACCOUNT}": Grants(tables="read_write", send_to=(COLLECTIONS, PDF_RENDER), email=True, secrets=True),
    # The PDF renderer: reads the invoice, its account and what it names; renders and stores the PDF when the
    # stored one's fingerprint is not the invoice's. The only function that renders (fpdf2, fonts).
    f"sqs:{PDF_RENDER}": Grants(tables="read", bucket="read_write"),
    # The collector: one off-session PaymentIntent per collection attempt, the receipt or dunning e-mail,
    # the next collection (sends to collections); a balance below the minimum written off by a Credit
    # invoice queues its PDF render (sends to pdf-render).
    f"sqs:{COLLECTIONS}": Grants(tables="read_write", send_to=(COLLECTIONS, PDF_RENDER), email=True, secrets=True),
    # SES bounces and complaints: the suppression row written, the operators e-mailed.
    f"sqs:{SES_FEEDBACK}": Grants(tables="read_write", email=True),
    # The publisher: the outbox's stream records (the event is in the record's NewImage), each event put on
    # the stack's bus, then one webhook delivery queued per subscribed endpoint (reads the endpoints).
    "stream:events": Grants(put_events=True, tables="read", send_to=(WEBHOOK_DELIVERIES,)),
    # The webhook deliverer: reads the endpoint, decrypts its secrets, POSTs, records the attempt; the next
    # attempt is a delayed message to its own queue; an endpoint failing for 5 days e-mails the operators.
    f"sqs:{WEBHOOK_DELIVERIES}": Grants(
        tables="read_write", send_to=(WEBHOOK_DELIVERIES,), email=True, webhook_key="decrypt"
    ),
}


def grants_for(role: str) -> Grants:
    if role not in GRANTS:
        raise KeyError(f"no grants for functions of kind {role!r}: add a reviewed entry to infra/grants.py")
    return GRANTS[role]
