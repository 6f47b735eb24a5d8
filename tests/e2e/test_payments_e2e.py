"""Payments against the running local stack (`make run`): a card payment with a new card created at
the Stripe port as Stripe.js would, and a PayPal payment approved through the shim's URL — the signed
webhook from the Stripe side applies it."""

from __future__ import annotations

import time
import uuid

import requests

from tests.e2e.conftest import LocalStack


def _owing_account(api: str, admin: dict[str, str], amounts: list[int]) -> str:
    body = {
        "type": "payg",
        "linked": True,
        "currency": "usd",
        "name": "E2E Payments",
        "billing_contact": {
            "name": "Pay Er",
            "email": f"payer-{uuid.uuid4().hex[:8]}@e2e.example",
            "address": {"line1": "1 Main St", "city": "Springfield", "postal_code": "12345", "country": "US"},
        },
    }
    created = requests.post(f"{api}/v1/accounts", json=body, headers=admin, timeout=30)
    assert created.status_code == 201, created.text
    account_id = created.json()["id"]
    for amount in amounts:
        charged = requests.post(
            f"{api}/v1/accounts/{account_id}/charges",
            json={"description": "Consulting", "amount": amount},
            headers=admin | {"Idempotency-Key": str(uuid.uuid4())},
            timeout=30,
        )
        assert charged.status_code == 201, charged.text
    return account_id


def _balance(api: str, account_id: str, admin: dict[str, str]) -> int:
    summary = requests.get(f"{api}/v1/accounts/{account_id}/summary", headers=admin, timeout=30).json()
    return summary["balance"]["current"]


def test_a_card_payment_and_a_paypal_approval_against_the_running_stack(local_stack: LocalStack):
    from local import stripe_js

    info = local_stack.info
    api, stripe_url = info["api_url"], info["stripe"]["url"]
    admin = {"Authorization": f"Bearer {info['tokens']['admin']['token']}"}
    account_id = _owing_account(api, admin, [3000, 2000])
    payments = f"{api}/v1/accounts/{account_id}/payments"

    pm = stripe_js.create_payment_method(stripe_url, info["stripe"]["publishable_key"])
    card = requests.post(
        payments,
        json={"amount": 3500, "payment_method_id": pm},
        headers=admin | {"Idempotency-Key": str(uuid.uuid4())},
        timeout=30,
    )
    assert card.status_code == 201, card.text
    assert card.json()["status"] == "succeeded"
    assert _balance(api, account_id, admin) == 1500

    paypal = requests.post(
        payments,
        json={"amount": 1500, "method": "paypal", "return_url": "http://localhost:3000/billing"},
        headers=admin | {"Idempotency-Key": str(uuid.uuid4())},
        timeout=30,
    )
    assert paypal.status_code == 201, paypal.text
    assert paypal.json()["status"] == "requires_action"
    approved = requests.get(paypal.json()["next_action"]["url"], allow_redirects=False, timeout=30)
    assert approved.status_code == 302

    deadline, status = time.monotonic() + 20, None
    while time.monotonic() < deadline:
        status = requests.get(f"{payments}/{paypal.json()['id']}", headers=admin, timeout=30).json()["status"]
        if status == "succeeded":
            break
        time.sleep(0.3)
    assert status == "succeeded", local_stack.output()[-3000:]
    assert _balance(api, account_id, admin) == 0
    listed = requests.get(payments, headers=admin, timeout=30).json()["data"]
    assert [p["method"] for p in listed] == ["paypal", "card"]


def test_twenty_concurrent_payments_with_one_key_make_one_payment_intent(local_stack: LocalStack):
    from concurrent.futures import ThreadPoolExecutor

    from local import stripe_js

    info = local_stack.info
    api, stripe_url = info["api_url"], info["stripe"]["url"]
    admin = {"Authorization": f"Bearer {info['tokens']['admin']['token']}"}
    account_id = _owing_account(api, admin, [5000])
    stripe_auth = {"Authorization": f"Bearer {info['stripe']['secret_key']}"}

    def intents() -> int:
        listed = requests.get(f"{stripe_url}/v1/payment_intents?limit=100", headers=stripe_auth, timeout=30)
        return len(listed.json()["data"])

    before = intents()
    pm = stripe_js.create_payment_method(stripe_url, info["stripe"]["publishable_key"])
    headers = admin | {"Idempotency-Key": f"storm-{uuid.uuid4()}"}
    body = {"amount": 2000, "payment_method_id": pm}

    def pay(_: int) -> requests.Response:
        # The local server's listen backlog is small: a connection refused or reset before the request was
        # read is retried, as any client would, with the same Idempotency-Key.
        for attempt in range(10):
            try:
                return requests.post(f"{api}/v1/accounts/{account_id}/payments", json=body, headers=headers, timeout=60)
            except requests.ConnectionError:
                time.sleep(0.1 * (attempt + 1))
        raise AssertionError("the local API refused the connection ten times")

    with ThreadPoolExecutor(max_workers=20) as pool:
        replies = list(pool.map(pay, range(20)))
    fresh = [r for r in replies if r.status_code < 300 and "Idempotent-Replayed" not in r.headers]
    replayed = [r for r in replies if r.status_code < 300 and r.headers.get("Idempotent-Replayed") == "true"]
    in_progress = [r for r in replies if r.status_code == 409 and r.json()["code"] == "idempotency-in-progress"]
    # one fresh reply (none if its connection was the one reset after the work: its retry is a replay)
    assert len(fresh) <= 1 and fresh + replayed, [(r.status_code, r.text[:200]) for r in replies]
    assert len(fresh) + len(replayed) + len(in_progress) == 20
    first = (fresh or replayed)[0].json()
    assert all(r.json() == first for r in replayed)
    assert intents() == before + 1
    assert _balance(api, account_id, admin) == 3000
