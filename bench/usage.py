"""Usage (issue 17), counted through the app (bench/harness.py), deterministic, no time measured:

- ingestion: DynamoDB calls per 100-record batch (records over 5 days and 3 devices of one metric);
- the usage view: items read for 10 and for 10,000 records in a period, by metric, device and day —
  it reads aggregates only, so the figures are equal (DESIGN §6: independent of the number of records);
- the cost per account-month with usage (10,000 records in 100-record batches, the view read 30 times),
  at AWS list prices, with the arithmetic."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from bench.billing_run import DDB_READ_UNIT, DDB_WRITE_UNIT, LAMBDA_GB_SECOND, LAMBDA_REQUEST
from bench.ddb_counter import Counts, counting
from bench.harness import CONTACT, billow_app

BATCH = 100
GROUPS = ("metric", "device", "day")


def _records(account_id: str, start: int, count: int, devices: list[str]) -> list[dict[str, Any]]:
    return [
        {
            "id": f"{account_id}-{n}",
            "account_id": account_id,
            "service": "compute",
            "metric": "vcpu-hours",
            "quantity": "1.5",
            "occurred_at": f"2026-11-{10 + n % 5:02d}T{n % 24:02d}:00:00Z",
            "device_id": devices[n % len(devices)],
        }
        for n in range(start, start + count)
    ]


def _post(bench: Any, meter: str, records: list[dict[str, Any]]) -> None:
    headers = {"Authorization": f"Bearer {meter}", "Content-Type": "application/json"}
    r = bench.client.http.request("POST", "/v1/usage", headers=headers, body=json.dumps({"records": records}))
    body = json.loads(r.body)
    assert r.status_code == 200 and body["accepted"] == len(records), body


def run(sizes: tuple[int, int] = (10, 10_000)) -> dict[str, Any]:
    """{"ingest": Counts of one 100-record batch, "view": {(size, group): Counts}, "month": Counts}."""
    from functions.core import clock

    out: dict[str, Any] = {"view": {}}
    with billow_app() as bench, clock.frozen(datetime(2026, 11, 20, 9, tzinfo=UTC)):
        meter = bench.mint("bench-meter", ["billing:usage"])
        body = {
            "currency": "usd",
            "unit_amount_decimal": "4.5",
            "included_quantity": 100,
            "effective_from": "2020-01-01",
        }
        bench.call("PUT", "/v1/rates/compute/vcpu-hours", body)
        for size in sizes:
            account_id = _account(bench)
            devices = [
                bench.call("POST", f"/v1/accounts/{account_id}/devices", {"name": f"d{n}", "kind": "vm"})["id"]
                for n in range(3)
            ]
            month = Counts()
            for start in range(0, size, BATCH):
                with counting() as counts:
                    _post(bench, meter, _records(account_id, start, min(BATCH, size - start), devices))
                _add(month, counts)
                if size >= BATCH and start == 0:
                    out["ingest"] = counts
            for group in GROUPS:
                with counting() as counts:
                    bench.call("GET", f"/v1/accounts/{account_id}/usage?group_by={group}")
                out["view"][(size, group)] = counts
            if size == max(sizes):
                out["month"] = month
    return out


def _account(bench: Any) -> str:
    body = {"type": "payg", "linked": True, "currency": "usd", "name": "Bench", "billing_day": 1}
    return bench.call("POST", "/v1/accounts", body | {"billing_contact": CONTACT})["id"]


def _add(total: Counts, counts: Counts) -> None:
    total.calls.update(counts.calls)
    total.items_read += counts.items_read
    total.items_written += counts.items_written
    total.write_units += counts.write_units


def cost(month: Counts, view_reads: int, batches: int, views: int = 30) -> tuple[float, list[str]]:
    lambda_gb_s = 0.256 * 0.2 * (batches + views)  # 256 MB for ~0.2 s per batch and per view
    parts = [
        ("DynamoDB writes", month.write_units, DDB_WRITE_UNIT),
        ("DynamoDB reads", month.items_read + views * view_reads, DDB_READ_UNIT),
        ("Lambda GB-seconds", round(lambda_gb_s, 3), LAMBDA_GB_SECOND),
        ("Lambda requests", batches + views, LAMBDA_REQUEST),
    ]
    lines, total = [], 0.0
    for label, quantity, price in parts:
        total += quantity * price
        lines.append(f"    {label:20} {quantity:>10} x ${price:.10f} = ${quantity * price:.8f}")
    return total, lines


def format_report(figures: dict[str, Any]) -> str:
    ingest: Counts = figures["ingest"]
    out = [
        "Usage (issue 17)",
        "",
        f"  ingestion, one {BATCH}-record batch (1 metric, 5 days, 3 devices): {ingest.describe()}",
        "",
        "  usage view, items read (goal: independent of the number of records)",
    ]
    sizes = sorted({size for size, _ in figures["view"]})
    for group in GROUPS:
        counts = [figures["view"][(size, group)] for size in sizes]
        cells = "".join(
            f"   {size:>6,} records: {c.total} calls, {c.items_read:>3} items read"
            for size, c in zip(sizes, counts, strict=True)
        )
        flat = "flat" if len({c.items_read for c in counts}) == 1 else "GROWS"
        out.append(f"    group_by={group:7}{cells}   {flat}")
    view_reads = figures["view"][(sizes[-1], "metric")].items_read
    total, arithmetic = cost(figures["month"], view_reads, batches=-(-sizes[-1] // BATCH))
    out += [
        "",
        f"  cost per account-month with usage ({sizes[-1]:,} records in {BATCH}-record batches,"
        f" the view read 30 times): ${total:.6f}",
        *arithmetic,
    ]
    return "\n".join(out)


if __name__ == "__main__":
    print(format_report(run()))
