"""`make bench`'s summary screen (bench/summary.py): each figure against its goal, from values given to it."""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import SimpleNamespace

from bench import summary
from bench.ddb_counter import Counts


def _samples(ms: float, init: float | None = None) -> SimpleNamespace:
    extra = {} if init is None else {"init_median_ms": init, "request_median_ms": ms - init}
    return SimpleNamespace(median_ms=ms, **extra)


def _manifest(tmp_path: Path, api_bytes: int) -> Path:
    functions = {
        "APIHandler": {"zip": "APIHandler.zip", "size": api_bytes},
        "Collect": {"zip": "Collect.zip", "size": 20_000_000},
        "RenderPdfs": {"zip": "RenderPdfs.zip", "size": 42_000_000},
    }
    (tmp_path / "manifest.json").write_text(json.dumps({"functions": functions}))
    return tmp_path


def test_the_summary_puts_each_figure_against_its_goal(tmp_path) -> None:
    cold = SimpleNamespace(runs=15, app=_samples(150.0), floor=_samples(130.0))
    rows = [("GET summary", h, Counts(items_read=3)) for h in (40, 200)]
    text = summary.format_summary(
        summary.Figures(
            cold=cold,
            package_dir=_manifest(tmp_path, 20_622_532),
            pdf={10: (0.046, 0.043), 1000: (0.154, 0.152)},
            dynamodb=rows,
            invoice_pages=[(10, "page of 25", Counts(items_read=10)), (10_000, "page of 25", Counts(items_read=25))],
        )
    )
    assert re.search(r"^  cold init / floor  1\.15x   goal ≤ 1\.20x: met", text, re.M)
    assert "first request      (not measured" in text
    assert re.search(r"^  API APIHandler\.zip \(19\.7 MiB\)   goal ≤ 20 MiB: met$", text, re.M)
    assert re.search(r"^  1,000 lines 154 ms   goal ≤ 300 ms: met", text, re.M)
    assert re.search(r"^  10 lines    46 ms", text, re.M)
    assert "history 40 vs 200: 1 requests   goal flat: met" in text
    assert "40.1 MiB  RenderPdfs" in text


def test_a_missed_goal_says_so_and_the_first_request_is_compared_with_its_reference(tmp_path) -> None:
    cold = SimpleNamespace(
        runs=15,
        app=_samples(300.0),
        floor=_samples(130.0),
        first=_samples(340.0, init=290.0),
        baseline_first=_samples(330.0),
    )
    grows = [("GET invoices", 40, Counts(items_read=3)), ("GET invoices", 200, Counts(items_read=9))]
    text = summary.format_summary(
        summary.Figures(cold=cold, package_dir=_manifest(tmp_path, 21_472_230), pdf={1000: (0.4, 0.3)}, dynamodb=grows)
    )
    assert "cold init / floor  2.31x   goal ≤ 1.20x: NOT met" in text
    assert "first request      init 290 + request 50 = 340 ms   goal ≤ reference 330 ms (--baseline): NOT met" in text
    assert "API APIHandler.zip (20.5 MiB)   goal ≤ 20 MiB: NOT met" in text
    assert "1,000 lines 400 ms   goal ≤ 300 ms: NOT met" in text
    assert "goal flat: NOT met (grow: GET invoices)" in text
