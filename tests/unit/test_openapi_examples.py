"""The OpenAPI document as a client developer needs it (issue 20): an example on every operation, each valid
against its schema; the problem codes of each response, all documented; the response headers; Cognito's
OAuth 2.0 scheme with billow's scopes; readable, unique operationIds; links a stateful client can follow."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
import referencing.jsonschema
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

import app  # noqa: F401 - registers the route table (its modules: load_all() below)
from functions.core import route_loader
from functions.core.http import ROUTES
from functions.core.openapi import build_document

route_loader.load_all()  # imports every route module: ROUTES then holds every route

ERRORS_MD = Path(__file__).resolve().parents[2] / "docs" / "errors.md"
METHODS = ("get", "post", "put", "patch", "delete")


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method, op) for path, ops in document["paths"].items() for method, op in ops.items()]


def webhook_examples(document: dict[str, Any]) -> list[tuple[str, dict[str, Any], Any]]:
    return [
        (event_type, content["schema"], content["example"])
        for event_type, item in document.get("webhooks", {}).items()
        for content in item["post"]["requestBody"]["content"].values()
    ]


def examples_of(op: dict[str, Any]) -> list[tuple[str, dict[str, Any], Any]]:
    """(where, schema, example) of the operation's request body, parameters and responses."""
    found = []
    for media, content in op.get("requestBody", {}).get("content", {}).items():
        found.append((f"request {media}", content["schema"], content["example"]))
    for param in op["parameters"]:
        found.append((f"parameter {param['name']}", param["schema"], param["example"]))
    for status, response in op["responses"].items():
        for media, content in response.get("content", {}).items():
            if "example" in content:
                found.append((f"response {status} {media}", content["schema"], content["example"]))
    return found


def validator(document: dict[str, Any], schema: dict[str, Any]) -> Draft202012Validator:
    resource = Resource.from_contents(document, default_specification=referencing.jsonschema.DRAFT202012)
    registry = Registry().with_resource("urn:billow-openapi", resource)
    rooted = json.loads(json.dumps(schema).replace('"#/components/', '"urn:billow-openapi#/components/'))
    return Draft202012Validator(rooted, registry=registry, format_checker=Draft202012Validator.FORMAT_CHECKER)


def invalid_examples(document: dict[str, Any]) -> list[str]:
    problems = []
    for path, method, op in operations(document):
        for where, schema, value in examples_of(op):
            for error in validator(document, schema).iter_errors(value):
                problems.append(f"{method.upper()} {path} {where}: {error.message}")
    for event_type, schema, value in webhook_examples(document):  # the outbound events' payloads
        for error in validator(document, schema).iter_errors(value):
            problems.append(f"webhook {event_type}: {error.message}")
    return problems


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return build_document()


def test_every_operation_has_request_and_response_examples_and_each_validates(document):
    for path, method, op in operations(document):
        where = {w.split(" ")[0] for w, _, _ in examples_of(op)}
        assert "response" in where, f"{method} {path} has no response example"
        if "requestBody" in op:
            assert "request" in where, f"{method} {path} has no request example"
        success = next(r for s, r in op["responses"].items() if s.startswith("2"))
        assert all("example" in c for c in success["content"].values()), f"{method} {path}"
    assert len(webhook_examples(document)) == len(document["webhooks"]) > 0
    assert invalid_examples(document) == []


def test_an_example_that_breaks_its_schema_is_reported(document):
    broken = copy.deepcopy(document)
    content = broken["paths"]["/v1/accounts/{account_id}/payments"]["post"]["requestBody"]["content"]
    content["application/json"]["example"]["amount"] = "129.00"  # money is never a decimal string
    assert any("payments" in p and "'129.00'" in p for p in invalid_examples(broken))


def test_examples_use_minor_units_and_prefixed_ids(document):
    payment = document["paths"]["/v1/accounts/{account_id}/payments/{payment_id}"]["get"]
    body = payment["responses"]["200"]["content"]["application/json"]["example"]
    assert isinstance(body["amount"], int) and body["amount"] > 100
    assert body["currency"] == "eur"
    assert re.fullmatch(r"pay_[a-z2-7]{20}", body["id"])
    assert re.fullmatch(r"acct_[a-z2-7]{20}", body["account_id"])
    param = next(p for p in payment["parameters"] if p["name"] == "payment_id")
    assert param["example"].startswith("pay_")


def test_operation_ids_are_readable_unique_and_stable(document):
    ids = {f"{m.upper()} {p}": op["operationId"] for p, m, op in operations(document)}
    assert len(set(ids.values())) == len(ids)
    assert all(re.fullmatch(r"[a-z]+(?:[A-Z][a-z0-9]*)+", i) for i in ids.values()), ids
    assert ids["GET /v1/accounts/{account_id}/invoices"] == "listInvoices"
    assert ids["GET /v1/accounts/{account_id}/invoices/{invoice_id}"] == "getInvoice"
    assert ids["POST /v1/accounts/{account_id}/payments"] == "createPayment"
    assert ids["GET /v1/accounts/{account_id}/billing-items/{item_id}"] == "getBillingItem"
    assert ids["PUT /v1/accounts/{account_id}/billing-items/{item_id}/device"] == "setBillingItemDevice"
    assert ids["POST /v1/accounts/{account_id}/billing-items/{item_id}/cancellation"] == "cancelBillingItem"
    assert ids["POST /v1/accounts"] == "createAccount"
    assert ids["PUT /v1/rates/{service}/{metric}"] == "setRate"
    assert ids["PUT /v1/accounts/{account_id}/rates/{service}/{metric}"] == "setAccountRate"


def documented_codes() -> set[str]:
    return set(re.findall(r"^\| `([a-z0-9-]+)` \|", ERRORS_MD.read_text(), flags=re.M))


def test_every_error_response_lists_its_problem_codes_and_each_is_documented(document):
    documented = documented_codes()
    for path, method, op in operations(document):
        for status, response in op["responses"].items():
            if status.startswith("2"):
                continue
            codes = response["x-problem-codes"]
            assert codes, f"{method} {path} {status}"
            assert set(codes) <= documented, f"{method} {path} {status}: {set(codes) - documented}"
            assert all(f"`{c}`" in response["description"] for c in codes if status != "default")
    payment = document["paths"]["/v1/accounts/{account_id}/payments"]["post"]["responses"]
    assert payment["409"]["x-problem-codes"] == ["idempotency-in-progress"]
    assert "idempotency-key-reuse" in payment["422"]["x-problem-codes"]
    assert "card-data-not-accepted" in payment["400"]["x-problem-codes"]
    item = document["paths"]["/v1/accounts/{account_id}/billing-items/{item_id}"]["get"]["responses"]
    assert item["404"]["x-problem-codes"] == ["account-not-found", "item-not-found"]
    assert item["403"]["x-problem-codes"] == ["insufficient-scope", "not-a-member", "capability-unavailable"]


def test_response_headers(document):
    for path, method, op in operations(document):
        spec = next(s for s in ROUTES if s.path == path and s.method.lower() == method)
        for status, response in op["responses"].items():
            assert "X-Request-Id" in response["headers"], f"{method} {path} {status}"
            assert ("Retry-After" in response["headers"]) == (status in ("409", "429", "503"))
        success = op["responses"][str(spec.status)]["headers"]
        assert ("Idempotent-Replayed" in success) == spec.idempotent, f"{method} {path}"
    created = document["paths"]["/v1/accounts/{account_id}/payments"]["post"]["responses"]["201"]["headers"]
    assert "Location" in created
    ticket = document["paths"]["/v1/accounts/{account_id}/support-tickets"]["post"]["responses"]["201"]
    assert "Location" not in ticket["headers"]  # answers ticket_id, not an id the server builds a URL from
    assert set(document["components"]["headers"]) == {"X-Request-Id", "Idempotent-Replayed", "Retry-After", "Location"}


def test_cognito_oauth2_scheme_and_scopes_per_operation(document):
    scheme = document["components"]["securitySchemes"]["cognito"]
    assert scheme["type"] == "oauth2"
    flows = scheme["flows"]
    assert set(flows) == {"authorizationCode", "clientCredentials"}
    assert flows["authorizationCode"]["authorizationUrl"].endswith(".amazoncognito.com/oauth2/authorize")
    for flow in flows.values():
        assert flow["tokenUrl"].endswith(".amazoncognito.com/oauth2/token")
        assert set(flow["scopes"]) == {"billing:read", "billing:write", "billing:admin", "billing:usage"}
    for spec in ROUTES:
        op = document["paths"][spec.path][spec.method.lower()]
        expected = [] if spec.scope is None else [{"cognito": [spec.scope]}, {"bearer": [spec.scope]}]
        assert op["security"] == expected


def links_of(document: dict[str, Any], path: str, method: str) -> dict[str, Any]:
    op = document["paths"][path][method]
    return next(r for s, r in op["responses"].items() if s.startswith("2")).get("links", {})


def test_links_chain_the_ids_one_call_returns_into_the_next(document):
    by_id = {op["operationId"]: (path, op) for path, _, op in operations(document)}
    for path, method, _ in operations(document):
        for name, link in links_of(document, path, method).items():
            target_path, _target = by_id[link["operationId"]]
            assert set(link["parameters"]) == set(re.findall(r"{(\w+)}", target_path)), name
    account = "/v1/accounts/{account_id}"
    created = links_of(document, "/v1/accounts", "post")
    assert created["getSummary"]["parameters"] == {"account_id": "$response.body#/id"}
    item = links_of(document, f"{account}/billing-items", "post")
    assert {"getBillingItem", "setBillingItemDevice", "cancelBillingItem"} <= set(item)
    assert item["getBillingItem"]["parameters"]["account_id"] == "$request.path.account_id"
    payment = links_of(document, f"{account}/payments", "post")
    assert payment["getPayment"]["parameters"]["payment_id"] == "$response.body#/id"
    invoices = links_of(document, f"{account}/invoices", "get")
    assert invoices["getInvoice"]["parameters"]["invoice_id"] == "$response.body#/data/0/id"


def test_declared_and_body_derived_problem_codes(document):
    charges = document["paths"]["/v1/accounts/{account_id}/charges"]["post"]["responses"]
    assert charges["409"]["x-problem-codes"] == ["idempotency-in-progress", "account-closed"]
    assert "currency-mismatch" in charges["422"]["x-problem-codes"]
    ticket = document["paths"]["/v1/accounts/{account_id}/support-tickets"]["post"]["responses"]
    assert {"payment-not-found", "invoice-not-found"} <= set(ticket["404"]["x-problem-codes"])


def test_the_webhook_routes_list_every_code_their_domain_raises(document):
    events = Path(__file__).resolve().parents[2] / "functions" / "events"
    raised = set()
    for name in ("webhook_endpoints.py", "service.py", "ssrf.py"):
        text = (events / name).read_text()
        raised |= set(re.findall(r'\bcode="([a-z-]+)"', text)) | set(re.findall(r'UnsafeUrl\(\s*"([a-z-]+)"', text))
    assert {"too-many-event-types", "webhook-url-private-address", "webhook-endpoint-disabled"} <= raised
    paths = {p: ops for p, ops in document["paths"].items() if p.startswith(("/v1/webhook-endpoints", "/v1/events"))}
    listed = {
        code
        for ops in paths.values()
        for op in ops.values()
        for response in op.get("responses", {}).values()
        for code in response.get("x-problem-codes", [])
    }
    assert raised - listed == set()
    create = paths["/v1/webhook-endpoints"]["post"]["responses"]["422"]["x-problem-codes"]
    patch = paths["/v1/webhook-endpoints/{endpoint_id}"]["patch"]["responses"]["422"]["x-problem-codes"]
    assert {c for c in raised if c.startswith("webhook-url-") or c.endswith("event-types") or "event-type" in c} <= (
        set(create) & set(patch)
    )
    redeliver = paths["/v1/events/{event_id}/redeliver"]["post"]["responses"]["409"]["x-problem-codes"]
    assert "webhook-endpoint-disabled" in redeliver


def test_location_names_the_created_object_where_a_get_route_reads_it():
    from functions.core.http import location

    def spec(method: str, path: str) -> Any:
        return next(s for s in ROUTES if s.method == method and s.path == path)

    created = spec("POST", "/v1/accounts/{account_id}/payments")
    params = {"account_id": "acct_3k2m7qz4wd5e6hxr2nap"}
    assert location(created, {"id": "pay_aaaaaaaaaaaaaaaaaaaa"}, params) == {
        "Location": "/v1/accounts/acct_3k2m7qz4wd5e6hxr2nap/payments/pay_aaaaaaaaaaaaaaaaaaaa"
    }
    assert location(spec("POST", "/v1/accounts"), {"id": "acct_x"}, {}) == {}  # no GET /v1/accounts/{id}
    assert location(spec("GET", "/v1/accounts/{account_id}/payments"), {"id": "pay_x"}, params) == {}
