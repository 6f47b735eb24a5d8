"""The local API server (local/api_server.py) over real HTTP: methods it has no handler for and requests
http.server refuses itself are problem+json like every other error (issue 14 hole 7), never the 501 HTML
page of http.server. A small Chalice app stands in for billow's (the server, not the app, is under test)."""

from __future__ import annotations

import http.client
import json
import socket
import threading
from collections.abc import Iterator

import pytest
from chalice import Chalice
from chalice.config import Config

from local.api_server import PROBLEM, create_server

PROBLEM_KEYS = {"type", "title", "status", "detail", "code", "errors"}


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, int]]:
    app = Chalice(app_name="billow-local-server-test")

    @app.route("/v1/health", methods=["GET"])
    def health() -> dict:
        return {"status": "ok"}

    @app.route("/v1/things/{thing_id}", methods=["GET", "DELETE"])
    def thing(thing_id: str) -> dict:
        return {"id": thing_id}

    config = Config.create(chalice_app=app, app_name=app.app_name, stage="local", lambda_timeout=30)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    dev = create_server(app, config, "127.0.0.1", port)
    thread = threading.Thread(target=dev.serve_forever, daemon=True)
    thread.start()
    yield "127.0.0.1", port
    dev.server.shutdown()
    dev.server.server_close()


def _request(server: tuple[str, int], method: str, path: str, body: bytes | None = None, connection=None):
    conn = connection or http.client.HTTPConnection(*server, timeout=10)
    conn.request(method, path, body=body, headers={"Content-Type": "application/json"} if body else {})
    response = conn.getresponse()
    return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()


def _problem(status: int, headers: dict[str, str], body: bytes, want: tuple[int, str]) -> dict:
    assert headers["content-type"] == PROBLEM, (status, headers, body)
    problem = json.loads(body)
    assert set(problem) == PROBLEM_KEYS and problem["type"] == problem["code"]
    assert (status, problem["status"], problem["code"]) == (want[0], want[0], want[1])
    return problem


@pytest.mark.parametrize("method", ["TRACE", "PROPFIND", "CONNECT", "MKCOL", "LOCK", "BREW", "X-ANYTHING"])
def test_a_method_the_server_does_not_know_is_405_problem_json_with_allow(server, method):
    status, headers, body = _request(server, method, "/v1/health")
    _problem(status, headers, body, (405, "method-not-allowed"))
    assert headers["allow"] == "GET"
    status, headers, body = _request(server, method, "/v1/things/t_1?x=%C3%A9")
    _problem(status, headers, body, (405, "method-not-allowed"))
    assert headers["allow"] == "DELETE, GET"


def test_an_unknown_method_on_an_unknown_path_is_405_problem_json(server):
    status, headers, body = _request(server, "TRACE", "/v1/nowhere")
    _problem(status, headers, body, (405, "method-not-allowed"))
    assert "allow" not in headers


def test_an_unknown_method_with_a_body_leaves_the_connection_usable(server):
    conn = http.client.HTTPConnection(*server, timeout=10)
    status, headers, body = _request(server, "PROPFIND", "/v1/health", b'{"a": 1}', connection=conn)
    _problem(status, headers, body, (405, "method-not-allowed"))
    status, _, body = _request(server, "GET", "/v1/health", connection=conn)
    assert (status, json.loads(body)) == (200, {"status": "ok"})


@pytest.mark.parametrize(
    "raw",
    [
        b"GET\r\n\r\n",  # a request line without a path
        b"GET /v1/health HTTP/9.9\r\n\r\n",  # an HTTP version the server does not speak
        b"GET /v1/" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n",  # an over-long request line
        b"GET /v1/health HTTP/1.1\r\n" + b"X-Big: " + b"a" * 70_000 + b"\r\n\r\n",  # an over-long header
    ],
    ids=["no path", "HTTP/9.9", "long request line", "long header"],
)
def test_what_http_server_refuses_itself_is_problem_json(server, raw):
    with socket.create_connection(server, timeout=10) as sock:
        sock.sendall(raw)
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    head, _, body = reply.partition(b"\r\n\r\n")
    status = int(head.split(b" ")[1])
    headers = {
        k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in head.decode().split("\r\n")[1:])
    }
    assert 400 <= status < 500, reply[:300]
    _problem(status, headers, body, (status, "method-not-allowed" if status == 405 else "bad-request"))


def test_known_methods_still_reach_the_app(server):
    status, _, body = _request(server, "GET", "/v1/things/t_9")
    assert (status, json.loads(body)) == (200, {"id": "t_9"})


def _with_origin(server: tuple[str, int], method: str, path: str, origin: str):
    conn = http.client.HTTPConnection(*server, timeout=10)
    conn.request(method, path, headers={"Origin": origin, "Access-Control-Request-Method": "GET"})
    response = conn.getresponse()
    return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()


def test_options_reaches_the_app_instead_of_chalice_local_s_own_preflight_answer(server):
    """billow answers preflights itself (functions/core/cors.py): this app declares no OPTIONS route, so
    the app's 405 comes back — chalice local would have answered 200 `Allow-Methods: OPTIONS` itself."""
    status, headers, _ = _with_origin(server, "OPTIONS", "/v1/health", "http://127.0.0.1:3000")
    assert status == 405
    assert headers.get("access-control-allow-methods") != "OPTIONS"


def test_the_server_s_own_404_carries_cors_for_a_console_origin_only(server):
    status, headers, body = _with_origin(server, "GET", "/v1/nowhere", "http://127.0.0.1:3000")
    _problem(status, headers, body, (404, "route-not-found"))
    assert headers["access-control-allow-origin"] == "http://127.0.0.1:3000"
    assert headers["vary"] == "Origin"
    status, headers, body = _with_origin(server, "GET", "/v1/nowhere", "https://evil.example")
    _problem(status, headers, body, (404, "route-not-found"))
    assert "access-control-allow-origin" not in headers
