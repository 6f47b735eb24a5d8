"""The route loader (docs/architecture.md "Route table"): app.py hands it the route table, a light list
of strings (no route module, no schema, no pydantic imported), and it registers with Chalice:

- one view per route, named as the route's function; the first request for a route imports its module
  (`importlib.import_module`: the route's `@api(...)` declarations register their handlers in
  core.http, keyed by operation) and the view hands the request to that handler; later requests go
  straight to it;
- one OPTIONS view per path answering CORS preflights, with the methods the table gives the path;
- one stand-in per worker (queue consumer, schedule, plain Lambda function), on a Blueprint named as
  the worker's module, so that Chalice's handler string (sam.json's `Handler`) is the real function's
  (`functions.accounts.routes.ses_feedback`: a worker Lambda imports its module directly) and
  `app.handler_map` (the local stack's pumps, the tests) runs the real function behind the
  middleware. The stand-in imports the module on its first event.

So a cold start pays for the middleware, this module and the table only; `/v1/openapi.json` loads
every route module (`load_all()`). tests/unit/test_route_table.py proves the app this builds equals
the app the modules' own declarations build, and regenerates app.py's table.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from typing import Any

from chalice import Blueprint, Chalice, Response
from chalice.app import EventSourceHandler, LambdaFunctionEvent

from functions.core import cors, route_table
from functions.core.resources import queue_name
from functions.core.route_table import Route, Worker, preflight_name

CONTENT_TYPES = ["application/json", "application/merge-patch+json"]  # every @api route's (core/http.py)
_MODULES: list[str] = []  # the table's modules, routes' and workers', in the table's order


def register(app: Chalice, routes: Iterable[Route], workers: Iterable[Worker]) -> None:
    """Register the table's routes, preflights and workers on `app` (app.py, once per process)."""
    routes, workers = list(routes), list(workers)
    route_table.ROUTES[:] = routes
    _MODULES[:] = list(dict.fromkeys([r.module for r in routes] + [w.module for w in workers]))
    methods: dict[str, set[str]] = {}
    for route in routes:
        methods.setdefault(route.path, set()).add(route.method)
    preflighted: set[str] = set()
    for route in routes:  # a path's OPTIONS right after its first method, as core/http.py registers them
        app.route(route.path, methods=[route.method], content_types=CONTENT_TYPES)(_view(app, route))
        if route.path not in preflighted:
            preflighted.add(route.path)
            app.route(route.path, methods=["OPTIONS"])(_preflight(app, route.path, frozenset(methods[route.path])))
    blueprints: dict[str, Blueprint] = {}
    for worker in workers:
        bp = blueprints.setdefault(worker.module, Blueprint(worker.module))
        options = dict(worker.options)
        if "queue" in options:
            options["queue"] = queue_name(options["queue"])
        getattr(bp, worker.decorator)(**options)(_stand_in(worker))
    for bp in blueprints.values():
        app.register_blueprint(bp)


def load_all() -> list[Any]:
    """Import every route module; core.http.ROUTES, put in the table's order (whatever order the
    modules were first requested in), is then every route's RouteSpec: what the OpenAPI document needs."""
    if not _MODULES:
        raise RuntimeError("no route table registered: import app first")
    for module in _MODULES:
        importlib.import_module(module)
    from functions.core import http

    order = {route.operation: i for i, route in enumerate(route_table.ROUTES)}
    http.ROUTES[:] = sorted(http.ROUTES, key=lambda spec: order.get(spec.operation, len(order)))
    return list(http.ROUTES)


def _handler(route: Route) -> tuple[Any, Callable[..., Any]]:
    """The route's (RouteSpec, function), its module imported on first use."""
    importlib.import_module(route.module)
    from functions.core import http

    declared = http.DECLARED.get(route.operation)
    if declared is None or declared[1].__name__ != route.function:
        raise RuntimeError(f"{route.target} does not declare {route.operation}: app.py's table is stale")
    return declared


def _view(app: Chalice, route: Route) -> Callable[..., Response]:
    def view(**params: str) -> Response:
        spec, fn = _handler(route)
        from functions.core import http

        return http.handle(spec, fn, app.current_request, params)

    view.__name__ = view.__qualname__ = route.function
    return view


def _preflight(app: Chalice, path: str, methods: frozenset[str]) -> Callable[..., Response]:
    def preflight(**params: str) -> Response:
        headers = cors.preflight_headers(app.current_request.headers, methods)
        return Response(body="", status_code=204, headers=headers)

    preflight.__name__ = preflight.__qualname__ = preflight_name(path)
    return preflight


def chalice_handler(worker: Worker) -> EventSourceHandler:
    """The worker's Chalice handler (the wrapper of its function), its module imported on first use.
    A module may wrap it in turn for its Lambda (billing_run/manual.py): followed by `__wrapped__`."""
    handler = getattr(importlib.import_module(worker.module), worker.function)
    while not isinstance(handler, EventSourceHandler):
        handler = handler.__wrapped__
    return handler


def _stand_in(worker: Worker) -> Callable[..., Any]:
    """What the app registers for a worker: Chalice wraps it (middleware included) and hands it the
    event object; it calls the function Chalice wrapped in the worker's module (`.func`) with that event."""
    if worker.decorator == "lambda_function":

        def stand_in(event: Any, context: Any) -> Any:
            return chalice_handler(worker).func(LambdaFunctionEvent(event, context))
    else:

        def stand_in(event: Any) -> Any:  # type: ignore[misc]
            return chalice_handler(worker).func(event)

    stand_in.__name__ = stand_in.__qualname__ = worker.function
    return stand_in
