"""The EventBridge side of outbound events for the local stack and the tests (never deployed): the bus
the publisher puts events on, and a rule sending every `billow` event to a queue (the "tap") they read.
In AWS, the CDK stack creates the bus and its archive (infra/events.py); consumers add their own rules."""

from __future__ import annotations

import json
from typing import Any

RULE = "billow-events-tap"


def create_event_bus(events: Any, sqs: Any) -> dict[str, str]:
    """The bus, the tap queue and the rule between them (idempotent); returns their names and the queue URL."""
    from functions.core.resources import EVENT_SOURCE, event_bus_name, event_tap_queue_name

    bus = event_bus_name()
    if not any(b["Name"] == bus for b in events.list_event_buses().get("EventBuses", [])):
        events.create_event_bus(Name=bus)
    url = sqs.create_queue(QueueName=event_tap_queue_name())["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name=RULE, EventBusName=bus, EventPattern=json.dumps({"source": [EVENT_SOURCE]}))
    events.put_targets(Rule=RULE, EventBusName=bus, Targets=[{"Id": "tap", "Arn": arn}])
    return {"bus": bus, "tap_queue_url": url}


def read_tap(sqs: Any, url: str, rounds: int = 20) -> list[dict[str, Any]]:
    """Every EventBridge envelope waiting on the tap queue (received and deleted)."""
    out: list[dict[str, Any]] = []
    for _ in range(rounds):
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        if not messages:
            break
        out += [json.loads(m["Body"]) for m in messages]
        sqs.delete_message_batch(
            QueueUrl=url, Entries=[{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(messages)]
        )
    return out
