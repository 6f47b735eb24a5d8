"""The local queue pump (local/queue_pump.py) does what Lambda's SQS event source mapping does with
ReportBatchItemFailures: the handler gets Lambda's event, only what succeeded is deleted, failures come
back and end in the DLQ after max_receive_count receipts."""

from __future__ import annotations

import json
import time

import boto3
import pytest
from chalice import Chalice
from moto import mock_aws

from local.queue_pump import QueuePump, moto_has_visible


@pytest.fixture
def sqs():
    with mock_aws():
        client = boto3.client("sqs", region_name="us-east-1")
        dlq = client.create_queue(QueueName="jobs-dlq")["QueueUrl"]
        dlq_arn = client.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "3"})
        client.create_queue(QueueName="jobs", Attributes={"RedrivePolicy": redrive})
        yield client


def make_app(seen):
    app = Chalice("pump-test")

    @app.on_sqs_message(queue="jobs", batch_size=5)
    def work(event):
        failures = []
        for record in event:
            raw = record.to_dict()
            seen.append((raw["messageId"], json.loads(raw["body"]), raw["attributes"]["ApproximateReceiveCount"]))
            if json.loads(raw["body"]).get("fail"):
                failures.append({"itemIdentifier": raw["messageId"]})
        return {"batchItemFailures": failures}

    @app.on_sqs_message(queue="jobs-dlq")
    def crash(event):
        raise RuntimeError("a handler that raises fails its whole batch")

    return app


def count(sqs, name):
    url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])


def test_only_successes_are_deleted_and_failures_reach_the_dlq(sqs):
    seen = []
    url = sqs.get_queue_url(QueueName="jobs")["QueueUrl"]
    for n in range(3):
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"n": n}))
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"fail": True}))
    pump = QueuePump(make_app(seen), sqs, retry_delay=0, log=lambda _: None)
    jobs = next(c for c in pump.consumers if c.queue_name == "jobs")
    assert (jobs.handler_name, jobs.batch_size) == ("work", 5)
    assert jobs.queue_arn.endswith(":jobs")

    assert pump.pump_once(jobs) == 4
    assert sorted(body.get("n", -1) for _, body, _ in seen) == [-1, 0, 1, 2]
    assert count(sqs, "jobs") == 1, "the three successes were deleted, the failure kept"

    for _ in range(5):
        pump.pump_once(jobs)
    failing = [receipts for _, body, receipts in seen if body.get("fail")]
    assert failing == ["1", "2", "3"], "redelivered with a growing receive count, then dead-lettered"
    assert count(sqs, "jobs") == 0 and count(sqs, "jobs-dlq") == 1
    assert pump.stats["work"].succeeded == 3 and pump.stats["work"].failed == 3


def test_a_handler_that_raises_keeps_its_whole_batch(sqs):
    dlq = sqs.get_queue_url(QueueName="jobs-dlq")["QueueUrl"]
    sqs.send_message(QueueUrl=dlq, MessageBody="{}")
    logged = []
    pump = QueuePump(make_app([]), sqs, retry_delay=0, log=logged.append)
    crash = next(c for c in pump.consumers if c.queue_name == "jobs-dlq")
    assert pump.pump_once(crash) == 1
    assert count(sqs, "jobs-dlq") == 1
    assert logged and "crash raised RuntimeError" in logged[0]


def test_moto_has_visible_sees_what_receive_message_would_return(sqs):
    pump = QueuePump(make_app([]), sqs, log=lambda _: None)
    jobs = next(c for c in pump.consumers if c.queue_name == "jobs")
    ready = moto_has_visible()
    url = jobs.queue_url
    assert ready(jobs) is False, "an empty queue"
    sqs.send_message(QueueUrl=url, MessageBody="{}", DelaySeconds=30)
    assert ready(jobs) is False, "a delayed message is not received yet"
    sqs.send_message(QueueUrl=url, MessageBody="{}")
    assert ready(jobs) is True
    got = sqs.receive_message(QueueUrl=url, VisibilityTimeout=30)["Messages"]
    assert len(got) == 1
    assert ready(jobs) is False, "the one visible message is in flight"
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=got[0]["ReceiptHandle"], VisibilityTimeout=0)
    assert ready(jobs) is True, "visible again"
    unknown = type(jobs)("work", "no-such-queue", url, jobs.queue_arn, 1)
    assert ready(unknown) is True, "what it cannot read, it leaves to ReceiveMessage"


def test_with_ready_an_idle_pump_sends_no_receive_and_still_handles_a_message_at_once(sqs):
    seen = []
    receives = []
    sqs.meta.events.register("before-call.sqs.ReceiveMessage", lambda **_: receives.append(1))
    pump = QueuePump(make_app(seen), sqs, log=lambda _: None, ready=moto_has_visible()).start()
    try:
        time.sleep(1.0)  # without `ready`: two empty polls a second per queue
        assert receives == [], "nothing visible: no ReceiveMessage"
        url = sqs.get_queue_url(QueueName="jobs")["QueueUrl"]
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"n": 7}))
        deadline = time.monotonic() + 5
        while not seen and time.monotonic() < deadline:
            time.sleep(0.01)
        assert [body for _, body, _ in seen] == [{"n": 7}]
        assert len(receives) == 1, "one ReceiveMessage, for the one message"
    finally:
        pump.stop()
