"""Flows against the running local stack that several e2e and proof tests share: an account that owes
money, its balance, a PayPal payment approved at the shim's approval URL (the signed webhook from the
Stripe side applies it), and paging through a list route."""

from __future__ import annotations

import time
import uuid
from typing import Any

import requests


def new_account(api: str, admin: dict[str, str], name: str, type_: str = "payg") -> str:
    body = {
        "type": type_,
        "linked": True,
        "currency": "usd",
        "name": name,
        "billing_contact": {
            "name": "Pay Er",
            "email": f"payer-{uuid.uuid4().hex[:8]}@e2e.example",
            "address": {"line1": "1 Main St", "city": "Springfield", "postal_code": "12345", "country": "US"},
        },
    }
    created = requests.post(f"{api}/v1/accounts", json=body, headers=admin, timeout=30)
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def owing_account(api: str, admin: dict[str, str], amounts: list[int], name: str = "E2E Payments") -> str:
    """A payg linked account with one One-time charge per amount."""
    account_id = new_account(api, admin, name)
    for amount in amounts:
        charged = requests.post(
            f"{api}/v1/accounts/{account_id}/charges",
            json={"description": "Consulting", "amount": amount},
            headers=admin | {"Idempotency-Key": str(uuid.uuid4())},
            timeout=30,
        )
        assert charged.status_code == 201, charged.text
    return account_id


def summary(api: str, account_id: str, admin: dict[str, str]) -> dict[str, Any]:
    response = requests.get(f"{api}/v1/accounts/{account_id}/summary", headers=admin, timeout=30)
    assert response.status_code == 200, response.text
    return dict(response.json())


def balance(api: str, account_id: str, admin: dict[str, str]) -> int:
    return int(summary(api, account_id, admin)["balance"]["current"])


def list_all(api: str, path: str, headers: dict[str, str]) -> list[dict[str, Any]]:
    """Every element of a paged list route (limit 100, following next_cursor)."""
    out: list[dict[str, Any]] = []
    params: dict[str, str | int] = {"limit": 100}
    while True:
        response = requests.get(f"{api}{path}", params=params, headers=headers, timeout=30)
        assert response.status_code == 200, response.text
        page = response.json()
        out += page["data"]
        if not page.get("next_cursor"):
            return out
        params["cursor"] = page["next_cursor"]


def paypal_payment_approved(
    api: str, admin: dict[str, str], account_id: str, amount: int, timeout: float = 20.0
) -> dict[str, Any]:
    """A PayPal payment: created (requires_action), approved at the shim's URL as the customer would,
    then applied by the signed `payment_intent.succeeded` webhook. Returns the payment once succeeded."""
    payments = f"{api}/v1/accounts/{account_id}/payments"
    paypal = requests.post(
        payments,
        json={"amount": amount, "method": "paypal", "return_url": "http://localhost:3000/billing"},
        headers=admin | {"Idempotency-Key": str(uuid.uuid4())},
        timeout=30,
    )
    assert paypal.status_code == 201, paypal.text
    assert paypal.json()["status"] == "requires_action"
    approved = requests.get(paypal.json()["next_action"]["url"], allow_redirects=False, timeout=30)
    assert approved.status_code == 302
    deadline, payment = time.monotonic() + timeout, paypal.json()
    while time.monotonic() < deadline:
        payment = requests.get(f"{payments}/{paypal.json()['id']}", headers=admin, timeout=30).json()
        if payment["status"] == "succeeded":
            return dict(payment)
        time.sleep(0.3)
    raise AssertionError(f"the PayPal payment is still {payment['status']} after {timeout:.0f}s")
