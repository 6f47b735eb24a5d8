"""The Stripe gateway (functions/core/stripe_gateway.py) against localstripe: the pinned API version,
explicit idempotency keys, retries with backoff on 429 and network errors (same key every attempt),
and no `import stripe` on the API's cold path."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import stripe

from functions.core import stripe_gateway
from functions.core.errors import ServiceUnavailableError
from functions.core.settings import get_settings

ROOT = Path(__file__).resolve().parents[2]


class FaultyHttpClient(stripe.RequestsClient):
    """The SDK's own HTTP client, answering the queued faults first; records every attempt."""

    def __init__(self, faults):
        super().__init__(timeout=5)
        self.faults = list(faults)
        self.attempts = []

    def request(self, method, url, headers, post_data=None):
        self.attempts.append((method, url, dict(headers or {})))
        if self.faults:
            fault = self.faults.pop(0)
            if fault == "network":
                raise stripe.APIConnectionError("connection reset (injected)")
            status, error = fault
            return json.dumps({"error": error}), status, {}
        return super().request(method, url, headers, post_data)


@pytest.fixture
def faulty(stripe_server, monkeypatch):
    """install(*faults) -> the recording HTTP client now used by the gateway; no real waiting."""
    sleeps = []
    monkeypatch.setattr(stripe_gateway, "_sleep", sleeps.append)

    def install(*faults):
        http = FaultyHttpClient(faults)
        http.sleeps = sleeps
        stripe_gateway.use_client(
            stripe.StripeClient(
                "sk_test_billow_tests",
                stripe_version=stripe_gateway.API_VERSION,
                base_addresses={"api": stripe_server.url},
                max_network_retries=0,
                http_client=http,
            )
        )
        return http

    yield install
    stripe_gateway.use_client(None)


RATE_LIMITED = (429, {"type": "invalid_request_error", "code": "rate_limit", "message": "Too many requests"})


def test_the_pinned_api_version_is_the_sdks_and_is_sent(faulty):
    assert stripe_gateway.API_VERSION == stripe.api_version
    http = faulty()
    stripe_gateway.create_customer(name="v", email="v@x.example", metadata={}, idempotency_key="version-check")
    assert http.attempts[0][2]["Stripe-Version"] == stripe_gateway.API_VERSION


def test_429s_are_retried_with_backoff_and_the_same_idempotency_key(faulty, stripe_server):
    http = faulty(RATE_LIMITED, RATE_LIMITED)
    customer = stripe_gateway.create_customer(
        name="retried", email="r@x.example", metadata={"k": "v"}, idempotency_key="customer:create:retried"
    )
    assert customer.startswith("cus_")
    assert len(http.attempts) == 3
    assert {a[2]["Idempotency-Key"] for a in http.attempts} == {"customer:create:retried"}
    assert len(http.sleeps) == 2
    assert 0 <= http.sleeps[0] <= stripe_gateway.BACKOFF_BASE_SECONDS
    assert 0 <= http.sleeps[1] <= 2 * stripe_gateway.BACKOFF_BASE_SECONDS
    reached = [
        r for r in stripe_server.requests("POST", "/v1/customers") if r.idempotency_key == "customer:create:retried"
    ]
    assert len(reached) == 1


def test_network_errors_are_retried_then_reported_unavailable(faulty):
    attempts = get_settings().stripe_max_attempts
    http = faulty(*["network"] * attempts)
    with pytest.raises(ServiceUnavailableError):
        stripe_gateway.create_setup_intent("cus_x", metadata={}, idempotency_key="seti:network")
    assert len(http.attempts) == attempts and len(http.sleeps) == attempts - 1


def test_a_network_error_then_success_returns_the_result(faulty):
    http = faulty("network")
    assert stripe_gateway.get_setup_intent("seti_unknown") is None  # 404 after the retry: None
    assert len(http.attempts) == 2


def test_a_server_error_is_unavailable_at_once(faulty):
    http = faulty((500, {"type": "api_error", "message": "boom"}))
    with pytest.raises(ServiceUnavailableError):
        stripe_gateway.create_customer(name="x", email="x@x.example", metadata={}, idempotency_key="five-hundred")
    assert len(http.attempts) == 1


def test_a_refusal_is_not_retried(faulty):
    http = faulty()
    with pytest.raises(stripe_gateway.StripeRejectedError) as refused:
        stripe_gateway.attach_payment_method("pm_nope", "cus_nope", idempotency_key="attach-nope")
    assert refused.value.http_status == 404
    assert len(http.attempts) == 2  # the retrieve that found nothing, then the attach Stripe refused


def test_importing_the_app_does_not_import_stripe():
    code = "import sys, app; print('stripe' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
