"""The single mapping of domain errors to problem+json (RFC 9457), and which exceptions mean that an AWS
service is unavailable (answered 503 `service-unavailable`) rather than a bug."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError, ConnectionError, HTTPClientError
from chalice import Response

from functions.core.errors import BillowError

PROBLEM = "application/problem+json"
# codes that mean "the same request will work later": their answer says when (seconds), as 503s do
RETRY_LATER = {
    "idempotency-in-progress": 5,
    "concurrent-update": 1,
    "service-unavailable": 2,
    "pdf-not-ready": 2,  # the render queue answers within a few seconds (docs/invoices.md)
}


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
    if err.status == 503 or err.code in RETRY_LATER:
        headers["Retry-After"] = str(RETRY_LATER.get(err.code, 2))
    return Response(body=json.dumps(problem_body(err)), status_code=err.status, headers=headers)


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
