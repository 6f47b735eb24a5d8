"""`make bench`: run the benchmarks on the package `make package` built, and print their figures.

python -m bench.run [--runs 15] [--zip build/package/APIHandler.zip] [--baseline OLD.zip] [--only cold-start]

--baseline: the API zip of an earlier commit (e.g. `make package` there, zip copied aside), measured side
by side with this one by the cold start bench (its init + first request is the figure not to exceed).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bench import (
    billing_run,
    card_change,
    cold_start,
    collector,
    dynamodb_calls,
    invoices,
    packages,
    summary,
    tracing,
    usage,
    webhooks,
)

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description="billow benchmarks")
    parser.add_argument("--runs", type=int, default=15, help="fresh processes per variant (default 15)")
    parser.add_argument("--zip", type=Path, help="the API's Lambda zip (default: build/package/manifest.json's)")
    parser.add_argument("--baseline", type=Path, help="an earlier commit's API zip, measured side by side")
    parser.add_argument("--only", choices=["cold-start"], help="run only that bench")
    args = parser.parse_args(argv)
    if not (ROOT / "build" / "package" / "manifest.json").is_file() and not args.zip:
        print("bench: build/package/manifest.json is missing: run `make package` first", file=sys.stderr)
        return 1
    if args.zip:
        zip_path = args.zip.resolve()
        sam_path = zip_path.with_name("sam.json")
    else:
        zip_path, sam_path = cold_start.default_paths(ROOT)
    if not zip_path.is_file() or not sam_path.is_file():
        print(f"bench: {zip_path} or its sam.json is missing: run `make package` first", file=sys.stderr)
        return 1
    figures = summary.Figures(package_dir=zip_path.parent)
    baseline = args.baseline.resolve() if args.baseline else None
    report = figures.cold = cold_start.run(zip_path, sam_path, args.runs, baseline)
    print(cold_start.format_report(report, zip_path))
    if args.only == "cold-start":
        return 0
    print()
    if (zip_path.parent / "manifest.json").is_file():
        print(packages.format_report(zip_path.parent))
        print()
    print(tracing.format_report(tracing.run()))
    print()
    figures.dynamodb = dynamodb_calls.run()
    print(dynamodb_calls.format_report(figures.dynamodb))
    print()
    print(dynamodb_calls.format_money_report(dynamodb_calls.money_flows()))
    print()
    figures.invoice_pages, figures.pdf = invoices.list_page_reads(), invoices.pdf_times()
    print(invoices.format_report(figures.invoice_pages, figures.pdf))
    print()
    account = figures.account = billing_run.per_account()
    print(billing_run.format_report(account, billing_run.shard_reads()))
    print()
    figures.collection = collector.run()
    print(collector.format_report(figures.collection, account))
    print()
    print(card_change.format_report(card_change.run()))
    print()
    figures.usage = usage.run()
    print(usage.format_report(figures.usage))
    print()
    figures.events = webhooks.run()
    print(webhooks.format_report(figures.events))
    print()
    print(summary.format_summary(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
