"""Time budgets (DESIGN §9): the Stripe gateway's retries fit each caller's budget.

A Stripe call (functions/core/stripe_gateway.py `_call`) makes up to `attempts` tries, each cut at
`timeout` seconds (the SDK's read timeout; its own retries are off), with a full-jitter backoff between
tries of at most min(cap, base * 2^(try-1)) seconds. Its worst case is therefore

    attempts * timeout + sum(min(cap, base * 2^(k-1)) for k in 1..attempts-1)

- **The API** (one function behind API Gateway, which answers 504 after 29 s whatever the function is
  still doing): fewer, shorter tries. An API path's worst case = its Stripe calls in sequence x one
  call's worst case + fetching the issuer's keys (JWKS, 5 s timeout, functions/core/auth.py) + an
  allowance for DynamoDB/SES/SQS at normal latency. A Stripe call cut short answers 503 with
  Retry-After; the client repeats the request with its Idempotency-Key, and Stripe replays.
- **Queue workers**: more, longer tries (no client waits; a failure is redelivered). A message's worst
  case = its Stripe calls x one call's worst case + the allowance, and must stay under the consumer's
  timeout (its queue spec). A batch holds up to batch_size messages: the consumer starts the next one
  only while the time left is at least one message's worst case (functions/core/queues.py, from
  BILLOW_MESSAGE_BUDGET_SECONDS, which the stack sets from here); the others go back to the queue.

The Stripe calls per caller are counted from the code (the longest sequence on any path; each entry
names it). tests/unit/test_time_budgets.py computes every worst case; docs/deploy.md has the table.
"""

from __future__ import annotations

from dataclasses import dataclass

from functions.core.resources import (
    BILLING_ACCOUNT,
    BILLING_RUN,
    CARD_VALIDATION,
    COLLECTIONS,
    PDF_RENDER,
    QUEUES,
    SES_FEEDBACK,
    WEBHOOK_DELIVERIES,
)
from functions.core.settings import Settings
from functions.core.stripe_gateway import BACKOFF_BASE_SECONDS, BACKOFF_CAP_SECONDS

API_GATEWAY_LIMIT_SECONDS = 29.0
JWKS_TIMEOUT_SECONDS = 5.0  # functions/core/auth.py: PyJWKClient(timeout=5), on a cold start or a new key
AWS_ALLOWANCE_SECONDS = 3.0  # DynamoDB, SQS, SES and Secrets Manager calls of one request at normal latency


@dataclass(frozen=True)
class StripeRetry:
    attempts: int  # BILLOW_STRIPE_MAX_ATTEMPTS
    timeout_seconds: float  # BILLOW_STRIPE_TIMEOUT_SECONDS

    def worst_call_seconds(self) -> float:
        backoff = sum(min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** (k - 1)) for k in range(1, self.attempts))
        return self.attempts * self.timeout_seconds + backoff

    def environment(self) -> dict[str, str]:
        return {
            "BILLOW_STRIPE_MAX_ATTEMPTS": str(self.attempts),
            "BILLOW_STRIPE_TIMEOUT_SECONDS": f"{self.timeout_seconds:g}",
        }


API_STRIPE = StripeRetry(attempts=2, timeout_seconds=3.0)
WORKER_STRIPE = StripeRetry(attempts=3, timeout_seconds=6.0)


@dataclass(frozen=True)
class Path:
    name: str  # the routes it covers
    stripe_calls: int  # Stripe calls in sequence, worst case
    why: str


API_PATHS: tuple[Path, ...] = (
    Path(
        "POST /v1/accounts/{id}/payments (card, PayPal)",
        3,
        "payment method read, PaymentIntent look-up of an expired key, PaymentIntent create",
    ),
    Path(
        "POST /v1/accounts/{id}/payment-method, upgrade",
        2,
        "customer create (first card), SetupIntent create",
    ),
    Path("POST /v1/accounts/{id}/refunds (operator)", 2, "refund list, refund create"),
    Path("POST /v1/webhooks/stripe", 3, "PaymentIntent, charge and dispute reads"),
    Path("every other route", 0, "no Stripe call"),
)


@dataclass(frozen=True)
class Worker:
    queue: str
    stripe_calls: int  # per message, worst case
    why: str
    other_seconds: float = 0.0  # another outbound call's bound (a webhook POST: connect + read timeouts)


# One invoice PDF rendered and stored: the largest invoices (thousands of lines) at today's ~1.2 s per
# 1,000 lines, with room to spare (issue 21's goal is 300 ms per 1,000 lines).
RENDER_SECONDS = 10.0
# A webhook delivery's POST: urllib3 timeouts of webhook_timeout_seconds to connect and to read.
WEBHOOK_POST_SECONDS = 2 * Settings.__dataclass_fields__["webhook_timeout_seconds"].default


WORKERS: dict[str, Worker] = {
    CARD_VALIDATION: Worker(CARD_VALIDATION, 4, "SetupIntent read, attach, set default, detach the replaced card"),
    COLLECTIONS: Worker(COLLECTIONS, 3, "PaymentIntent look-up, create, cancel of the superseded one"),
    BILLING_ACCOUNT: Worker(BILLING_ACCOUNT, 0, "issues the invoice; the charge is the collector's (collections)"),
    BILLING_RUN: Worker(BILLING_RUN, 0, "lists a shard's due accounts"),
    WEBHOOK_DELIVERIES: Worker(
        WEBHOOK_DELIVERIES, 0, "one signed POST to the endpoint (no Stripe call)", other_seconds=WEBHOOK_POST_SECONDS
    ),
    SES_FEEDBACK: Worker(SES_FEEDBACK, 0, "records the suppressed address, e-mails the operators (no Stripe call)"),
    PDF_RENDER: Worker(PDF_RENDER, 0, "renders one invoice PDF into S3 (no Stripe call)", other_seconds=RENDER_SECONDS),
}


def api_worst_seconds(path: Path, retry: StripeRetry = API_STRIPE) -> float:
    return path.stripe_calls * retry.worst_call_seconds() + JWKS_TIMEOUT_SECONDS + AWS_ALLOWANCE_SECONDS


def message_worst_seconds(queue: str, retry: StripeRetry = WORKER_STRIPE) -> float:
    if queue not in WORKERS:
        raise KeyError(f"queue {queue!r} has no time budget: add it to infra/budgets.py WORKERS")
    worker = WORKERS[queue]
    return worker.stripe_calls * retry.worst_call_seconds() + worker.other_seconds + AWS_ALLOWANCE_SECONDS


def consumer_timeout_seconds(queue: str) -> int:
    return QUEUES[queue].consumer_timeout_seconds


def function_environment(*, is_api: bool, queue: str | None) -> dict[str, str]:
    """The Stripe retry settings of one function, and a queue consumer's per-message reserve."""
    if is_api:
        return API_STRIPE.environment()
    env = WORKER_STRIPE.environment()
    if queue is not None:
        env["BILLOW_MESSAGE_BUDGET_SECONDS"] = f"{message_worst_seconds(queue):g}"
    return env
