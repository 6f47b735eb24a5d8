"""Invoice figures: items read per list page with 10 and with 10,000 invoices on the account (the large
history seeded with BatchWriteItem: moto transactions slow down as tables grow), and the time to
render a 1,000-line PDF (median of several runs, with the 10-line PDF beside it as the ratio's base)."""

from __future__ import annotations

import os
import statistics
import time
from datetime import date, timedelta

from bench.ddb_counter import Counts, counting


def seed_invoice_headers(
    account_id: str, count: int, *, start: date, per_day: int, currency: str = "usd", every_nth_open: int = 1
) -> None:
    """Invoice headers written with BatchWriteItem (moto transactions slow down as tables grow, so large
    histories are never posted one by one): numbered 1..count, `per_day` a day from `start`, one in
    `every_nth_open` open. Headers only: what the list routes and their benchmarks read."""
    from functions.core.ledger_store import InvoiceModel

    with InvoiceModel.batch_write() as batch:
        for n in range(count):
            day = (start + timedelta(days=n // per_day)).isoformat()
            number = f"1-{n + 1:06d}"
            invoice_id = f"inv_seed{n:016d}"
            batch.save(
                InvoiceModel(
                    account_id,
                    f"INV#{invoice_id}",
                    invoice_id=invoice_id,
                    number=number,
                    type="one_time",
                    status="open" if n % every_nth_open == 0 else "closed",
                    date=day,
                    period_start=day,
                    period_end=day,
                    currency=currency,
                    subtotal=100,
                    total=100,
                    amount_paid=0,
                    balance_due=100,
                    description="seeded",
                    line_count=0,
                    balance_before=0,
                    balance_after=0,
                    applications="[]",
                    applied_to="[]",
                    created_at=f"{start.isoformat()}T00:00:00.000Z",
                    gsi1_pk=f"{account_id}#INV",
                    gsi1_sk=f"{day}#{number}",
                )
            )


def list_page_reads(histories: tuple[int, int] = (10, 10_000)) -> list[tuple[int, str, Counts]]:
    """Items read by one page of 25 (unfiltered, and filtered to open invoices) per history size."""
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "BILLOW_TABLE_PREFIX": "billow-bench-",
        }
    )
    os.environ.pop("AWS_ENDPOINT_URL", None)
    import boto3
    from moto import mock_aws

    rows = []
    with mock_aws():
        from functions.core import db, ledger

        db.reset_connections()
        db.create_tables(boto3.client("dynamodb", region_name="us-east-1"))
        for history in histories:
            account_id = f"acct_bench{history:011d}"
            seed_invoice_headers(account_id, history, start=date(2020, 1, 1), per_day=5, every_nth_open=4)
            for label, kwargs in (("page of 25", {}), ("page of 25, status=open", {"status": "open"})):
                with counting() as counts:
                    ledger.list_invoices(account_id, limit=25, last_key=None, **kwargs)
                rows.append((history, label, counts))
        db.reset_connections()
    return rows


def pdf_times(runs: int = 5) -> dict[int, float]:
    from functions.core.ledger_store import Invoice, Line
    from functions.invoices import render

    party = render.Party("Bench Corp", 1, {"name": "B", "email": "b@example.com", "address": {}})
    seller = render.Seller("Billow Cloud SAS", ["Paris"], "billing@billow.example", "FR 1")
    out = {}
    for count in (10, 1000):
        lines = [
            Line(f"item {n}", 100, date(2026, 11, 1), date(2026, 11, 30), group=f"Device {n % 20}")
            for n in range(count)
        ]
        inv = Invoice(
            account_id="a",
            id="inv_b",
            number="1-000001",
            type="recurring",
            status="open",
            date=date(2026, 12, 1),
            period_start=date(2026, 12, 1),
            period_end=date(2026, 12, 31),
            currency="usd",
            subtotal=100 * count,
            total=100 * count,
            amount_paid=0,
            balance_due=100 * count,
            description="",
            line_count=count,
            balance_before=0,
            balance_after=0,
            created_at="2026-12-01T00:05:00.000Z",
        )
        samples = []
        for _ in range(runs):
            started = time.perf_counter()
            render.render_pdf(inv, lines, party, seller, "en")
            samples.append(time.perf_counter() - started)
        out[count] = statistics.median(samples)
    return out


def format_report(rows: list[tuple[int, str, Counts]], pdf: dict[int, float]) -> str:
    lines = ["Invoice list: DynamoDB calls and items read per page, by account history", ""]
    for history, label, counts in rows:
        lines.append(f"  {history:>6} invoices  {label:26} {counts.total} call(s), {counts.items_read} items read")
    lines += [
        "",
        "Invoice PDF render time (median of 5, this machine)",
        f"  10 lines     {pdf[10] * 1000:8.1f} ms",
        f"  1,000 lines  {pdf[1000] * 1000:8.1f} ms   ({pdf[1000] / pdf[10]:.1f}x the 10-line PDF)",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(format_report(list_page_reads(), pdf_times()))
