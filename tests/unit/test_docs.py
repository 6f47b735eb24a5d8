"""docs/ stays true to the code: the route → scope table and the list of error codes."""

from __future__ import annotations

import re
from pathlib import Path

import app  # noqa: F401 - registers the route table (its modules: load_all() below)
from functions.core import route_loader
from functions.core.openapi import scope_table

route_loader.load_all()  # imports every route module: ROUTES then holds every route

ROOT = Path(__file__).resolve().parents[2]


def test_the_route_scope_table_in_docs_matches_the_registered_routes():
    text = (ROOT / "docs" / "routes.md").read_text()
    assert scope_table() in text, "regenerate with: .venv/bin/python -m local.openapi --scopes"


def test_every_error_code_used_in_the_code_is_documented():
    used = set()
    for path in (ROOT / "functions").rglob("*.py"):
        used |= set(re.findall(r'\bcode ?= ?"([a-z-]+)"', path.read_text()))
    documented = set(re.findall(r"^\| `([a-z-]+)` \|", (ROOT / "docs" / "errors.md").read_text(), re.M))
    assert used, "no codes found"
    assert used - documented == set()
