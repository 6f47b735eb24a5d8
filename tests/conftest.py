"""Test setup shared by every suite: fake AWS credentials, a loopback-only network, a local JWT issuer.

The environment is set before any billow module is imported, so settings and clients see it.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import tempfile
from pathlib import Path

import pytest

_TMP = Path(tempfile.mkdtemp(prefix="billow-tests-"))

os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": str(_TMP / "aws-config-none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(_TMP / "aws-credentials-none"),
        "BILLOW_STAGE": "test",
        "BILLOW_TABLE_PREFIX": "billow-test-",
        "BILLOW_JWT_ISSUER": "http://127.0.0.1/billow-local",
        "BILLOW_JWT_AUDIENCE": "billow-console",
        "BILLOW_SCOPE_PREFIX": "billow/",
        "BILLOW_CURSOR_SECRET": "test-cursor-secret",
        "BILLOW_LOG_LEVEL": "WARNING",
        "BILLOW_COLLECTION_DELAY_SECONDS": "0",  # the collector's message is delivered at once in tests
    }
)
os.environ.pop("AWS_ENDPOINT_URL", None)
os.environ.pop("AWS_PROFILE", None)

from local import moto_speed, tokens  # noqa: E402

# every in-process moto made cheaper, its answers unchanged (local/moto_speed.py)
moto_speed.install()
from local.jwks_server import serve_jwks  # noqa: E402

_KEY = tokens.generate_private_key()
_JWKS_SERVER, os.environ["BILLOW_JWKS_URL"] = serve_jwks(tokens.jwks(_KEY))

_real_connect = socket.socket.connect


def _loopback_only(self: socket.socket, address: object) -> object:
    """Nothing in the suite may leave this machine: refuse any non-loopback destination."""
    if self.family in (socket.AF_INET, socket.AF_INET6) and isinstance(address, tuple):
        host = address[0]
        try:
            ok = ipaddress.ip_address(host).is_loopback
        except ValueError:
            ok = host == "localhost"
        if not ok:
            raise ConnectionRefusedError(f"tests may only connect to loopback, not {host}")
    return _real_connect(self, address)


socket.socket.connect = _loopback_only  # type: ignore[method-assign]


@pytest.fixture(scope="session")
def signing_key():
    return _KEY


@pytest.fixture(scope="session")
def mint(signing_key):
    """mint(sub, *scopes, **claims) -> a valid token from the test issuer."""

    def _mint(sub: str, *scopes: str, **kwargs: object) -> str:
        return tokens.mint(signing_key, sub, list(scopes), **kwargs)

    return _mint


# Tests that read build/package (the Lambda zips; `make test` builds them before pytest when stale) run on
# one pytest-xdist worker: run without make, the first of them builds it, once, and never two at a time.
_PACKAGE_TESTS = ("tests/infra/", "tests/unit/test_package.py")


# The console's browser tests share one local stack and one Chromium per session: one worker runs them all.
_BROWSER_TESTS = "tests/browser/"


# The longest work first (longest-processing-time scheduling). pytest-xdist hands each worker the next
# work unit (a test, or an xdist_group) in collection order (`--no-loadscope-reorder` in pyproject.toml;
# its default orders units by their number of tests, which left the one-test proof simulation for the
# end: ~140 s run alone while the other workers idled). Measured durations, longest first; the order of
# tests inside a module is kept, and everything not listed follows in its usual order.
LONGEST_FIRST = (  # wall times: a full run of 2026-12-07, three workers busy
    "tests/proof/test_simulation.py",  # one test, ~110 s
    "tests/infra/",  # with tests/unit/test_package.py: the "package" group, ~110 s
    "tests/unit/test_package.py",
    "tests/proof/test_fuzz.py",  # "proof-fuzz", ~100 s
    # xdist gives a worker its next unit as soon as it has two tests or fewer left, so the simulation's
    # worker takes the fourth unit at once and runs it after the simulation: a short one, not a fuzz
    "tests/proof/test_auth_matrix.py",  # "proof-auth-matrix": 598 short tests, ~15-20 s
    "tests/e2e/test_stateful_fuzz.py",  # ~80 s
    "tests/e2e/test_calendar.py",  # three stacks, ~30 s each
    "tests/browser/",  # "browser", ~75 s
    "tests/proof/test_storms_and_card_data.py",  # "proof-stack", ~50 s
    "tests/e2e/test_collections_e2e.py",  # ~50 s
    "tests/e2e/test_local_stack.py",  # "local-stack", ~40 s
    # "shared-stack": one local stack for the three (SHARED_STACK = True), ~30 s
    "tests/e2e/test_events_e2e.py",
    "tests/e2e/test_payments_e2e.py",
    "tests/proof/test_payment_races.py",
    "tests/e2e/test_webhooks_e2e.py",  # ~25 s
    "tests/proof/test_faults.py",  # six tests, ~60 s in all
)


def _longest_first(item: pytest.Item) -> int:
    return next(
        (rank for rank, prefix in enumerate(LONGEST_FIRST) if item.nodeid.startswith(prefix)), len(LONGEST_FIRST)
    )


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    items.sort(key=_longest_first)  # stable: a module's tests stay together and in order
    for item in items:
        if item.nodeid.startswith(_PACKAGE_TESTS):
            item.add_marker(pytest.mark.xdist_group("package"))
        elif item.nodeid.startswith(_BROWSER_TESTS):
            item.add_marker(pytest.mark.xdist_group("browser"))
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def shared_local_stack(tmp_path_factory):
    """The local stack of the e2e and proof modules that set `SHARED_STACK = True` (tests/e2e/conftest.py
    `local_stack`); here, once, for the same reason as `stripe_server` below: tests/proof re-exports the
    e2e fixtures, and a session fixture defined in both would start two stacks on a worker running both."""
    from tests.e2e.conftest import SharedStack

    shared = SharedStack(tmp_path_factory)
    yield shared
    shared.close()


@pytest.fixture(scope="session")
def stripe_server():
    """localstripe behind the local shim (local/stripe_shim.py), in-process on a free loopback port; the
    Stripe gateway is pointed at it. One per session: Stripe objects are per test anyway (new customers).

    Defined here, once for every suite: when tests/proof/conftest.py re-exported the integration
    conftest's fixture, pytest held two session fixtures of one name, so a worker running both suites
    started two servers, and the gateway pointed at the later one while a proof test read the earlier
    one's request log (seen once the slowest tests were scheduled first)."""
    import os

    from functions.core import stripe_gateway
    from functions.core.settings import get_settings, reset_settings
    from local.stripe_shim import StripeServer

    server = StripeServer().start()
    os.environ.update(
        {
            "BILLOW_STRIPE_API_BASE": server.url,
            "STRIPE_SECRET_KEY": "sk_test_billow_tests",
            "STRIPE_PUBLISHABLE_KEY": "pk_test_billow_tests",
        }
    )
    reset_settings()
    # Compute the settings now, from this environment: chalice's test Client applies its stage's
    # variables (another table prefix) while a request runs, and settings first read there would keep them.
    get_settings()
    stripe_gateway.use_client(None)
    yield server
    server.stop()
