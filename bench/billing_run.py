"""The monthly run at scale, from counted calls (moto's timings grow with table size, so no times):

- AWS calls per billed account (a subscription account with two items and usage, no card: the invoice,
  the PDF and the notice; on an automatic account the run requests a collection, and the collector's
  ONE PaymentIntent with its own calls is counted by bench/collector.py (and the money flows of
  bench/dynamodb_calls.py) and pinned by tests/integration/test_call_counts.py);
- items read by the shard workers for 1,000 due accounts among 1,000 and among 100,000 accounts
  (seeded with BatchWriteItem);
- the cost per account-month at AWS list prices, with the arithmetic.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from bench.ddb_counter import Counts, counting
from bench.harness import fake_aws_environment

# AWS list prices, us-east-1 (USD)
DDB_WRITE_UNIT = 1.25 / 1_000_000  # on-demand write request unit
DDB_READ_UNIT = 0.25 / 1_000_000  # on-demand read request unit (strongly consistent read of <= 4 KB)
SQS_REQUEST = 0.40 / 1_000_000
SES_EMAIL = 0.10 / 1_000
S3_PUT = 0.005 / 1_000
LAMBDA_GB_SECOND = 0.0000166667
LAMBDA_REQUEST = 0.20 / 1_000_000


def _resources() -> None:
    import boto3

    from functions.core import db, email, queues
    from functions.core.resources import QUEUES, bucket_name, email_sender, queue_name
    from functions.invoices import store

    db.reset_connections()
    email.reset_client()
    queues.reset_client()
    store.reset_client()
    db.create_tables(boto3.client("dynamodb", region_name="us-east-1"))
    sqs = boto3.client("sqs", region_name="us-east-1")
    for name in QUEUES:
        sqs.create_queue(QueueName=queue_name(name))
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=bucket_name())
    boto3.client("ses", region_name="us-east-1").verify_email_identity(EmailAddress=email_sender())


def per_account() -> Counts:
    from moto import mock_aws

    from functions.core import clock

    with mock_aws():
        _resources()
        from functions.accounts import service as accounts
        from functions.billing_items.schemas import ProvisionItem
        from functions.billing_items.service import provision
        from functions.billing_run import service
        from functions.core.audit import Actor
        from functions.core.idempotency import IdempotencyContext
        from functions.usage.rate_schemas import RateIn
        from functions.usage.service import record_usage, set_rate

        contact = {
            "name": "B",
            "email": "b@example.com",
            "address": {"line1": "1", "city": "c", "postal_code": "1", "country": "US"},
        }
        with clock.frozen(datetime(2026, 11, 10, tzinfo=UTC)):
            account = accounts.create_account(
                Actor("bench", "operator"),
                type="subscription",
                linked=True,
                currency="usd",
                locale="en",
                name="Bench",
                billing_contact=contact,
                billing_day=1,
            )
            access = accounts.AccountAccess(account, Actor("bench", "operator"), "operator")
            for n in range(2):
                idem = IdempotencyContext(account.id, "bench", f"k{n}", "bench", "h", 201)
                provision(access, idem, ProvisionItem(description=f"vm {n}", category="server", recurring_fee=3000))
            # v4: the rate card prices usage (records carry no price)
            set_rate(Actor("bench", "operator"), "cdn", "gb", RateIn(currency="usd", unit_amount_decimal="2.5"))
            record_usage(
                [
                    {
                        "id": f"u{n}",
                        "account_id": account.id,
                        "service": "cdn",
                        "metric": "gb",
                        "quantity": 10,
                        "occurred_at": "2026-11-10T00:00:00Z",
                    }
                    for n in range(5)
                ]
            )
        with clock.frozen(datetime(2026, 12, 1, 0, 5, tzinfo=UTC)), counting() as counts:
            service.bill_account(account.id, date(2026, 12, 1))
    return counts


def shard_reads(due: int = 1_000, populations: tuple[int, ...] = (1_000, 100_000)) -> list[tuple[int, Counts]]:
    from moto import mock_aws

    rows = []
    for population in populations:
        with mock_aws():
            _resources()
            from functions.accounts.store import PROFILE, AccountsModel, shard_of
            from functions.billing_run import service

            with AccountsModel.batch_write() as batch:
                for n in range(population):
                    account_id = f"acct_bench{n:010d}"
                    day = "2026-12-01" if n < due else "2026-12-15"
                    batch.save(
                        AccountsModel(
                            account_id, PROFILE, due_pk=f"due#{shard_of(account_id)}", due_sk=f"{day}#{account_id}"
                        )
                    )
            with counting() as counts:
                sent = sum(service.dispatch_shard(shard, date(2026, 12, 1)) for shard in range(service.SHARDS))
            assert sent == due, sent
        rows.append((population, counts))
    return rows


def cost(counts: Counts) -> tuple[float, list[str]]:
    """Dollars per account-month from the counted calls of one billed account, with the arithmetic."""
    reads = counts.items_read  # each item < 4 KB, strongly consistent: one read unit each
    writes = counts.write_units
    sqs = 2 + 1  # its share of the shard message, its account message (receive + delete batched by Lambda)
    ses = counts.other.get(("sesv2", "SendEmail"), 0)
    s3 = counts.other.get(("s3", "PutObject"), 0)
    lambda_gb_s = 0.5 * 1.0  # 512 MB for ~1 s per account (PDF rendering dominates)
    parts = [
        ("DynamoDB writes", writes, DDB_WRITE_UNIT),
        ("DynamoDB reads", reads, DDB_READ_UNIT),
        ("SQS requests", sqs, SQS_REQUEST),
        ("SES e-mails", ses, SES_EMAIL),
        ("S3 PUTs", s3, S3_PUT),
        ("Lambda GB-seconds", lambda_gb_s, LAMBDA_GB_SECOND),
        ("Lambda requests", 1, LAMBDA_REQUEST),
    ]
    lines, total = [], 0.0
    for label, quantity, price in parts:
        total += quantity * price
        lines.append(f"    {label:20} {quantity:>8} x ${price:.10f} = ${quantity * price:.8f}")
    return total, lines


def format_report(account: Counts, shards: list[tuple[int, Counts]]) -> str:
    total, arithmetic = cost(account)
    out = [
        "Monthly run, per billed account (subscription, 2 items, usage, no card)",
        "",
        f"  DynamoDB: {account.describe()}",
        f"  other AWS calls: {dict(sorted((f'{s}:{o}', n) for (s, o), n in account.other.items()))}",
        '  (an automatic account adds its collection: 1 Stripe write, 1 receipt e-mail — "One collection" below)',
        "",
        "Shard workers: items read to find 1,000 due accounts",
    ]
    for population, counts in shards:
        out.append(f"  among {population:>7,} accounts: {counts.total} calls, {counts.items_read} items read")
    out += ["", f"Cost per account-month at list prices: ${total:.6f} (goal <= $0.00015)", *arithmetic]
    return "\n".join(out)


if __name__ == "__main__":
    fake_aws_environment()
    print(format_report(per_account(), shard_reads()))
