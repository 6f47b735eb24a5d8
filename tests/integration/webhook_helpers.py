"""Fixtures and helpers for the webhook tests: the KMS key, an injected resolver (no real DNS), short
retry delays, the local receiver, and a pump that runs the deliverer on the queue's messages in-process."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

FAKE_DNS = {
    "hooks.example.com": ["93.184.216.34"],
    "dual.example.com": ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"],
    "loopback.example.com": ["127.0.0.1"],
    "metadata.example.com": ["169.254.169.254"],
    "private.example.com": ["10.0.0.8"],
    "mixed.example.com": ["93.184.216.34", "192.168.1.10"],
    "mapped.example.com": ["::ffff:127.0.0.1"],
    "ula.example.com": ["fd00:ec2::254"],
    "v6loop.example.com": ["::1"],
    "nat64.example.com": ["64:ff9b::a9fe:a9fe"],
}


def fake_resolver(host: str, port: int) -> list[str]:
    return FAKE_DNS.get(host, [])


@pytest.fixture
def webhooks(queues_and_mail, monkeypatch):
    """moto with queues, mail and the KMS key; retries after 1 s, five of them; the local receiver."""
    from functions.core.settings import get_settings, reset_settings
    from functions.events import ssrf, webhook_secrets
    from local.webhook_receiver import WebhookReceiver

    monkeypatch.setenv("BILLOW_WEBHOOK_RETRY_BASE_SECONDS", "1")
    monkeypatch.setenv("BILLOW_WEBHOOK_RETRY_CAP_SECONDS", "1")
    monkeypatch.setenv("BILLOW_WEBHOOK_RETRY_WINDOW_SECONDS", "5")
    monkeypatch.setenv("BILLOW_WEBHOOK_TIMEOUT_SECONDS", "2")
    reset_settings()
    get_settings()
    webhook_secrets.reset_client()
    webhook_secrets.create_key()
    ssrf.use_resolver(fake_resolver)
    receiver = WebhookReceiver().start()
    receiver.hang_seconds = 4
    yield receiver
    receiver.stop()
    ssrf.use_resolver(None)
    webhook_secrets.reset_client()
    reset_settings()


def pump(sqs, seconds: float = 20.0, until: Callable[[], bool] = lambda: False) -> list[str]:
    """Run the deliverer on the webhook queue's messages (as Lambda would, deleting what succeeded) until
    `until()` holds and the queue is empty, or `seconds` pass; returns each message's outcome."""
    from functions.core import queues
    from functions.events import deliverer
    from functions.events.service import QUEUE

    url = queues.queue_url(QUEUE)
    outcomes: list[str] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        for m in got:
            records = [{"messageId": m["MessageId"], "body": m["Body"], "attributes": {}}]
            answer = queues.process_batch(QUEUE, records, lambda body: outcomes.append(deliverer.handle(body)))
            if not answer["batchItemFailures"]:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
            else:  # as after the visibility timeout, without waiting for it
                outcomes.append("raised")
                sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0)
        if got:
            continue
        attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        pending = sum(int(attrs[k]) for k in attrs if k.startswith("ApproximateNumberOfMessages"))
        if until() and pending == 0:
            break
        time.sleep(0.2)
    return outcomes


def event(n: int = 1, type_: str = "invoice.issued", account: str = "acct_aaaaaaaaaaaaaaaaaaaa") -> dict:
    """An event as the outbox writes it (DESIGN §7)."""
    return {
        "id": f"evt_{'a' * 19}{chr(ord('a') + n % 26)}" if n < 26 else f"evt_{n:020d}",
        "type": type_,
        "created_at": "2026-12-01T00:00:00.000Z",
        "account_id": account,
        "sequence": n,
        "data": {"object": {"id": f"inv_{n}", "total": 1000 + n}},
        "api_version": "v1",
    }
