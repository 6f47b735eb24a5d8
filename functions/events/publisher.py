"""The publisher: every outbox event put on the stack's EventBridge bus (DESIGN §7), at least once.

The outbox table's stream (NEW_IMAGE) invokes `publish_records` with a batch of stream records (in AWS,
Lambda's DynamoDB event source; locally, local/stream_pump.py reads the stream of moto's table the same
way). Each new event item becomes one PutEvents entry — source `billow`, detail-type = the event's type,
detail = the event JSON — sent in batches of at most 10. Entries EventBridge refuses are sent again (a
few times, with a short backoff); what is still refused is reported as the batch's first failed record,
so the stream delivers it (and what follows) again: an event may reach the bus twice, with the same id,
never zero times. Counter items and deletions (TTL) are not events and are skipped.
"""

from __future__ import annotations

import json
import time
from functools import lru_cache
from typing import Any

from functions.core import outbox
from functions.core.logs import get_logger
from functions.core.resources import EVENT_SOURCE, event_bus_name
from functions.core.settings import get_settings
from functions.events import service

BATCH = 10  # PutEvents' limit per call
ATTEMPTS = 4


@lru_cache(maxsize=1)
def _events_client() -> Any:
    import boto3

    return boto3.client("events", region_name=get_settings().region)


def reset_client() -> None:
    """Forget the client (tests start a fresh moto per test)."""
    _events_client.cache_clear()


def entry(event: dict[str, Any]) -> dict[str, Any]:
    """The PutEvents entry of one event."""
    return {
        "Source": EVENT_SOURCE,
        "DetailType": event["type"],
        "Detail": json.dumps(event, sort_keys=True, separators=(",", ":")),
        "EventBusName": event_bus_name(),
    }


def put_events(events: list[dict[str, Any]]) -> list[int]:
    """Put `events` on the bus (≤ 10 per call); returns the indexes of those still refused after ATTEMPTS."""
    failed: list[int] = []
    for start in range(0, len(events), BATCH):
        pending = list(range(start, min(start + BATCH, len(events))))
        for attempt in range(ATTEMPTS):
            if attempt:
                time.sleep(0.05 * 2**attempt)
            answer = _events_client().put_events(Entries=[entry(events[i]) for i in pending])
            if not answer.get("FailedEntryCount"):
                pending = []
                break
            pending = [i for i, e in zip(pending, answer["Entries"], strict=True) if e.get("ErrorCode")]
        failed.extend(pending)
    return failed


def events_in(records: list[dict[str, Any]]) -> list[tuple[int, dict[str, Any]]]:
    """(index of the record, event) for each record that inserted an outbox event."""
    found = []
    for n, record in enumerate(records):
        image = (record.get("dynamodb") or {}).get("NewImage")
        if record.get("eventName") != "INSERT" or not image:
            continue
        event = outbox.from_stream_image(image)
        if event is not None:
            found.append((n, event))
    return found


def publish_records(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Publish the events of a batch of stream records; Lambda's partial batch response: the first record
    not published (by its stream sequence number), so that it and every later record are retried."""
    found = events_in(records)
    failed = put_events([event for _, event in found])
    # then the webhook deliveries of every event on the bus that will not be sent again (service.py)
    published = [event for _, event in found[: min(failed, default=len(found))]]
    unqueued = service.fan_out_all(published)
    failed = failed if unqueued is None else [*failed, unqueued]
    if not failed:
        return {"batchItemFailures": []}
    first = found[min(failed)][0]
    get_logger().warning("events not published", refused=len(failed), first_event=found[min(failed)][1]["id"])
    return {"batchItemFailures": [{"itemIdentifier": records[first]["dynamodb"]["SequenceNumber"]}]}
