"""Invoice figures: items read per list page with 10 and with 10,000 invoices on the account (the large
history seeded with BatchWriteItem: moto transactions slow down as tables grow), and the time to
render a 1,000-line PDF against its goal (≤ 300 ms, issue 21), the 10-line PDF measured beside it (median
of several renders of each, side by side). The PDF's figures alone: `python -m bench.invoices --pdf`."""

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


def bench_invoice(count: int) -> tuple:
    """render_pdf's arguments for a French Recurring invoice of `count` lines in 20 groups: two in three
    lines with a description that wraps on three lines (accents, a dash, "n°"), unit prices and
    quantities, amounts up to thousands of euros."""
    from functions.core.ledger_store import Invoice, Line
    from functions.invoices import render

    party = render.Party("Démo Robotique SARL", 1, {"name": "Ada", "email": "b@example.com", "address": {}})
    seller = render.Seller("Billow Cloud SAS", ["12 rue de la Paix", "75002 Paris"], "billing@billow.example", "FR 1")
    lines = []
    for n in range(count):
        amount = 1_234 * (n % 97 + 1)
        text = f"Machine virtuelle n° {n} — hébergement dédié, sauvegardes chiffrées et supervision 24 h/24"
        group = f"Device: Serveur Lyon {n % 20}"
        lines.append(Line(text if n % 3 else f"vm-{n:04d}", amount, date(2026, 11, 1), date(2026, 12, 1),
                          str(n % 4 + 1), str(amount), group))  # fmt: skip
    total = sum(line.amount for line in lines)
    inv = Invoice(
        account_id="a",
        id="inv_b",
        number="1-000001",
        type="recurring",
        status="open",
        date=date(2026, 12, 1),
        period_start=date(2026, 12, 1),
        period_end=date(2027, 1, 1),
        currency="eur",
        subtotal=total,
        total=total,
        amount_paid=0,
        balance_due=total,
        description="",
        line_count=count,
        balance_before=0,
        balance_after=total,
        created_at="2026-12-01T00:05:00.000Z",
    )
    return inv, lines, party, seller, "fr", {}


PDF_RUNS = 7


def pdf_times(runs: int = PDF_RUNS) -> dict[int, tuple[float, float]]:
    """The median render time (wall clock, and the process's CPU time beside it) of the 10-line and of
    the 1,000-line invoice, measured side by side: one warm-up render each (the process's first render
    parses and cuts the fonts), then `runs` rounds rendering both, so the machine's load hits both
    alike."""
    from functions.invoices import render

    documents = {count: bench_invoice(count) for count in (10, 1000)}
    for args in documents.values():
        render.render_pdf(*args)
    walls: dict[int, list[float]] = {count: [] for count in documents}
    cpus: dict[int, list[float]] = {count: [] for count in documents}
    for _ in range(runs):
        for count, args in documents.items():
            wall, cpu = time.perf_counter(), time.process_time()
            render.render_pdf(*args)
            walls[count].append(time.perf_counter() - wall)
            cpus[count].append(time.process_time() - cpu)
    return {count: (statistics.median(walls[count]), statistics.median(cpus[count])) for count in documents}


PDF_GOAL_MS = 300


def format_pdf(pdf: dict[int, tuple[float, float]]) -> str:
    """The PDF's figures, each against the goal: lines `10 lines N ms` and `1,000 lines N ms` (wall
    clock), the CPU time beside them (what the renderer costs when the machine is busy)."""
    load = os.getloadavg()[0]
    lines = [f"Invoice PDF render time (French, wrapping lines; median of {PDF_RUNS}, side by side; load {load:.1f})"]
    for count, label in ((10, "10 lines   "), (1000, "1,000 lines")):
        ms, cpu = pdf[count][0] * 1000, pdf[count][1] * 1000
        met = "met" if ms <= PDF_GOAL_MS else "NOT MET"
        lines.append(f"  {label} {ms:.0f} ms   goal ≤ {PDF_GOAL_MS} ms: {met}   (CPU {cpu:.0f} ms)")
    return "\n".join(lines)


def format_report(rows: list[tuple[int, str, Counts]], pdf: dict[int, tuple[float, float]]) -> str:
    lines = ["Invoice list: DynamoDB calls and items read per page, by account history", ""]
    for history, label, counts in rows:
        lines.append(f"  {history:>6} invoices  {label:26} {counts.total} call(s), {counts.items_read} items read")
    return "\n".join([*lines, "", format_pdf(pdf)])


if __name__ == "__main__":  # python -m bench.invoices [--pdf]: every figure, or the PDF's alone
    import sys

    if "--pdf" in sys.argv:
        print(format_pdf(pdf_times()))
    else:
        print(format_report(list_page_reads(), pdf_times()))
