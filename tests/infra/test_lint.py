"""cfn-lint and checkov on the synthesized templates (dev, prod, and prod with every worker handler).

Both run from .venv/infra-tools (their pins clash with billow's; `make test` installs it) in one process
each, offline: checkov with --skip-download, and both behind a proxy on a closed loopback port so any
attempt to reach a network would fail rather than leave the machine.

checkov must report no failed check, and every skipped one must carry its reason (infra/suppressions.py).
It then runs again on copies of the templates with every suppression removed: what fails there must be
exactly what was skipped, so no suppression hides more than it says, and none is left that is not needed.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from infra.suppressions import REASONS

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ROOT / ".venv" / "infra-tools" / "bin"
CHECKOV_RUN = Path(__file__).resolve().parent / "checkov_run.py"  # checkov with ply's tables built once


def _tool(name: str) -> Path:
    path = TOOLS / name
    if not path.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{path} is missing: make test installs it (requirements-infra-tools.txt)")
        pytest.skip(f"{path} is missing: run `make test` once to install the template linters")
    return path


def _offline_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "BC_", "PRISMA_"))}
    closed = "http://127.0.0.1:9"
    env.update(
        HTTP_PROXY=closed, HTTPS_PROXY=closed, http_proxy=closed, https_proxy=closed, AWS_DEFAULT_REGION="us-east-1"
    )
    env.pop("NO_PROXY", None)
    env.pop("no_proxy", None)
    return env


@pytest.fixture(scope="module")
def template_files(synthesized, workers, tmp_path_factory) -> list[Path]:
    """The templates under distinct names (the workers' prod stack is also BillowProd.template.json)."""
    lint_dir = tmp_path_factory.mktemp("lint")
    sources = {f"{stage}.template.json": path for stage, path in synthesized.files.items()}
    sources.update({f"{stage}-workers.template.json": path for stage, path in workers.files.items()})
    out = []
    for name, path in sorted(sources.items()):
        (lint_dir / name).write_text(path.read_text())
        out.append(lint_dir / name)
    return out


def test_cfn_lint_finds_nothing(template_files):
    result = subprocess.run(
        [str(_tool("cfn-lint")), "--format", "json", "--", *map(str, template_files)],
        capture_output=True,
        text=True,
        env=_offline_env(),
        timeout=300,
        check=False,
    )
    findings = json.loads(result.stdout or "[]")
    assert findings == [], json.dumps(findings, indent=1)[:5000]
    assert result.returncode == 0, result.stderr[-3000:]


def _without_suppressions(path: Path, out: Path) -> Path:
    template = json.loads(path.read_text())
    for resource in template["Resources"].values():
        (resource.get("Metadata") or {}).pop("checkov", None)
    out.write_text(json.dumps(template))
    return out


def _checks(report: dict[str, Any], kind: str, files: set[str]) -> set[tuple[str, str, str]]:
    return {
        (Path(c["file_path"]).name, c["resource"], c["check_id"])
        for c in report["results"][kind]
        if Path(c["file_path"]).name in files
    }


@pytest.fixture(scope="module")
def checkov(template_files) -> tuple[dict[str, Any], set[str], set[str]]:
    """One checkov run over the templates and their copies without suppressions."""
    args = []
    for path in template_files:
        copy = _without_suppressions(path, path.with_name(f"stripped-{path.name}"))
        args += ["-f", str(path), "-f", str(copy)]
    _tool("checkov")  # installed; run through CHECKOV_RUN (ply's tables built once)
    result = subprocess.run(
        [
            str(TOOLS / "python"),
            str(CHECKOV_RUN),
            *args,
            "--framework",
            "cloudformation",
            "--skip-download",
            "-o",
            "json",
        ],
        capture_output=True,
        text=True,
        # checkov's own process pool (fork) gives nothing on a machine the other workers keep busy, and
        # pickling its results back costs ~7 % of its CPU; the report is the same run in one process
        env=_offline_env() | {"CHECKOV_PARALLELIZATION_TYPE": "none"},
        timeout=300,
        check=False,
    )
    assert result.stdout, result.stderr[-3000:]
    real = {p.name for p in template_files}
    return json.loads(result.stdout), real, {f"stripped-{name}" for name in real}


def test_checkov_passes_with_every_suppression_justified(checkov):
    report, real, _ = checkov
    assert report["summary"]["parsing_errors"] == 0
    failed = _checks(report, "failed_checks", real)
    assert failed == set(), sorted(failed)
    skipped = [c for c in report["results"]["skipped_checks"] if Path(c["file_path"]).name in real]
    assert skipped, "the suppressions are recorded in the templates"
    for check in skipped:
        assert check["check_id"] in REASONS, check["check_id"]
        assert check["check_result"]["suppress_comment"] == REASONS[check["check_id"]]


def test_each_suppression_is_needed_and_hides_only_what_it_names(checkov):
    report, real, stripped = checkov
    skipped = {(f"stripped-{f}", r, c) for f, r, c in _checks(report, "skipped_checks", real)}
    would_fail = _checks(report, "failed_checks", stripped)
    assert would_fail == skipped, sorted(would_fail ^ skipped)
    assert {c for _, _, c in would_fail} == set(REASONS), "a reason no template needs: drop it"


def test_every_accepted_finding_is_explained_in_docs_deploy():
    text = (ROOT / "docs" / "deploy.md").read_text()
    assert [check for check in REASONS if f"| {check} |" not in text] == []


# JSONPath expressions of the kinds checkov's graph builder and its solvers parse (filters, wildcards,
# indexes, slashes in keys, arithmetic of the ext parser).
JSONPATHS = [
    "Properties.Tags",
    "DistributionConfig.Origins[?(@.CustomOriginConfig.OriginProtocolPolicy != 'https-only')].DomainName",
    "Properties.PolicyDocument.Statement[*].Action",
    "Statement[0].Principal.AWS",
    "$..Resource",
    "a.b[1:3].c",
    "foo[?(@.bar > 5 & @.baz == 'x')]",
    "x.`len`",
    "items[*].price * 2",
    "Resources.*.Properties",
    'a."b/c".d',
]


def test_checkov_run_parses_every_jsonpath_as_plain_bc_jsonpath_ng_does():
    """checkov_run.py builds ply's table once per parser class: the parsers it hands back give the same
    trees as a table built for each expression, twice in a row (no state kept between two parses)."""
    _tool("checkov")
    script = f"""
import importlib.util, json
from bc_jsonpath_ng import parse as plain_parse
from bc_jsonpath_ng.ext import parse as ext_parse

def trees():
    out = []
    for e in {JSONPATHS!r}:
        for parse in (plain_parse, ext_parse):
            try:
                out.append(repr(parse(e)))
            except Exception as exc:
                out.append(type(exc).__name__)
    return out

before = trees()
spec = importlib.util.spec_from_file_location("checkov_run", {str(CHECKOV_RUN)!r})
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
after, again = trees(), trees()
print(json.dumps({{"before": before, "after": after, "again": again, "tables": len(module._tables)}}))
"""
    result = subprocess.run(
        [str(TOOLS / "python"), "-c", script], capture_output=True, text=True, env=_offline_env(), timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout)
    assert out["after"] == out["before"] and out["again"] == out["before"]
    errors = [tree for tree in out["before"] if "(" not in tree]
    assert len(errors) == 4, out["before"]  # the plain parser refuses the ext parser's four extensions
    assert out["tables"] == 2, "one table per parser class (plain and ext), built once"
