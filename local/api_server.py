"""`chalice local`, run in-process, with unknown paths answered 404 problem+json.

Choice: the API runs inside the launcher process (a thread), not as a `chalice local` subprocess.
`chalice local` answers a path that matches no route with API Gateway's own
403 `{"message": "Missing Authentication Token"}` before the app (and its problem+json middleware)
ever runs; the contract wants every error as problem+json, so unknown paths must be a 404
`route-not-found`. Chalice has no hook for that, so we build the same server `chalice local` builds,
through chalice's own CLI factory and config loader, and swap in a LocalGateway subclass that turns
"no route matches" into the problem. What `chalice local --stage <stage>` does and this keeps:

- the stage's environment variables from .chalice/config.json are applied to os.environ before
  app.py is imported (CLIFactory(environ=os.environ).create_config_obj(...).chalice_app, exactly as
  the chalice CLI does), so BILLOW_TABLE_PREFIX etc. come from the stage, over inherited values;
- vendor/ is put on sys.path, routes are validated as `chalice deploy` would (validate_routes);
- the app is made a LocalChalice (thread-local current_request) and served by chalice's threaded
  LocalDevServer with its request handler, Lambda event conversion and Lambda context (timeout and
  memory from the config); only a client hanging up mid-response is no longer printed as a traceback.

What it changes besides: OPTIONS is passed to the app (billow answers CORS preflights itself, for the
stage's origins: functions/core/cors.py), and its own 404/405 problems carry the CORS headers.

What it drops: the auto-reloader (the launcher is restarted instead). In AWS, API Gateway's own
responses for unknown paths are made problem+json by gateway responses in the CDK stack.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

from chalice.cli.factory import CLIFactory
from chalice.config import Config
from chalice.deploy.validate import validate_routes
from chalice.local import (
    ChaliceRequestHandler,
    CustomLocalChalice,
    LocalChalice,
    LocalDevServer,
    LocalGateway,
    LocalGatewayException,
    RouteMatcher,
    ThreadedHTTPServer,
)

PROBLEM = "application/problem+json"
REPO_DIR = Path(__file__).resolve().parent.parent


class RouteNotFound(LocalGatewayException):
    """No route matches the path: 404 problem+json, as every other error of the API."""

    CODE = 404

    def __init__(self, path: str) -> None:
        clean = path.split("?", 1)[0]
        body = {
            "type": "route-not-found",
            "title": "Not found",
            "status": 404,
            "detail": f"no route matches {clean}; see /v1/openapi.json for the routes",
            "code": "route-not-found",
            "errors": [],
        }
        super().__init__({"Content-Type": PROBLEM}, json.dumps(body).encode("utf-8"))


class MethodNotAllowed(LocalGatewayException):
    """A method the server has no handler for (TRACE, PROPFIND, …): 405 problem+json, not http.server's
    501 HTML page. `Allow` lists the route's methods when the path is one of the API's."""

    CODE = 405

    def __init__(self, method: str, allowed: list[str]) -> None:
        body = {
            "type": "method-not-allowed",
            "title": "Method not allowed",
            "status": 405,
            "detail": f"{method[:40]} is not a method of this API",
            "code": "method-not-allowed",
            "errors": [],
        }
        headers = {"Content-Type": PROBLEM}
        if allowed:
            headers["Allow"] = ", ".join(allowed)
        super().__init__(headers, json.dumps(body).encode("utf-8"))


class ProblemGateway(LocalGateway):
    """chalice's LocalGateway, but a path that matches no route is RouteNotFound instead of a 403.

    LocalGateway.handle_request turns the ValueError of route matching into API Gateway's 403
    (with or without an Authorization header); raising another exception type first skips that.
    """

    def _generate_lambda_event(self, method: str, path: str, headers: Any, body: bytes | None) -> Any:
        try:
            return super()._generate_lambda_event(method, path, headers, body)
        except ValueError:
            raise RouteNotFound(path) from None

    def _has_user_defined_options_method(self, lambda_event: Any) -> bool:
        """OPTIONS always reaches the app: billow answers CORS preflights itself (functions/core/cors.py),
        for the stage's origins; chalice local would otherwise answer them from Chalice's `cors=`."""
        return True


class ProblemRequestHandler(ChaliceRequestHandler):
    """chalice local's request handler, using ProblemGateway."""

    # TCP_NODELAY: the handler writes the headers and the body in two sends; with Nagle's algorithm the
    # body waits for the client's delayed ACK of the headers (~40 ms on Linux) on every keep-alive request.
    disable_nagle_algorithm = True

    def __init__(self, request: Any, client_address: Any, server: Any, app_object: Any, config: Config) -> None:
        # ChaliceRequestHandler.__init__ builds its gateway then handles the request in the base
        # __init__, so the gateway must be in place before that: build it here and skip to the base.
        self.local_gateway = ProblemGateway(app_object, config)
        self.app_object = app_object
        super(ChaliceRequestHandler, self).__init__(request, client_address, server)

    def __getattr__(self, name: str) -> Any:
        """http.server looks up `do_<METHOD>` and answers a 501 HTML page when there is none: every
        method chalice local does not serve (TRACE, CONNECT, PROPFIND, anything) gets the 405 problem."""
        if name.startswith("do_"):
            return self._method_not_allowed
        raise AttributeError(name)

    def _generic_handle(self) -> None:
        """chalice local reads the body with int(Content-Length) and drops the connection on a value that is
        not a number; API Gateway answers 400: so does this server (problem+json, connection closed)."""
        try:
            int(self.headers.get("content-length", "0"))
        except ValueError:
            self.send_error(400, "Content-Length is not a number")
            return
        super()._generic_handle()

    def _method_not_allowed(self) -> None:
        try:
            self._parse_payload()  # read any body, so the next request on this connection starts clean
        except ValueError:  # a Content-Length that is not a number: the connection cannot be reused
            self.close_connection = True
        try:
            route = RouteMatcher(list(self.app_object.routes)).match_route(self.path).route
            allowed = sorted(self.app_object.routes[route])
        except ValueError:
            allowed = []
        self._send_error_response(MethodNotAllowed(self.command, allowed))

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """What http.server refuses itself (a request line it cannot read, an over-long URI or header)
        is problem+json too, never its HTML error page."""
        status = 405 if code == 501 else code if 400 <= code < 500 else 400
        problem = {
            "type": "method-not-allowed" if status == 405 else "bad-request",
            "title": "Method not allowed" if status == 405 else "Bad request",
            "status": status,
            "detail": (message or "the request could not be read")[:200],
            "code": "method-not-allowed" if status == 405 else "bad-request",
            "errors": [],
        }
        body = json.dumps(problem).encode("utf-8")
        # a request line it could not read leaves http.server in HTTP/0.9 mode (a bare body, no status
        # line): nobody speaks HTTP/0.9, so answer with a status line and headers
        self.request_version = "HTTP/1.0" if self.request_version == "HTTP/0.9" else self.request_version
        self.log_error("code %d, message %s", code, message)
        self.send_response(status)
        self.send_header("Content-Type", PROBLEM)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.close_connection = True
        self.end_headers()
        if getattr(self, "command", None) != "HEAD":
            self.wfile.write(body)

    def _send_error_response(self, error: LocalGatewayException) -> None:
        """The gateway's own errors (no route matches, a method it has no handler for) carry the CORS
        headers too, as the CDK stack's gateway responses do: a console reads their problem+json."""
        from functions.core.cors import add_cors_headers

        headers = dict(error.headers)
        add_cors_headers({k.lower(): v for k, v in self.headers.items()}, headers)
        self._send_http_response(error.CODE, headers, error.body)

    def log_request(self, code: Any = "-", size: Any = "-") -> None:
        """The access line without the query string, as API Gateway's access log has none
        (infra/gateway.py): what a client puts in a URL, a pasted card number too, is not logged."""
        path = getattr(self, "path", "").split("?", 1)[0]
        code = getattr(code, "value", code)
        self.log_message('"%s %s %s" %s %s', self.command, path, self.request_version, code, size)

    def log_message(self, format: str, *args: Any) -> None:
        """Every line with card-number-like digit runs redacted (in the path, or an error's request line)."""
        from functions.payments.tickets import redact

        super().log_message("%s", redact(unquote_plus(format % args)))


class QuietDisconnectServer(ThreadedHTTPServer):
    """chalice local's threaded server, without a traceback when a client hangs up mid-response.

    Its listen backlog is 128 instead of socketserver's 5: a burst of concurrent clients (the proof
    suite's storms send 50 at once) was refused or reset before a thread could accept them.
    """

    request_queue_size = 128
    # Clients keep HTTP/1.1 connections open (the Stripe side's webhook sender, browsers): Ctrl-C must
    # not wait for them. Request threads are daemons and server_close() does not join them.
    daemon_threads = True
    block_on_close = False

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):  # BrokenPipe, ConnectionReset: the client left
            return
        super().handle_error(request, client_address)


def load_stage(stage: str, project_dir: Path = REPO_DIR) -> tuple[Any, Config]:
    """Import app.py the way `chalice local --stage <stage>` does; returns (app, config).

    Applies the stage's environment variables to os.environ first (they win over inherited ones).
    """
    factory = CLIFactory(str(project_dir), debug=False, environ=os.environ)
    config = factory.create_config_obj(chalice_stage_name=stage)
    app_obj = config.chalice_app
    validate_routes(app_obj.routes)
    return app_obj, config


def create_server(app_obj: Any, config: Config, host: str, port: int) -> LocalDevServer:
    """chalice.local.create_local_server, with the problem+json request handler."""
    if not isinstance(app_obj, LocalChalice):
        CustomLocalChalice.__bases__ = (LocalChalice, app_obj.__class__)
        app_obj.__class__ = CustomLocalChalice
    return LocalDevServer(
        app_obj, config, host, port, handler_cls=ProblemRequestHandler, server_cls=QuietDisconnectServer
    )
