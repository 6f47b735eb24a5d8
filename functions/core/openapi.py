"""The OpenAPI 3.1 document, built from the registered routes (functions/core/http.ROUTES) and their
pydantic schemas. tests/unit/test_openapi.py fails when the app's routes and this document disagree."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from functions.core.http import JSON, ROUTES, RouteSpec, item_route
from functions.core.openapi_examples import example
from functions.core.openapi_links import add_links
from functions.core.openapi_names import operation_id, top_level_paths
from functions.core.openapi_responses import HEADERS, SECURITY_SCHEMES, error_responses, security, success_headers

_PARAM = re.compile(r"{(\w+)}")
DESCRIPTION = (
    "Billing backend: balances, payments, card on file, billing items, invoices, usage. Money is in integer "
    "minor units beside its `currency`; errors are application/problem+json with a stable `code` (each "
    "response lists its codes in `x-problem-codes`); requests that move money take an `Idempotency-Key`. "
    "How to get and use this document: docs/api.md."
)
CSV_EXAMPLE = (
    "number,issued_on,type,status,currency,total,total_minor\n1042-000017,2026-03-01,recurring,open,eur,129.00,12900\n"
)

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


def _query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    schema = model.model_json_schema()
    required = set(schema.get("required", []))
    return [
        {"name": name, "in": "query", "required": name in required, "schema": prop}
        for name, prop in schema.get("properties", {}).items()
    ]


def _parameters(spec: RouteSpec, components: dict[str, Any]) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in _PARAM.findall(spec.path)
    ]
    if spec.query is not None:
        params.extend(_query_parameters(spec.query))
    if spec.idempotent:
        params.append(
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": True,
                "description": "a new key (e.g. a UUID) per new request; the same key to retry it",
                # printable ASCII (functions/core/idempotency.py check_key)
                "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[\\x20-\\x7e]+$"},
            }
        )
    for param in params:
        value = example(param["schema"], components, param["name"])
        param["example"] = "4f9c2a1e-7b3d-4e8a-9c6f-1d2e3f4a5b6c" if param["in"] == "header" else value
    return params


def _success(
    spec: RouteSpec, ref: dict[type[BaseModel], str], components: dict[str, Any], routes: list[RouteSpec]
) -> dict[str, Any]:
    success: dict[str, Any] = {"description": "success"}
    if spec.response is not None:
        schema: dict[str, Any] = {"$ref": ref[spec.response]}
    elif spec.produces != JSON:
        schema = {"type": "string"}
    else:
        schema = {"type": "object"}
    value = example(schema, components, answer=True) if spec.produces == JSON else CSV_EXAMPLE
    success["content"] = {spec.produces: {"schema": schema, "example": value}}
    success["headers"] = success_headers(spec, item_route(spec, routes) is not None)
    return success


def _operation(
    spec: RouteSpec, ref: dict[type[BaseModel], str], components: dict[str, Any], routes: list[RouteSpec]
) -> dict[str, Any]:
    op: dict[str, Any] = {
        "operationId": operation_id(
            spec.method,
            spec.path,
            is_list=spec.response is not None and {"data", "next_cursor"} <= set(spec.response.model_fields),
            top_level_paths=top_level_paths([s.path for s in routes]),
        ),
        "summary": spec.summary,
        "tags": [spec.tag],
        "parameters": _parameters(spec, components),
        "responses": {str(spec.status): _success(spec, ref, components, routes), **error_responses(spec)},
        "security": security(spec),
    }
    if spec.scope is not None:
        op["x-billow-scope"] = spec.scope
    if spec.body is not None:
        schema = {"$ref": ref[spec.body]}
        op["requestBody"] = {
            "required": True,
            "content": {JSON: {"schema": schema, "example": example(schema, components)}},
        }
    return op


# The OpenAPI document's `webhooks` (DESIGN §7): event type -> (its payload model, summary), registered by
# the events domain (functions/events/schemas.py) when its routes are imported.
WEBHOOKS: dict[str, tuple[type[BaseModel], str]] = {}


def webhook(event_type: str, payload: type[BaseModel], summary: str) -> None:
    """Describe one outbound event type in the document's `webhooks`."""
    WEBHOOKS[event_type] = (payload, summary)


def _webhooks(ref: dict[type[BaseModel], str], components: dict[str, Any]) -> dict[str, Any]:
    def body(payload: type[BaseModel]) -> dict[str, Any]:
        schema = {"$ref": ref[payload]}
        return {"schema": schema, "example": example(schema, components, answer=True)}

    return {
        event_type: {
            "post": {
                "summary": summary,
                "description": "Standard Webhooks headers: webhook-id (the event id), webhook-timestamp, "
                "webhook-signature (v1,<base64 HMAC-SHA256>). Answer 2xx; anything else is retried.",
                "requestBody": {"required": True, "content": {JSON: body(payload)}},
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
    schemas = plain_text(distinct_enum_titles(titled_as_named(dict(defs.get("$defs", {})))))
    schemas["Problem"] = PROBLEM_SCHEMA
    paths: dict[str, dict[str, Any]] = {}
    for spec in routes:
        paths.setdefault(spec.path, {})[spec.method.lower()] = _operation(spec, ref, schemas, routes)
    add_links(paths, schemas)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "billow",
            "version": "1.0.0",
            "description": DESCRIPTION,
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "webhooks": _webhooks(ref, schemas),
        "components": {"schemas": schemas, "headers": HEADERS, "securitySchemes": SECURITY_SCHEMES},
    }


def titled_as_named(schemas: dict[str, Any]) -> dict[str, Any]:
    """Each schema titled with its own name: generators name models by title, and one model class
    specialised per event type (`AccountCreatedEvent`, … all titled `OutboundEvent`) made
    openapi-python-client refuse the duplicates and drop the responses using them."""
    for name, schema in schemas.items():
        if schema.get("title", name) != name:
            schema["title"] = name
    return schemas


def distinct_enum_titles(schemas: dict[str, Any]) -> dict[str, Any]:
    """Client generators name an inline enum `<schema><title>` (openapi-python-client: Payment.method →
    `PaymentMethod`); when that is also a schema's name (the card-on-file `PaymentMethod`), the generator
    drops the schema holding the enum. Such an enum is titled `<title>Kind` instead (`PaymentMethodKind`)."""
    for owner, schema in schemas.items():
        for prop in schema.get("properties", {}).values():
            if "enum" in prop and f"{owner}{_pascal(prop.get('title', ''))}" in schemas:
                prop["title"] = f"{prop.get('title', '')} Kind"
    return schemas


# what functions/core/request_parsing.py refuses in any string of a body (422 validation-failed)
PLAIN_TEXT = "^[^\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f-\\x9f\\u202a-\\u202e\\u2066-\\u2069]*$"


def plain_text(schemas: dict[str, Any]) -> dict[str, Any]:
    """Free-text string fields say they refuse control and bidirectional-override characters."""

    def visit(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "string" and not {"pattern", "enum", "const", "format"} & node.keys():
                node["pattern"] = PLAIN_TEXT
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)

    visit(schemas)
    return schemas


def _pascal(text: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", text) if part)


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
