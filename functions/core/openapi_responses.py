"""What the OpenAPI document says about an operation's error answers, headers and security, derived from
its route declaration (functions/core/http.RouteSpec): the problem codes each status can carry
(`x-problem-codes`, every one in docs/errors.md: tests/unit/test_openapi_examples.py), the response
headers, and the OAuth 2.0 scheme of Cognito with billow's scopes."""

from __future__ import annotations

import inspect
from itertools import pairwise
from typing import Any

from functions.core.http import ROUTES, RouteSpec
from functions.core.openapi_names import singular
from functions.core.problems import PROBLEM

WRITE = "billing:write"
SCOPES = {
    "billing:read": "read an account you are a member of (GET routes)",
    "billing:write": "change an account you own: payments, card, items, tickets",
    "billing:admin": "operators: every account, provisioning, charges, credits, refunds, rates",
    "billing:usage": "metering services: POST /v1/usage only, no customer data",
}
_COGNITO = "https://{your-domain}.auth.{region}.amazoncognito.com/oauth2"
SECURITY_SCHEMES = {
    "cognito": {
        "type": "oauth2",
        "description": (
            "Amazon Cognito. Replace {your-domain} and {region} with the stage's Cognito domain (the "
            "stack's outputs). Cognito names the scopes with the resource server's prefix: request "
            "`billow/billing:read`; billow strips the prefix. Console users sign in with the authorization "
            "code flow (PKCE); services (metering, operators' scripts) use client credentials."
        ),
        "flows": {
            "authorizationCode": {
                "authorizationUrl": f"{_COGNITO}/authorize",
                "tokenUrl": f"{_COGNITO}/token",
                "scopes": SCOPES,
            },
            "clientCredentials": {"tokenUrl": f"{_COGNITO}/token", "scopes": SCOPES},
        },
    },
    "bearer": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "the same access token, sent as `Authorization: Bearer <token>`",
    },
}
HEADERS = {
    "X-Request-Id": {
        "description": "this request's id, in billow's logs too: quote it when reporting a problem",
        "schema": {"type": "string"},
    },
    "Idempotent-Replayed": {
        "description": "`true` when this is the stored answer of an earlier request with the same Idempotency-Key",
        "schema": {"type": "string", "enum": ["true"]},
    },
    "Retry-After": {
        "description": (
            "seconds to wait before retrying the same request (same Idempotency-Key); sent with 503, 429 and "
            "the retryable 409s (`idempotency-in-progress`, `concurrent-update`)"
        ),
        "schema": {"type": "integer", "minimum": 0},
    },
    "Location": {"description": "the created resource's URL", "schema": {"type": "string"}},
}
_DESCRIPTIONS = {
    "400": "unreadable request",
    "401": "no token, or a token that does not verify",
    "403": "missing scope, membership or capability",
    "404": "unknown id for this account",
    "409": "conflict: retry later, or the resource's state does not allow it",
    "415": "the body is not application/json",
    "422": "fields not acceptable",
    "429": "too many requests (API Gateway's rate limit, deployed stages)",
    "503": "a service billow depends on did not answer: retry the same request",
}


def _header(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/headers/{name}"}


def _guard_capability(spec: RouteSpec) -> Any:
    """The capability an `account_guard(capability)` checks, read from the guard's closure."""
    if spec.guard is None:
        return None
    return inspect.getclosurevars(spec.guard).nonlocals.get("capability")


def _resource(segment: str) -> str:
    """The resource a collection segment holds, as its not-found code names it: `invoices` → invoice,
    `webhook-endpoints` → webhook-endpoint, `billing-items` → item, `support-tickets` → ticket."""
    word = singular(segment)
    for qualifier in ("billing-", "support-"):
        word = word.removeprefix(qualifier)
    return word


def _id_resources() -> dict[str, str]:
    """path parameter → the resource of the collection before it, over every route (`endpoint_id` →
    webhook-endpoint): a body's `endpoint_id` is unknown with the same code as the path's."""
    out: dict[str, str] = {}
    for route in ROUTES:
        segments = route.path.split("/")
        for before, segment in pairwise(segments):
            if segment.startswith("{") and not before.startswith("{"):
                out.setdefault(segment.strip("{}"), _resource(before))
    return out


def problem_codes(spec: RouteSpec) -> dict[str, list[str]]:
    """status → the problem codes this route can answer with, from what it declares."""
    codes: dict[str, list[str]] = {}

    def add(status: int, *names: str) -> None:
        codes.setdefault(str(status), [])
        codes[str(status)].extend(n for n in names if n not in codes[str(status)])

    if spec.scope is not None:
        add(401, "missing-token", "invalid-token")
        add(403, "insufficient-scope")
    if spec.guard is not None:
        add(403, "not-a-member", *(["role-insufficient"] if spec.scope == WRITE else []))
        if _guard_capability(spec):
            add(403, "capability-unavailable")
        add(404, "account-not-found")  # operators (billing:admin) reach every route of every account
    before = ""
    for segment in spec.path.split("/"):
        param = segment.strip("{}")
        if not segment.startswith("{"):
            before = segment
        elif param != "account_id":  # an unknown account is the guard's (above)
            add(404, f"{_resource(before)}-not-found")
    if spec.refuse_card_data:
        add(400, "card-data-not-accepted")
    if spec.body is not None:
        fields = spec.body.model_fields
        for name in fields:  # an id the body refers to: unknown (or another account's) is 404
            if name.endswith("_id"):
                add(404, f"{_id_resources().get(name, name[:-3].replace('_', '-'))}-not-found")
        if "currency" in fields and "account_id" in spec.path:
            add(422, "currency-mismatch")  # DESIGN §2: given, it must be the account's
        add(400, "malformed-json")
        add(415, "unsupported-media-type")
        add(422, "validation-failed")
    if spec.query is not None:
        for name in spec.query.model_fields:  # a filter by an unknown id (device_id) is 404 too
            if name.endswith("_id"):
                add(404, f"{_id_resources().get(name, name[:-3].replace('_', '-'))}-not-found")
        add(422, "validation-failed")
        if "cursor" in spec.query.model_fields:
            add(400, "invalid-cursor")
    if spec.idempotent:
        add(400, "idempotency-key-missing", "idempotency-key-invalid")
        add(409, "idempotency-in-progress")
        add(422, "idempotency-key-reuse")
    for status, code in spec.problems:
        add(status, code)
    add(429, "throttled")
    add(503, "service-unavailable")
    return dict(sorted(codes.items()))


def error_responses(spec: RouteSpec) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for status, names in problem_codes(spec).items():
        headers = {"X-Request-Id": _header("X-Request-Id")}
        if status in ("409", "429", "503"):
            headers["Retry-After"] = _header("Retry-After")
        listed = ", ".join(f"`{n}`" for n in names)
        out[status] = {
            "description": f"{_DESCRIPTIONS.get(status, 'error')}; `code` is one of {listed} (docs/errors.md)",
            "headers": headers,
            "content": {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}},
            "x-problem-codes": names,
        }
    out["default"] = {
        "description": "any other error (`internal-error`); problem+json",
        "headers": {"X-Request-Id": _header("X-Request-Id")},
        "content": {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        "x-problem-codes": ["internal-error"],
    }
    return out


def success_headers(spec: RouteSpec, sets_location: bool) -> dict[str, Any]:
    headers = {"X-Request-Id": _header("X-Request-Id")}
    if spec.idempotent:
        headers["Idempotent-Replayed"] = _header("Idempotent-Replayed")
    if sets_location and spec.status in (201, 202):
        headers["Location"] = _header("Location")
    return headers


def security(spec: RouteSpec) -> list[dict[str, list[str]]]:
    if spec.scope is None:
        return []
    return [{"cognito": [spec.scope]}, {"bearer": [spec.scope]}]
