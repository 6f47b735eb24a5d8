"""DynamoDB calls and items read per request, at two history sizes (in-process moto, Chalice's test
client). Counts are deterministic; time is not measured here (moto's timings grow with table size)."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable
from typing import Any

from bench.ddb_counter import Counts, counting


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


def run(histories: tuple[int, int] = (40, 200)) -> list[tuple[str, int, Counts]]:
    fake_aws_environment()
    import boto3
    from chalice.test import Client
    from moto import mock_aws

    from local import tokens
    from local.jwks_server import serve_jwks

    key = tokens.generate_private_key()
    server, os.environ["BILLOW_JWKS_URL"] = serve_jwks(tokens.jwks(key))
    from functions.core.auth import reset_jwks_cache
    from functions.core.settings import reset_settings

    reset_settings()
    reset_jwks_cache()  # each bench serves its own issuer keys
    admin = tokens.mint(key, "bench-operator", ["billing:admin", "billing:read", "billing:write"])
    rows: list[tuple[str, int, Counts]] = []
    try:
        with mock_aws():
            from app import app
            from functions.core import db

            db.create_tables(boto3.client("dynamodb", region_name="us-east-1"))
            with Client(app) as client:

                def call(method: str, path: str, body: Any = None, idem: bool = False) -> Any:
                    headers = {"Authorization": f"Bearer {admin}", "Content-Type": "application/json"}
                    if idem:
                        headers["Idempotency-Key"] = str(uuid.uuid4())
                    r = client.http.request(
                        method, path, headers=headers, body=json.dumps(body) if body is not None else None
                    )
                    assert r.status_code < 300, r.body
                    return json.loads(r.body)

                contact = {
                    "name": "B",
                    "email": "b@example.com",
                    "address": {"line1": "1", "city": "c", "postal_code": "1", "country": "US"},
                }
                for history in histories:
                    acct = call(
                        "POST",
                        "/v1/accounts",
                        {
                            "type": "subscription",
                            "linked": True,
                            "currency": "usd",
                            "name": "Bench",
                            "billing_contact": contact,
                        },
                    )["id"]
                    base = f"/v1/accounts/{acct}"
                    device = ""
                    for _ in range(history):
                        call("POST", f"{base}/charges", {"description": "x", "amount": 100}, idem=True)
                        device = call("POST", f"{base}/devices", {"name": "d", "kind": "vm"})["id"]
                        item = {"description": "vm", "category": "server", "recurring_fee": 0, "device_id": device}
                        call("POST", f"{base}/billing-items", item, idem=True)
                    bulk_ids = [
                        call(
                            "POST",
                            f"{base}/billing-items",
                            {"description": "x", "category": "c", "recurring_fee": 0},
                            idem=True,
                        )["item"]["id"]
                        for _ in range(100)
                    ]
                    measured: list[tuple[str, Callable[[], Any]]] = [
                        ("GET summary", lambda b=base: call("GET", f"{b}/summary")),
                        ("GET events (page of 25)", lambda b=base: call("GET", f"{b}/events")),
                        ("GET devices (page of 25)", lambda b=base: call("GET", f"{b}/devices")),
                        (
                            "POST charges",
                            lambda b=base: call("POST", f"{b}/charges", {"description": "x", "amount": 100}, idem=True),
                        ),
                        ("GET billing-items (page of 25)", lambda b=base: call("GET", f"{b}/billing-items")),
                        (
                            "POST billing-items/bulk (100 items)",
                            lambda b=base, ids=bulk_ids, d=device: call(
                                "POST",
                                f"{b}/billing-items/bulk",
                                {"action": "associate", "item_ids": ids, "device_id": d},
                                idem=True,
                            ),
                        ),
                        (
                            "POST credits (settles 20 open invoices)",
                            lambda b=base: call("POST", f"{b}/credits", {"amount": 2000, "reason": "r"}, idem=True),
                        ),
                    ]
                    for name, fn in measured:
                        with counting() as counts:
                            fn()
                        rows.append((name, history, counts))
    finally:
        server.shutdown()
    return rows


def format_report(rows: list[tuple[str, int, Counts]]) -> str:
    histories = sorted({h for _, h, _ in rows})
    names = list(dict.fromkeys(n for n, _, _ in rows))
    by = {(n, h): c for n, h, c in rows}
    lines = ["DynamoDB calls per request (items read) by account history size", ""]
    header = f"  {'request':42}" + "".join(f"{f'history {h}':>22}" for h in histories) + "   flat?"
    lines.append(header)
    for name in names:
        cells = [by[(name, h)] for h in histories]
        flat = all((c.total, c.items_read) == (cells[0].total, cells[0].items_read) for c in cells)
        lines.append(
            f"  {name:42}"
            + "".join(f"{f'{c.total} calls ({c.items_read} read)':>22}" for c in cells)
            + f"   {'yes' if flat else 'NO'}"
        )
    lines.append("")
    for name in names:
        lines.append(f"  {name}: {by[(name, histories[-1])].describe()}")
    return "\n".join(lines)


def money_flows() -> list[tuple[str, Counts, int]]:
    """The money flows that call Stripe (localstripe behind the local shim): a one-time card payment, an
    off-session charge (the monthly run's) and a refund to a card, each on an account with a card on file.
    Returns (flow, DynamoDB counts, Stripe requests)."""
    fake_aws_environment()
    os.environ.update({"STRIPE_SECRET_KEY": "sk_test_bench", "STRIPE_PUBLISHABLE_KEY": "pk_test_bench"})
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
    reset_jwks_cache()
    stripe_gateway.use_client(None)
    admin = tokens.mint(key, "bench-operator", ["billing:admin", "billing:read", "billing:write"])
    rows: list[tuple[str, Counts, int]] = []
    try:
        with mock_aws():
            from app import app
            from functions.core import db
            from functions.core.resources import email_sender, queue_name
            from functions.payments.service import charge_invoice_off_session

            db.reset_connections()
            email.reset_client()
            queues.reset_client()
            db.create_tables(boto3.client("dynamodb", region_name="us-east-1"))
            sqs = boto3.client("sqs", region_name="us-east-1")
            url = sqs.create_queue(QueueName=queue_name("card-validation"))["QueueUrl"]
            boto3.client("ses", region_name="us-east-1").verify_email_identity(EmailAddress=email_sender())
            with Client(app) as client:

                def call(method: str, path: str, body: Any = None, idem: bool = False) -> Any:
                    headers = {"Authorization": f"Bearer {admin}", "Content-Type": "application/json"}
                    if idem:
                        headers["Idempotency-Key"] = str(uuid.uuid4())
                    r = client.http.request(
                        method, path, headers=headers, body=json.dumps(body) if body is not None else None
                    )
                    assert r.status_code < 300, r.body
                    return json.loads(r.body)

                def measured(name: str, fn: Callable[[], Any]) -> Any:
                    before = len(stripe.state.log)
                    with counting() as counts:
                        result = fn()
                    rows.append((name, counts, len(stripe.state.log) - before))
                    return result

                contact = {
                    "name": "B",
                    "email": "b@example.com",
                    "address": {"line1": "1", "city": "c", "postal_code": "1", "country": "US"},
                }
                account = {
                    "type": "payg",
                    "linked": True,
                    "currency": "usd",
                    "name": "Bench",
                    "billing_contact": contact,
                }
                base = f"/v1/accounts/{call('POST', '/v1/accounts', account)['id']}"
                account_id = base.rsplit("/", 1)[1]
                started = call("POST", f"{base}/payment-method/setup")
                stripe_js.confirm_card_setup(stripe.url, "pk_test_bench", started["client_secret"], stripe_js.SUCCEEDS)
                call(
                    "PUT",
                    f"{base}/payment-method",
                    {"setup_intent_id": started["setup_intent_id"], "billing_contact": contact},
                )
                messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
                arn = "arn:aws:sqs:us-east-1:123456789012:card-validation"
                client.lambda_.invoke("validate_card", sqs_event(messages, arn, "us-east-1"))

                call("POST", f"{base}/charges", {"description": "x", "amount": 3000}, idem=True)
                paid = measured(
                    "POST payments (one-time, card on file)",
                    lambda: call("POST", f"{base}/payments", {"amount": 3000}, idem=True),
                )
                invoice = call("POST", f"{base}/charges", {"description": "x", "amount": 2000}, idem=True)["id"]
                measured(
                    "off-session charge (monthly run)",
                    lambda: charge_invoice_off_session(account_id, invoice, 2000, attempt=1),
                )
                measured(
                    "POST refunds (to the card)",
                    lambda: call(
                        "POST",
                        f"{base}/refunds",
                        {"amount": 1200, "reason": "goodwill", "payment_id": paid["id"]},
                        idem=True,
                    ),
                )
    finally:
        stripe.stop()
        jwks.shutdown()
    return rows


def format_money_report(rows: list[tuple[str, Counts, int]]) -> str:
    lines = ["Money flows that call Stripe: DynamoDB calls (items read), reads per kind of row, Stripe requests", ""]
    for name, counts, stripe_requests in rows:
        lines.append(f"  {name}: {counts.describe()}; {stripe_requests} Stripe requests")
        lines.append(f"  {'':4}reads: {counts.describe_reads()}")
    return "\n".join(lines)
