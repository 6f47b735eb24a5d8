"""Queues: sending a message to one of billow's queues, and the loop every queue consumer runs.

Names come from functions/core/resources.py. The SQS client and each queue's URL are looked up on
first use and kept for the life of the process.

Consumers are invoked by Lambda with a batch (Chalice's `on_sqs_message`). `process_batch` runs the
handler on each record and answers Lambda's partial batch response, `{"batchItemFailures": [...]}`,
so only the messages that failed come back (after the visibility timeout) and, after
`max_receive_count` receipts, go to the queue's DLQ; the others are deleted. The event source
mapping must have `FunctionResponseTypes: ["ReportBatchItemFailures"]` (set in infra/; Chalice has
no option for it), and the local queue pump (local/queue_pump.py) honours the same answer.
Logs name the queue, the message id and the error type, never the body.

Every message sent carries the correlation id of the work that sent it (functions/core/logs.py) as
the `correlation_id` message attribute; `process_batch` makes it the correlation id while the
record's handler runs (a message without one is correlated by its own message id).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import Any

from functions.core.logs import correlation_id, get_logger, sane_correlation_id, set_correlation_id
from functions.core.resources import queue_name
from functions.core.settings import get_settings


@lru_cache(maxsize=1)
def _sqs() -> Any:
    import boto3

    return boto3.client("sqs", region_name=get_settings().region)


@lru_cache(maxsize=16)
def queue_url(name: str) -> str:
    return str(_sqs().get_queue_url(QueueName=queue_name(name))["QueueUrl"])


def reset_client() -> None:
    """Forget the client and URLs (tests start a fresh moto per test)."""
    _sqs.cache_clear()
    queue_url.cache_clear()


CORRELATION_ATTRIBUTE = "correlation_id"


def _attributes() -> dict[str, Any]:
    """The correlation id of the work in progress as a message attribute (none outside one)."""
    value = correlation_id()
    return {CORRELATION_ATTRIBUTE: {"DataType": "String", "StringValue": value}} if value else {}


def send(name: str, body: dict[str, Any], delay_seconds: int = 0) -> str:
    """Send one JSON message to the queue `name` (a key of resources.QUEUES), delivered no sooner than
    `delay_seconds` (SQS: at most 900) from now, carrying the correlation id; returns its message id."""
    extra: dict[str, Any] = {"DelaySeconds": min(max(delay_seconds, 0), 900)} if delay_seconds else {}
    if attributes := _attributes():
        extra["MessageAttributes"] = attributes
    response = _sqs().send_message(QueueUrl=queue_url(name), MessageBody=json.dumps(body, sort_keys=True), **extra)
    return str(response["MessageId"])


def send_batch(name: str, bodies: list[dict[str, Any]]) -> int:
    """Send up to 10 JSON messages in one SendMessageBatch; raises if SQS refused any of them."""
    if not bodies:
        return 0
    attributes = {"MessageAttributes": a} if (a := _attributes()) else {}
    entries = [{"Id": str(n), "MessageBody": json.dumps(b, sort_keys=True), **attributes} for n, b in enumerate(bodies)]
    response = _sqs().send_message_batch(QueueUrl=queue_url(name), Entries=entries)
    if response.get("Failed"):
        raise RuntimeError(f"SQS refused {len(response['Failed'])} of {len(bodies)} messages to {name}")
    return len(bodies)


def _deadline(context: Any) -> Callable[[], bool] | None:
    """A check 'too little time is left to start another message', or None without a budget or context."""
    reserve_ms = get_settings().message_budget_seconds * 1000
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if not reserve_ms or remaining is None:
        return None
    return lambda: remaining() < reserve_ms


def process_batch(queue: str, records: Iterable[Any], handle: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    """Run `handle(body)` on each record of an SQS batch; the partial batch response for Lambda.

    A record whose body is not a JSON object, or whose handler raises, is reported failed; the
    others succeeded. Handlers must be idempotent: SQS delivers at least once. With a Lambda context
    (Chalice's SQSEvent.context) and settings.message_budget_seconds set, a record is started only while
    at least that much time is left; the rest are reported failed unstarted and come back after the
    visibility timeout (the time budget of infra/budgets.py: a batch never runs into the timeout).
    """
    failures = []
    deadline = _deadline(getattr(records, "context", None))
    for record in records:
        raw = record.to_dict() if hasattr(record, "to_dict") else record
        message_id = raw.get("messageId", "")
        if deadline is not None and deadline():
            failures.append({"itemIdentifier": message_id})
            continue
        receive_count = raw.get("attributes", {}).get("ApproximateReceiveCount")
        set_correlation_id(_message_correlation(raw) or message_id or None)
        try:
            body = json.loads(raw["body"])
            if not isinstance(body, dict):
                raise ValueError("the message body is not a JSON object")
            handle(body)
        except Exception as exc:
            get_logger().warning(
                "queue message failed",
                queue=queue,
                message_id=message_id,
                receive_count=receive_count,
                error=type(exc).__name__,
            )
            failures.append({"itemIdentifier": message_id})
    set_correlation_id(None)
    return {"batchItemFailures": failures}


def _message_correlation(raw: dict[str, Any]) -> str | None:
    """The correlation id a record carries (Lambda's event spells it `stringValue`; SQS's own
    ReceiveMessage `StringValue`)."""
    attribute = (raw.get("messageAttributes") or {}).get(CORRELATION_ATTRIBUTE) or {}
    return sane_correlation_id(attribute.get("stringValue") or attribute.get("StringValue"))
