"""The local webhook receiver (DESIGN §5 v4): what a provider's system would run, on 127.0.0.1:8422.

`make run` starts it and registers it as an endpoint for every event type ("*"); it verifies each
delivery's Standard Webhooks signature with the endpoint's secret (functions/events/signing.py `verify`,
the `standardwebhooks` package), keeps what it got in memory, and answers:

    POST /hooks       a delivery: 204 when the signature is valid, 400 when not (kept, marked invalid)
    GET  /events      what it got, oldest first: [{id, type, account_id, sequence, signature_valid,
                      received_at, headers: {webhook-id, webhook-timestamp, webhook-signature}, event}]
    POST /script      {"account_id", "fail": n, "status": 500}: answer the next n deliveries of that
                      account's events with `status` (the e2e's "a receiver answering 500 twice")

Tests script its answers: `fail_next(n, status)` answers the next n deliveries with `status`, `hang`
sleeps past the deliverer's timeout, `redirect` answers 302, `huge` sends a body of many megabytes.
Never deployed (local/ is not packaged)."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from functions.events.signing import verify

DEFAULT_PORT = 8422


class WebhookReceiver:
    def __init__(self, host: str = "127.0.0.1", port: int = 0, secret: str | None = None) -> None:
        self.secrets: list[str] = [secret] if secret else []
        self.received: list[dict[str, Any]] = []
        self.requests = 0
        self.script: list[str] = []  # one entry per coming delivery: "500", "hang", "redirect", "huge"
        self.hang_seconds = 15.0
        self.fail_for: dict[str, list[str]] = {}  # account id -> scripted answers for its events
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer((host, port), self._handler())
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.url = f"http://{host}:{self.port}/hooks"

    def start(self) -> WebhookReceiver:
        threading.Thread(target=self._server.serve_forever, name="webhook-receiver", daemon=True).start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def fail_next(self, n: int, status: int = 500) -> None:
        with self._lock:
            self.script.extend([str(status)] * n)

    def then(self, *behaviours: str) -> None:
        with self._lock:
            self.script.extend(behaviours)

    def valid(self) -> list[dict[str, Any]]:
        with self._lock:
            return [r for r in self.received if r["signature_valid"]]

    def _take(self, body: bytes, headers: dict[str, str]) -> tuple[str, bool]:
        valid = False
        for secret in list(self.secrets):
            try:
                verify(secret, body, headers)
                valid = True
                break
            except Exception:  # noqa: S112 - another secret may match (rotation)
                continue
        try:
            event = json.loads(body)
        except ValueError:
            event = {}
        with self._lock:
            self.requests += 1
            scripted = self.fail_for.get(str(event.get("account_id")) if isinstance(event, dict) else "")
            if scripted:
                behaviour = scripted.pop(0)
            else:
                behaviour = self.script.pop(0) if self.script else "ok"
            if behaviour == "ok":
                self.received.append(_entry(event if isinstance(event, dict) else {}, headers, valid))
        return behaviour, valid

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet: the stack prints its own lines
                pass

            def do_GET(self) -> None:
                if self.path.split("?")[0] != "/events":
                    return self._answer(404, b'{"error":"not found"}')
                with receiver._lock:
                    payload = json.dumps(receiver.received).encode()
                self._answer(200, payload)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                if self.path == "/script":
                    order = json.loads(body)
                    with receiver._lock:
                        receiver.fail_for[order["account_id"]] = [str(order.get("status", 500))] * int(order["fail"])
                    return self._answer(204, b"")
                behaviour, valid = receiver._take(body, {k.lower(): v for k, v in self.headers.items()})
                if behaviour == "hang":
                    time.sleep(receiver.hang_seconds)
                    return self._answer(204, b"")
                if behaviour == "redirect":
                    self.send_response(302)
                    self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return None
                if behaviour == "huge":
                    return self._huge()
                if behaviour != "ok":
                    return self._answer(int(behaviour), b'{"error":"scripted failure"}')
                self._answer(204 if valid else 400, b"")

            def _huge(self) -> None:
                self.send_response(500)
                self.send_header("Content-Length", str(64 * 1024 * 1024))
                self.end_headers()
                try:
                    for _ in range(1024):
                        self.wfile.write(b"x" * 65536)
                except OSError:
                    pass  # the deliverer stopped reading: as it should

            def _answer(self, status: int, payload: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if payload:
                    self.wfile.write(payload)

        return Handler


def _entry(event: dict[str, Any], headers: dict[str, str], valid: bool) -> dict[str, Any]:
    return {
        "id": event.get("id"),
        "type": event.get("type"),
        "account_id": event.get("account_id"),
        "sequence": event.get("sequence"),
        "signature_valid": valid,
        "received_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "headers": {k: headers.get(k) for k in ("webhook-id", "webhook-timestamp", "webhook-signature")},
        "event": event,
    }
