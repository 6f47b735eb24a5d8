"""Outbound events in tests: the bus + tap queue in this test's moto, the stream pump that publishes the
outbox (local/stream_pump.py, calling the app's publisher handler), and what reached the bus."""

from __future__ import annotations

from typing import Any

import boto3

from functions.core import outbox


def conforms(event: dict[str, Any]) -> None:
    """The event is what the OpenAPI document's `webhooks` says its type carries."""
    from functions.events.schemas import ENVELOPES

    ENVELOPES[event["type"]].model_validate(event)


class Events:
    def __init__(self) -> None:
        from app import app
        from functions.events import publisher
        from local.event_bus import create_event_bus
        from local.stream_pump import StreamPump

        publisher.reset_client()
        self.sqs = boto3.client("sqs", region_name="us-east-1")
        self.events = boto3.client("events", region_name="us-east-1")
        self.tap = create_event_bus(self.events, self.sqs)["tap_queue_url"]
        self.pump = StreamPump(app, log=lambda m: None)

    def publish(self) -> list[dict[str, Any]]:
        """Run the publisher over what the stream holds; the EventBridge envelopes that reached the tap."""
        from local.event_bus import read_tap

        self.pump.drain()
        return read_tap(self.sqs, self.tap)

    def published(self) -> list[dict[str, Any]]:
        """The events (the envelopes' detail) published since the last call."""
        return [envelope["detail"] for envelope in self.publish()]

    @staticmethod
    def of(account_id: str) -> list[dict[str, Any]]:
        """Every outbox event of the account, in sequence order, each valid against its type's payload
        schema (the OpenAPI document's `webhooks`)."""
        events = outbox.events_of(account_id)
        for event in events:
            conforms(event)
        return events

    @staticmethod
    def types(account_id: str) -> list[str]:
        return [e["type"] for e in outbox.events_of(account_id)]
