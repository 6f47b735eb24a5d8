"""Time budgets (DESIGN §9, infra/budgets.py): computed from the timeout and retry settings, never timed.

Every API path's worst case, Stripe retries included, stays under API Gateway's 29 s; every queue
message's under its consumer's timeout, and a batch stops starting messages when less than one
message's worst case is left."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from functions.core import queues, stripe_gateway
from functions.core.resources import QUEUES
from functions.core.settings import reset_settings
from infra import budgets


def test_one_calls_worst_case_is_its_tries_timeouts_and_capped_backoffs():
    retry = budgets.StripeRetry(attempts=4, timeout_seconds=10.0)
    # 4 tries of 10 s, and the backoffs after tries 1..3: 0.25, 0.5, 1.0 (base 0.25 doubling, cap 4)
    assert retry.worst_call_seconds() == pytest.approx(40 + 0.25 + 0.5 + 1.0)
    assert budgets.StripeRetry(attempts=1, timeout_seconds=3.0).worst_call_seconds() == 3.0
    # the backoff the gateway draws never exceeds what the budget counts
    for attempt in range(1, 8):
        bound = min(stripe_gateway.BACKOFF_CAP_SECONDS, stripe_gateway.BACKOFF_BASE_SECONDS * 2 ** (attempt - 1))
        assert all(stripe_gateway._backoff(attempt) <= bound for _ in range(50))


def test_the_settings_before_v4_broke_the_api_budget():
    """The old single setting (4 tries of 10 s) made a 3-call path take over two minutes."""
    old = budgets.StripeRetry(attempts=4, timeout_seconds=10.0)
    slowest = max(budgets.API_PATHS, key=lambda p: p.stripe_calls)
    assert budgets.api_worst_seconds(slowest, old) > budgets.API_GATEWAY_LIMIT_SECONDS


@pytest.mark.parametrize("path", budgets.API_PATHS, ids=lambda p: p.name)
def test_every_api_path_fits_under_api_gateways_29_seconds(path):
    worst = budgets.api_worst_seconds(path)
    assert worst < budgets.API_GATEWAY_LIMIT_SECONDS, f"{path.name}: {worst:.2f} s"


def test_the_api_retries_less_and_shorter_than_the_workers():
    assert budgets.API_STRIPE.attempts < budgets.WORKER_STRIPE.attempts
    assert budgets.API_STRIPE.timeout_seconds < budgets.WORKER_STRIPE.timeout_seconds


def test_every_queue_has_a_budget():
    assert set(budgets.WORKERS) == set(QUEUES), "a queue without a time budget: add it to infra/budgets.py"


@pytest.mark.parametrize("queue", sorted(QUEUES))
def test_every_message_fits_under_its_consumers_timeout(queue):
    worst = budgets.message_worst_seconds(queue)
    assert worst < QUEUES[queue].consumer_timeout_seconds, f"{queue}: {worst:.2f} s"


def test_the_api_function_gets_the_api_retries_and_consumers_their_reserve():
    assert budgets.function_environment(is_api=True, queue=None) == {
        "BILLOW_STRIPE_MAX_ATTEMPTS": "2",
        "BILLOW_STRIPE_TIMEOUT_SECONDS": "3",
    }
    env = budgets.function_environment(is_api=False, queue="collections")
    assert float(env["BILLOW_MESSAGE_BUDGET_SECONDS"]) == budgets.message_worst_seconds("collections")


class _Batch(list):
    """Chalice's SQSEvent: iterable records and the Lambda context."""

    def __init__(self, records, remaining_ms):
        super().__init__(records)
        self.context = SimpleNamespace(get_remaining_time_in_millis=lambda: remaining_ms[0])


def _records(n):
    return [{"messageId": f"m{i}", "body": json.dumps({"i": i}), "attributes": {}} for i in range(n)]


@pytest.fixture
def budget(monkeypatch):
    monkeypatch.setenv("BILLOW_MESSAGE_BUDGET_SECONDS", "30")
    reset_settings()
    yield
    monkeypatch.undo()
    reset_settings()


def test_a_batch_starts_no_message_with_less_than_one_messages_budget_left(budget):
    remaining = [60_000]
    handled = []

    def handle(body):
        handled.append(body["i"])
        remaining[0] -= 20_000  # each message takes 20 s of the invocation

    result = queues.process_batch("card-validation", _Batch(_records(5), remaining), handle)
    # 60 s left: m0 (-> 40 s), m1 (-> 20 s); then 20 s < 30 s: m2..m4 go back unstarted
    assert handled == [0, 1]
    assert result == {"batchItemFailures": [{"itemIdentifier": f"m{i}"} for i in (2, 3, 4)]}


def test_without_a_context_or_budget_every_message_is_handled(budget):
    handled = []
    result = queues.process_batch("card-validation", _records(3), lambda body: handled.append(body["i"]))
    assert handled == [0, 1, 2] and result == {"batchItemFailures": []}
