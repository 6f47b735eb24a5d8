"""CORS done by billow (DESIGN §8, functions/core/cors.py): the request's Origin is echoed only when it is one
of the stage's console origins, on every response — errors included —, `Vary: Origin` always, and an
OPTIONS route on every path answers preflights (Idempotency-Key allowed). Chalice's test client drives
the app itself; tests/integration/test_local_api_server.py covers the local server's own answers."""

from __future__ import annotations

import json

import pytest
from chalice.test import Client

from app import app
from functions.core import cors
from functions.core.settings import LOCAL_CONSOLE_ORIGINS, get_settings, reset_settings

CONSOLE = "http://127.0.0.1:3000"
ELSEWHERE = "https://evil.example"
EXPOSED = "X-Request-Id, Idempotent-Replayed, Retry-After, Location"
ITEM_CANCELLATION = "/v1/accounts/acct_demo/billing-items/item_demo/cancellation"
CORS_HEADERS = {
    "Access-Control-Allow-Origin",
    "Access-Control-Expose-Headers",
    "Access-Control-Allow-Methods",
    "Access-Control-Allow-Headers",
    "Access-Control-Max-Age",
    "Access-Control-Allow-Credentials",
}


@pytest.fixture(scope="module")
def client():
    with Client(app) as c:
        yield c


def allowed(response, origin: str = CONSOLE) -> None:
    assert response.headers["Access-Control-Allow-Origin"] == origin
    assert response.headers["Access-Control-Expose-Headers"] == EXPOSED
    assert response.headers["Vary"] == "Origin"
    assert "Access-Control-Allow-Credentials" not in response.headers  # tokens, never cookies


def none_of_it(response) -> None:
    assert CORS_HEADERS & set(response.headers) == set(), response.headers
    assert response.headers["Vary"] == "Origin"  # a cache must still keep answers per origin apart


def test_the_test_and_local_stages_allow_the_console_make_run_serves():
    assert get_settings().cors_origins == LOCAL_CONSOLE_ORIGINS == (CONSOLE, "http://localhost:3000")


def test_a_200_carries_the_allowed_origin(client):
    response = client.http.get("/v1/health", headers={"Origin": CONSOLE})
    assert response.status_code == 200
    allowed(response)
    response = client.http.get("/v1/health", headers={"Origin": "http://localhost:3000"})
    allowed(response, "http://localhost:3000")


def test_a_401_problem_carries_it_too(client):
    response = client.http.get("/v1/accounts/acct_demo/summary", headers={"Origin": CONSOLE})
    assert (response.status_code, response.headers["Content-Type"]) == (401, "application/problem+json")
    allowed(response)


def test_chalice_s_own_405_made_problem_json_carries_it(client):
    response = client.http.put("/v1/health", headers={"Origin": CONSOLE})
    assert response.status_code == 405 and json.loads(response.body)["code"] == "method-not-allowed"
    allowed(response)


def test_a_500_mapped_from_an_unexpected_error_carries_it(client, monkeypatch):
    import functions.core.routes as platform

    def broken() -> dict:
        raise RuntimeError("boom")

    monkeypatch.setattr(platform, "build_document", broken)
    response = client.http.get("/v1/openapi.json", headers={"Origin": CONSOLE})
    assert response.status_code == 500 and json.loads(response.body)["code"] == "internal-error"
    allowed(response)


def test_another_origin_gets_no_cors_header_on_success_or_error(client):
    none_of_it(client.http.get("/v1/health", headers={"Origin": ELSEWHERE}))
    none_of_it(client.http.get("/v1/accounts/acct_demo/summary", headers={"Origin": ELSEWHERE}))
    none_of_it(client.http.get("/v1/health", headers={"Origin": "http://127.0.0.1:3001"}))  # another port
    none_of_it(client.http.get("/v1/health"))  # no Origin: not a browser's cross-origin call


def test_a_preflight_on_an_item_route_allows_idempotency_key_and_the_path_s_methods(client):
    response = client.http.options(
        ITEM_CANCELLATION,
        headers={
            "Origin": CONSOLE,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type,idempotency-key",
        },
    )
    assert response.status_code == 204 and response.body in (b"", "", None)
    allowed(response)
    assert response.headers["Access-Control-Allow-Methods"] == "DELETE, OPTIONS, POST"
    allowed_headers = {h.strip().lower() for h in response.headers["Access-Control-Allow-Headers"].split(",")}
    assert allowed_headers == {"authorization", "content-type", "idempotency-key"}
    assert int(response.headers["Access-Control-Max-Age"]) > 0


def test_a_preflight_needs_no_token_and_another_origin_gets_nothing_to_go_on(client):
    response = client.http.options(
        ITEM_CANCELLATION, headers={"Origin": ELSEWHERE, "Access-Control-Request-Method": "POST"}
    )
    assert response.status_code == 204
    none_of_it(response)


def test_every_path_s_preflight_lists_exactly_its_methods(client):
    for path, methods in app.routes.items():
        concrete = path.replace("{", "").replace("}", "")
        response = client.http.options(concrete, headers={"Origin": CONSOLE, "Access-Control-Request-Method": "GET"})
        assert response.status_code == 204, path
        assert set(response.headers["Access-Control-Allow-Methods"].split(", ")) == set(methods), path


def test_a_deployed_stage_allows_only_the_origins_it_names(monkeypatch):
    monkeypatch.setenv("BILLOW_STAGE", "prod")
    monkeypatch.delenv("BILLOW_CORS_ORIGINS", raising=False)
    reset_settings()
    try:
        assert get_settings().cors_origins == ()
        monkeypatch.setenv("BILLOW_CORS_ORIGINS", "https://console.example.com/, https://m.example.com")
        reset_settings()
        assert get_settings().cors_origins == ("https://console.example.com", "https://m.example.com")
        assert cors.allowed_origin({"origin": "https://m.example.com"}) == "https://m.example.com"
        assert cors.allowed_origin({"origin": CONSOLE}) is None
    finally:
        monkeypatch.undo()
        reset_settings()


def test_an_existing_vary_keeps_its_values():
    headers = {"vary": "Accept-Encoding"}
    cors.add_cors_headers({"origin": CONSOLE}, headers)
    assert headers["vary"] == "Accept-Encoding, Origin"
    cors.add_cors_headers({"origin": CONSOLE}, headers)
    assert headers["vary"] == "Accept-Encoding, Origin"
