"""In-process AWS (moto mock_aws) with every table created, and a Chalice test client."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import pytest
from moto import mock_aws

# Empty tables as moto holds them, by the names they were created under: the first test of a worker
# creates them through the API (CreateTable, UpdateTimeToLive); every later one gets a deep copy of
# moto's empty Table objects (CreateTable x16 costs ~0.1 s idle, a copy ~10 ms).
_EMPTY_TABLES: dict[tuple[str, ...], dict[str, Any]] = {}


def _create_tables() -> None:
    import copy

    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    from functions.core import db
    from functions.core.tables import TABLES, table_name

    tables = dynamodb_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].tables
    names = tuple(table_name(name) for name in TABLES)
    if names in _EMPTY_TABLES and not tables:
        tables.update(copy.deepcopy(_EMPTY_TABLES[names]))
        return
    db.create_tables(boto3.client("dynamodb", region_name="us-east-1"))
    if len(tables) == len(names) and not any(table.items for table in tables.values()):
        _EMPTY_TABLES[names] = copy.deepcopy(dict(tables))


@contextmanager
def moto_with_tables() -> Iterator[None]:
    """moto's mock_aws with every table created: the `aws` fixture, usable at any fixture scope."""
    with mock_aws():
        from functions.core import db

        db.reset_connections()
        _create_tables()
        yield
        db.reset_connections()


def recreate_tables() -> None:
    """Every table deleted and created again, empty: for a test that runs many cases or examples in one
    moto, so each case starts from empty tables and scans stay short. (Before local/moto_transactions.py
    moto copied every table a transaction touches: 0.4 s a case at first, 3 s after 40 cases.)"""
    dynamodb = boto3.client("dynamodb", region_name="us-east-1")
    for name in dynamodb.list_tables()["TableNames"]:
        dynamodb.delete_table(TableName=name)
    _create_tables()


@pytest.fixture
def aws():
    with moto_with_tables():
        yield


@pytest.fixture
def client(aws):
    from chalice.test import Client

    from app import app

    with Client(app) as c:
        yield c


class Api:
    """Small helper over chalice.test.Client: JSON in, (status, json body, headers) out."""

    def __init__(self, client, mint):
        self.client = client
        self.mint = mint
        self.admin = mint("operator-1", "billing:admin", "billing:read", "billing:write")

    def call(self, method, path, body=None, token=None, headers=None, raw=None):
        h = {"Content-Type": "application/json"}
        if token:
            h["Authorization"] = f"Bearer {token}"
        h.update(headers or {})
        payload = raw if raw is not None else (json.dumps(body) if body is not None else None)
        r = self.client.http.request(method, path, headers=h, body=payload)
        try:
            data = json.loads(r.body) if r.body else None
        except ValueError:
            data = r.body
        return r.status_code, data, r.headers

    def create_account(self, **overrides):
        body = {
            "type": "payg",
            "linked": True,
            "currency": "usd",
            "locale": "en",
            "name": "Acme Robotics",
            "billing_contact": {
                "name": "Ada Lovelace",
                "email": "ada@example.com",
                "address": {"line1": "1 Main St", "city": "Springfield", "postal_code": "12345", "country": "US"},
            },
        }
        body.update(overrides)
        status, data, _ = self.call("POST", "/v1/accounts", body, token=self.admin)
        assert status == 201, data
        return data

    def member_token(self, account_id, sub="user-1", role="owner", scopes=("billing:read", "billing:write")):
        status, data, _ = self.call(
            "POST", f"/v1/accounts/{account_id}/members", {"sub": sub, "role": role}, token=self.admin
        )
        assert status == 201, data
        return self.mint(sub, *scopes)


@pytest.fixture
def api(client, mint):
    return Api(client, mint)


@pytest.fixture
def queues_and_mail(aws):
    """Every queue (+ DLQ) and the verified SES sender, in this test's moto; fresh SQS/SES clients."""
    with queues_and_mail_created() as sqs:
        yield sqs


@contextmanager
def queues_and_mail_created() -> Iterator[Any]:
    """The `queues_and_mail` fixture, usable at any fixture scope (inside moto_with_tables)."""
    from functions.core import email, queues
    from functions.core.resources import QUEUES, dlq_name, email_sender, queue_name

    email.reset_client()
    queues.reset_client()
    sqs = boto3.client("sqs", region_name="us-east-1")
    for name, spec in QUEUES.items():
        dlq = sqs.create_queue(QueueName=dlq_name(name))["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(spec.max_receive_count)})
        sqs.create_queue(QueueName=queue_name(name), Attributes={"RedrivePolicy": redrive})
    boto3.client("ses", region_name="us-east-1").verify_email_identity(EmailAddress=email_sender())
    yield sqs
    email.reset_client()
    queues.reset_client()


@pytest.fixture
def outbound(aws):
    """Outbound events in this test's moto: the bus + tap queue, and the stream pump that publishes the
    outbox (tests/integration/events_helpers.py)."""
    from tests.integration.events_helpers import Events

    return Events()


from tests.integration.webhook_helpers import webhooks  # noqa: E402, F401 - fixture: outbound webhooks (issue 19)
