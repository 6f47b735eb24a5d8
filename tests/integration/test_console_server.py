"""The console's static server for `make run` (local/console_server.py, local/console.py): loopback only,
the next free port when its own is taken — and then the API's CORS origins follow the port it bound —,
config.json served from memory and written to disk, files only."""

from __future__ import annotations

import http.client
import json
import os
import socket
import stat

import pytest
import requests

from local import console
from local.console_server import ConsoleServer, console_config, write_config


@pytest.fixture
def site(tmp_path):
    (tmp_path / "index.html").write_text("<!doctype html><title>x</title>")
    (tmp_path / "app.js").write_text("export const x = 1;")
    (tmp_path / "pages").mkdir()
    (tmp_path / "pages" / "a.js").write_text("export const a = 1;")
    server = ConsoleServer(tmp_path, port=0, config={"apiUrl": "http://127.0.0.1:8000"}).start()
    yield server
    server.stop()


def test_it_serves_files_with_module_types_and_no_cache(site):
    index = requests.get(f"{site.url}/", timeout=5)
    assert index.status_code == 200 and index.headers["Cache-Control"] == "no-store"
    module = requests.get(f"{site.url}/app.js", timeout=5)
    assert module.headers["Content-Type"] == "text/javascript"
    assert site.url.startswith("http://127.0.0.1:")


def test_config_json_is_served_from_memory_and_follows_set_config(site):
    assert requests.get(f"{site.url}/config.json", timeout=5).json() == {"apiUrl": "http://127.0.0.1:8000"}
    site.set_config({"apiUrl": "http://127.0.0.1:9999"})
    assert requests.get(f"{site.url}/config.json", timeout=5).json() == {"apiUrl": "http://127.0.0.1:9999"}


def test_no_listing_no_escape_and_no_favicon_404(site):
    assert requests.get(f"{site.url}/pages/", timeout=5).status_code == 404
    conn = http.client.HTTPConnection("127.0.0.1", site.port, timeout=5)
    conn.request("GET", "/../../../../etc/passwd")  # sent as is (requests would normalise it)
    escaped = conn.getresponse()
    assert escaped.status == 404 and b"root:" not in escaped.read()
    assert requests.get(f"{site.url}/favicon.ico", timeout=5).status_code == 204


def test_a_taken_port_moves_to_the_next_one(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = ConsoleServer(tmp_path, port=port)
        try:
            assert server.port != port and server.url == f"http://127.0.0.1:{server.port}"
        finally:
            server.server.server_close()


def test_the_api_s_cors_origins_follow_the_bound_port(tmp_path, monkeypatch):
    monkeypatch.setenv("BILLOW_CONSOLE_DIR", str(tmp_path))
    monkeypatch.setenv("BILLOW_CORS_ORIGINS", "http://127.0.0.1:4444")
    monkeypatch.setenv("BILLOW_CONSOLE_URL", "")
    monkeypatch.setenv("BILLOW_PAYPAL_RETURN_ORIGINS", "")
    server = console.start_server(0)
    try:
        origins = os.environ["BILLOW_CORS_ORIGINS"].split(",")
        assert origins[:2] == ["http://127.0.0.1:3000", "http://localhost:3000"]
        assert {server.url, f"http://localhost:{server.port}", "http://127.0.0.1:4444"} <= set(origins)
        assert server.url in os.environ["BILLOW_PAYPAL_RETURN_ORIGINS"].split(",")
        assert os.environ["BILLOW_CONSOLE_URL"] == server.url
    finally:
        server.stop()


def test_the_written_config_is_private_and_names_the_stack(tmp_path):
    config = console_config("http://127.0.0.1:8000", "http://127.0.0.1:8420", "pk_test_x")
    path = write_config(config, tmp_path / "console" / "config.json")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    written = json.loads(path.read_text())
    assert written["stripeJsUrl"] == "http://127.0.0.1:8420/js.stripe.com/v3/"
    assert (written["cognito"], written["locale"]) == (None, "en")
    url = console.signin_url("http://127.0.0.1:3000", "a.b.c", "acct_1")
    assert url == "http://127.0.0.1:3000/#/signin?token=a.b.c&account=acct_1"
