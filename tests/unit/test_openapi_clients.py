"""Clients real generators make from the served document work (issue 20): openapi-python-client (in the tools
venv, .venv/infra-tools: it pins typer<0.28, billow's CLI runs 0.29) and openapi-typescript (npm, tests/clients)
generate a client with every operation and every schema, and the TypeScript types check with tsc — the
document's examples included, each assigned to its schema's type.

openapi-python-client used to drop `Payment` and `PaymentList` (and with them three payment operations'
responses): `Payment.method` became an enum named `PaymentMethod`, the name of another schema."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.unit.test_openapi_snapshot import served_document

REPO = Path(__file__).resolve().parents[2]
NODE_TOOLS = REPO / "tests" / "clients"
PYTHON_CLIENT = Path(sys.prefix) / "infra-tools" / "bin" / "openapi-python-client"


def snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


@pytest.fixture(scope="module")
def document(tmp_path_factory) -> tuple[dict[str, Any], Path]:
    doc = served_document()
    path = tmp_path_factory.mktemp("openapi") / "openapi.json"
    path.write_text(json.dumps(doc))
    return doc, path


def test_openapi_python_client_generates_every_operation_and_schema(document, tmp_path):
    doc, path = document
    assert PYTHON_CLIENT.exists(), f"install it: {PYTHON_CLIENT.parent}/pip install -r requirements-infra-tools.txt"
    out = tmp_path / "client"
    run = subprocess.run(
        [str(PYTHON_CLIENT), "generate", "--path", str(path), "--meta", "none", "--output-path", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    # warnings about ruff missing from PATH are harmless; a dropped schema or response is not
    assert not re.search(r"Unable to|omitted|Cannot parse|conflicting", run.stdout + run.stderr), run.stdout
    modules = {p.stem: p for p in (out / "api").glob("*/*.py")}
    for path_, ops in doc["paths"].items():
        for method, op in ops.items():
            module = modules.get(snake(op["operationId"]))
            assert module is not None, f"{method.upper()} {path_}: no {snake(op['operationId'])}.py"
            status, success = next((s, r) for s, r in op["responses"].items() if s.startswith("2"))
            code = module.read_text()
            assert f"if response.status_code == {status}:" in code, module  # the success answer is parsed
            for name in _models(doc, success):  # into its model(s), not dropped
                assert f"{name}.from_dict" in code, (module, name)
    models = {p.stem for p in (out / "models").glob("*.py")}
    schemas = doc["components"]["schemas"]
    # a schema that is only a union (RefundResult = Invoice | CreditReturn) is typed as its members
    unions = {n for n, s in schemas.items() if "anyOf" in s and "properties" not in s}
    assert all(snake(b["$ref"].rsplit("/", 1)[-1]) in models for n in unions for b in schemas[n]["anyOf"])
    missing = {name for name in schemas if name not in unions and snake(name) not in models}
    assert missing == set()
    assert {"payment", "payment_list", "payment_method"} <= models


def _models(doc: dict[str, Any], response: dict[str, Any]) -> list[str]:
    schema = response.get("content", {}).get("application/json", {}).get("schema", {})
    if "$ref" not in schema:
        return []
    name = schema["$ref"].rsplit("/", 1)[-1]
    branches = doc["components"]["schemas"][name].get("anyOf", [])
    return [b["$ref"].rsplit("/", 1)[-1] for b in branches if "$ref" in b] or [name]


def _typescript_check(doc: dict[str, Any]) -> str:
    """A .ts file naming every operation and schema, and giving each response example its schema's type."""
    ops = [op["operationId"] for ops in doc["paths"].values() for op in ops.values()]
    lines = [
        'import type { components, operations } from "./api";',
        f"export const ops: (keyof operations)[] = {json.dumps(ops)};",
        f'export const schemas: (keyof components["schemas"])[] = {json.dumps(sorted(doc["components"]["schemas"]))};',
    ]
    for i, (name, example) in enumerate(_schema_examples(doc)):
        lines.append(f'export const example{i}: components["schemas"]["{name}"] = {json.dumps(example)};')
    return "\n".join(lines) + "\n"


def _schema_examples(doc: dict[str, Any]) -> list[tuple[str, Any]]:
    found = []
    for ops in doc["paths"].values():
        for op in ops.values():
            contents = [op.get("requestBody", {}).get("content", {})] + [
                r.get("content", {}) for r in op["responses"].values()
            ]
            for content in contents:
                for media in content.values():
                    if "$ref" in media["schema"] and "example" in media:
                        found.append((media["schema"]["$ref"].rsplit("/", 1)[-1], media["example"]))
    return found


def test_openapi_typescript_types_cover_every_operation_and_schema_and_type_check(document, tmp_path):
    doc, path = document
    if not (NODE_TOOLS / "node_modules" / ".bin" / "openapi-typescript").exists():
        npm = shutil.which("npm")
        assert npm, "node and npm are needed (openapi-typescript)"
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=NODE_TOOLS, check=True, timeout=300)
    bin_ = NODE_TOOLS / "node_modules" / ".bin"
    types = tmp_path / "api.d.ts"
    # --default-non-nullable false: a request field with a default may be left out (v7 makes it required)
    generate = [str(bin_ / "openapi-typescript"), str(path), "-o", str(types), "--default-non-nullable", "false"]
    subprocess.run(generate, check=True, timeout=120, capture_output=True)
    text = types.read_text()
    for ops in doc["paths"].values():
        for op in ops.values():
            assert re.search(rf"^    {op['operationId']}: {{", text, flags=re.M), op["operationId"]
    (tmp_path / "check.ts").write_text(_typescript_check(doc))
    tsc = subprocess.run(
        [
            str(bin_ / "tsc"),
            "--noEmit",
            "--strict",
            "--target",
            "es2022",
            "--moduleResolution",
            "node",
            str(tmp_path / "check.ts"),
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert tsc.returncode == 0, tsc.stdout + tsc.stderr
    # the check can fail: an operation the types lack is a type error
    broken = _typescript_check(doc).replace('"createPayment"', '"createPaymentTypo"')
    (tmp_path / "broken.ts").write_text(broken)
    tsc = subprocess.run(
        [str(bin_ / "tsc"), "--noEmit", "--strict", "--target", "es2022", str(tmp_path / "broken.ts")],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert tsc.returncode != 0 and "createPaymentTypo" in tsc.stdout
