"""Each Lambda function's zip, as `make package` built it (build/package/manifest.json), against the goal
for the API's (DESIGN.md §6: ≤ 20 MiB; every function ships what it may import, local/package_select.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

API = "APIHandler"
API_GOAL_MIB = 20.0


def read_manifest(package_dir: Path) -> dict[str, Any]:
    return dict(json.loads((package_dir / "manifest.json").read_text()))


def api_zip(package_dir: Path) -> Path:
    return package_dir / read_manifest(package_dir)["functions"][API]["zip"]


def format_report(package_dir: Path) -> str:
    manifest = read_manifest(package_dir)
    functions = manifest["functions"]
    api_mib = functions[API]["size"] / 2**20
    verdict = "met" if api_mib <= API_GOAL_MIB else "NOT met"
    lines = [
        f"Lambda zips ({package_dir}, one per function; botocore data: {len(manifest['botocore_services'])} services)",
        f"  API {functions[API]['zip']} ({api_mib:.1f} MiB)   goal <= {API_GOAL_MIB:.0f} MiB: {verdict}",
    ]
    for logical_id, entry in sorted(functions.items()):
        if logical_id == API:
            continue
        left_out = ", ".join(entry["left_out"]) or "nothing"
        lines.append(f"  {logical_id:<18} {entry['size'] / 2**20:5.1f} MiB   left out: {left_out}")
    if functions[API]["left_out"]:
        lines.append(f"  (the API's zip leaves out: {', '.join(functions[API]['left_out'])})")
    return "\n".join(lines)
