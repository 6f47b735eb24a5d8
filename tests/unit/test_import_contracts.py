"""DESIGN §1's dependency order is an import-linter contract (pyproject.toml [tool.importlinter], run by
`make test`): the real tree keeps it, and an import that breaks it is caught (checked on a copy of
functions/ with one forbidden import added)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint_imports(cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo"], cwd=cwd, capture_output=True, text=True, timeout=120
    )


def test_the_tree_keeps_every_import_contract():
    result = _lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "forbidden_import", "broken"),
    [
        # an earlier layer importing a later one (core importing a domain)
        ("functions/core/money.py", "import functions.invoices.service", "DESIGN §1 order"),
        # an earlier domain importing a later one
        ("functions/accounts/service.py", "from functions.payments import service", "DESIGN §1 order"),
        # a later domain reaching past an earlier one's front door into its store
        ("functions/invoices/service.py", "from functions.accounts import store", "through its front door"),
        # core importing the app (as core.openapi did: core.openapi -> app -> core.routes, a cycle)
        ("functions/core/clock.py", "import app", "never imports app"),
        # two modules of one package importing each other
        ("functions/core/ids.py", "import functions.core.ledger", "no import cycles"),
    ],
)
def test_a_forbidden_import_is_caught(tmp_path, module, forbidden_import, broken):
    shutil.copytree(ROOT / "functions", tmp_path / "functions", ignore=shutil.ignore_patterns("__pycache__", "fonts"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / module
    target.write_text(target.read_text() + f"\n{forbidden_import}  # noqa\n")

    result = _lint_imports(tmp_path)

    assert result.returncode != 0, result.stdout
    broken_section = result.stdout.split("Broken contracts", 1)[-1]
    assert broken in " ".join(broken_section.split()), result.stdout


# Imports inside functions: only the heavy optional libraries a request may never need (a cold start
# pays for them only when used) and the route loader (issue 21, docs/architecture.md "Route table").
# boto3 is one of them: DynamoDB goes through PynamoDB/botocore; boto3 builds the SQS, SES, S3 and
# Secrets Manager clients, which most requests never touch.
# fontTools: fpdf2's font reader, read by the PDF's fallback-font check (functions/invoices/typefaces.py).
LAZY_LIBRARIES = ("jwt", "stripe", "fpdf", "fontTools", "aws_lambda_powertools", "aws_xray_sdk", "boto3")
ROUTE_LOADER = "functions/core/route_loader.py"
# nothing pending: payments/ was reorganised by what it does (issue 15)
PENDING: tuple[str, ...] = ()


def _imports_inside_functions(path: Path) -> list[tuple[int, str]]:
    import ast

    found = []
    for fn in ast.walk(ast.parse(path.read_text())):
        if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
            for node in ast.walk(fn):
                if isinstance(node, ast.Import):
                    found += [(node.lineno, alias.name) for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module:
                    found.append((node.lineno, node.module))
    return found


def test_imports_inside_functions_are_only_the_heavy_optional_libraries():
    offenders = []
    for path in sorted((ROOT / "functions").rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        if relative == ROUTE_LOADER or relative.startswith(PENDING):
            continue
        for line, module in _imports_inside_functions(path):
            if module.split(".")[0] not in LAZY_LIBRARIES:
                offenders.append(f"{relative}:{line} imports {module}")
    assert offenders == [], "import these at the top of the module:\n" + "\n".join(offenders)
