"""One in-process billow for the benches that drive the API: fake AWS credentials and bench table names
(moto in-process), a JWKS serving an operator token, Chalice's test client — and, for the benches that
need Stripe, localstripe behind the local shim with the card-validation queue and the e-mail sender
ready. Counts measured through it are deterministic; no time is measured here."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

CONTACT = {
    "name": "B",
    "email": "b@example.com",
    "address": {"line1": "1", "city": "c", "postal_code": "1", "country": "US"},
}
VALIDATION_QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:card-validation"


def fake_aws_environment() -> None:
    """Fake credentials, bench table names, no endpoint: every bench runs against in-process moto."""
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "BILLOW_TABLE_PREFIX": "billow-bench-",
            "BILLOW_LOG_LEVEL": "WARNING",
        }
    )
    os.environ.pop("AWS_ENDPOINT_URL", None)


@dataclass
class Bench:
    client: Any  # chalice.test.Client
    admin: str  # an operator's token (billing:admin, read, write)
    stripe: Any = None  # local.stripe_shim.StripeServer, with_stripe only
    sqs: Any = None
    validation_queue: str = ""
    key: Any = None  # the JWKS's private key: other tokens (e.g. billing:usage) are minted with it

    def mint(self, sub: str, scopes: list[str]) -> str:
        from local import tokens

        return tokens.mint(self.key, sub, scopes)

    def call(self, method: str, path: str, body: Any = None, idem: bool = False) -> Any:
        """One API request as the operator (a fresh Idempotency-Key with `idem`); its JSON answer."""
        headers = {"Authorization": f"Bearer {self.admin}", "Content-Type": "application/json"}
        if idem:
            headers["Idempotency-Key"] = str(uuid.uuid4())
        body_text = json.dumps(body) if body is not None else None
        r = self.client.http.request(method, path, headers=headers, body=body_text)
        assert r.status_code < 300, r.body
        return json.loads(r.body)

    def new_account(self, type: str) -> str:
        """A linked usd account of `type` with a billing contact; its id."""
        body = {"type": type, "linked": True, "currency": "usd", "name": "Bench", "billing_contact": CONTACT}
        return self.call("POST", "/v1/accounts", body)["id"]

    def validation_messages(self) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """The card-validation queue's waiting messages, and the SQS event delivering them."""
        from local.queue_pump import sqs_event

        messages = self.sqs.receive_message(QueueUrl=self.validation_queue, MaxNumberOfMessages=10)["Messages"]
        return messages, sqs_event(messages, VALIDATION_QUEUE_ARN, "us-east-1")


@contextmanager
def billow_app(with_stripe: bool = False) -> Iterator[Bench]:
    """The app on fresh moto tables, called through Chalice's test client by an operator."""
    fake_aws_environment()
    if with_stripe:
        os.environ.update({"STRIPE_SECRET_KEY": "sk_test_bench", "STRIPE_PUBLISHABLE_KEY": "pk_test_bench"})
    import boto3
    from chalice.test import Client
    from moto import mock_aws

    from local import tokens
    from local.jwks_server import serve_jwks
    from local.stripe_shim import StripeServer

    stripe = StripeServer().start() if with_stripe else None
    if stripe is not None:
        os.environ["BILLOW_STRIPE_API_BASE"] = stripe.url
    key = tokens.generate_private_key()
    jwks, os.environ["BILLOW_JWKS_URL"] = serve_jwks(tokens.jwks(key))
    from functions.core import db, email, queues, stripe_gateway
    from functions.core.auth import reset_jwks_cache
    from functions.core.settings import reset_settings

    reset_settings()
    reset_jwks_cache()  # an earlier bench in this process cached another issuer's keys
    admin = tokens.mint(key, "bench-operator", ["billing:admin", "billing:read", "billing:write"])
    try:
        with mock_aws():
            from app import app
            from functions.core.resources import CARD_VALIDATION, email_sender, queue_name

            db.reset_connections()
            email.reset_client()
            queues.reset_client()
            stripe_gateway.use_client(None)
            db.create_tables(boto3.client("dynamodb", region_name="us-east-1"))
            bench = Bench(None, admin, stripe, key=key)
            if with_stripe:
                bench.sqs = boto3.client("sqs", region_name="us-east-1")
                bench.validation_queue = bench.sqs.create_queue(QueueName=queue_name(CARD_VALIDATION))["QueueUrl"]
                ses = boto3.client("ses", region_name="us-east-1")
                ses.verify_email_identity(EmailAddress=email_sender())
            with Client(app) as client:
                bench.client = client
                yield bench
    finally:
        if stripe is not None:
            stripe.stop()
        jwks.shutdown()
