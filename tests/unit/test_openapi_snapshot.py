"""`/v1/openapi.json` is a contract: it changes only on purpose. The document served today is committed as
tests/unit/openapi_snapshot.json; a refactor must leave it equal (issue 15).

When a change to the API is intended, regenerate the snapshot and commit it with the change:

    .venv/bin/python -m tests.unit.test_openapi_snapshot
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SNAPSHOT = Path(__file__).with_name("openapi_snapshot.json")
REGENERATE = "python -m tests.unit.test_openapi_snapshot"


def served_document() -> dict[str, Any]:
    """The document as GET /v1/openapi.json serves it (Chalice's test client; no token, no AWS)."""
    from chalice.test import Client

    from app import app

    with Client(app) as client:
        response = client.http.get("/v1/openapi.json")
    assert response.status_code == 200, response.body
    return json.loads(response.body)


def test_the_openapi_document_is_unchanged():
    expected = json.loads(SNAPSHOT.read_text())
    served = served_document()
    changed = sorted(
        {f"paths {p}" for p in expected["paths"].keys() ^ served["paths"].keys()}
        | {
            f"paths {p}"
            for p in expected["paths"].keys() & served["paths"].keys()
            if expected["paths"][p] != served["paths"][p]
        }
        | {
            f"schema {s}"
            for s in expected["components"]["schemas"].keys() | served["components"]["schemas"].keys()
            if expected["components"]["schemas"].get(s) != served["components"]["schemas"].get(s)
        }
    )
    assert served == expected, (
        f"/v1/openapi.json differs from {SNAPSHOT.name} ({', '.join(changed) or 'outside paths and schemas'}). "
        f"A refactor must not change it; if the API change is intended, regenerate the snapshot with "
        f"`{REGENERATE}` and commit it with the change."
    )


if __name__ == "__main__":  # pragma: no cover - regenerates the snapshot
    import tests.conftest  # noqa: F401 - the test environment (fake AWS, local issuer) before app is imported

    SNAPSHOT.write_text(json.dumps(served_document(), indent=2, sort_keys=True) + "\n")
    print(f"wrote {SNAPSHOT}")
