"""Calls per card-change step: DynamoDB (calls, items read), Stripe (requests reaching the Stripe side,
counted by the shim's request log) and SQS/SES, in-process (moto, localstripe behind the shim,
Chalice's test client). Counts are deterministic; no time is measured."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from botocore.client import BaseClient

from bench.ddb_counter import Counts, counting
from bench.harness import CONTACT, billow_app


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
    from local import stripe_js

    rows: list[tuple[str, StepCounts]] = []
    with billow_app(with_stripe=True) as bench:
        call, stripe = bench.call, bench.stripe

        def measured(name: str, fn: Any) -> Any:
            before = len(stripe.state.log)
            with counting() as ddb, _aws_calls() as aws:
                result = fn()
            stripe_calls = [f"{r.method} {_template(r.path)}" for r in stripe.state.log[before:]]
            rows.append((name, StepCounts(ddb, stripe_calls, aws)))
            return result

        account = bench.new_account("payg")
        base = f"/v1/accounts/{account}/payment-method"

        def change(label: str, number: str) -> None:
            started = measured(f"POST setup ({label})", lambda: call("POST", f"{base}/setup"))
            stripe_js.confirm_card_setup(stripe.url, "pk_test_bench", started["client_secret"], number)
            body = {"setup_intent_id": started["setup_intent_id"], "billing_contact": CONTACT}
            measured(f"PUT payment-method ({label})", lambda: call("PUT", base, body))
            messages, event = bench.validation_messages()
            deliver = lambda: bench.client.lambda_.invoke("validate_card", event).payload  # noqa: E731
            measured(f"queue message ({label})", deliver)
            measured(f"queue message redelivered ({label})", deliver)
            for m in messages:
                bench.sqs.delete_message(QueueUrl=bench.validation_queue, ReceiptHandle=m["ReceiptHandle"])

        change("first card, new customer", stripe_js.SUCCEEDS)
        change("replacing a card", "4000056655665556")
        measured("GET payment-method", lambda: call("GET", base))
        measured("GET summary", lambda: call("GET", f"/v1/accounts/{account}/summary"))
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
