"""Usage route: metering services post records (scope billing:usage; no customer data)."""

from __future__ import annotations

from chalice import Blueprint

from functions.core.auth import USAGE
from functions.core.http import Call, api
from functions.usage import service
from functions.usage.schemas import UsageBatch, UsageResult

bp = Blueprint(__name__)


@api(
    bp,
    "POST",
    "/v1/usage",
    scope=USAGE,
    body=UsageBatch,
    response=UsageResult,
    summary="Post up to 500 usage records; each is accepted, a duplicate, or rejected with why",
)
def post_usage(call: Call) -> UsageResult:
    return service.record_usage(call.body.records)
