"""SQS queues from functions/core/resources.py, each with its dead-letter queue, and how their consumers run.

- visibility timeout = 6 x the consumer's timeout (AWS's advice for Lambda event sources: a message is
  not redelivered while a throttled or retried batch is still being worked on); the consumer function's
  timeout is set from the same spec (infra/lambdas.py), so the two cannot drift;
- maxReceiveCount from the spec, then the message moves to `<queue>-dlq` (kept 14 days; SQS counts
  a DLQ's retention from the original enqueue time, hence the main queue keeps 4 days);
- SSE-SQS and TLS-only queue policies; a DLQ accepts redrives from its own queue only.

Queues exist whether or not their consumer has landed yet: the API already sends to card-validation,
and messages wait (an alarm on the oldest message's age says so) until the handler is deployed.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration, Stack
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from functions.core.resources import (
    BILLING_ACCOUNT,
    BILLING_RUN,
    CARD_VALIDATION,
    COLLECTIONS,
    PDF_RENDER,
    QUEUES,
    WEBHOOK_DELIVERIES,
    QueueSpec,
)
from infra.stages import StageSettings
from infra.suppressions import skip

VISIBILITY_FACTOR = 6
MAIN_RETENTION = Duration.days(4)
DLQ_RETENTION = Duration.days(14)


@dataclass(frozen=True)
class ConsumerSettings:
    """How the queue's Lambda consumer is driven (deployment knobs, not app behaviour)."""

    max_concurrency: int  # the event source mapping's MaximumConcurrency (2..1000), unless the app sets one
    oldest_message_alarm_seconds: int  # a message older than this means the consumer is missing or stuck


CONSUMERS: dict[str, ConsumerSettings] = {
    # A card change is usable "seconds later": a quarter of an hour of backlog is already an incident.
    CARD_VALIDATION: ConsumerSettings(max_concurrency=5, oldest_message_alarm_seconds=15 * 60),
    # At most 32 shard messages a day.
    BILLING_RUN: ConsumerSettings(max_concurrency=2, oldest_message_alarm_seconds=60 * 60),
    # Each account makes a few Stripe writes; 10 workers stay far below Stripe's ~100 writes/s.
    BILLING_ACCOUNT: ConsumerSettings(max_concurrency=10, oldest_message_alarm_seconds=6 * 60 * 60),
    # One Stripe write per collection attempt; messages wait ~60 s by design (DelaySeconds).
    COLLECTIONS: ConsumerSettings(max_concurrency=10, oldest_message_alarm_seconds=60 * 60),
    # One POST of at most 10 s per message; retries wait as delayed messages (not counted until visible).
    WEBHOOK_DELIVERIES: ConsumerSettings(max_concurrency=10, oldest_message_alarm_seconds=30 * 60),
    # A customer waits on the console for the PDF (409 pdf-not-ready meanwhile): 5 minutes of backlog is an incident.
    PDF_RENDER: ConsumerSettings(max_concurrency=5, oldest_message_alarm_seconds=5 * 60),
}
DEFAULT_CONSUMER = ConsumerSettings(max_concurrency=5, oldest_message_alarm_seconds=60 * 60)


def consumer_settings(queue: str) -> ConsumerSettings:
    return CONSUMERS.get(queue, DEFAULT_CONSUMER)


class Messaging(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, stage: StageSettings) -> None:
        super().__init__(scope, construct_id)
        self.stage = stage
        self.specs = dict(QUEUES)
        self.dlqs: dict[str, sqs.Queue] = {}
        self.queues: dict[str, sqs.Queue] = {}
        for name, spec in QUEUES.items():
            self.dlqs[name], self.queues[name] = self._queue_pair(spec)
        self._scheduled_dlq: sqs.Queue | None = None

    def _queue_pair(self, spec: QueueSpec) -> tuple[sqs.Queue, sqs.Queue]:
        name = self.stage.physical_name(spec.name)
        source_arn = Stack.of(self).format_arn(service="sqs", resource=name)  # by name: no circular reference
        dlq = sqs.Queue(
            self,
            f"Dlq-{spec.name}",
            queue_name=f"{name}-dlq",
            retention_period=DLQ_RETENTION,
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            redrive_allow_policy=sqs.RedriveAllowPolicy(
                redrive_permission=sqs.RedrivePermission.BY_QUEUE,
                source_queues=[sqs.Queue.from_queue_arn(self, f"Source-{spec.name}", source_arn)],
            ),
        )
        queue = sqs.Queue(
            self,
            f"Queue-{spec.name}",
            queue_name=name,
            visibility_timeout=Duration.seconds(VISIBILITY_FACTOR * spec.consumer_timeout_seconds),
            retention_period=MAIN_RETENTION,
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            dead_letter_queue=sqs.DeadLetterQueue(max_receive_count=spec.max_receive_count, queue=dlq),
        )
        skip(dlq, "CKV_AWS_27")
        skip(queue, "CKV_AWS_27")
        return dlq, queue

    def scheduled_dlq(self) -> sqs.Queue:
        """Where an asynchronously invoked (scheduled) function's failed events go after Lambda's retries."""
        if self._scheduled_dlq is None:
            self._scheduled_dlq = sqs.Queue(
                self,
                "Dlq-scheduled",
                queue_name=self.stage.physical_name("scheduled-dlq"),
                retention_period=DLQ_RETENTION,
                encryption=sqs.QueueEncryption.SQS_MANAGED,
                enforce_ssl=True,
            )
            skip(self._scheduled_dlq, "CKV_AWS_27")
        return self._scheduled_dlq
