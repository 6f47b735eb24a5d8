"""The middleware every invocation goes through, registered on the app at import (app.py): the Lambda
context on the log lines, CORS headers on every response, and Chalice's own errors as problem+json.
Light on purpose: it runs on every cold start, before any route module is loaded (functions/core/route_loader.py)."""

from __future__ import annotations

import json
from typing import Any

from chalice import Blueprint, Response
from chalice.app import CloudWatchEvent

from functions.core import cors, errors, tracing
from functions.core.logs import get_logger, set_correlation_id, start_invocation
from functions.core.problems import PROBLEM, problem_response

bp = Blueprint(__name__)


@bp.middleware("all")
def lambda_context_in_logs(event: Any, get_response: Any) -> Any:
    """Every invocation (HTTP, queue, schedule): the Lambda context's keys on its log lines
    (functions/core/logs.py). A scheduled run is correlated by its Lambda request id; HTTP requests
    and queue records set their own correlation id (core/http.py, core/queues.py)."""
    context = getattr(event, "lambda_context", None) or getattr(event, "context", None)
    start_invocation(context)
    tracing.start()  # the X-Ray SDK on a deployed function's first invocation (functions/core/tracing.py)
    if isinstance(event, CloudWatchEvent):
        set_correlation_id(getattr(context, "aws_request_id", None))
    return get_response(event)


@bp.middleware("http")
def cors_on_every_response(event: Any, get_response: Any) -> Response:
    """CORS headers on every response, errors included (functions/core/cors.py). Registered before the
    middleware below, so it wraps it and sees the problem+json that replaced Chalice's own errors; an
    exception escaping the routes (none should) is answered here too, so even that reply carries them."""
    try:
        response = get_response(event)
    except Exception:
        get_logger().exception("unhandled error outside a route")
        response = problem_response(errors.BillowError("an internal error occurred; it has been logged"))
    cors.add_cors_headers(getattr(event, "headers", None), response.headers)
    return response


_CHALICE_ERRORS: dict[int, type[errors.BillowError]] = {
    400: errors.BadRequestError,
    405: errors.MethodNotAllowedError,
    415: errors.UnsupportedMediaTypeError,
}


@bp.middleware("http")
def chalice_errors_as_problems(event: Any, get_response: Any) -> Response:
    """Chalice answers 405, 415 and stray 500s before a route runs: give them the problem+json shape."""
    response = get_response(event)
    content_type = {k.lower(): v for k, v in response.headers.items()}.get("content-type", "")
    if response.status_code < 400 or content_type.startswith(PROBLEM):
        return response
    body = response.body if isinstance(response.body, dict) else _maybe_json(response.body)
    message = str(body.get("Message", "")) if isinstance(body, dict) else ""
    error_cls = _CHALICE_ERRORS.get(response.status_code, errors.BillowError)
    replaced = problem_response(error_cls(message or error_cls.title))
    for name, value in response.headers.items():
        if name.lower() == "allow":
            replaced.headers["Allow"] = value
    return replaced


def _maybe_json(body: Any) -> Any:
    try:
        return json.loads(body) if isinstance(body, str | bytes) else body
    except ValueError:
        return None


def deployed_worker(handler: Any) -> Any:
    """A worker's own Lambda (sam.json's Handler `functions.<domain>.routes.<name>`) imports its routes
    module, never app.py: Chalice gives a Blueprint's handler the app's middleware only when an app
    registers the Blueprint, so a deployed worker would run without the Lambda context on its log lines
    and without the X-Ray start. Its handler gets the invocation middleware itself, applied above the
    Chalice decorator. In the app (local stack, tests) a worker's stand-in calls the function beneath
    (functions/core/route_loader.py), and registering the real Blueprint (tests' eager app) replaces
    this list with the app's own: the middleware runs once either way."""
    handler.middleware_handlers = [lambda_context_in_logs]
    return handler
