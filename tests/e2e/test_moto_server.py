"""The local moto server serialises requests: moto 5.2's transact_write_items is not safe when two run
at once (it deep-copies and restores tables without a lock), so the server holds one lock per request."""

from __future__ import annotations

import threading
import time

import boto3
import pytest
import requests
from botocore.config import Config
from werkzeug.serving import make_server

from local import moto_server

pytestmark = pytest.mark.e2e

RACERS = 30
ROUNDS = 4


def test_the_middleware_lets_one_request_through_at_a_time_and_holds_the_lock_while_streaming():
    active, peak, lock = 0, 0, threading.Lock()

    def slow_app(environ, start_response):
        nonlocal active, peak
        with lock:
            active += 1
            peak = max(peak, active)
        start_response("200 OK", [("Content-Type", "text/plain")])

        def body():
            nonlocal active
            try:
                yield b"part-1;"
                time.sleep(0.02)  # a request streaming its body still counts as running
                yield b"part-2"
            finally:
                with lock:
                    active -= 1

        return body()

    server = make_server("127.0.0.1", 0, moto_server.SerializedApp(slow_app), threaded=True)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/"
        bodies: list[bytes] = []
        threads = [
            threading.Thread(target=lambda: bodies.append(requests.get(url, timeout=10).content)) for _ in range(8)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        server.shutdown()
        server.server_close()
    assert bodies == [b"part-1;part-2"] * 8
    assert peak == 1


def test_racing_transactions_through_the_server_lose_nothing():
    server, url = moto_server.start(0)
    try:
        session = boto3.session.Session(aws_access_key_id="t", aws_secret_access_key="t", region_name="us-east-1")
        setup = session.client("dynamodb", endpoint_url=url)
        setup.create_table(
            TableName="race",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        no_retries = Config(retries={"total_max_attempts": 1}, max_pool_connections=RACERS)
        client = session.client("dynamodb", endpoint_url=url, config=no_retries)
        failures: list[str] = []

        def post(barrier: threading.Barrier, i: int) -> None:
            barrier.wait()
            try:
                client.transact_write_items(
                    TransactItems=[
                        {"Put": {"TableName": "race", "Item": {"pk": {"S": f"item-{i}"}}}},
                        {
                            "Update": {
                                "TableName": "race",
                                "Key": {"pk": {"S": f"counter-{i % 3}"}},
                                "UpdateExpression": "ADD n :one",
                                "ExpressionAttributeValues": {":one": {"N": "1"}},
                            }
                        },
                    ]
                )
            except Exception as exc:
                failures.append(repr(exc))

        for round_ in range(ROUNDS):
            barrier = threading.Barrier(RACERS)
            threads = [threading.Thread(target=post, args=(barrier, round_ * RACERS + i)) for i in range(RACERS)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        items = setup.scan(TableName="race", ConsistentRead=True)["Items"]
    finally:
        moto_server.stop(server)
    assert failures == []
    assert sorted(i["pk"]["S"] for i in items if i["pk"]["S"].startswith("item-")) == sorted(
        f"item-{i}" for i in range(RACERS * ROUNDS)
    )
    assert sum(int(i["n"]["N"]) for i in items if i["pk"]["S"].startswith("counter-")) == RACERS * ROUNDS


def test_the_sent_mail_endpoint_returns_only_the_mail_asked_for(tmp_path, monkeypatch):
    # issue 20: `billow emails` reads this instead of moto's whole state (/moto-api/data.json)
    from local import cli, stack

    server, url = moto_server.start()
    try:
        requests.post(f"{url}/moto-api/reset", timeout=5)
        for name, value in stack.aws_env(url, tmp_path).items():
            monkeypatch.setenv(name, value)
        boto3.client("ses").verify_email_identity(EmailAddress="billing@billow.example")
        ses = boto3.client("sesv2")
        for n, to in enumerate(["ada@example.com", "grace@example.com", "ADA@example.com"]):
            ses.send_email(
                FromEmailAddress="billing@billow.example",
                Destination={"ToAddresses": [to]},
                Content={"Simple": {"Subject": {"Data": f"mail {n}"}, "Body": {"Text": {"Data": "hello"}}}},
            )
        mails = cli.sent_emails(url, "ada@example.com")
        assert [m["subject"] for m in mails] == ["mail 0", "mail 2"]
        assert [m["to"] for m in mails] == [["ada@example.com"], ["ADA@example.com"]]
        assert len(cli.sent_emails(url)) == 3
        last = requests.get(f"{url}{moto_server.SENT_MAIL_PATH}", params={"limit": 1}, timeout=5).json()
        assert [m["subject"] for m in last] == ["mail 2"]
    finally:
        requests.post(f"{url}/moto-api/reset", timeout=5)
        moto_server.stop(server)
