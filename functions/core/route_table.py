"""The route table's rows (app.py declares the table, functions/core/route_loader.py registers it) and the
table registered in this process: every API route, whether its module is loaded yet or not. Light: it
imports nothing but the standard library."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, NamedTuple


class Route(NamedTuple):
    """One API operation: its method, path template and function (`module:function`)."""

    method: str
    path: str
    target: str

    @property
    def module(self) -> str:
        return self.target.partition(":")[0]

    @property
    def function(self) -> str:
        return self.target.partition(":")[2]

    @property
    def operation(self) -> str:
        return f"{self.method} {self.path}"


class Worker(NamedTuple):
    """One non-HTTP handler: its Chalice decorator (`on_sqs_message`, `schedule`, `lambda_function`),
    its function (`module:function`) and the decorator's arguments, an SQS queue by its name in
    core/resources.py (the stage's prefix is added here)."""

    decorator: str
    target: str
    options: Mapping[str, Any]

    @property
    def module(self) -> str:
        return self.target.partition(":")[0]

    @property
    def function(self) -> str:
        return self.target.partition(":")[2]


# The routes of the table app.py registered (route_loader.register): core/http.py finds a created
# object's GET route here (`Location`), loaded or not.
ROUTES: list[Route] = []


def preflight_name(path: str) -> str:
    """The OPTIONS view's name for `path` (Chalice's handler_map key): `preflight_v1_accounts_account_id`."""
    return f"preflight_{re.sub(r'[^a-z0-9]+', '_', path.lower()).strip('_')}"
