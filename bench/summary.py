"""The last screen of `make bench`: every figure against its goal (DESIGN.md §6, issue 21), from the values the
bench modules computed in the same run (nothing is measured again here)."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import billing_run, collector, packages, webhooks
from bench.cold_start import GOAL as COLD_GOAL
from bench.ddb_counter import Counts
from bench.invoices import PDF_GOAL_MS

COST_GOAL = 0.00015
ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Figures:
    """What bench/run.py collected, each module's own return value; any may be missing."""

    cold: Any = None  # bench.cold_start.ColdStartReport (fields read defensively: it is growing)
    package_dir: Path | None = None
    pdf: dict[int, tuple[float, float]] = field(default_factory=dict)  # lines -> (wall s, CPU s), medians
    dynamodb: list[tuple[str, int, Counts]] = field(default_factory=list)
    invoice_pages: list[tuple[int, str, Counts]] = field(default_factory=list)
    account: Counts | None = None
    collection: dict[str, collector.Step] = field(default_factory=dict)
    usage: dict[str, Any] = field(default_factory=dict)
    events: webhooks.Figures | None = None


def _met(ok: bool) -> str:
    return "met" if ok else "NOT met"


def _commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True)
    except OSError:
        return "not a git checkout"
    return out.stdout.strip() + (" + uncommitted changes" if dirty.stdout.strip() else "")


def cold_lines(cold: Any) -> list[str]:
    if cold is None:
        return ["  cold init / floor  (not measured)"]
    ratio = cold.app.median_ms / cold.floor.median_ms
    lines = [
        f"  cold init / floor  {ratio:.2f}x   goal ≤ {COLD_GOAL:.2f}x: {_met(ratio <= COLD_GOAL)}"
        f"   (app {cold.app.median_ms:.0f} ms, floor {cold.floor.median_ms:.0f} ms, medians of {cold.runs})"
    ]
    first = getattr(cold, "first", None)
    if first is None:
        return [*lines, "  first request      (not measured by this bench/cold_start.py)"]
    init, request = getattr(first, "init_median_ms", None), getattr(first, "request_median_ms", None)
    parts = f"init {init:.0f} + request {request:.0f} = " if init is not None and request is not None else ""
    text = f"  first request      {parts}{first.median_ms:.0f} ms"
    reference = getattr(cold, "baseline_first", None)
    if reference is None:
        return [*lines, f"{text}   goal ≤ the reference's: no reference measured in this run (--baseline ZIP)"]
    ok = first.median_ms <= reference.median_ms
    return [*lines, f"{text}   goal ≤ reference {reference.median_ms:.0f} ms (--baseline): {_met(ok)}"]


def zip_lines(package_dir: Path | None) -> list[str]:
    if package_dir is None or not (package_dir / "manifest.json").is_file():
        return ["  zips               (no build/package/manifest.json)"]
    functions = packages.read_manifest(package_dir)["functions"]
    api = functions[packages.API]
    mib = api["size"] / 2**20
    lines = [f"  API {api['zip']} ({mib:.1f} MiB)   goal ≤ {packages.API_GOAL_MIB:.0f} MiB: {_met(mib <= 20)}"]
    by_size: dict[str, list[str]] = {}
    for logical_id, entry in sorted(functions.items()):
        if logical_id != packages.API:
            by_size.setdefault(f"{entry['size'] / 2**20:.1f} MiB", []).append(logical_id)
    for size, ids in sorted(by_size.items(), key=lambda item: float(item[0].split()[0])):
        lines.append(f"    {size:>9}  {', '.join(ids)}")
    return lines


def pdf_lines(pdf: dict[int, tuple[float, float]]) -> list[str]:
    lines = []
    for count, label in ((10, "10 lines   "), (1000, "1,000 lines")):
        if count in pdf:
            wall, cpu = pdf[count][0] * 1000, pdf[count][1] * 1000
            verdict = _met(wall <= PDF_GOAL_MS)
            lines.append(f"  {label} {wall:.0f} ms   goal ≤ {PDF_GOAL_MS} ms: {verdict}   (CPU {cpu:.0f} ms)")
    return lines or ["  PDF                (not measured)"]


def _flat(rows: list[tuple[str, int, Counts]]) -> tuple[int, list[str]]:
    by_name: dict[str, set[tuple[int, int]]] = {}
    for name, _, counts in rows:
        by_name.setdefault(name, set()).add((counts.total, counts.items_read))
    return len(by_name), [name for name, cells in by_name.items() if len(cells) > 1]


def dynamodb_lines(f: Figures) -> list[str]:
    lines = []
    if f.dynamodb:
        n, grows = _flat(f.dynamodb)
        histories = sorted({h for _, h, _ in f.dynamodb})
        verdict = _met(not grows) + (f" (grow: {', '.join(grows)})" if grows else "")
        span = f"history {histories[0]} vs {histories[-1]}"
        lines.append(f"  DynamoDB per request, {span}: {n} requests   goal flat: {verdict}")
    if f.invoice_pages:  # a page of 25: one call, at most 25 items read, whatever the history
        histories = sorted({h for h, _, _ in f.invoice_pages})
        calls = max(c.total for _, _, c in f.invoice_pages)
        most = max(c.items_read for _, _, c in f.invoice_pages)
        ok = calls == 1 and most <= 25
        span = " vs ".join(f"{h:,}" for h in histories)
        lines.append(
            f"  invoice list, a page of 25 ({span} invoices): ≤ {calls} call, ≤ {most} items read"
            f"   goal one call, ≤ 25 read: {_met(ok)}"
        )
    if f.account is not None:
        lines.append(f"  monthly run, per billed account: {f.account.total} calls, {f.account.items_read} items read")
    view = f.usage.get("view", {})
    if view:
        sizes = sorted({size for size, _ in view})
        reads = {group: [view[(s, group)].items_read for s in sizes] for group in sorted({g for _, g in view})}
        flat = all(len(set(r)) == 1 for r in reads.values())
        cells = ", ".join(f"{g} {'/'.join(str(n) for n in r)}" for g, r in reads.items())
        sized = " vs ".join(f"{s:,}" for s in sizes)
        lines.append(f"  usage view items read ({sized} records): {cells}   goal independent: {_met(flat)}")
    return lines or ["  DynamoDB counts    (not measured)"]


def money_lines(f: Figures) -> list[str]:
    lines = []
    if f.account is not None:
        run_total, _ = billing_run.cost(f.account)
        text = f"  cost per account-month  ${run_total:.6f} (monthly run)"
        if f.collection:
            _, with_collection, _ = collector.cost_per_account_month(f.account, f.collection)
            text += f", ${with_collection:.6f} with one collection"
            run_total = with_collection
        lines.append(f"{text}   goal ≤ ${COST_GOAL}: {_met(run_total <= COST_GOAL)}")
    if f.collection:
        writes = f.collection["collection"].stripe_writes + f.collection["request"].stripe_writes
        lines.append(f"  Stripe writes per collection  {writes}   goal 1: {_met(writes == 1)}")
    if f.events is not None:
        e = f.events
        ddb = e.fan_out.total + e.delivery_warm.total
        sqs = e.sqs(e.fan_out) + e.sqs(e.delivery_warm) + 2  # + the event source mapping's receive and delete
        lines.append(
            f"  calls per outbound event delivered  DynamoDB {ddb}, SQS {sqs}, EventBridge 1, KMS 0-1"
            " (counted; keep them so)"
        )
    return lines


def format_summary(f: Figures) -> str:
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    head = (
        f"Summary: every figure against its goal (one run, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
        f"{os.cpu_count()} CPUs, load {load} at the end, commit {_commit()}, {sys.implementation.cache_tag})"
    )
    body = [*cold_lines(f.cold), *zip_lines(f.package_dir), *pdf_lines(f.pdf), *dynamodb_lines(f), *money_lines(f)]
    return "\n".join(["=" * 100, head, *body, "=" * 100])
