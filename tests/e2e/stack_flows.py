"""Flows against the running local stack that several e2e and proof tests share: an account that owes
money, its balance, a PayPal payment approved at the shim's approval URL (the signed webhook from the
Stripe side applies it), and paging through a list route."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import requests

from tests.pdf_links import pdf_link


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


BILLOW = Path(sys.executable).parent / "billow"
COLLECTED_WITHIN = 90.0  # seconds: the collector's default delay (60 s) and the queue pump


def run_cli(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """`billow ARGS…` as a user's shell next to the stack runs it."""
    return subprocess.run([str(BILLOW), *args], env=env, capture_output=True, text=True, timeout=timeout, check=False)


def stack_now(api: str, account_id: str, admin: dict[str, str]) -> datetime:
    """The stack's clock, read off the newest audit event of an account it just wrote (the stack may run
    on a moved calendar: BILLOW_TODAY): tests date what they send from it, never from this machine's day."""
    events = requests.get(f"{api}/v1/accounts/{account_id}/events?limit=1", headers=admin, timeout=30).json()
    return datetime.fromisoformat(events["data"][0]["at"].replace("Z", "+00:00"))


def bill_the_demo_account_once(stack: Any) -> dict[str, Any]:
    """Usage for the demo account's current period, `billow bill --date` its next recurring date: the
    Recurring invoice holds the usage and the fees, its card is charged once (one PaymentIntent), its PDF
    is stored, one notice is sent; a second run of the date changes nothing; the audit passes. Returns the
    invoice's detail."""
    from local import tokens

    info = stack.info
    api, demo = info["api_url"], info["accounts"]["demo"]
    admin = {"Authorization": f"Bearer {info['tokens']['admin']['token']}"}
    key = tokens.load_private_key(stack.local_dir / "jwt-private.pem")
    meter = {"Authorization": f"Bearer {tokens.mint(key, 'meter', ['billing:usage'])}"}
    summary = requests.get(f"{api}/v1/accounts/{demo}/summary", headers=admin, timeout=30).json()
    run_date = summary["next_recurring_invoice_date"]
    used_at = stack_now(api, demo, admin).isoformat().replace("+00:00", "Z")
    records = [
        {
            "id": f"e2e-{n}",
            "account_id": demo,
            "service": "cdn",
            "metric": "gb",
            "quantity": 1000,  # priced by the demo rate card: 1.5 cents a GB (v4: no price in records)
            "occurred_at": used_at,
        }
        for n in range(2)
    ]
    r = requests.post(f"{api}/v1/usage", json={"records": records}, headers=meter, timeout=30)
    assert r.status_code == 200 and r.json()["accepted"] == 2, r.text
    stripe_auth = {"Authorization": f"Bearer {info['stripe']['secret_key']}"}

    def payment_intents() -> int:
        url = f"{info['stripe']['url']}/v1/payment_intents?limit=100"
        return len(requests.get(url, headers=stripe_auth, timeout=30).json()["data"])

    def recurring() -> list[dict]:
        page = requests.get(f"{api}/v1/accounts/{demo}/invoices?type=recurring", headers=admin, timeout=30)
        return page.json()["data"]

    view = requests.get(f"{api}/v1/accounts/{demo}/usage?group_by=metric", headers=admin, timeout=30).json()
    shown = {line["description"]: line["amount"] for line in view["lines"] if line["amount"] > 0}
    assert shown["cdn · gb"] == 3000 and "Compute (vCPU hours)" in shown, view  # the demo's seeded usage too
    before = payment_intents()
    result = run_cli(stack.env, "bill", "--date", run_date)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "queues drained" in result.stderr
    (inv,) = recurring()
    detail = requests.get(f"{api}/v1/accounts/{demo}/invoices/{inv['id']}", headers=admin, timeout=30).json()
    usage = [line for line in detail["lines"] if line["description"] == "cdn · gb"]
    assert len(usage) == 1 and usage[0]["amount"] == 3000, detail["lines"]  # 2,000 GB x 1.5 cents
    assert usage[0]["period_end"] == run_date  # usage in arrears: the period that ends on the run date
    billed = {
        line["description"]: line["amount"] for line in detail["lines"] if (line["group"] or "").startswith("Service: ")
    }
    assert billed == shown, (billed, shown)  # the Recurring invoice bills what the usage view showed
    assert "Load balancer" in {line["description"] for line in detail["lines"]}
    assert inv["date"] == run_date
    # v4: the run charges nothing itself; the collector does, after its delay (60 s unless the stack's
    # BILLOW_COLLECTION_DELAY_SECONDS says otherwise), with ONE PaymentIntent for the account's balance
    deadline = time.monotonic() + COLLECTED_WITHIN
    while inv["status"] != "closed" and time.monotonic() < deadline:
        time.sleep(0.5)
        inv = requests.get(f"{api}/v1/accounts/{demo}/invoices/{inv['id']}", headers=admin, timeout=30).json()
    assert inv["status"] == "closed" and inv["balance_due"] == 0, inv  # collected
    assert payment_intents() == before + 1
    pdf = pdf_link(f"{api}/v1/accounts/{demo}/invoices/{inv['id']}/pdf", admin, timeout=30).json()  # 409s followed
    assert requests.get(pdf["url"], timeout=30).content.startswith(b"%PDF")
    mails = run_cli(stack.env, "emails", "--json", timeout=60)
    notices = [m for m in json.loads(mails.stdout) if inv["number"] in m["subject"]]
    assert len(notices) == 1 and "will be charged shortly to your card" in notices[0]["body"], mails.stdout
    assert any((m["subject"] or "").startswith("Payment received") for m in json.loads(mails.stdout))  # receipt
    again = run_cli(stack.env, "bill", "--date", run_date)
    assert again.returncode == 0 and len(recurring()) == 1 and payment_intents() == before + 1
    audit = run_cli(stack.env, "audit", timeout=60)
    assert audit.returncode == 0, audit.stdout + audit.stderr
    return detail
