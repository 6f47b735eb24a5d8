"""The webhook deliverer (DESIGN §7): one queue message per (event, endpoint) attempt.

A message `{event, endpoint_id, attempt, not_before, redelivery}` is handled at least once:
1. too early (`not_before` in the future: a wait longer than SQS's 900 s DelaySeconds) → sent again with
   the rest of the wait (at most 900 s a hop) and acknowledged — re-enqueue chaining;
2. the endpoint is gone → nothing to do; disabled → the delivery is `abandoned`;
3. a copy of an attempt already recorded (SQS duplicates, a retry racing a redelivery) → nothing to do;
4. the URL's DNS answers are checked again (ssrf.py) and the POST goes to the checked address
   (webhook_http.py), signed with every valid secret (signing.py);
5. a failure first enqueues the next attempt (so a crash after it repeats a POST, never loses the
   retry), then records the attempt and the delivery's state; a success records them.
An error of billow's own (DynamoDB, KMS, SQS down) raises: SQS redelivers the message, and after the
queue's max receives it goes to the DLQ (`billow dlq list|redrive`) — the queue never sticks.

Retries: attempt n+1 waits `base x 4^(n-1)` seconds (first retry after ~30 s), capped at 12 h, ±20 %
jitter, until about 3 days of waiting have passed (settings `webhook_retry_*`). An endpoint whose
deliveries have failed without a success for 5 days is disabled and the operators are e-mailed once.
"""

from __future__ import annotations

import json
import random
from dataclasses import replace
from functools import lru_cache
from typing import Any

from functions.core import clock, email, metrics, queues
from functions.core.logs import get_logger
from functions.core.resources import WEBHOOK_DELIVERIES
from functions.core.settings import get_settings
from functions.events import signing, ssrf, webhook_http
from functions.events import webhook_store as store
from functions.events.webhook_endpoints import signing_secrets

MAX_DELAY_SECONDS = 900  # SQS's DelaySeconds limit


def retry_delays() -> list[int]:
    """The nominal wait before each retry (the n-th entry: after attempt n), adding up to the window."""
    s = get_settings()
    return list(_delays(s.webhook_retry_base_seconds, s.webhook_retry_cap_seconds, s.webhook_retry_window_seconds))


@lru_cache(maxsize=8)
def _delays(base: int, cap: int, window: int) -> tuple[int, ...]:
    delays: list[int] = []
    total, step = 0, max(1, base)
    while total < window:
        delay = min(step, max(1, cap), window - total)
        delays.append(delay)
        total += delay
        step = min(step * 4, max(1, cap))
    return tuple(delays)


def retry_count() -> int:
    s = get_settings()
    return len(_delays(s.webhook_retry_base_seconds, s.webhook_retry_cap_seconds, s.webhook_retry_window_seconds))


def message(event: dict[str, Any], endpoint_id: str, attempt: int = 1, not_before: int = 0, redelivery: bool = False):
    return {
        "event": event,
        "endpoint_id": endpoint_id,
        "attempt": attempt,
        "not_before": not_before,
        "redelivery": redelivery,
    }


def enqueue(body: dict[str, Any], now: int) -> None:
    """Send a delivery message, delayed until its `not_before` (at most 900 s now; the rest by chaining)."""
    queues.send(WEBHOOK_DELIVERIES, body, delay_seconds=min(max(body["not_before"] - now, 0), MAX_DELAY_SECONDS))


def handle(body: dict[str, Any]) -> str:
    """Handle one delivery message; returns what happened (for logs and tests)."""
    now = clock.transport_epoch_seconds()
    if body.get("not_before", 0) > now:
        enqueue(body, now)
        return "waiting"
    event, attempt = body["event"], int(body["attempt"])
    endpoint = store.get_endpoint(body["endpoint_id"])
    if endpoint is None:
        return "endpoint-gone"
    state = store.get_delivery(event["id"], endpoint.id)
    if state is not None and (
        state.attempts >= attempt or (state.status == "delivered" and not body.get("redelivery"))
    ):
        return "duplicate"
    if not endpoint.enabled:
        store.save_delivery(_state(state, event, endpoint.id, "abandoned", attempt - 1))
        return "abandoned"
    result = _post(endpoint, event, now)
    if not result.ok:
        _after_failure(endpoint, body, attempt, now)
    _record(endpoint, event, attempt, result, state, now)
    if result.ok:
        if endpoint.failing_since is not None:
            store.clear_failing(endpoint.id)
        return "delivered"
    return "failed"


def _post(endpoint: store.Endpoint, event: dict[str, Any], now: int) -> webhook_http.Attempt:
    try:
        target = ssrf.check_here(endpoint.url)
    except ssrf.UnsafeUrl as refused:
        get_logger().warning("webhook address refused", endpoint_id=endpoint.id, code=refused.code)
        return webhook_http.Attempt(False, None, 0, "unsafe-address")
    body = json.dumps(event, sort_keys=True, separators=(",", ":"))
    headers = signing.headers(event["id"], body, signing_secrets(endpoint, now), now)
    return webhook_http.post(target, body.encode("utf-8"), headers, get_settings().webhook_timeout_seconds)


def _state(state: store.Delivery | None, event: dict[str, Any], endpoint_id: str, status: str, attempts: int):
    if state is None:
        return store.Delivery(event["id"], endpoint_id, event, status, attempts)
    return replace(state, status=status, attempts=max(state.attempts, attempts))


def _record(endpoint, event, attempt: int, result: webhook_http.Attempt, state, now: int) -> None:
    at = clock.iso(clock.now())
    status = "delivered" if result.ok else "failed"
    if not result.ok:
        metrics.event_delivery_failed()  # the EventDeliveriesFailed alarm (docs/operations.md)
    store.save_attempt(
        store.AttemptRecord(
            endpoint.id,
            event["id"],
            event["type"],
            attempt,
            status,
            result.status_code,
            result.duration_ms,
            result.error,
            at,
        )
    )
    retrying = not result.ok and attempt <= retry_count()
    after = _state(state, event, endpoint.id, status if not retrying else "retrying", attempt)
    store.save_delivery(
        replace(after, last_attempt_at=at, last_status_code=result.status_code, last_error=result.error)
    )
    get_logger().info(
        "webhook attempt",
        endpoint_id=endpoint.id,
        event_id=event["id"],
        attempt=attempt,
        status=status,
        status_code=result.status_code,
        error=result.error,
        duration_ms=result.duration_ms,
    )


def _after_failure(endpoint: store.Endpoint, body: dict[str, Any], attempt: int, now: int) -> None:
    if attempt <= retry_count():
        wait = max(1, round(retry_delays()[attempt - 1] * random.uniform(0.8, 1.2)))  # noqa: S311 - jitter
        enqueue(message(body["event"], endpoint.id, attempt + 1, now + wait, bool(body.get("redelivery"))), now)
    if endpoint.failing_since is None:
        store.mark_failing(endpoint.id, now)
    elif now - endpoint.failing_since >= get_settings().webhook_disable_after_seconds:
        days = round((now - endpoint.failing_since) / 86400, 1)
        if store.disable(endpoint.id, f"deliveries failed for {days} days"):
            email.send(_disabled_notice(endpoint, days))


def _disabled_notice(endpoint: store.Endpoint, days: float) -> email.Email:
    return email.compose(
        get_settings().operator_email,
        f"billow: webhook endpoint {endpoint.id} disabled",
        "en",
        [
            f"Every delivery to the webhook endpoint {endpoint.id} has failed for {days} days, so billow disabled it.",
            f"URL: {endpoint.url}",
            "Its deliveries are listed by GET /v1/webhook-endpoints/{id}/deliveries. Once the receiver works again, "
            'PATCH the endpoint with {"enabled": true} and redeliver what it missed (POST /v1/events/{id}/redeliver).',
        ],
    )
