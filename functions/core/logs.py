"""Structured JSON logs (Powertools Logger) and the correlation id. Nothing secret is ever passed in: no
raw event, headers, tokens, bodies, billing contacts or card data. Callers log ids, routes, statuses and
counts only.

The correlation id follows one piece of work across billow's parts (docs/operations.md, "Following a
request"): an API request's `X-Request-Id` header when the client sent a sane one, else API Gateway's
request id; it rides on every queue message billow sends (the `correlation_id` message attribute,
functions/core/queues.py), is picked up by the consumer, goes into every e-mail's
`X-Billow-Correlation-Id` header (functions/core/email.py) and into outbound events. It lives in a
context variable (one invocation at a time per Lambda process; the local server's threads each have
their own) and in the Logger's `correlation_id` key, so every log line of that work carries it.
"""

from __future__ import annotations

import re
from contextvars import ContextVar
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from functions.core.settings import get_settings

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger

_CORRELATION: ContextVar[str | None] = ContextVar("billow_correlation_id", default=None)
_SANE = re.compile(r"^[A-Za-z0-9._:@/+=-]{1,128}$")  # what a client may choose: no spaces, no header tricks
_cold_start = True


@lru_cache(maxsize=1)
def get_logger() -> Logger:
    """The process's logger, built on first use (Powertools is not imported at cold start)."""
    from aws_lambda_powertools import Logger

    return Logger(service="billow", level=get_settings().log_level)


def correlation_id() -> str | None:
    """The correlation id of the work in progress (None outside a request or message)."""
    return _CORRELATION.get()


def sane_correlation_id(value: Any) -> str | None:
    """`value` if it can be a correlation id (a short token: it ends up in log lines, headers and
    message attributes), else None."""
    return value if isinstance(value, str) and _SANE.match(value) else None


def set_correlation_id(value: str | None) -> None:
    """Make `value` the correlation id of the work in progress and of every log line from now on."""
    _CORRELATION.set(value)
    get_logger().set_correlation_id(value)


def start_invocation(lambda_context: Any) -> None:
    """At the start of a Lambda invocation: the Lambda context's keys on every log line (function,
    request id, cold start), as Powertools' `inject_lambda_context` adds them. A local call
    (no context) logs none of them."""
    global _cold_start
    cold, _cold_start = _cold_start, False
    if lambda_context is None or not hasattr(lambda_context, "aws_request_id"):
        return
    get_logger().append_keys(
        cold_start=cold,
        function_name=getattr(lambda_context, "function_name", None),
        function_request_id=lambda_context.aws_request_id,
    )
