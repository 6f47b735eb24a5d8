"""The one route wrapper: auth, body/query parsing, account guard, idempotency, rendering, and the
single mapping of domain errors to problem+json (RFC 9457).

Routes declare themselves with `@api(...)`; the same declarations feed the OpenAPI document
(functions/core/openapi.py) and the route → scope table in docs/.
"""

from __future__ import annotations

import functools
import json
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError, ConnectionError, HTTPClientError
from chalice import Blueprint, Response
from pydantic import BaseModel, ValidationError

from functions.core import idempotency
from functions.core.auth import Identity, authenticate
from functions.core.card_data import holds_card_number
from functions.core.errors import (
    BadRequestError,
    BillowError,
    FieldError,
    ForbiddenError,
    PayloadTooLargeError,
    ServiceUnavailableError,
    ValidationFailedError,
)
from functions.core.ids import is_id
from functions.core.logs import get_logger
from functions.core.settings import get_settings

JSON = "application/json"
PROBLEM = "application/problem+json"


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

    @property
    def operation(self) -> str:
        return f"{self.method} {self.path}"


ROUTES: list[RouteSpec] = []


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


@dataclass(frozen=True)
class Raw:
    """A non-JSON response (CSV, redirects): body text and content type."""

    body: str
    content_type: str
    headers: dict[str, str] = field(default_factory=dict)


def problem_body(err: BillowError) -> dict[str, Any]:
    return {
        "type": err.code,
        "title": err.title,
        "status": err.status,
        "detail": err.detail,
        "code": err.code,
        "errors": [{"field": e.field, "message": e.message} for e in err.errors],
        **err.extensions,
    }


def problem_response(err: BillowError, request_id: str | None = None) -> Response:
    headers = {"Content-Type": PROBLEM}
    if request_id:
        headers["X-Request-Id"] = request_id
    if err.status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="billow"'
    return Response(body=json.dumps(problem_body(err)), status_code=err.status, headers=headers)


def field_errors(exc: ValidationError) -> list[FieldError]:
    out = []
    for error in exc.errors(include_url=False):
        loc = ".".join(str(part) for part in error.get("loc", ())) or "body"
        message = "unknown field" if error.get("type") == "extra_forbidden" else error.get("msg", "invalid")
        out.append(FieldError(field=loc, message=message))
    return out


def _parse_body(spec: RouteSpec, raw: bytes) -> BaseModel:
    assert spec.body is not None
    if len(raw) > get_settings().max_body_bytes:
        raise PayloadTooLargeError(f"the body must be at most {get_settings().max_body_bytes} bytes")
    _refuse_control_characters(_require_plain_json(raw))
    try:
        return spec.body.model_validate_json(raw, strict=True)
    except ValidationError as exc:
        if any(e.get("type") == "json_invalid" for e in exc.errors()):
            raise BadRequestError("the body is not valid JSON", code="malformed-json") from None
        if any(e.get("type") == "model_type" and not e.get("loc") for e in exc.errors()):
            raise BadRequestError("the body must be a JSON object", code="malformed-json") from None
        raise ValidationFailedError("some fields are not acceptable", errors=field_errors(exc)) from None


def _refuse_card_data(raw: bytes) -> None:
    """Card and payment routes never read a card number (PCI scope stays with Stripe.js), whatever the
    body: refused before it is parsed, and the body is never logged."""
    if holds_card_number(raw.decode("utf-8", errors="replace")):
        raise BadRequestError(
            "card numbers are never sent to billow: collect the card with Stripe.js and send its ids",
            code="card-data-not-accepted",
        )


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError("duplicate key")
    return dict(pairs)


def _require_plain_json(raw: bytes) -> Any:
    """RFC 8259 JSON only: no NaN/Infinity, no absurd nesting (pydantic's parser alone accepts NaN), and
    no duplicate keys (which value counts would depend on the parser: ambiguous where money is)."""
    try:
        return json.loads(raw, parse_constant=_reject_constant, object_pairs_hook=_unique_keys)
    except (ValueError, RecursionError):
        raise BadRequestError("the body is not valid JSON", code="malformed-json") from None


# C0 controls but tab, newline and carriage return; DEL and C1 controls; the bidirectional embedding,
# override and isolate controls, which reorder what a PDF, e-mail or console shows (an invoice line
# could display another amount than it holds). Right-to-left scripts and emoji are ordinary text.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _refuse_control_characters(body: Any) -> None:
    """422 `validation-failed` naming the first field whose text (or key) holds a control character.
    Iterative: a body nested as deep as the JSON parser allows must not exhaust the stack here."""
    pending: list[tuple[str, Any]] = [("", body)]
    while pending:
        path, value = pending.pop()
        items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
        for key, child in items:
            where = f"{path}.{key}" if path else str(key)
            if any(isinstance(text, str) and _CONTROL.search(text) for text in (key, child)):
                message = "control and bidirectional-override characters are not accepted"
                raise ValidationFailedError(
                    "some fields are not acceptable", errors=[FieldError(field=where, message=message)]
                )
            pending.append((where, child))


def _parse_query(spec: RouteSpec, params: dict[str, str] | None) -> BaseModel | None:
    if spec.query is None:
        if params:
            raise ValidationFailedError(
                "this route takes no query parameters",
                errors=[FieldError(field=f"query.{k}", message="unknown parameter") for k in params],
            )
        return None
    try:
        return spec.query.model_validate(dict(params or {}))
    except ValidationError as exc:
        errors = [FieldError(field=f"query.{e.field}", message=e.message) for e in field_errors(exc)]
        raise ValidationFailedError("some query parameters are not acceptable", errors=errors) from None


def _json_response(status: int, body: Any, request_id: str, extra: dict[str, str] | None = None) -> Response:
    # a stored error reply (a declined payment) is replayed as the problem+json it was
    headers = {"Content-Type": PROBLEM if status >= 400 else JSON, "X-Request-Id": request_id, **(extra or {})}
    return Response(body=json.dumps(body), status_code=status, headers=headers)


def _render(spec: RouteSpec, result: Any, call: Call) -> Response:
    if isinstance(result, Response):
        return result
    if isinstance(result, Raw):
        headers = {"Content-Type": result.content_type, "X-Request-Id": call.request_id, **result.headers}
        return Response(body=result.body, status_code=spec.status, headers=headers)
    if call.idem is not None and call.idem.stored_body is not None:
        # Answer exactly what was stored with the work, so a replay is byte-for-byte the same reply.
        return _json_response(spec.status, call.idem.stored_body, call.request_id)
    body = result.model_dump(mode="json") if isinstance(result, BaseModel) else result
    return _json_response(spec.status, body, call.request_id)


def _request_id(request: Any) -> str:
    context = getattr(request, "context", None) or {}
    return str(context.get("requestId") or uuid.uuid4())


# AWS answers that mean "unavailable now, retry" (server errors and throttling), not a bug of ours.
_AWS_RETRYABLE = {
    "InternalServerError",
    "InternalFailure",
    "InternalError",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "ThrottlingException",
    "Throttling",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "TransactionInProgressException",
    "SlowDown",
}


def aws_outage(exc: BaseException) -> bool:
    """True when `exc` (or what caused it: PynamoDB wraps botocore's errors) is an AWS service being
    unavailable — a 5xx or throttling answer, a timeout, a lost connection — rather than a bug: the
    request is answered 503 `service-unavailable` and the client retries it with the same key."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ConnectionError | HTTPClientError):  # timeouts, resets, unreachable endpoints
            return True
        if isinstance(current, ClientError):
            error = current.response.get("Error", {})
            status = current.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
            return error.get("Code") in _AWS_RETRYABLE or status >= 500
        cause = getattr(current, "cause", None)  # PynamoDB's exceptions keep botocore's here
        current = cause if isinstance(cause, BaseException) else current.__cause__
    return False


def handle(spec: RouteSpec, fn: Callable[..., Any], request: Any, params: dict[str, str]) -> Response:
    """Run one request through auth, parsing, guard and idempotency; map every error to problem+json."""
    started = time.perf_counter()
    request_id = _request_id(request)
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
    call = Call(request_id=request_id, identity=identity, headers=dict(headers))
    if spec.guard is not None:
        call.account = spec.guard(identity, params, spec)
    raw = request.raw_body or b""
    if spec.refuse_card_data and raw:
        _refuse_card_data(raw)
    if spec.body is not None:
        call.body = _parse_body(spec, raw)
    call.query = _parse_query(spec, request.query_params)
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
    return _render(spec, result, call)


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
    summary: str,
    body: type[BaseModel] | None = None,
    query: type[BaseModel] | None = None,
    response: type[BaseModel] | None = None,
    status: int = 200,
    idempotent: bool = False,
    guard: Callable[..., Any] | None = None,
    refuse_card_data: bool = False,
    produces: str = JSON,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare a route: registers it on the blueprint and in ROUTES (OpenAPI, scope table)."""

    module = bp._import_name  # e.g. functions.accounts.routes -> tag "accounts"
    tag = module.split(".")[-2] if module.count(".") >= 2 else module

    def decorator(fn: Callable[..., Any]) -> Callable[..., Any]:
        spec = RouteSpec(
            method=method,
            path=path,
            scope=scope,
            summary=summary,
            tag=tag,
            body=body,
            query=query,
            response=response,
            status=status,
            idempotent=idempotent,
            guard=guard,
            refuse_card_data=refuse_card_data,
            produces=produces,
        )
        ROUTES.append(spec)

        @functools.wraps(fn)
        def view(**params: str) -> Response:
            return handle(spec, fn, bp.current_request, params)

        bp.route(path, methods=[method], content_types=[JSON, "application/merge-patch+json"])(view)
        return fn

    return decorator
