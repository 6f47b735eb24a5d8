"""Business metrics as CloudWatch embedded metric format (EMF) lines on stdout (Powertools Metrics).

Namespace `billow`; every metric has the dimensions `stage` and `service` ("billow"), plus at most
one that splits it, from a short fixed list (an alarm needs one exact dimension set: no free text).
CloudWatch Logs turns each line into a data point: no API call, no client, nothing to flush.
Powertools is imported on the first metric, not at cold start. The local stage (`make run`)
emits none (its terminal is the operator's panel); every other stage, the tests' included, does.

The metrics, their dashboard and alarms (infra/monitoring.py) and what to do when one fires
(docs/operations.md):

- `Payments` (outcome: succeeded | declined | requires_action | failed) and `PaymentDeclines`
  (decline_code): every Stripe answer to a charge billow asked for;
- `WebhooksRefused`: Stripe webhooks answered 4xx (bad signature, unreadable; the reason is logged);
- `InvoicesIssued` (type): invoices posted, by type (recurring, one_time, …);
- `Collections` (state: opened | succeeded | retrying | failed: dunning over, past due): the collector's work;
- `EmailsSent`, `EmailsFailed`, `EmailsSuppressed`: SES sends, refused sends, sends skipped because
  the address bounced or complained; `EmailFeedback` (kind: bounce | complaint);
- `RunAccountsBilled`, `RunAccountsFailed`: the daily run's account worker, per account message;
- `EventDeliveriesFailed`: outbound event deliveries that failed (issue 19's sender).
"""

from __future__ import annotations

from functions.core.settings import get_settings

NAMESPACE = "billow"
SERVICE = "billow"


def count(name: str, value: float = 1, **dimensions: str) -> None:
    """One EMF data point of `name` (unit Count) with the stage, service and `dimensions`."""
    stage = get_settings().stage
    if stage == "local":
        return
    from aws_lambda_powertools.metrics import MetricUnit, single_metric

    defaults = {"stage": stage, "service": SERVICE}
    with single_metric(
        name=name, unit=MetricUnit.Count, value=value, namespace=NAMESPACE, default_dimensions=defaults
    ) as metric:
        for key, dimension in dimensions.items():
            metric.add_dimension(key, str(dimension) or "none")


def payment(outcome: str, decline_code: str | None = None) -> None:
    """A charge's outcome; a decline also counts under its decline code."""
    count("Payments", outcome=outcome)
    if outcome == "declined":
        count("PaymentDeclines", decline_code=decline_code or "unknown")


def webhook_refused() -> None:
    count("WebhooksRefused")


def invoice_issued(invoice_type: str) -> None:
    count("InvoicesIssued", type=invoice_type)


def collection(state: str) -> None:
    """state: opened | succeeded | retrying | failed."""
    count("Collections", state=state)


def run_account(billed: bool) -> None:
    count("RunAccountsBilled" if billed else "RunAccountsFailed")


def event_delivery_failed() -> None:
    """For the outbound events' sender (issue 19): one failed delivery attempt."""
    count("EventDeliveriesFailed")
