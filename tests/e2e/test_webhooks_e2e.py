"""Outbound webhooks over the local stack (issue 19): `make run` starts the receiver on its port and
registers it for every event type; `billow events` lists what it got with each signature checked; billing
changes reach it signed; a receiver answering 500 twice gets the event on the third attempt, and the
deliveries route shows the attempts. Retries wait 1 s, then 2 s, in this stack (BILLOW_WEBHOOK_RETRY_*)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid

import pytest
import requests

from tests.e2e.conftest import REPO, LocalStack, start_local_stack

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("webhooks-stack")]


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with start_local_stack(
        tmp_path_factory,
        BILLOW_WEBHOOK_RETRY_BASE_SECONDS="1",
        BILLOW_WEBHOOK_RETRY_CAP_SECONDS="2",
        BILLOW_WEBHOOK_RETRY_WINDOW_SECONDS="120",
        BILLOW_COLLECTION_DELAY_SECONDS="2",
    ) as running:
        yield running


def admin(stack: LocalStack) -> dict[str, str]:
    return {"Authorization": f"Bearer {stack.info['tokens']['admin']['token']}"}


def billow_events(stack: LocalStack, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "local.cli", "events", *args],
        cwd=REPO,
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


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
    assert listed and listed == received(stack)[: len(listed)]  # (more may have come since)
    assert all(e["signature_valid"] for e in listed)
    table = billow_events(stack)
    assert table.returncode == 0 and "event" in table.stdout
    none = billow_events(stack, "--type", "no.such_type", "--json")
    assert none.returncode == 0 and json.loads(none.stdout) == []


def signed(stack: LocalStack, type_: str, account_id: str | None) -> dict | None:
    """The first event of `type_` for `account_id` the receiver got with a valid signature, or None."""
    for e in received(stack):
        if e["type"] == type_ and e["account_id"] == account_id and e["signature_valid"]:
            return e
    return None


def reached(stack: LocalStack, type_: str, account_id: str | None, timeout: float = 60.0) -> dict:
    got = wait_for(lambda: signed(stack, type_, account_id), timeout)
    types = sorted({(e["type"], e["account_id"]) for e in received(stack)})
    assert got is not None, f"no signed {type_} for {account_id}; the receiver got {types}"
    assert got["headers"]["webhook-id"] == got["id"] and got["headers"]["webhook-signature"].startswith("v1,")
    return got


def post(stack: LocalStack, path: str, body: dict) -> dict:
    answer = requests.post(
        f"{stack.api}{path}", json=body, headers=admin(stack) | {"Idempotency-Key": str(uuid.uuid4())}, timeout=30
    )
    assert answer.status_code in (200, 201, 202), answer.text
    return answer.json()


def test_the_seeded_card_change_and_budget_crossing_reached_the_receiver_signed(stack):
    demo = stack.info["accounts"]["demo"]
    card = reached(stack, "payment_method.updated", demo)
    assert card["event"]["data"]["object"]
    budget = reached(stack, "usage.budget_threshold_crossed", demo)
    assert budget["event"]["api_version"] == "v1" and budget["event"]["sequence"] >= 1


def test_a_provisioning_and_a_payment_reach_the_receiver_signed(stack):
    from local import stripe_js
    from tests.e2e.stack_flows import owing_account

    info = stack.info
    account = owing_account(stack.api, admin(stack), [3000])
    reached(stack, "account.created", account)
    reached(stack, "invoice.issued", account)
    devices = requests.get(
        f"{stack.api}/v1/accounts/{info['accounts']['demo']}/devices", headers=admin(stack), timeout=30
    ).json()
    assert devices["data"]
    item = post(
        stack,
        f"/v1/accounts/{info['accounts']['demo']}/billing-items",
        {"description": "E2E volume", "category": "storage", "recurring_fee": 500},
    )
    provisioned = wait_for(
        lambda: [
            e
            for e in received(stack)
            if e["type"] == "billing_item.provisioned" and e["event"]["data"]["object"].get("id") == item["item"]["id"]
        ]
    )
    assert provisioned and provisioned[0]["signature_valid"], sorted({e["type"] for e in received(stack)})
    pm = stripe_js.create_payment_method(info["stripe"]["url"], info["stripe"]["publishable_key"])
    paid = post(stack, f"/v1/accounts/{account}/payments", {"amount": 3000, "payment_method_id": pm})
    assert paid["status"] == "succeeded"
    succeeded = reached(stack, "payment.succeeded", account)
    assert succeeded["event"]["data"]["object"]["id"] == paid["id"]
    reached(stack, "invoice.paid", account)


def test_a_monthly_run_reaches_the_receiver_signed(stack):
    demo = stack.info["accounts"]["demo"]
    summary = requests.get(f"{stack.api}/v1/accounts/{demo}/summary", headers=admin(stack), timeout=30).json()
    run_date = summary["next_recurring_invoice_date"]
    result = subprocess.run(
        [sys.executable, "-m", "local.cli", "bill", "--date", run_date],
        cwd=REPO,
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    completed = reached(stack, "billing_run.completed", None)
    assert completed["event"]["account_id"] is None
    issued = wait_for(
        lambda: [
            e
            for e in received(stack)
            if e["type"] == "invoice.issued"
            and e["account_id"] == demo
            and e["event"]["data"]["object"].get("type") == "recurring"
        ]
    )
    assert issued and issued[0]["signature_valid"]


def test_a_receiver_answering_500_twice_gets_the_event_on_the_third_attempt(stack):
    from tests.e2e.stack_flows import new_account

    hooks = stack.info["webhooks"]
    account = new_account(stack.api, admin(stack), "E2E flaky receiver")
    reached(stack, "account.created", account)
    order = {"account_id": account, "fail": 2, "status": 500}
    assert requests.post(hooks["events_url"].replace("/events", "/script"), json=order, timeout=10).status_code == 204
    charge = post(stack, f"/v1/accounts/{account}/charges", {"description": "Consulting", "amount": 1200})
    issued = reached(stack, "invoice.issued", account, timeout=90)
    assert issued["event"]["data"]["object"]["id"] == charge["id"]
    path = f"{stack.api}/v1/webhook-endpoints/{hooks['endpoint_id']}/deliveries?limit=100"

    def attempts() -> list[dict]:
        page = requests.get(path, headers=admin(stack), timeout=30).json()["data"]
        return sorted((a for a in page if a["event_id"] == issued["id"]), key=lambda a: a["attempt"])

    listed = wait_for(lambda: [a for a in attempts() if a["status"] == "delivered"] and attempts())
    assert [(a["attempt"], a["status"], a["status_code"]) for a in listed] == [
        (1, "failed", 500),
        (2, "failed", 500),
        (3, "delivered", 204),
    ]
    assert all(a["duration_ms"] >= 0 and "body" not in a for a in listed)
