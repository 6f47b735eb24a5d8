"""The OpenAPI 3.1 document, built from the registered routes (functions/core/http.ROUTES) and their
pydantic schemas. tests/unit/test_openapi.py fails when the app's routes and this document disagree."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from functions.core.http import JSON, ROUTES, RouteSpec
from functions.core.problems import PROBLEM

_PARAM = re.compile(r"{(\w+)}")

PROBLEM_SCHEMA = {
    "type": "object",
    "required": ["type", "title", "status", "detail", "code", "errors"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {"type": "string", "description": "stable error code, listed in docs/errors.md"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}}}


def _query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    schema = model.model_json_schema()
    required = set(schema.get("required", []))
    return [
        {"name": name, "in": "query", "required": name in required, "schema": prop}
        for name, prop in schema.get("properties", {}).items()
    ]


def _operation(spec: RouteSpec, ref: dict[type[BaseModel], str]) -> dict[str, Any]:
    op: dict[str, Any] = {
        "operationId": f"{spec.method.lower()}_{re.sub(r'[^a-z0-9]+', '_', spec.path.lower()).strip('_')}",
        "summary": spec.summary,
        "tags": [spec.tag],
        "parameters": [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in _PARAM.findall(spec.path)
        ],
        "responses": {},
    }
    if spec.query is not None:
        op["parameters"].extend(_query_parameters(spec.query))
    if spec.idempotent:
        op["parameters"].append(
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": True,
                # printable ASCII (functions/core/idempotency.py check_key)
                "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[\\x20-\\x7e]+$"},
            }
        )
    if spec.body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": {"$ref": ref[spec.body]}}}}
    success: dict[str, Any] = {"description": "success"}
    if spec.response is not None:
        success["content"] = {spec.produces: {"schema": {"$ref": ref[spec.response]}}}
    elif spec.produces != "application/json":
        success["content"] = {spec.produces: {"schema": {"type": "string"}}}
    op["responses"][str(spec.status)] = success
    if spec.scope is not None:
        op["security"] = [{"bearer": [spec.scope]}]
        op["x-billow-scope"] = spec.scope
        op["responses"]["401"] = _error("no token, or a token that does not verify")
        op["responses"]["403"] = _error("missing scope, membership or capability")
    else:
        op["security"] = []
    if spec.body is not None or spec.query is not None:
        op["responses"]["400"] = _error("unreadable request")
        op["responses"]["422"] = _error("fields not acceptable")
    if "{" in spec.path:
        op["responses"]["404"] = _error("unknown id for this account")
    if spec.idempotent:
        op["responses"]["409"] = _error("a request with this Idempotency-Key is in progress")
        op["responses"].setdefault("422", _error("Idempotency-Key reused with another request"))
    op["responses"]["default"] = _error("any other error")
    return op


# The OpenAPI document's `webhooks` (DESIGN §7): event type -> (its payload model, summary), registered by
# the events domain (functions/events/schemas.py) when its routes are imported.
WEBHOOKS: dict[str, tuple[type[BaseModel], str]] = {}


def webhook(event_type: str, payload: type[BaseModel], summary: str) -> None:
    """Describe one outbound event type in the document's `webhooks`."""
    WEBHOOKS[event_type] = (payload, summary)


def _webhooks(ref: dict[type[BaseModel], str]) -> dict[str, Any]:
    return {
        event_type: {
            "post": {
                "summary": summary,
                "description": "Standard Webhooks headers: webhook-id (the event id), webhook-timestamp, "
                "webhook-signature (v1,<base64 HMAC-SHA256>). Answer 2xx; anything else is retried.",
                "requestBody": {"required": True, "content": {JSON: {"schema": {"$ref": ref[payload]}}}},
                "responses": {"2XX": {"description": "received"}},
            }
        }
        for event_type, (payload, summary) in sorted(WEBHOOKS.items())
    }


def build_document(routes: list[RouteSpec] | None = None) -> dict[str, Any]:
    routes = ROUTES if routes is None else routes
    models: list[type[BaseModel]] = []
    for spec in routes:
        for model in (spec.body, spec.response):
            if model is not None and model not in models:
                models.append(model)
    for payload, _ in WEBHOOKS.values():
        if payload not in models:
            models.append(payload)
    key_map, defs = models_json_schema(
        [(m, "validation" if any(s.body is m for s in routes) else "serialization") for m in models],
        ref_template="#/components/schemas/{model}",
    )
    ref = {model: key_map[(model, mode)]["$ref"] for (model, mode) in key_map}
    schemas = dict(defs.get("$defs", {}))
    schemas["Problem"] = PROBLEM_SCHEMA
    paths: dict[str, dict[str, Any]] = {}
    for spec in routes:
        paths.setdefault(spec.path, {})[spec.method.lower()] = _operation(spec, ref)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "billow",
            "version": "1.0.0",
            "description": "Billing backend: balances, payments, card on file, billing items, invoices.",
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "webhooks": _webhooks(ref),
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        },
    }


def scope_table() -> str:
    """The route → scope table of docs/routes.md (tests/unit/test_docs.py keeps the two equal)."""
    rows = ["| method | path | scope | who | idempotency key |", "|---|---|---|---|---|"]
    for spec in sorted(ROUTES, key=lambda s: (s.path, s.method)):
        who = {
            None: "anyone (no token)",
            "billing:read": "members (owner, viewer) and operators",
            "billing:write": "owners and operators",
            "billing:admin": "operators, any account",
            "billing:usage": "metering services",
        }[spec.scope]
        rows.append(
            f"| {spec.method} | `{spec.path}` | {f'`{spec.scope}`' if spec.scope else '—'} | {who} | "
            f"{'required' if spec.idempotent else '—'} |"
        )
    return "\n".join(rows) + "\n"
