"""The billing console's static server for `make run` (DESIGN §8): console/ on 127.0.0.1:3000.

- Binds 127.0.0.1 only. When the port is taken it tries the next ones, then any free port: the
  console's origin is whatever it bound, and the launcher adds that origin to the API's CORS origins.
- Serves `/config.json` from memory — the URLs and keys of the running stack (`console_config`) — and
  writes the same document to console/config.json (git-ignored) for anyone serving console/ another way.
- Files only: no directory listings, nothing outside the served folder (http.server refuses `..`),
  `Cache-Control: no-store` (an edited file shows on the next reload) and ES-module MIME types.
"""

from __future__ import annotations

import json
import os
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"
REPO_DIR = Path(__file__).resolve().parent.parent
CONSOLE_DIR = REPO_DIR / "console"
PORT_TRIES = 10  # 3000, 3001, … 3009, then any free port


def console_config(
    api_url: str, stripe_url: str, publishable_key: str, *, demo_users: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """console/config.json as `make run` writes it (docs/console.md "Running it" lists the fields).
    `cognito` is null locally (sign-in with a token); a deployed stage's config names its user pool's
    hosted UI: {domain, clientId, redirectUri, scope}. `demoUsers` exists only locally."""
    return {
        "apiUrl": api_url,
        "stripeUrl": stripe_url,
        "stripeJsUrl": f"{stripe_url}/js.stripe.com/v3/",
        "publishableKey": publishable_key,
        "cognito": None,
        "locale": "en",
        "demoUsers": demo_users or [],
    }


class _Handler(SimpleHTTPRequestHandler):
    extensions_map = {
        **SimpleHTTPRequestHandler.extensions_map,
        ".js": "text/javascript",
        ".mjs": "text/javascript",
        ".json": "application/json",
        ".svg": "image/svg+xml",
        ".woff2": "font/woff2",
    }

    def __init__(self, *args: Any, config: dict[str, Any] | None, fallback: Path | None = None, **kwargs: Any) -> None:
        self._config = config
        self._fallback = fallback
        super().__init__(*args, **kwargs)

    def translate_path(self, path: str) -> str:
        """A file missing from the served folder is looked up in the fallback folder (the harness's test
        pages import console/ modules next to their own)."""
        local = super().translate_path(path)
        if self._fallback is not None and not os.path.exists(local):
            relative = os.path.relpath(local, self.directory)
            candidate = os.path.join(self._fallback, relative)
            if not relative.startswith("..") and os.path.isfile(candidate):
                return candidate
        return local

    def do_GET(self) -> None:
        if self.path.split("?", 1)[0] == "/config.json" and self._config is not None:
            body = json.dumps(self._config, indent=2).encode("utf-8")
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        if self.path == "/favicon.ico" and not (Path(self.directory) / "favicon.ico").exists():
            self.send_response(204)  # browsers ask for it unprompted: no 404 in the console's error log
            self.end_headers()
            return
        super().do_GET()

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        super().end_headers()

    def list_directory(self, path: str | os.PathLike[str]) -> None:  # type: ignore[override]
        self.send_error(404, "Not found")
        return None

    def log_message(self, format: str, *args: Any) -> None:
        pass


class ConsoleServer:
    """A static server in a daemon thread: `url` (its origin), `stop()`."""

    def __init__(
        self,
        root: Path = CONSOLE_DIR,
        port: int = 3000,
        config: dict[str, Any] | None = None,
        fallback: Path | None = None,
    ) -> None:
        self.root = Path(root)
        self.config = config
        self.fallback = fallback
        handler = partial(_Handler, directory=str(self.root), config=config, fallback=fallback)
        self.server = _bind(handler, port)
        self.port = self.server.server_address[1]
        self.url = f"http://{HOST}:{self.port}"
        self._thread = threading.Thread(target=self.server.serve_forever, name="console", daemon=True)

    def start(self) -> ConsoleServer:
        self._thread.start()
        return self

    def set_config(self, config: dict[str, Any]) -> None:
        """The config served from now on (the launcher knows the tokens only after the API is up)."""
        self.config = config
        self.server.RequestHandlerClass = partial(  # type: ignore[assignment]
            _Handler, directory=str(self.root), config=config, fallback=self.fallback
        )

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(5)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False


def _bind(handler: Any, port: int) -> ThreadingHTTPServer:
    """`port`, else the next ones, else any free port (port 0 binds exactly that: any)."""
    candidates = [port + n for n in range(PORT_TRIES) if port + n < 65536] if port else []
    last: OSError | None = None
    for candidate in [*candidates, 0]:
        try:
            return _Server((HOST, candidate), handler)
        except OSError as exc:
            last = exc
    raise last or OSError("no port")


def write_config(config: dict[str, Any], path: Path) -> Path:
    """console/config.json (mode 600: locally it holds the demo users' tokens)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")
    tmp.replace(path)
    return path
