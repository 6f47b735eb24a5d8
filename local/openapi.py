"""Print billow's OpenAPI document (or, with --scopes, the route → scope table of docs/routes.md).

    .venv/bin/python -m local.openapi [--scopes]

Here, not in functions/core/openapi.py: the document needs every route registered, i.e. `app`, and
nothing in functions imports app (the import contract "no-app" in pyproject.toml).
"""

from __future__ import annotations

import json
import sys

import app  # noqa: F401 - registers the route table (its modules: load_all() below)
from functions.core import route_loader
from functions.core.openapi import build_document, scope_table

route_loader.load_all()  # imports every route module: ROUTES then holds every route

if __name__ == "__main__":  # pragma: no cover - documentation helper
    print(scope_table() if "--scopes" in sys.argv else json.dumps(build_document(), indent=2))
