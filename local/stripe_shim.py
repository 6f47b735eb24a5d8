"""The Stripe side of the local stack: localstripe's API on 127.0.0.1, in memory, behind a small shim.

localstripe (a fake Stripe server) is run from here rather than with its `localstripe` command,
because that command listens on every interface (`::`) and pickles its whole store to
/tmp/localstripe.pickle after every change, even with --from-scratch. Instead we:

- serve localstripe's routes from our own aiohttp application, on a socket bound to 127.0.0.1
  (never another interface), in a daemon thread with its own event loop;
- swap localstripe's store for one that never touches the disk (no state file, nothing read back):
  a fresh start is always empty, like test mode after "delete all test data";
- keep its error and auth middlewares (a `sk_…` key, or a `pk_…` key on Stripe.js's routes) and its
  CORS headers, and leave out its save-to-disk middleware.

The shim then adds only what localstripe lacks, each addition copying a Stripe behaviour:

- **Idempotent requests** (https://docs.stripe.com/api/idempotent_requests): a POST with an
  `Idempotency-Key` saves the status and body of its first response; a repeat with the same key and
  the same endpoint and parameters gets that response again, with `Idempotent-Replayed: true`; the
  same key with other parameters is 400 `idempotency_error`; a repeat while the first is still
  running is 409. Nothing is saved when the request failed validation or authentication (localstripe
  answers 400/401 before changing anything) or was rate limited. Keys are scoped to the API key and
  expire after 24 hours. GET and DELETE ignore the header, as Stripe does.
- **The request log** (the Dashboard's Developers → Logs): every request's method, path and status,
  which the tests and `make bench` read to count Stripe calls.
- **The local Stripe.js** (local/stripe_js_additions.py + .js): localstripe's Stripe.js with
  createPaymentMethod, confirmCardPayment and confirmCardSetup completed, and the publishable-key
  calls they make (confirm and retrieve a PaymentIntent with its client secret).
- **Payments** (local/stripe_additions.py): PayPal PaymentIntents with a local approval URL, declines
  that carry the PaymentIntent, 402 `authentication_required` off-session, `return_url` and refund
  `reason` accepted, `charge.refunded` events, disputes raised and closed by tests, refunds that fail
  after the fact (`charge.refund.updated`), and PaymentIntents listed by customer and creation time.

Webhooks use localstripe's own registration (`POST /_config/webhooks/<id>` with url, secret and
events) and its signed deliveries (`Stripe-Signature: t=…,v1=…`, HMAC-SHA256 as Stripe signs them).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import socket
import threading
import time
import warnings
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from local import stripe_additions, stripe_js_additions

HOST = "127.0.0.1"
IDEMPOTENCY_TTL_SECONDS = 24 * 3600
# Stripe does not save these: the endpoint did not start (validation, authentication, rate limit).
_NOT_SAVED = {400, 401, 429}


def _memory_store() -> None:
    """Make localstripe's global store in-memory only (idempotent; affects this process)."""
    from localstripe import resources

    if getattr(resources.store.__class__, "billow_memory_only", False):
        return

    class MemoryStore(resources.Store):
        billow_memory_only = True

        def try_load_from_disk(self) -> None:
            pass

        def dump_to_disk(self) -> None:
            pass

    resources.store.__class__ = MemoryStore


@dataclass
class _Saved:
    fingerprint: str
    status: int
    body: bytes
    content_type: str
    saved_at: float


@dataclass
class LoggedRequest:
    method: str
    path: str
    status: int
    idempotency_key: str | None
    replayed: bool


# localstripe keeps its objects (customers, PaymentIntents, charges, events) in ONE process-wide store,
# so every shim started in a process sees the same Stripe account; the objects the shim adds (PayPal
# approvals, disputes, refund reasons and failures) live process-wide too, or a dispute raised through
# one shim would be unknown to a client of another (the test session's long-lived shim and a test's own).
_PROCESS_ADDITIONS = stripe_additions.AdditionsState()


@dataclass
class ShimState:
    saved: dict[tuple[str, str], _Saved] = field(default_factory=dict)
    running: set[tuple[str, str]] = field(default_factory=set)
    log: list[LoggedRequest] = field(default_factory=list)
    additions: stripe_additions.AdditionsState = field(default_factory=lambda: _PROCESS_ADDITIONS)


def _api_key(request: web.Request) -> str:
    return request.headers.get("Authorization", "").split(" ")[-1]


def _error(status: int, kind: str, message: str, code: str | None = None) -> web.Response:
    error = {"type": kind, "message": message} | ({"code": code} if code else {})
    return web.json_response({"error": error}, status=status)


async def _fingerprint(request: web.Request) -> str:
    """The endpoint and its parameters, independent of their order in the body."""
    raw = await request.read()  # aiohttp keeps it, so localstripe's handler reads it again
    try:
        params: Any = json.loads(raw) if raw.strip().startswith(b"{") else sorted(parse_qsl(raw.decode()))
    except (ValueError, UnicodeDecodeError):
        params = raw.hex()
    query = sorted(request.query.items())
    canonical = json.dumps([request.method, request.path, query, params], sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _idempotency(state: ShimState) -> Any:
    @web.middleware
    async def middleware(request: web.Request, handler: Any) -> web.StreamResponse:
        key = request.headers.get("Idempotency-Key")
        if request.method != "POST" or not key:
            return await handler(request)
        scope = (_api_key(request), key)
        fingerprint = await _fingerprint(request)
        saved = state.saved.get(scope)
        if saved is not None and time.time() - saved.saved_at > IDEMPOTENCY_TTL_SECONDS:
            del state.saved[scope]
            saved = None
        if saved is not None:
            if saved.fingerprint != fingerprint:
                return _error(
                    400,
                    "idempotency_error",
                    "Keys for idempotent requests can only be used with the same parameters they were first "
                    f"used with. Try using a key other than '{key}' if you meant to execute a different request.",
                )
            response = web.Response(body=saved.body, status=saved.status, content_type=saved.content_type)
            response.headers["Idempotent-Replayed"] = "true"
            response.headers["Idempotency-Key"] = key
            return response
        if scope in state.running:
            return _error(
                409,
                "idempotency_error",
                "There is currently another in-progress request using this Idempotent Key (that probably means "
                "you submitted twice, and the other request is still going through)",
                code="idempotency_key_in_use",
            )
        state.running.add(scope)
        try:
            response = await handler(request)
        finally:
            state.running.discard(scope)
        body = response.body if isinstance(response, web.Response) else None
        if response.status not in _NOT_SAVED and isinstance(body, bytes):
            state.saved[scope] = _Saved(fingerprint, response.status, body, response.content_type, time.time())
        response.headers["Idempotency-Key"] = key
        return response

    return middleware


def _request_log(state: ShimState) -> Any:
    @web.middleware
    async def middleware(request: web.Request, handler: Any) -> web.StreamResponse:
        response = await handler(request)
        if not request.path.startswith(("/_config/", "/js.stripe.com/", "/_shim/")):
            state.log.append(
                LoggedRequest(
                    method=request.method,
                    path=request.path,
                    status=response.status,
                    idempotency_key=request.headers.get("Idempotency-Key"),
                    replayed=response.headers.get("Idempotent-Replayed") == "true",
                )
            )
        return response

    return middleware


def build_app(state: ShimState) -> web.Application:
    """localstripe's routes and middlewares (minus its save-to-disk one), behind the shim's."""
    _memory_store()
    with warnings.catch_warnings():  # localstripe's module-level app registers plain-function handlers
        warnings.simplefilter("ignore", DeprecationWarning)
        from localstripe import server

    app = web.Application(
        middlewares=[
            _request_log(state),
            _idempotency(state),
            server.error_middleware,
            stripe_additions.public_middleware(state.additions),
            stripe_js_additions.middleware(),
            server.auth_middleware,
            stripe_additions.api_middleware(state.additions),
        ]
    )
    app.on_response_prepare.append(server.add_cors_headers)
    for route in server.app.router.routes():
        app.router.add_route(route.method, route.resource.canonical, _as_coroutine(route.handler))
    return app


def _as_coroutine(handler: Any) -> Any:
    """localstripe registers plain functions for its GET and DELETE routes, which aiohttp deprecates."""
    if asyncio.iscoroutinefunction(handler):
        return handler

    async def wrapped(request: web.Request) -> web.StreamResponse:
        return handler(request)

    return wrapped


class StripeServer:
    """localstripe + shim on HOST:port in a daemon thread; `url`, `state.log`, `stop()`."""

    def __init__(self, port: int = 0, host: str = HOST) -> None:
        self.state = ShimState()
        # Bind here, in the caller's thread, so a port in use fails start() with the OSError.
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self._sock.bind((host, port))
        except OSError:
            self._sock.close()
            raise
        self.host, self.port = self._sock.getsockname()[:2]
        self.url = f"http://{self.host}:{self.port}"
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=f"stripe-{self.port}", daemon=True)

    def start(self, timeout: float = 10.0) -> StripeServer:
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError("the Stripe shim did not start")
        if self._error is not None:
            raise self._error
        return self

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        runner = web.AppRunner(build_app(self.state), access_log=None, shutdown_timeout=0.5)
        try:
            self._loop.run_until_complete(runner.setup())
            self._loop.run_until_complete(web.SockSite(runner, self._sock).start())
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            # webhook deliveries localstripe scheduled (each sleeps 1 s first) are dropped on stop
            for task in asyncio.all_tasks(self._loop):
                task.cancel()
            self._loop.run_until_complete(runner.cleanup())
            self._loop.close()

    def stop(self, timeout: float = 5.0) -> None:
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout)
        self._sock.close()

    def log_size(self) -> int:
        """How many requests the log holds: pass it as `since` later to read only what came after."""
        return len(self.state.log)

    def requests(self, method: str | None = None, path_prefix: str = "", since: int = 0) -> list[LoggedRequest]:
        """The request log from entry `since` on, optionally filtered (a snapshot)."""
        return [
            r
            for r in self.state.log[since:]
            if (method is None or r.method == method) and r.path.startswith(path_prefix)
        ]
