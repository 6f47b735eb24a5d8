"""The proof suite (issue 10): storms, faults, randomized simulation, fuzzing, the authorization matrix
and the card-data scan. In-process tests use the integration fixtures (moto `mock_aws`, the Stripe side
in-process); tests over HTTP use the local stack started the way `make run` starts it."""

from __future__ import annotations

from tests.e2e.conftest import local_stack  # noqa: F401  (fixture re-export: the running stack)
from tests.integration.conftest import (  # noqa: F401  (fixture re-exports: moto, the API client; Stripe's is in tests/conftest.py)
    Api,
    api,
    aws,
    client,
    queues_and_mail,
    webhooks,
)
from tests.proof.world import world  # noqa: F401  (fixture: a module's own seeded accounts A and B)
