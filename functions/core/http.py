"""The one route wrapper: auth, body/query parsing (core/request_parsing.py), account guard, idempotency,
rendering, and every error answered as problem+json (RFC 9457, core/problems.py).

Routes declare themselves with `@api(...)`; the same declarations feed the OpenAPI document
(functions/core/openapi.py) and the route → scope table in docs/. The deployed app reaches them through
app.py's route table (functions/core/route_loader.py): a route's module is imported on its first request,
and its declarations register its handler in DECLARED.
"""

from __future__ import annotations

import functools
import json
import re
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from chalice import Blueprint, Response
from pydantic import BaseModel

from functions.core import cors, idempotency, route_table
from functions.core.auth import Identity, authenticate
from functions.core.errors import BillowError, ForbiddenError, ServiceUnavailableError
from functions.core.ids import is_id
from functions.core.logs import get_logger, sane_correlation_id, set_correlation_id
from functions.core.problems import PROBLEM, aws_outage, problem_response
from functions.core.request_parsing import parse_body, parse_query, refuse_card_data

JSON = "application/json"


@dataclass(frozen=True)
class RouteSpec:
    method: str
    path: str
    scope: str | None  # None = no token needed (health, openapi, webhooks)
    summary: str
    tag: str
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    status: int = 200
    idempotent: bool = False
    guard: Callable[..., Any] | None = None
    refuse_card_data: bool = False
    produces: str = JSON
    problems: tuple[tuple[int, str], ...] = ()  # (status, code) the route's own errors, beyond those its shape implies

    @property
    def operation(self) -> str:
        return f"{self.method} {self.path}"


ROUTES: list[RouteSpec] = []
# operation ("GET /v1/health") -> (its RouteSpec, the route function): what route_loader's views call
DECLARED: dict[str, tuple[RouteSpec, Callable[..., Any]]] = {}


@dataclass
class Call:
    """What a route function receives besides its path parameters."""

    request_id: str
    identity: Identity | None
    account: Any = None  # what the guard returned (the account's access context)
    body: Any = None
    query: Any = None
    idem: idempotency.IdempotencyContext | None = None
    headers: dict[str, str] = field(default_factory=dict)
    raw_body: bytes = b""  # the body as received (Stripe's webhook signature is over these bytes)


@dataclass(frozen=True)
class Raw:
    """A non-JSON response (CSV, redirects): body text and content type."""

    body: str
    content_type: str
    headers: dict[str, str] = field(default_factory=dict)


def _json_response(status: int, body: Any, request_id: str, extra: dict[str, str] | None = None) -> Response:
    # a stored error reply (a declined payment) is replayed as the problem+json it was
    headers = {"Content-Type": PROBLEM if status >= 400 else JSON, "X-Request-Id": request_id, **(extra or {})}
    return Response(body=json.dumps(body), status_code=status, headers=headers)


def _render(spec: RouteSpec, result: Any, call: Call, params: dict[str, str]) -> Response:
    if isinstance(result, Response):
        return result
    if isinstance(result, Raw):
        headers = {"Content-Type": result.content_type, "X-Request-Id": call.request_id, **result.headers}
        return Response(body=result.body, status_code=spec.status, headers=headers)
    if call.idem is not None and call.idem.stored_body is not None:
        # Answer exactly what was stored with the work, so a replay is byte-for-byte the same reply.
        body = call.idem.stored_body
    else:
        body = result.model_dump(mode="json") if isinstance(result, BaseModel) else result
    return _json_response(spec.status, body, call.request_id, location(spec, body, params))


def item_route(spec: RouteSpec, routes: Sequence[RouteSpec | route_table.Route]) -> str | None:
    """The GET route reading back what a POST answering 201/202 created: its path plus one `{id}`."""
    if spec.method != "POST" or spec.status not in (201, 202) or "id" not in getattr(spec.response, "model_fields", {}):
        return None
    for other in routes:
        rest = other.path[len(spec.path) :] if other.path.startswith(spec.path) else ""
        if other.method == "GET" and rest.startswith("/{") and rest.count("/") == 1 and rest.endswith("}"):
            return other.path
    return None


def location(spec: RouteSpec, body: Any, params: dict[str, str]) -> dict[str, str]:
    """`Location` of a created object that has a GET route (POST …/payments → …/payments/{payment_id})."""
    target = item_route(spec, [*route_table.ROUTES, *ROUTES])  # the table: routes whose module is not loaded yet
    if target is None or not isinstance(body, dict) or not isinstance(body.get("id"), str):
        return {}
    name = _PATH_PARAM.findall(target)[-1]
    return {"Location": concrete_path(target, {**params, name: body["id"]})}


def _request_id(request: Any) -> str:
    context = getattr(request, "context", None) or {}
    return str(context.get("requestId") or uuid.uuid4())


def handle(spec: RouteSpec, fn: Callable[..., Any], request: Any, params: dict[str, str]) -> Response:
    """Run one request through auth, parsing, guard and idempotency; map every error to problem+json."""
    started = time.perf_counter()
    request_id = _request_id(request)
    # the client's X-Request-Id (when sane) follows this work into queues, e-mails and events; else ours
    headers = getattr(request, "headers", None) or {}
    set_correlation_id(sane_correlation_id(headers.get("x-request-id")) or request_id)
    status = 500
    # Logged only when it is an account id: a path segment is whatever the client sent, a pasted card
    # number included (no card number in any log line: tests/proof/test_storms_and_card_data.py).
    account_id = params.get("account_id") if is_id(params.get("account_id"), "acct") else None
    try:
        response = _handle(spec, fn, request, params, request_id)
    except BillowError as err:
        response = problem_response(err, request_id)
    except Exception as exc:
        if aws_outage(exc):  # DynamoDB, SQS, SES or S3 unavailable: the client retries with the same key
            get_logger().warning(
                "aws unavailable", route=spec.operation, request_id=request_id, error=type(exc).__name__
            )
            failure = ServiceUnavailableError("a service billow depends on did not answer; retry the same request")
        else:  # a bug, not bad input: log it (without the request) and answer problem+json
            get_logger().exception("unhandled error", route=spec.operation, request_id=request_id)
            failure = BillowError("an internal error occurred; it has been logged")
        response = problem_response(failure, request_id)
    status = response.status_code
    get_logger().info(
        "request",
        route=spec.operation,
        status=status,
        request_id=request_id,
        account_id=account_id,
        duration_ms=round((time.perf_counter() - started) * 1000, 1),
    )
    return response


def _handle(spec: RouteSpec, fn: Callable[..., Any], request: Any, params: dict[str, str], request_id: str) -> Response:
    headers = request.headers
    identity = None
    if spec.scope is not None:
        identity = authenticate(headers.get("authorization"))
        if not identity.has(spec.scope):
            raise ForbiddenError(f"this route needs the {spec.scope} scope", code="insufficient-scope")
    raw = request.raw_body or b""
    call = Call(request_id=request_id, identity=identity, headers=dict(headers), raw_body=raw)
    if spec.guard is not None:
        call.account = spec.guard(identity, params, spec)
    if spec.refuse_card_data and raw:
        refuse_card_data(raw)
    if spec.body is not None:
        call.body = parse_body(spec.body, raw)
    call.query = parse_query(spec.query, request.query_params)
    if spec.idempotent:
        assert identity is not None, "idempotent routes need an identity"
        key = idempotency.check_key(headers.get("idempotency-key"))
        canonical = call.body.model_dump(mode="json") if call.body is not None else None
        call.idem = idempotency.IdempotencyContext(
            account_id=params.get("account_id", "-"),
            operation=spec.operation,
            key=key,
            sub=identity.sub,
            request_hash=idempotency.canonical_hash(concrete_path(spec.path, params), canonical),
            status=spec.status,
        )
        replay = idempotency.lookup(call.idem)
        if replay is not None:
            return _replayed(replay, request_id)
    try:
        result = fn(call, **params)
    except idempotency.IdempotencyRaceError:
        assert call.idem is not None
        replay = idempotency.lookup(call.idem)
        if replay is None:
            raise idempotency.in_progress_error() from None
        return _replayed(replay, request_id)
    except BillowError:
        # A duplicate with the same key may have done the work between our lookup and our reads (the
        # item is cancelled now, the refund exists): when this request claimed nothing, the answer is
        # the duplicate's (a replay, or 409 in progress), not an error about the duplicate's effect.
        idem = call.idem
        if idem is None or idem.resumed or idem.stored_body is not None:
            raise
        replay = idempotency.lookup(idem)
        if replay is None:
            raise
        return _replayed(replay, request_id)
    return _render(spec, result, call, params)


_PATH_PARAM = re.compile(r"{(\w+)}")


def concrete_path(template: str, params: dict[str, str]) -> str:
    """The path as requested, with its ids: what an idempotency record hashes. Chalice's
    `request.path` is the route template (`…/billing-items/{item_id}/cancellation`), the same for
    every item: hashing it replayed item A's cancellation to a request cancelling item B."""
    return _PATH_PARAM.sub(lambda m: params[m.group(1)], template)


def _replayed(replay: idempotency.Replay, request_id: str) -> Response:
    """The stored reply of the request that did the work, marked as a replay."""
    return _json_response(replay.status, replay.body, request_id, {"Idempotent-Replayed": "true"})


def api(
    bp: Blueprint,
    method: str,
    path: str,
    *,
    scope: str | None,
    summary: str | None = None,
    body: type[BaseModel] | None = None,
    query: type[BaseModel] | None = None,
    response: type[BaseModel] | None = None,
    status: int = 200,
    idempotent: bool = False,
    guard: Callable[..., Any] | None = None,
    refuse_card_data: bool = False,
    produces: str = JSON,
    problems: tuple[tuple[int, str], ...] = (),
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare a route: registers it on the blueprint and in ROUTES (OpenAPI, scope table). Its summary
    is `summary`, or else the route function's docstring."""

    module = bp._import_name  # e.g. functions.accounts.routes -> tag "accounts"
    tag = module.split(".")[-2] if module.count(".") >= 2 else module

    def decorator(fn: Callable[..., Any]) -> Callable[..., Any]:
        spec = RouteSpec(
            method=method,
            path=path,
            scope=scope,
            summary=summary if summary is not None else _summary_of(fn),
            tag=tag,
            body=body,
            query=query,
            response=response,
            status=status,
            idempotent=idempotent,
            guard=guard,
            refuse_card_data=refuse_card_data,
            produces=produces,
            problems=problems,
        )
        ROUTES.append(spec)
        DECLARED[spec.operation] = (spec, fn)

        @functools.wraps(fn)
        def view(**params: str) -> Response:
            return handle(spec, fn, bp.current_request, params)

        bp.route(path, methods=[method], content_types=[JSON, "application/merge-patch+json"])(view)
        _answer_preflights(bp, path)
        return fn

    return decorator


_PREFLIGHT_PATHS: set[str] = set()


def _answer_preflights(bp: Blueprint, path: str) -> None:
    """An OPTIONS route on `path` (once per path, on the first blueprint that declares it) answering CORS
    preflights (functions/core/cors.py). It is not an API operation: not in ROUTES, nor in the OpenAPI
    document, and it needs no token (browsers send preflights without one)."""
    if path in _PREFLIGHT_PATHS:
        return
    _PREFLIGHT_PATHS.add(path)

    def preflight(**params: str) -> Response:
        methods = {spec.method for spec in ROUTES if spec.path == path}
        headers = cors.preflight_headers(bp.current_request.headers, methods)
        return Response(body="", status_code=204, headers=headers)

    preflight.__name__ = route_table.preflight_name(path)
    bp.route(path, methods=["OPTIONS"])(preflight)


def routes(bp: Blueprint, **shared: Any) -> Callable[..., Callable[[Callable[..., Any]], Callable[..., Any]]]:
    """`api` for the routes of one blueprint, with what they all share (e.g. their guard):
    `route = routes(bp, guard=...)`, then `@route("GET", PATH, scope=READ, response=...)`."""
    return functools.partial(api, bp, **shared)


def _summary_of(fn: Callable[..., Any]) -> str:
    summary = " ".join((fn.__doc__ or "").split())
    if not summary:
        raise TypeError(f"route {fn.__name__} needs a summary: summary=... or a docstring")
    return summary
