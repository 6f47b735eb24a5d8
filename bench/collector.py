"""One collection on the happy path (docs/collections.md), counted in-process (moto, localstripe behind
the local shim, Chalice's test client and the `collect` queue handler as Lambda invokes it):

- the request (inside the request that issued the invoice: `collection_rows.request`): the collector's
  row opened with its due-index entry (one transaction) and the delayed message;
- the collection: the `collections` message delivered to the `collect` handler — the card read, the
  lease, ONE PaymentIntent, the money applied, the receipt, the row closed;

with DynamoDB calls (items read, written), Stripe requests (writes = POSTs: must be 1), SES sends and
other AWS calls; then the cost per account-month of a billed account with its collection included
(bench/billing_run.py's arithmetic and prices). Counts are deterministic; no time is measured.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field

from bench import billing_run
from bench.ddb_counter import Counts, counting
from bench.harness import CONTACT, billow_app

COLLECTIONS_QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:collections"
# The collector's Lambda: 512 MB for ~0.5 s (a Stripe round trip and ~20 DynamoDB calls dominate).
COLLECTOR_GB_SECONDS = 0.5 * 0.5


@dataclass
class Step:
    dynamodb: Counts
    stripe: list[str] = field(default_factory=list)  # "METHOD /path" of every request reaching Stripe

    @property
    def stripe_writes(self) -> int:
        return sum(1 for r in self.stripe if r.startswith(("POST", "DELETE")))

    @property
    def ses_sends(self) -> int:
        return sum(n for (service, op), n in self.dynamodb.other.items() if service.startswith("ses") and "Send" in op)

    @property
    def sqs_requests(self) -> int:
        return sum(n for (service, _), n in self.dynamodb.other.items() if service == "sqs")


def run() -> dict[str, Step]:
    """{"request": …, "collection": …} for one collection of a 30.00 One-time invoice on a payg account
    with a card on file."""
    from local import stripe_js

    saved = os.environ.get("BILLOW_COLLECTION_DELAY_SECONDS")
    os.environ["BILLOW_COLLECTION_DELAY_SECONDS"] = "0"  # the message receivable at once (no waiting here)
    steps: dict[str, Step] = {}
    try:
        with billow_app(with_stripe=True) as bench:
            from functions.core.resources import COLLECTIONS, queue_name
            from functions.payments import collection_rows
            from local.queue_pump import sqs_event

            call, stripe = bench.call, bench.stripe
            queue = bench.sqs.create_queue(QueueName=queue_name(COLLECTIONS))["QueueUrl"]

            def measured(name: str, fn) -> object:
                before = len(stripe.state.log)
                with counting() as counts:
                    result = fn()
                steps[name] = Step(counts, [f"{r.method} {r.path.split('?')[0]}" for r in stripe.state.log[before:]])
                return result

            def deliver() -> dict:
                messages = bench.sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
                result = bench.client.lambda_.invoke("collect", sqs_event(messages, COLLECTIONS_QUEUE_ARN, "us-east-1"))
                for m in messages:
                    bench.sqs.delete_message(QueueUrl=queue, ReceiptHandle=m["ReceiptHandle"])
                return result.payload

            account_id = bench.new_account("payg")
            base = f"/v1/accounts/{account_id}"
            started = call("POST", f"{base}/payment-method/setup")
            stripe_js.confirm_card_setup(stripe.url, "pk_test_bench", started["client_secret"], stripe_js.SUCCEEDS)
            change = {"setup_intent_id": started["setup_intent_id"], "billing_contact": CONTACT}
            call("PUT", f"{base}/payment-method", change)
            bench.client.lambda_.invoke("validate_card", bench.validation_messages()[1])

            call("POST", f"{base}/charges", {"description": "x", "amount": 3000}, idem=True)  # requests collection 1
            payload = measured("collection", deliver)
            assert payload == {"batchItemFailures": []}, payload
            paid = call("GET", f"{base}/summary")["balance"]["current"]
            assert paid == 0, paid  # the collection closed the invoice
            # the request on its own (an idle collector, as every issuer finds it): one more collection
            # opened; delivered afterwards (nothing due: it closes) so the account ends idle
            measured("request", lambda: collection_rows.request(account_id))
            deliver()
    finally:
        if saved is None:
            os.environ.pop("BILLOW_COLLECTION_DELAY_SECONDS", None)
        else:
            os.environ["BILLOW_COLLECTION_DELAY_SECONDS"] = saved
    return steps


def cost_per_account_month(account: Counts, steps: dict[str, Step]) -> tuple[float, float, list[str]]:
    """(the run alone, the run + one collection, the collection's arithmetic): dollars per account-month at
    AWS list prices. The run's share is bench/billing_run.py's; a collected account adds its request
    (one transaction, one SQS send) and its collection (the handler's calls, the SQS receive + delete
    as the event source mapping makes them, one Lambda invocation). Stripe's own fee (a share of the
    amount) is not an AWS cost: not counted."""
    run_total, _ = billing_run.cost(account)
    request, collection = steps["request"].dynamodb, steps["collection"].dynamodb
    parts = [
        ("DynamoDB writes", request.write_units + collection.write_units, billing_run.DDB_WRITE_UNIT),
        ("DynamoDB reads", request.items_read + collection.items_read, billing_run.DDB_READ_UNIT),
        # the send; Lambda's receive + delete of the message (counted in the collection's step)
        ("SQS requests", steps["request"].sqs_requests + steps["collection"].sqs_requests, billing_run.SQS_REQUEST),
        ("SES e-mails", steps["request"].ses_sends + steps["collection"].ses_sends, billing_run.SES_EMAIL),
        ("Lambda GB-seconds", COLLECTOR_GB_SECONDS, billing_run.LAMBDA_GB_SECOND),
        ("Lambda requests", 1, billing_run.LAMBDA_REQUEST),
    ]
    lines, extra = [], 0.0
    for label, quantity, price in parts:
        extra += quantity * price
        lines.append(f"    {label:20} {quantity:>8} x ${price:.10f} = ${quantity * price:.8f}")
    return run_total, run_total + extra, lines


def format_report(steps: dict[str, Step], account: Counts) -> str:
    lines = ["One collection on the happy path (payg, card on file, a 30.00 invoice): calls", ""]
    lines.append(f"  {'step':52}{'DynamoDB':>22}{'Stripe writes':>15}{'SES sends':>11}{'SQS':>6}")
    labels = {
        "request": "request (in the issuing request: row + due entry, message)",
        "collection": "collection (the `collect` handler, one message)",
    }
    for key in ("request", "collection"):
        s = steps[key]
        ddb = f"{s.dynamodb.total} ({s.dynamodb.items_read} read)"
        lines.append(f"  {labels[key]:52}{ddb:>22}{s.stripe_writes:>15}{s.ses_sends:>11}{s.sqs_requests:>6}")
    lines.append("")
    for key in ("request", "collection"):
        s = steps[key]
        stripe = ", ".join(f"{k} x{v}" if v > 1 else k for k, v in Counter(s.stripe).items()) or "none"
        lines.append(f"  {key}: DynamoDB {s.dynamodb.describe()}")
        lines.append(f"  {'':4}reads: {s.dynamodb.describe_reads()}")
        lines.append(f"  {'':4}Stripe: {stripe}")
    run_total, with_collection, arithmetic = cost_per_account_month(account, steps)
    lines += [
        "",
        "Cost per account-month at list prices, collections included",
        f"  the monthly run's share (bench/billing_run.py): ${run_total:.6f}",
        f"  + one collection a month (request + collection):  ${with_collection - run_total:.6f}",
        *arithmetic,
        f"  = ${with_collection:.6f} per collected account-month (goal <= $0.00015); Stripe's fee not included",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    steps = run()
    print(format_report(steps, billing_run.per_account()))
