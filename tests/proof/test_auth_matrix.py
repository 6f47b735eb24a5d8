"""The authorization matrix (issue 10, deliverable 6), generated from the registered routes and their
scopes (functions.core.http.ROUTES, the data of docs/routes.md): every route that needs a token,
times every way a caller can be wrong → 401 (the token) or 403 (the caller), problem+json with the exact
code, no data of any account beyond what the request carried, and nothing written.

Each request is built from the route's declaration: path parameters are real ids of account A, the
body is a valid body for the route's body model, so the refusal is the only reason it fails; the
positive case (an operator token with every scope) is sent last for every route and must succeed
with the route's status. A new route is covered automatically, and fails here until its body model
has a sample body.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

import app  # noqa: F401 - registers the route table (its modules: load_all() below)
from functions.core import ledger_store, route_loader
from functions.core.auth import READ, WRITE
from functions.core.http import ROUTES, RouteSpec
from functions.core.openapi import build_document
from tests.integration.auth_helpers import MALFORMED_HEADERS, alg_none_token, signed_by_another_key
from tests.integration.payments_helpers import WEBHOOK_SECRET
from tests.integration.render_helpers import drain_renders
from tests.proof.world import ALL_SCOPES, OPERATOR, Request, World, build_request, observed

route_loader.load_all()  # imports every route module: ROUTES then holds every route

pytestmark = pytest.mark.xdist_group("proof-auth-matrix")

PROBLEM = "application/problem+json"
PROBLEM_KEYS = {"type", "title", "status", "detail", "code", "errors"}
# Response headers a refusal may carry; anything else (Set-Cookie, Location, Idempotent-Replayed...) is a leak.
# `Vary: Origin` is on every response (CORS, functions/core/cors.py); these requests send no Origin, so
# no Access-Control-* header may appear.
REFUSAL_HEADERS = {"content-type", "content-length", "x-request-id", "www-authenticate", "vary"}
# A GET that writes: a PDF not stored yet (or stale) has its render queued and its request's marker put in S3.
PDF = "GET /v1/accounts/{account_id}/invoices/{invoice_id}/pdf"
WRITES_ON_GET = {PDF}
PUBLIC = {"GET /v1/health", "GET /v1/openapi.json", "POST /v1/webhooks/stripe"}

TOKEN_ROUTES = sorted((s for s in ROUTES if s.scope is not None), key=lambda s: (s.path, s.method))

KINDS = (
    "no token",
    "malformed",
    "alg none",
    "bad signature",
    "expired",
    "wrong audience",
    "revoked member",
    "other account",
    "missing scope",
)


def authorization(kind: str, spec: RouteSpec, w: World, mint: Any) -> str | None:
    """The Authorization header of one kind of wrong caller. Token problems carry every scope and
    the operator's subject, so the token is the only thing wrong; member problems are console users
    (read and write); the missing-scope token is A's owner with every scope but the route's."""
    every = list(ALL_SCOPES)
    bearer = {
        "no token": lambda: None,
        # each route gets one of the malformed headers, in turn
        "malformed": lambda: MALFORMED_HEADERS[TOKEN_ROUTES.index(spec) % len(MALFORMED_HEADERS)],
        "alg none": lambda: f"Bearer {alg_none_token(OPERATOR, every)}",
        "bad signature": lambda: f"Bearer {signed_by_another_key(OPERATOR, every)}",
        "expired": lambda: f"Bearer {mint(OPERATOR, *every, ttl=-120)}",
        "wrong audience": lambda: f"Bearer {mint(OPERATOR, *every, audience='another-app')}",
        "revoked member": lambda: f"Bearer {w.revoked_token}",
        "other account": lambda: f"Bearer {w.b.owner_token}",
        "missing scope": lambda: f"Bearer {mint(w.a.owner_sub, *(s for s in every if s != spec.scope))}",
    }
    return bearer[kind]()


def expected(kind: str, spec: RouteSpec) -> tuple[int, str]:
    if kind == "no token":
        return 401, "missing-token"
    if kind in ("malformed", "alg none", "bad signature", "expired", "wrong audience"):
        return 401, "invalid-token"
    if kind in ("revoked member", "other account"):
        # members hold the console's scopes: on member routes the guard refuses them; operator and
        # metering routes need a scope no member token has
        return 403, "not-a-member" if spec.scope in (READ, WRITE) else "insufficient-scope"
    return 403, "insufficient-scope"


# ids as "POST /v1/accounts/{account_id}/charges \u00d7 expired" (a multiplication sign)
CASES = [pytest.param(spec, kind, id=f"{spec.operation} \u00d7 {kind}") for spec in TOKEN_ROUTES for kind in KINDS]


def test_the_matrix_covers_every_route_that_needs_a_token():
    document = build_document()
    secured = {
        f"{method.upper()} {path}"
        for path, operations in document["paths"].items()
        for method, op in operations.items()
        if op["security"]
    }
    assert {s.operation for s in TOKEN_ROUTES} == secured
    assert {s.operation for s in ROUTES} - secured == PUBLIC
    assert len(TOKEN_ROUTES) >= 31 and len(CASES) == len(TOKEN_ROUTES) * len(KINDS) == len(secured) * 9


def _assert_refused(w: World, request: Request, status: int, body: Any, headers: dict[str, str], want: tuple):
    assert (status, body.get("code") if isinstance(body, dict) else body) == want
    assert headers["Content-Type"] == PROBLEM
    assert set(body) == PROBLEM_KEYS and body["type"] == body["code"] and body["status"] == status
    assert {h.lower() for h in headers} <= REFUSAL_HEADERS, headers
    if status == 401:
        assert headers["WWW-Authenticate"].startswith("Bearer")
    # no data: no id, name or e-mail of either account unless the request itself carried it
    text = json.dumps(body)
    secrets = (w.a.owned_ids() | w.b.owned_ids() | {w.a.name, w.b.name, w.a.email, w.b.email}) - {""}
    leaked = {s for s in secrets if s in text and s not in request.carried()}
    assert not leaked, f"the refusal shows {leaked}"


@pytest.mark.parametrize(("spec", "kind"), CASES)
def test_a_wrong_caller_is_refused_with_nothing_shown_and_nothing_written(world, mint, spec, kind):
    request = build_request(spec, world)
    header = authorization(kind, spec, world, mint)
    headers = dict(request.headers)
    if header is not None:
        headers["Authorization"] = header
    # the balance record carries the ledger's entry and invoice counters: one read instead of a scan
    before = ledger_store.get_balance(world.a.id)
    with observed(world) as effects:
        status, body, response_headers = world.call(request.method, request.path, request.body, headers=headers)
    _assert_refused(world, request, status, body, response_headers, expected(kind, spec))
    assert not effects, f"a refused request had effects: {effects}"
    assert ledger_store.get_balance(world.a.id) == before


@pytest.mark.parametrize("spec", TOKEN_ROUTES, ids=[f"{s.operation} \u00d7 valid" for s in TOKEN_ROUTES])
def test_the_same_request_with_a_valid_token_succeeds(world, spec):
    """The requests of the matrix are good ones: with a token of every scope they succeed (run after
    the matrix, as they change account A)."""
    request = build_request(spec, world)
    headers = {**request.headers, "Authorization": f"Bearer {world.operator}"}
    if spec.operation == PDF:  # (issue 21) the pdf-render worker stores it first, as the stack's queue pump does
        drain_renders(world.api.client)
    with observed(world) as effects:
        status, body, _ = world.call(request.method, request.path, request.body, headers=headers)
    assert status == spec.status, body
    # what the refusals are checked for is observable: every non-GET route writes to AWS or calls Stripe
    assert bool(effects) == (spec.method != "GET") or spec.operation in WRITES_ON_GET, effects


# --- the routes without a token ------------------------------------------------------------------


def test_health_and_openapi_answer_anyone_and_show_no_account_data(world):
    for path in ("/v1/health", "/v1/openapi.json"):
        for headers in ({}, {"Authorization": "Bearer not-a-jwt"}):
            status, body, response_headers = world.call("GET", path, headers=headers)
            assert status == 200 and response_headers["Content-Type"] == "application/json"
            assert "set-cookie" not in {h.lower() for h in response_headers}
            assert not {s for s in world.a.owned_ids() | {world.a.name, world.a.email} if s in json.dumps(body)}
    document = world.call("GET", "/v1/openapi.json")[1]
    assert len([op for ops in document["paths"].values() for op in ops]) == len(ROUTES)


@pytest.mark.parametrize(
    "signature",
    [None, "", "t=1,v1=deadbeef", "garbage", "stale", "other-secret"],
    ids=["no signature", "empty", "wrong digest", "garbage", "stale timestamp", "signed with another secret"],
)
def test_the_stripe_webhook_refuses_an_unsigned_or_badly_signed_event(world, monkeypatch, signature):
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET)
    event = world.helper.stripe_get("/v1/events?limit=1")["data"][0]  # a real event, as Stripe sent it
    if signature == "stale":
        body, header = world.helper.signed(event, at=int(datetime.now(UTC).timestamp()) - 3600)
    elif signature == "other-secret":
        body, header = world.helper.signed(event, secret="whsec_not_ours")
    else:
        body, header = json.dumps(event).encode(), signature
    headers = {"Content-Type": "application/json"}
    if header is not None:
        headers["Stripe-Signature"] = header
    before = (world.state(world.a.id), world.state(world.b.id))
    with observed(world) as effects:
        r = world.api.client.http.post("/v1/webhooks/stripe", headers=headers, body=body)
    problem = json.loads(r.body)
    assert (r.status_code, problem["code"]) == (400, "invalid-signature")
    assert r.headers["Content-Type"] == PROBLEM and set(problem) == PROBLEM_KEYS
    assert not effects, effects
    assert (world.state(world.a.id), world.state(world.b.id)) == before
