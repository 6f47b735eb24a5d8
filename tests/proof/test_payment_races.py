"""Proof suite: payments with DIFFERENT Idempotency-Keys racing over the running stack (issue 14 hole 0).

The first wave's storms sent one key many times; a double click, two tabs or a console racing the
monthly run send different keys. Before the reservation of payments in flight (DESIGN §3 v4), 10
concurrent payments of 10.00 against a 50.00 balance all charged the card. Each race asserts, from
the Stripe side and the ledger: money taken ≤ money owed; every PaymentIntent that took money was
answered succeeded (or in progress) — never an error for a charged card; the refused ones are 422
`amount-exceeds-balance` before Stripe was called; the balance never goes below zero; the ledger
invariant holds (`billow audit`).
"""

from __future__ import annotations

import threading
import uuid
from typing import Any

import pytest
import requests

from local import stripe_js
from tests.e2e.conftest import LocalStack
from tests.e2e.stack_flows import balance, list_all, owing_account, run_cli

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("shared-stack")]
SHARED_STACK = True  # with test_events_e2e.py and test_payments_e2e.py (tests/e2e/conftest.py `local_stack`)


def _admin(stack: LocalStack) -> dict[str, str]:
    return {"Authorization": f"Bearer {stack.info['tokens']['admin']['token']}"}


def race(stack: LocalStack, path: str, bodies: list[dict[str, Any]]) -> list[requests.Response]:
    """One thread per body, released together, each with its own Idempotency-Key."""
    gate = threading.Barrier(len(bodies))
    replies: list[requests.Response | None] = [None] * len(bodies)

    def one(i: int) -> None:
        headers = _admin(stack) | {"Idempotency-Key": f"race-{uuid.uuid4()}"}
        gate.wait()
        replies[i] = requests.post(f"{stack.api}{path}", json=bodies[i], headers=headers, timeout=120)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(bodies))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(r is not None for r in replies)
    return [r for r in replies if r is not None]


def stripe_intents(stack: LocalStack, account_id: str) -> list[dict[str, Any]]:
    """The account's PaymentIntents at the Stripe port (billow names the account in their metadata)."""
    stripe = stack.info["stripe"]
    auth = {"Authorization": f"Bearer {stripe['secret_key']}"}
    found, after = [], ""
    while True:
        page = requests.get(f"{stripe['url']}/v1/payment_intents?limit=100{after}", headers=auth, timeout=30).json()
        found += [pi for pi in page["data"] if (pi.get("metadata") or {}).get("billow_account_id") == account_id]
        if not page.get("has_more") or not page["data"]:
            return found
        after = f"&starting_after={page['data'][-1]['id']}"


def judge(stack: LocalStack, account_id: str, owed: int, replies: list[requests.Response]) -> dict[str, int]:
    """The race's contract; returns counts for the figure."""
    shown = [(r.status_code, r.text[:200]) for r in replies]
    answered: dict[str, str] = {}
    for r in replies:
        assert r.status_code in (201, 422), shown  # never 409 concurrent-update, never 5xx
        if r.status_code == 422:
            assert r.json()["code"] == "amount-exceeds-balance", shown
        else:
            answered[r.json()["id"]] = r.json()["status"]
    intents = stripe_intents(stack, account_id)
    taken = sum(pi["amount"] for pi in intents if pi["status"] == "succeeded")
    assert taken <= owed, (taken, owed, shown)
    for pi in intents:  # every PaymentIntent belongs to a payment answered 201 (none made for a 422)
        assert pi["metadata"]["billow_payment_id"] in answered, (pi["id"], shown)
        if pi["status"] == "succeeded":
            assert answered[pi["metadata"]["billow_payment_id"]] in ("succeeded", "processing"), shown
    left = balance(stack.api, account_id, _admin(stack))
    assert left == owed - taken and left >= 0, (left, owed, taken)
    audit = run_cli(stack.env, "audit", "--account", account_id, timeout=60)
    assert audit.returncode == 0, audit.stdout
    return {"taken": taken, "succeeded": sum(s == "succeeded" for s in answered.values()), "refused": 0}


def test_ten_card_payments_with_ten_keys_take_at_most_the_balance(local_stack: LocalStack):
    stack = local_stack
    account_id = owing_account(stack.api, _admin(stack), [5000], name="Race: ten keys")
    stripe = stack.info["stripe"]
    pms = [stripe_js.create_payment_method(stripe["url"], stripe["publishable_key"]) for _ in range(10)]

    replies = race(
        stack, f"/v1/accounts/{account_id}/payments", [{"amount": 1000, "payment_method_id": p} for p in pms]
    )

    counts = judge(stack, account_id, 5000, replies)
    assert counts["taken"] == 5000 and counts["succeeded"] == 5, counts  # exactly what was owed, by five
    # every reservation was released: the account owes nothing and holds nothing in flight
    assert balance(stack.api, account_id, _admin(stack)) == 0


def test_six_payments_of_one_invoice_pay_it_once(local_stack: LocalStack):
    stack = local_stack
    account_id = owing_account(stack.api, _admin(stack), [4000, 2000], name="Race: one invoice")
    invoices = list_all(stack.api, f"/v1/accounts/{account_id}/invoices", _admin(stack))
    target = next(i["id"] for i in invoices if i["total"] == 4000)
    stripe = stack.info["stripe"]
    bodies = [
        {
            "amount": 4000,
            "invoice_id": target,
            "payment_method_id": stripe_js.create_payment_method(stripe["url"], stripe["publishable_key"]),
        }
        for _ in range(6)
    ]

    replies = race(stack, f"/v1/accounts/{account_id}/payments", bodies)

    counts = judge(stack, account_id, 6000, replies)
    assert counts["taken"] == 4000 and counts["succeeded"] == 1, counts
    detail = requests.get(f"{stack.api}/v1/accounts/{account_id}/invoices/{target}", headers=_admin(stack), timeout=30)
    assert detail.json()["status"] == "closed"


def test_paypal_payments_racing_hold_the_balance_until_approved(local_stack: LocalStack):
    stack = local_stack
    account_id = owing_account(stack.api, _admin(stack), [5000], name="Race: PayPal")
    body = {"amount": 3000, "method": "paypal", "return_url": "http://localhost:3000/billing"}

    replies = race(stack, f"/v1/accounts/{account_id}/payments", [body] * 4)

    created = [r.json() for r in replies if r.status_code == 201]
    assert len(created) == 1 and created[0]["status"] == "requires_action", [r.text for r in replies]
    judge(stack, account_id, 5000, replies)
    payments = f"{stack.api}/v1/accounts/{account_id}/payments"
    stripe = stack.info["stripe"]
    # a card payment for the whole balance would take the PayPal payment's money too: refused
    pm = stripe_js.create_payment_method(stripe["url"], stripe["publishable_key"])
    headers = _admin(stack) | {"Idempotency-Key": str(uuid.uuid4())}
    whole = requests.post(payments, json={"amount": 5000, "payment_method_id": pm}, headers=headers, timeout=30)
    assert whole.status_code == 422 and whole.json()["code"] == "amount-exceeds-balance", whole.text
    headers = _admin(stack) | {"Idempotency-Key": str(uuid.uuid4())}
    rest = requests.post(payments, json={"amount": 2000, "payment_method_id": pm}, headers=headers, timeout=30)
    assert rest.status_code == 201 and rest.json()["status"] == "succeeded", rest.text
    # the customer approves PayPal: its webhook applies it, the account owes nothing
    assert requests.get(created[0]["next_action"]["url"], allow_redirects=False, timeout=30).status_code == 302
    for _ in range(100):
        if requests.get(f"{payments}/{created[0]['id']}", headers=_admin(stack), timeout=30).json()["status"] == (
            "succeeded"
        ):
            break
        threading.Event().wait(0.2)
    assert balance(stack.api, account_id, _admin(stack)) == 0
    assert sum(pi["amount"] for pi in stripe_intents(stack, account_id) if pi["status"] == "succeeded") == 5000
