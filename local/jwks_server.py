"""Serves the local issuer's JWKS over HTTP on loopback, as a real issuer (Cognito) would."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PATH = "/.well-known/jwks.json"


def serve_jwks(document: dict[str, Any], port: int = 0) -> tuple[ThreadingHTTPServer, str]:
    """Start a daemon thread serving `document`; returns the server and the JWKS URL."""
    body = json.dumps(document).encode("utf-8")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path != PATH:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, name="jwks", daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}{PATH}"
