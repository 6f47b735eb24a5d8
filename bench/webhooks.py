"""Outbound webhooks (docs/events.md, "Webhooks"), counted in-process (moto, the local receiver on a loopback
port; no time is measured):

- fan-out of one event to one subscribed endpoint (what the publisher calls after its EventBridge put);
- one delivery: the `webhook-deliveries` message handled as Lambda invokes the deliverer — the endpoint and
  the delivery state read, the secret decrypted (KMS, first delivery of a container; cached 5 min after),
  the signed POST, the attempt and the state written;
- a failed event's 3 days of retries: the re-enqueue chaining's SQS requests (DelaySeconds is at most
  900 s, so a 12 h wait is 48 hops);

then the calls per event delivered and the cost per account-month with events at AWS list prices
(bench/billing_run.py's), with the arithmetic.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from bench.billing_run import DDB_READ_UNIT, DDB_WRITE_UNIT, LAMBDA_GB_SECOND, LAMBDA_REQUEST, SQS_REQUEST
from bench.ddb_counter import Counts, counting
from bench.harness import fake_aws_environment

EVENTBRIDGE_EVENT = 1.00 / 1_000_000  # custom events put on a bus (the publisher's PutEvents, one per event)
KMS_REQUEST = 0.03 / 10_000
EVENTS_PER_ACCOUNT_MONTH = 10  # e.g. invoice.issued, invoice.paid, payment.succeeded, items, usage budget
DELIVERER_GB_SECONDS = 0.256 * 0.3  # 256 MB for ~0.3 s: a few DynamoDB calls and one POST


@dataclass
class Figures:
    fan_out: Counts
    delivery: Counts
    delivery_warm: Counts
    retry_hops: int  # SQS messages a 3-day failing event sends (attempts + chaining hops)

    def sqs(self, counts: Counts) -> int:
        # GetQueueUrl is asked once per process (functions/core/queues.py caches the URL): not per event
        return sum(n for (service, op), n in counts.other.items() if service == "sqs" and op != "GetQueueUrl")

    def kms(self, counts: Counts) -> int:
        return sum(n for (service, _), n in counts.other.items() if service == "kms")


def run() -> Figures:
    from moto import mock_aws

    fake_aws_environment()
    with mock_aws():
        return _measure()


def _measure() -> Figures:
    import boto3

    from functions.core import db, queues
    from functions.core.audit import Actor
    from functions.core.resources import QUEUES, queue_name
    from functions.events import deliverer, service, webhook_secrets
    from functions.events import webhook_schemas as schemas
    from local.webhook_receiver import WebhookReceiver

    db.reset_connections()
    queues.reset_client()
    webhook_secrets.reset_client()
    db.create_tables(boto3.client("dynamodb", region_name="us-east-1"))
    sqs = boto3.client("sqs", region_name="us-east-1")
    for name in QUEUES:
        sqs.create_queue(QueueName=queue_name(name))
    webhook_secrets.create_key()
    receiver = WebhookReceiver().start()
    try:
        body = schemas.EndpointIn(url=receiver.url, event_types=["*"])
        endpoint = service.create(Actor("bench", "operator"), body, None)
        receiver.secrets.append(endpoint.secret or "")
        events = [_event(n) for n in (1, 2)]
        with counting() as fan_out:
            service.fan_out(events[0])
        with counting() as delivery:
            assert deliverer.handle(deliverer.message(events[0], endpoint.id)) == "delivered"
        with counting() as warm:
            assert deliverer.handle(deliverer.message(events[1], endpoint.id)) == "delivered"
        assert len(receiver.valid()) == 2
    finally:
        receiver.stop()
    hops = sum(math.ceil(d / deliverer.MAX_DELAY_SECONDS) for d in deliverer.retry_delays())
    return Figures(fan_out, delivery, warm, hops)


def _event(n: int) -> dict:
    return {
        "id": f"evt_{'b' * 19}{'ab'[n - 1]}",
        "type": "invoice.issued",
        "created_at": "2026-12-01T00:00:00.000Z",
        "account_id": "acct_bbbbbbbbbbbbbbbbbbbb",
        "sequence": n,
        "data": {"object": {"id": "inv_1"}},
        "api_version": "v1",
    }


def format_report(f: Figures) -> str:
    # The Lambda event source mapping receives and deletes each message: +2 SQS requests per message at
    # low volume (one message per batch; fewer when batches fill up).
    esm = 2
    per_event_ddb = f.fan_out.total + f.delivery_warm.total
    per_event_sqs = f.sqs(f.fan_out) + f.sqs(f.delivery_warm) + esm
    lines = [
        "Outbound webhooks (one event, one subscribed endpoint)",
        f"  fan-out:            DynamoDB {f.fan_out.describe()}; SQS {f.sqs(f.fan_out)}",
        f"  delivery (cold):    DynamoDB {f.delivery.describe()}; SQS {f.sqs(f.delivery)}; KMS {f.kms(f.delivery)}",
        f"  delivery (warm):    DynamoDB {f.delivery_warm.describe()}; SQS {f.sqs(f.delivery_warm)}; "
        f"KMS {f.kms(f.delivery_warm)} (secret cached 5 min)",
        f"  per event delivered: DynamoDB {per_event_ddb} calls, SQS {per_event_sqs} requests (send + the event "
        f"source mapping's receive and delete), EventBridge 1 PutEvents entry (the publisher's), KMS 0-1",
        f"  a failing event's 3 days of retries: {len(_delays())} attempts after the first, {f.retry_hops} delayed "
        f"messages (re-enqueue chaining past 900 s), {3 * f.retry_hops} SQS requests",
    ]
    reads = f.fan_out.items_read + f.delivery_warm.items_read
    writes = f.fan_out.write_units + f.delivery_warm.write_units
    parts = [
        ("DynamoDB reads", reads, DDB_READ_UNIT),
        ("DynamoDB writes", writes, DDB_WRITE_UNIT),
        ("SQS requests", per_event_sqs, SQS_REQUEST),
        ("EventBridge events", 1, EVENTBRIDGE_EVENT),
        ("Lambda requests", 1, LAMBDA_REQUEST),
        ("Lambda GB-s", DELIVERER_GB_SECONDS, LAMBDA_GB_SECOND),
    ]
    per_event = 0.0
    lines.append("  cost per event delivered to one endpoint (AWS list prices, us-east-1):")
    for label, quantity, price in parts:
        per_event += quantity * price
        lines.append(f"    {label:20} {quantity:>8} x ${price:.10f} = ${quantity * price:.10f}")
    month = per_event * EVENTS_PER_ACCOUNT_MONTH
    lines.append(
        f"    = ${per_event:.10f} per event; x {EVENTS_PER_ACCOUNT_MONTH} events per account-month "
        f"= ${month:.8f} per account-month with events (KMS: ${KMS_REQUEST:.6f} per cold container, "
        f"not per event; the outbox row is counted by the outbox's own figures)"
    )
    return "\n".join(lines)


def _delays() -> list[int]:
    from functions.events.deliverer import retry_delays

    return retry_delays()


if __name__ == "__main__":
    print(format_report(run()))
