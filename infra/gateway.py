"""API Gateway's own answers as application/problem+json (gateway responses), and the stage's settings.

API Gateway answers some requests before billow's code runs: an unknown path or method (which it calls
MISSING_AUTHENTICATION_TOKEN and answers 403 `{"message": "Missing Authentication Token"}`), throttling,
oversized bodies, a function that crashed or timed out. The contract (DESIGN §2) wants every error as
problem+json with a documented `code`, so each response type gets its status, code and body here —
the same 404 `route-not-found` the local server answers (local/api_server.py). Gateway response
templates are not VTL, only `$context` substitution: `$context.error.messageString` is API Gateway's
own message, already a quoted JSON string. The status of a response type is fixed here, so the
`status` in the body always equals the HTTP status, DEFAULT_4XX and DEFAULT_5XX included (setting
their status also applies it to any type not listed).

They are set through the SAM Api's GatewayResponses property, which writes them into the API's
definition: a change redeploys the stage, unlike a separate AWS::ApiGateway::GatewayResponse.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

PROBLEM = "application/problem+json"
MESSAGE = "$context.error.messageString"


@dataclass(frozen=True)
class GatewayProblem:
    status: int
    code: str
    title: str
    detail: str | None = None  # None: API Gateway's own message


ROUTE_NOT_FOUND = GatewayProblem(
    404,
    "route-not-found",
    "Not found",
    "no route matches this method and path; see /v1/openapi.json for the routes",
)

GATEWAY_PROBLEMS: dict[str, GatewayProblem] = {
    # No authorizer is configured, so these are unknown paths or methods (as `chalice local` says: 404).
    "MISSING_AUTHENTICATION_TOKEN": ROUTE_NOT_FOUND,
    "RESOURCE_NOT_FOUND": ROUTE_NOT_FOUND,
    "UNAUTHORIZED": GatewayProblem(401, "unauthorized", "Unauthorized"),
    "ACCESS_DENIED": GatewayProblem(403, "forbidden", "Forbidden"),
    "WAF_FILTERED": GatewayProblem(403, "forbidden", "Forbidden"),
    "INVALID_API_KEY": GatewayProblem(403, "forbidden", "Forbidden"),
    "EXPIRED_TOKEN": GatewayProblem(403, "forbidden", "Forbidden"),
    "INVALID_SIGNATURE": GatewayProblem(403, "forbidden", "Forbidden"),
    "BAD_REQUEST_BODY": GatewayProblem(400, "bad-request", "Bad request"),
    "BAD_REQUEST_PARAMETERS": GatewayProblem(400, "bad-request", "Bad request"),
    "REQUEST_TOO_LARGE": GatewayProblem(413, "payload-too-large", "Payload too large"),
    "UNSUPPORTED_MEDIA_TYPE": GatewayProblem(415, "unsupported-media-type", "Unsupported media type"),
    "THROTTLED": GatewayProblem(429, "throttled", "Too many requests"),
    "QUOTA_EXCEEDED": GatewayProblem(429, "throttled", "Too many requests"),
    "INTEGRATION_TIMEOUT": GatewayProblem(504, "gateway-timeout", "Gateway timeout"),
    "INTEGRATION_FAILURE": GatewayProblem(502, "bad-gateway", "Bad gateway"),
    "API_CONFIGURATION_ERROR": GatewayProblem(500, "internal-error", "Internal error"),
    "AUTHORIZER_CONFIGURATION_ERROR": GatewayProblem(500, "internal-error", "Internal error"),
    "AUTHORIZER_FAILURE": GatewayProblem(500, "internal-error", "Internal error"),
    # Anything else API Gateway refuses, and a function that failed without answering (crash, timeout).
    "DEFAULT_4XX": GatewayProblem(400, "bad-request", "Bad request"),
    "DEFAULT_5XX": GatewayProblem(502, "bad-gateway", "Bad gateway"),
}


def problem_template(problem: GatewayProblem) -> str:
    """The body template: a problem+json object, with API Gateway's message as detail unless one is given."""
    detail = json.dumps(problem.detail) if problem.detail else MESSAGE
    return (
        f'{{"type": "{problem.code}", "title": "{problem.title}", "status": {problem.status}, '
        f'"detail": {detail}, "code": "{problem.code}", "errors": []}}'
    )


def cors_headers(console_origins: tuple[str, ...]) -> dict[str, str]:
    """CORS on API Gateway's own answers (DESIGN §8). A gateway response's headers are fixed values (no
    per-request echo of the Origin as billow's middleware does, functions/core/cors.py), so they carry
    the stage's console origin only when it has exactly one; with several, none (a console then sees
    these rare errors as network errors)."""
    if len(console_origins) != 1:
        return {}
    from functions.core.cors import EXPOSE_HEADERS

    return {
        "Access-Control-Allow-Origin": f"'{console_origins[0]}'",
        "Access-Control-Expose-Headers": f"'{', '.join(EXPOSE_HEADERS)}'",
        "Vary": "'Origin'",
    }


def sam_gateway_responses(console_origins: tuple[str, ...] = ()) -> dict[str, dict[str, object]]:
    """GatewayResponses for an AWS::Serverless::Api (header values are quoted literals, as API Gateway wants)."""
    out: dict[str, dict[str, object]] = {}
    for response_type, problem in GATEWAY_PROBLEMS.items():
        headers = {"Content-Type": f"'{PROBLEM}'", "Cache-Control": "'no-store'", **cors_headers(console_origins)}
        if problem.status == 401:
            headers["WWW-Authenticate"] = "'Bearer realm=\"billow\"'"
        if problem.status == 429:
            headers["Retry-After"] = "'1'"
        out[response_type] = {
            "StatusCode": str(problem.status),
            "ResponseParameters": {"Headers": headers},
            "ResponseTemplates": {"application/json": problem_template(problem)},
        }
    return out


# Access log lines: who, what, outcome and timing; never headers, query strings, bodies or tokens.
ACCESS_LOG_FORMAT = json.dumps(
    {
        "requestId": "$context.requestId",
        "requestTime": "$context.requestTimeEpoch",
        "ip": "$context.identity.sourceIp",
        "method": "$context.httpMethod",
        "resource": "$context.resourcePath",
        "status": "$context.status",
        "responseLength": "$context.responseLength",
        "latency": "$context.responseLatency",
        "integrationLatency": "$context.integrationLatency",
        "error": "$context.error.responseType",
    },
    separators=(",", ":"),
)
