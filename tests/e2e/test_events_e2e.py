"""Outbound events over the local stack (issue 19): the stack's changes reach moto's EventBridge bus
through the outbox stream and the publisher, and ten concurrent charges on one account get sequences
1..n once each (moto serialised behind the stack's lock, as in AWS DynamoDB serialises conflicts)."""

from __future__ import annotations

import json
import threading
import time
import uuid

import boto3
import pytest

from tests.e2e.conftest import LocalStack

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("shared-stack")]
SHARED_STACK = True  # with test_payments_e2e.py and test_payment_races.py (tests/e2e/conftest.py `local_stack`)


def _tap(stack: LocalStack):
    sqs = boto3.client(
        "sqs",
        endpoint_url=stack.info["moto_url"],
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    return sqs, stack.info["resources"]["event_bus"]["tap_queue_url"]


def _published(stack: LocalStack, want: set[str], timeout: float = 180) -> dict[str, dict]:
    """The events (by id) that reached the tap queue, until every id of `want` did (or the timeout).

    The timeout is generous on purpose: on a loaded 2-core machine, late in a session whose stack holds
    thousands of events (moto copies the events table on every transaction), publishing a burst took
    over 60 s once; a lost event still fails the test, only later."""
    sqs, url = _tap(stack)
    seen: dict[str, dict] = {}
    deadline = time.monotonic() + timeout
    while not want <= set(seen) and time.monotonic() < deadline:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        for m in messages:
            detail = json.loads(m["Body"])["detail"]
            seen[detail["id"]] = detail
        if not messages:
            time.sleep(0.5)
    return seen


def _events(stack: LocalStack, account_id: str) -> list[dict]:
    admin = stack.info["tokens"]["admin"]["token"]
    events, cursor = [], ""
    while True:
        page = stack.get(f"/v1/events?account_id={account_id}&limit=100{cursor}", admin).json()
        events += page["data"]
        if not page["next_cursor"]:
            return sorted(events, key=lambda e: e["sequence"])
        cursor = f"&cursor={page['next_cursor']}"


def test_the_demo_accounts_changes_reach_the_bus(local_stack: LocalStack):
    demo = local_stack.info["accounts"]["demo"]
    events = _events(local_stack, demo)
    assert [e["sequence"] for e in events] == list(range(1, len(events) + 1))
    kinds = {e["type"] for e in events}
    assert {"account.created", "invoice.issued", "payment_method.updated", "billing_item.provisioned"} <= kinds
    published = _published(local_stack, {e["id"] for e in events})
    assert {e["id"] for e in events} <= set(published)
    assert all(published[e["id"]] == e for e in events)


def test_ten_concurrent_charges_get_gapless_sequences_and_all_reach_the_bus(local_stack: LocalStack):
    import requests

    admin = local_stack.info["tokens"]["admin"]["token"]
    headers = {"Authorization": f"Bearer {admin}", "Content-Type": "application/json"}
    contact = {
        "name": "Ada",
        "email": "ada@example.com",
        "address": {"line1": "1 Main St", "city": "Springfield", "postal_code": "12345", "country": "US"},
    }
    body = {"type": "subscription", "linked": True, "currency": "usd", "name": "Race Co", "billing_contact": contact}
    account_id = requests.post(f"{local_stack.api}/v1/accounts", json=body, headers=headers, timeout=30).json()["id"]
    statuses: list[int] = []

    def charge(n: int) -> None:
        # as a console does: a 409 concurrent-update (contention on the account) is repeated after its
        # Retry-After with the same Idempotency-Key
        key = str(uuid.uuid4())
        for _ in range(5):
            r = requests.post(
                f"{local_stack.api}/v1/accounts/{account_id}/charges",
                json={"description": f"race {n}", "amount": 100 + n},
                headers={**headers, "Idempotency-Key": key},
                timeout=60,
            )
            if r.status_code != 409 or r.json().get("code") != "concurrent-update":
                break
            time.sleep(float(r.headers.get("Retry-After", "1")))
        statuses.append(r.status_code)

    threads = [threading.Thread(target=charge, args=(n,)) for n in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [201] * 10
    events = _events(local_stack, account_id)
    assert [e["sequence"] for e in events] == list(range(1, 12))
    issued = [e["data"]["object"]["id"] for e in events if e["type"] == "invoice.issued"]
    assert len(issued) == len(set(issued)) == 10
    published = _published(local_stack, {e["id"] for e in events})
    assert {e["id"] for e in events} <= set(published)
