"""Outbound webhooks over the local stack (issue 19): `make run` starts the receiver on its port and
registers it for every event type; `billow events` lists what it got with each signature checked; billing
changes reach it signed; a receiver answering 500 twice gets the event on the third attempt, and the
deliveries route shows the attempts. Retries wait 1 s, then 2 s, in this stack (BILLOW_WEBHOOK_RETRY_*)."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
import requests

from tests.e2e.conftest import REPO, LocalStack, start_local_stack

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("webhooks-stack")]


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with start_local_stack(
        tmp_path_factory, BILLOW_WEBHOOK_RETRY_BASE_SECONDS="1", BILLOW_WEBHOOK_RETRY_CAP_SECONDS="2"
    ) as running:
        yield running


def admin(stack: LocalStack) -> dict[str, str]:
    return {"Authorization": f"Bearer {stack.info['tokens']['admin']['token']}"}


def billow_events(stack: LocalStack, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "local.cli", "events", *args],
        cwd=REPO, env=stack.env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def received(stack: LocalStack) -> list[dict]:
    return requests.get(stack.info["webhooks"]["events_url"], timeout=10).json()


def wait_for(what, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = what()
        if value:
            return value
        time.sleep(0.3)
    return what()


def test_make_run_registers_the_receiver_for_every_type_and_the_panel_shows_it(stack):
    hooks = stack.info["webhooks"]
    assert hooks["receiver_url"].startswith(f"http://127.0.0.1:{stack.ports['receiver']}/")
    page = requests.get(f"{stack.api}/v1/webhook-endpoints", headers=admin(stack), timeout=10).json()
    (endpoint,) = [e for e in page["data"] if e["id"] == hooks["endpoint_id"]]
    assert endpoint["url"] == hooks["receiver_url"] and endpoint["event_types"] == ["*"] and endpoint["enabled"]
    assert "secret" not in endpoint
    assert "webhook receiver" in stack.output() and hooks["endpoint_id"] in stack.output()
    assert "billow events" in stack.output()


def test_billow_events_lists_what_the_receiver_got(stack):
    result = billow_events(stack, "--json")
    assert result.returncode == 0, result.stderr
    listed = json.loads(result.stdout)
    assert listed == received(stack)
    assert all(e["signature_valid"] for e in listed)
    table = billow_events(stack)
    assert table.returncode == 0 and "event" in table.stdout
    none = billow_events(stack, "--type", "no.such_type", "--json")
    assert none.returncode == 0 and json.loads(none.stdout) == []
