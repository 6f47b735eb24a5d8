"""The local queue pump: what Lambda's SQS event source mappings do in AWS, for the local stack.

For every `on_sqs_message` handler the app registers, a thread receives batches from the queue in
moto (up to the handler's batch size), builds the SQS event Lambda would send (same record shape:
messageId, receiptHandle, body, attributes with ApproximateReceiveCount, eventSourceARN…), calls
the handler in-process, and then, as Lambda does with `ReportBatchItemFailures`:

- deletes the messages that succeeded (all of them unless the answer lists `batchItemFailures`);
- leaves the failed ones (every one of the batch if the handler raised) on the queue; their
  receive count grows and moto's redrive policy moves them to the DLQ after `max_receive_count`.

One local difference: a failed message is made visible again after `retry_delay` seconds (default 2)
instead of the queue's visibility timeout (six times the consumer's timeout in AWS), so retries show up
while you watch. Polls are short (WaitTimeSeconds=0) because the local moto serves one request at a
time: a long poll would hold everyone else's requests.

What Lambda's long poll gives (a message is received soon after it becomes visible, and an empty queue
costs no request every half second), the local stack gets from `ready`: with moto in the same process
(local/run.py), `moto_has_visible()` reads moto's queue in memory, and the pump sends ReceiveMessage
only when a message is visible there; it looks every 0.05 s. An idle stack's empty ReceiveMessage
polls (seven queues, two a second each) cost ~7 % of a CPU; the look costs microseconds. A wrong
answer only delays or wastes one poll: the ReceiveMessage that follows is what counts.
"""

from __future__ import annotations

import hashlib
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


def _stderr(message: str) -> None:
    print(message, file=sys.stderr)


# After a batch the next ReceiveMessage goes at once, as Lambda's pollers take a backlog (a 0.2 s pause here
# made the 32 shard messages of a `billow bill` take ~7 s even when there was nothing to bill).
POLL_SECONDS = 0.0
IDLE_POLL_SECONDS = 0.5
READY_POLL_SECONDS = 0.05  # between two looks at moto's memory (`ready`)


@dataclass(frozen=True)
class Consumer:
    handler_name: str
    queue_name: str
    queue_url: str
    queue_arn: str
    batch_size: int


@dataclass
class PumpStats:
    received: int = 0
    succeeded: int = 0
    failed: int = 0


class LambdaContext:
    """The parts of Lambda's context object handlers and Powertools read."""

    def __init__(self, function_name: str, timeout_seconds: int = 60) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{function_name}"
        self.memory_limit_in_mb = 512
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "local"
        self._deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def sqs_event(messages: list[dict[str, Any]], queue_arn: str, region: str) -> dict[str, Any]:
    """The event Lambda sends an SQS-triggered function, from ReceiveMessage's messages."""
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "messageAttributes": m.get("MessageAttributes", {}),
                "md5OfBody": m.get("MD5OfBody") or hashlib.md5(m["Body"].encode()).hexdigest(),  # noqa: S324
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
            for m in messages
        ]
    }


def moto_has_visible(region: str = "us-east-1") -> Callable[[Consumer], bool]:
    """`ready` for a moto running in this process: whether the consumer's queue holds a message
    ReceiveMessage would return (visible, not delayed), read without moto's request lock. A message
    moving under the read, or a queue moto does not have, answers True: the pump then asks moto."""

    def ready(consumer: Consumer) -> bool:
        try:
            from moto.core import DEFAULT_ACCOUNT_ID
            from moto.sqs.models import sqs_backends

            queue = sqs_backends[DEFAULT_ACCOUNT_ID][region].queues[consumer.queue_name]
            return any(m.visible and not m.delayed for m in list(queue._messages))
        except Exception:
            return True

    return ready


def consumers(app: Any, sqs: Any) -> list[Consumer]:
    """Every SQS event source of the app, with its queue's URL and ARN in moto."""
    from chalice.app import SQSEventConfig

    found = []
    for source in app.event_sources:
        if not isinstance(source, SQSEventConfig):
            continue
        url = sqs.get_queue_url(QueueName=source.queue)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        found.append(Consumer(source.name, source.queue, url, arn, min(source.batch_size, 10)))
    return found


class QueuePump:
    """One thread per consumer; `drain()` for tests, `stop()` for the launcher."""

    def __init__(
        self,
        app: Any,
        sqs: Any,
        *,
        region: str = "us-east-1",
        retry_delay: int = 2,
        log: Callable[[str], None] = _stderr,
        ready: Callable[[Consumer], bool] | None = None,
    ) -> None:
        self.app = app
        self.sqs = sqs
        self.region = region
        self.retry_delay = retry_delay
        self.log = log
        self.ready = ready  # None: a ReceiveMessage every poll (moto elsewhere)
        self.consumers = consumers(app, sqs)
        self.stats = {c.handler_name: PumpStats() for c in self.consumers}
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> QueuePump:
        for consumer in self.consumers:
            thread = threading.Thread(
                target=self._loop, args=(consumer,), name=f"pump-{consumer.handler_name}", daemon=True
            )
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)

    def _loop(self, consumer: Consumer) -> None:
        while not self._stop.is_set():
            try:
                look = self.ready is None or self.ready(consumer)
            except Exception:  # a look that fails means: ask moto
                look = True
            if not look:
                self._stop.wait(READY_POLL_SECONDS)
                continue
            try:
                handled = self.pump_once(consumer)
            except Exception as exc:  # moto stopping, a transient error: keep pumping
                if self._stop.is_set():
                    return
                self.log(f"queue pump: {consumer.queue_name}: {type(exc).__name__}: {exc}")
                handled = 0
            self._stop.wait(POLL_SECONDS if handled else IDLE_POLL_SECONDS)

    def pump_once(self, consumer: Consumer) -> int:
        """Receive one batch, run the handler, delete what succeeded; returns the batch size."""
        response = self.sqs.receive_message(
            QueueUrl=consumer.queue_url,
            MaxNumberOfMessages=consumer.batch_size,
            WaitTimeSeconds=0,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages = response.get("Messages", [])
        if not messages:
            return 0
        stats = self.stats[consumer.handler_name]
        stats.received += len(messages)
        handler = self.app.handler_map[consumer.handler_name]
        try:
            answer = handler(sqs_event(messages, consumer.queue_arn, self.region), LambdaContext(consumer.handler_name))
            failed_ids = {f["itemIdentifier"] for f in (answer or {}).get("batchItemFailures", [])}
        except Exception as exc:
            self.log(f"queue pump: {consumer.handler_name} raised {type(exc).__name__}; the batch will be retried")
            failed_ids = {m["MessageId"] for m in messages}
        succeeded = [m for m in messages if m["MessageId"] not in failed_ids]
        failed = [m for m in messages if m["MessageId"] in failed_ids]
        if succeeded:
            self.sqs.delete_message_batch(
                QueueUrl=consumer.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(succeeded)],
            )
        if failed:
            self.sqs.change_message_visibility_batch(
                QueueUrl=consumer.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": self.retry_delay}
                    for i, m in enumerate(failed)
                ],
            )
        stats.succeeded += len(succeeded)
        stats.failed += len(failed)
        return len(messages)

    def drain(self, max_rounds: int = 20) -> None:
        """Pump every queue until a round receives nothing (tests; the threads need not be running)."""
        for _ in range(max_rounds):
            if not sum(self.pump_once(c) for c in self.consumers):
                return
