"""What the X-Ray SDK costs a traced function (DESIGN §9, issue 20): functions/core/tracing.py loads it
on a process's first invocation, not at import, so a cold start pays it once, on its first request.

Measured in fresh processes (like bench/cold_start.py): Powertools' Tracer and aws_xray_sdk imported
and botocore + requests patched, with and without botocore already imported (a billow function has
imported botocore by then: only the SDK's own cost is new).
"""

from __future__ import annotations

import statistics
import subprocess
import sys

PROBE = """
import time
{before}
t = time.perf_counter()
import os
os.environ.setdefault("AWS_XRAY_SDK_ENABLED", "true")
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "false")
from aws_lambda_powertools import Tracer
Tracer(service="billow", patch_modules=("botocore", "requests"))
print((time.perf_counter() - t) * 1000)
"""


def _median_ms(before: str, runs: int) -> float:
    samples = []
    for _ in range(runs):
        result = subprocess.run(
            [sys.executable, "-c", PROBE.format(before=before)], capture_output=True, text=True, check=True
        )
        samples.append(float(result.stdout.strip().splitlines()[-1]))
    return statistics.median(samples)


def run(runs: int = 9) -> dict[str, float]:
    return {
        "alone": _median_ms("", runs),
        "after_botocore": _median_ms("import botocore.session, botocore.client, requests", runs),
    }


def format_report(result: dict[str, float]) -> str:
    return "\n".join(
        [
            "X-Ray SDK import (Powertools Tracer + aws_xray_sdk, botocore and requests patched), paid on a "
            "traced function's first invocation, never at import:",
            f"  after botocore and requests (as in a billow function): {result['after_botocore']:.0f} ms (median)",
            f"  in a bare interpreter: {result['alone']:.0f} ms (median)",
        ]
    )


if __name__ == "__main__":
    print(format_report(run()))
