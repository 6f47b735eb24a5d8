"""The `pdf-render` queue in tests (issue 21): its messages delivered to the app's `render_pdfs` handler as
Lambda would (local/queue_pump.py's event shape, partial batch answer honoured), and the PDF route followed
the way a client does — 409 `pdf-not-ready`, the queue worked, then the presigned link."""

from __future__ import annotations

from typing import Any

import boto3

from local.queue_pump import sqs_event

QUEUE = "pdf-render"


def _sqs() -> Any:
    return boto3.client("sqs", region_name="us-east-1")


def render_messages(visibility: int | None = None) -> list[dict[str, Any]]:
    """The pdf-render messages visible now (up to 10); `visibility`: how long they stay hidden."""
    from functions.core.queues import queue_url

    extra = {} if visibility is None else {"VisibilityTimeout": visibility}
    response = _sqs().receive_message(
        QueueUrl=queue_url(QUEUE),
        MaxNumberOfMessages=10,
        AttributeNames=["All"],
        MessageAttributeNames=["All"],
        **extra,
    )
    return response.get("Messages", [])


def deliver(client: Any, messages: list[dict[str, Any]]) -> dict[str, Any]:
    """One batch to `render_pdfs` (chalice.test.Client); the messages that succeeded are deleted."""
    from functions.core.queues import queue_url

    url = queue_url(QUEUE)
    arn = _sqs().get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    answer = client.lambda_.invoke("render_pdfs", sqs_event(messages, arn, "us-east-1")).payload
    failed = {f["itemIdentifier"] for f in answer["batchItemFailures"]}
    done = [m for m in messages if m["MessageId"] not in failed]
    if done:
        entries = [{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(done)]
        _sqs().delete_message_batch(QueueUrl=url, Entries=entries)
    return answer


def drain_renders(client: Any) -> int:
    """Deliver every pdf-render message until the queue is empty; how many (each must succeed)."""
    total = 0
    while messages := render_messages():
        assert deliver(client, messages) == {"batchItemFailures": []}
        total += len(messages)
    return total


def pdf_link(api: Any, path: str, token: str) -> tuple[int, Any, Any]:
    """GET …/pdf as a client does: a 409 `pdf-not-ready` (with Retry-After) → the render queue worked → GET
    again. Returns the final (status, body, headers)."""
    status, data, headers = api.call("GET", path, token=token)
    if status == 409 and isinstance(data, dict) and data.get("code") == "pdf-not-ready":
        assert int(headers["Retry-After"]) > 0
        drain_renders(api.client)
        status, data, headers = api.call("GET", path, token=token)
    return status, data, headers
