"""Calls per card-change step: DynamoDB (calls, items read), Stripe (requests reaching the Stripe side,
counted by the shim's request log) and SQS/SES, in-process (moto, localstripe behind the shim,
Chalice's test client). Counts are deterministic; no time is measured."""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from botocore.client import BaseClient

from bench.ddb_counter import Counts, counting


@dataclass
class StepCounts:
    dynamodb: Counts
    stripe: list[str] = field(default_factory=list)
    aws: Counter = field(default_factory=Counter)  # other AWS calls, "service:Operation"


@contextmanager
def _aws_calls() -> Iterator[Counter]:
    calls: Counter = Counter()
    original = BaseClient._make_api_call

    def counted(self: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        service = self.meta.service_model.service_name
        if service != "dynamodb":
            calls[f"{service}:{operation}"] += 1
        return original(self, operation, params)

    BaseClient._make_api_call = counted  # type: ignore[method-assign]
    try:
        yield calls
    finally:
        BaseClient._make_api_call = original  # type: ignore[method-assign]


def run() -> list[tuple[str, StepCounts]]:
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "BILLOW_TABLE_PREFIX": "billow-bench-",
            "BILLOW_LOG_LEVEL": "WARNING",
            "STRIPE_SECRET_KEY": "sk_test_bench",
            "STRIPE_PUBLISHABLE_KEY": "pk_test_bench",
        }
    )
    os.environ.pop("AWS_ENDPOINT_URL", None)
    import boto3
    from chalice.test import Client
    from moto import mock_aws

    from local import stripe_js, tokens
    from local.jwks_server import serve_jwks
    from local.queue_pump import sqs_event
    from local.stripe_shim import StripeServer

    stripe = StripeServer().start()
    os.environ["BILLOW_STRIPE_API_BASE"] = stripe.url
    key = tokens.generate_private_key()
    jwks, os.environ["BILLOW_JWKS_URL"] = serve_jwks(tokens.jwks(key))
    from functions.core import email, queues, stripe_gateway
    from functions.core.auth import reset_jwks_cache
    from functions.core.settings import reset_settings

    reset_settings()
    reset_jwks_cache()  # an earlier bench in this process cached another issuer's keys
    stripe_gateway.use_client(None)
    admin = tokens.mint(key, "bench-operator", ["billing:admin", "billing:read", "billing:write"])
    rows: list[tuple[str, StepCounts]] = []
    try:
        with mock_aws():
            from app import app
            from functions.core import db
            from functions.core.resources import email_sender, queue_name

            db.reset_connections()
            email.reset_client()
            queues.reset_client()
            db.create_tables(boto3.client("dynamodb", region_name="us-east-1"))
            sqs = boto3.client("sqs", region_name="us-east-1")
            url = sqs.create_queue(QueueName=queue_name("card-validation"))["QueueUrl"]
            boto3.client("ses", region_name="us-east-1").verify_email_identity(EmailAddress=email_sender())
            with Client(app) as client:

                def call(method: str, path: str, body: Any = None) -> Any:
                    headers = {"Authorization": f"Bearer {admin}", "Content-Type": "application/json"}
                    r = client.http.request(
                        method, path, headers=headers, body=json.dumps(body) if body is not None else None
                    )
                    assert r.status_code < 300, r.body
                    return json.loads(r.body)

                def measured(name: str, fn: Any) -> Any:
                    before = len(stripe.state.log)
                    with counting() as ddb, _aws_calls() as aws:
                        result = fn()
                    stripe_calls = [f"{r.method} {_template(r.path)}" for r in stripe.state.log[before:]]
                    rows.append((name, StepCounts(ddb, stripe_calls, aws)))
                    return result

                contact = {
                    "name": "B",
                    "email": "b@example.com",
                    "address": {"line1": "1", "city": "c", "postal_code": "1", "country": "US"},
                }
                account = call(
                    "POST",
                    "/v1/accounts",
                    {"type": "payg", "linked": True, "currency": "usd", "name": "Bench", "billing_contact": contact},
                )["id"]
                base = f"/v1/accounts/{account}/payment-method"

                def change(label: str, number: str) -> None:
                    started = measured(f"POST setup ({label})", lambda: call("POST", f"{base}/setup"))
                    stripe_js.confirm_card_setup(stripe.url, "pk_test_bench", started["client_secret"], number)
                    body = {"setup_intent_id": started["setup_intent_id"], "billing_contact": contact}
                    measured(f"PUT payment-method ({label})", lambda: call("PUT", base, body))
                    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
                    event = sqs_event(messages, "arn:aws:sqs:us-east-1:123456789012:card-validation", "us-east-1")
                    deliver = lambda: client.lambda_.invoke("validate_card", event).payload  # noqa: E731
                    measured(f"queue message ({label})", deliver)
                    measured(f"queue message redelivered ({label})", deliver)
                    for m in messages:
                        sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])

                change("first card, new customer", stripe_js.SUCCEEDS)
                change("replacing a card", "4000056655665556")
                measured("GET payment-method", lambda: call("GET", base))
                measured("GET summary", lambda: call("GET", f"/v1/accounts/{account}/summary"))
    finally:
        stripe.stop()
        jwks.shutdown()
    return rows


def _template(path: str) -> str:
    parts = path.split("/")
    return "/".join("{id}" if "_" in p and p.split("_")[0] in ("cus", "seti", "pm") else p for p in parts)


def format_report(rows: list[tuple[str, StepCounts]]) -> str:
    lines = ["Card on file: calls per step (DynamoDB calls and items read; Stripe requests; other AWS calls)", ""]
    lines.append(f"  {'step':52}{'DynamoDB':>20}{'Stripe':>8}   other AWS")
    for name, c in rows:
        ddb = f"{c.dynamodb.total} ({c.dynamodb.items_read} read)"
        other = ", ".join(f"{k} {v}" for k, v in sorted(c.aws.items())) or "-"
        lines.append(f"  {name:52}{ddb:>20}{len(c.stripe):>8}   {other}")
    lines.append("")
    for name, c in rows:
        stripe = ", ".join(f"{k} x{v}" if v > 1 else k for k, v in Counter(c.stripe).items()) or "none"
        lines.append(f"  {name}: {c.dynamodb.describe()}; Stripe: {stripe}")
    return "\n".join(lines)


if __name__ == "__main__":
    print(format_report(run()))
