"""The OpenAPI document and the app's registered routes must agree, and the document must be valid 3.1."""

from __future__ import annotations

from openapi_spec_validator import OpenAPIV31SpecValidator

from app import app
from functions.core import route_loader
from functions.core.http import ROUTES
from functions.core.openapi import build_document

route_loader.load_all()  # imports every route module: ROUTES then holds every route


def _app_operations() -> set[tuple[str, str]]:
    """The API's operations: every route but the CORS preflights (OPTIONS on every path, functions/core/cors.py),
    which are transport, not operations, and stay out of the document (tests/unit/test_cors.py)."""
    return {(method, path) for path, methods in app.routes.items() for method in methods if method != "OPTIONS"}


def test_every_path_answers_preflights_and_the_document_has_no_options_operation():
    assert {path for path, methods in app.routes.items() if "OPTIONS" in methods} == set(app.routes)
    assert all("options" not in ops for ops in build_document()["paths"].values())


def test_the_document_is_valid_openapi_3_1():
    document = build_document()
    assert document["openapi"] == "3.1.0"
    OpenAPIV31SpecValidator(document).validate()


def test_every_registered_route_is_documented_and_nothing_else():
    document = build_document()
    documented = {(method.upper(), path) for path, ops in document["paths"].items() for method in ops}
    assert documented == _app_operations()


def test_every_route_is_declared_once_through_the_wrapper():
    declared = [(spec.method, spec.path) for spec in ROUTES]
    assert len(declared) == len(set(declared))
    assert set(declared) == _app_operations()


def test_protected_routes_document_their_scope_and_problem_responses():
    document = build_document()
    for spec in ROUTES:
        op = document["paths"][spec.path][spec.method.lower()]
        if spec.scope is None:
            assert op["security"] == []
            continue
        assert op["security"] == [{"cognito": [spec.scope]}, {"bearer": [spec.scope]}]
        assert op["x-billow-scope"] == spec.scope
        for status in ("401", "403", "default"):
            assert op["responses"][status]["content"]["application/problem+json"]
        if spec.idempotent:
            assert any(p["name"] == "Idempotency-Key" and p["required"] for p in op["parameters"])


def test_request_schemas_refuse_unknown_fields():
    document = build_document()
    schemas = document["components"]["schemas"]
    for spec in ROUTES:
        if spec.body is not None:
            ref = document["paths"][spec.path][spec.method.lower()]["requestBody"]["content"]["application/json"]
            name = ref["schema"]["$ref"].rsplit("/", 1)[-1]
            assert schemas[name].get("additionalProperties") is False, name


def test_the_webhooks_section_describes_every_outbound_event_type():
    """DESIGN §7: the OpenAPI document's `webhooks` holds one entry per event type, each with its payload."""
    import app  # noqa: F401 - registers the events domain's payloads
    from functions.core.openapi import build_document
    from functions.core.outbox import EVENT_TYPES

    document = build_document()
    assert sorted(document["webhooks"]) == sorted(EVENT_TYPES)
    for event_type, entry in document["webhooks"].items():
        ref = entry["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        schema = document["components"]["schemas"][ref.rsplit("/", 1)[-1]]
        assert schema["properties"]["type"]["const"] == event_type
        data = document["components"]["schemas"][schema["properties"]["data"]["$ref"].rsplit("/", 1)[-1]]
        assert "$ref" in data["properties"]["object"]
