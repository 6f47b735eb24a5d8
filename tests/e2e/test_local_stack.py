"""`make run` end to end: the launcher in a subprocess, the API over real HTTP on loopback, the
`billow token` CLI against it, and Ctrl-C stopping everything. The tests run in file order against
one stack; the last one stops it."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests
from openapi_spec_validator import validate

from tests.e2e.conftest import LocalStack, port_is_free
from tests.e2e.stack_flows import bill_the_demo_account_once

# One worker runs the whole module in order on one stack (the last test stops it).
pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("local-stack")]

PROBLEM = "application/problem+json"
BILLOW = Path(sys.executable).parent / "billow"


def problem(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith(PROBLEM)
    body = response.json()
    assert set(body) == {"type", "title", "status", "detail", "code", "errors"}
    assert body["status"] == status
    assert body["code"] == body["type"] == code
    assert isinstance(body["errors"], list)
    return body


def billow_token(stack: LocalStack, *args: str) -> str:
    result = subprocess.run(
        [str(BILLOW), "token", *args], env=stack.env, capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_the_stack_prints_and_records_its_urls_ids_and_tokens(local_stack: LocalStack):
    info, out = local_stack.info, local_stack.output()
    assert info["api_url"] == f"http://127.0.0.1:{local_stack.ports['api']}"
    assert info["moto_url"] == f"http://127.0.0.1:{local_stack.ports['moto']}"
    assert info["jwks_url"].startswith(f"http://127.0.0.1:{local_stack.ports['jwks']}/")
    assert info["stripe"]["url"] == f"http://127.0.0.1:{local_stack.ports['stripe']}"
    assert info["stripe"]["webhook_url"] == f"{info['api_url']}/v1/webhooks/stripe"
    assert info["pid"] == local_stack.process.pid
    for value in (info["api_url"], info["accounts"]["demo"], info["accounts"]["lite"]):
        assert value in out
    assert f"export CUSTOMER_TOKEN={info['tokens']['customer']['token']}" in out
    assert f"export ADMIN_TOKEN={info['tokens']['admin']['token']}" in out
    for example in info["curl"]:
        assert example["cmd"] in out
    assert (local_stack.local_dir / "jwt-private.pem").exists()
    # the stage's settings win over anything inherited: every resource carries the local prefix
    resources = info["resources"]
    from functions.core.tables import TABLES

    assert sorted(resources["tables"]) == sorted(f"billow-local-{t}" for t in TABLES)
    assert {"accounts", "ledger", "audit", "idempotency", "payments"} <= set(TABLES)
    assert set(resources["queues"]) == {
        "card-validation",
        "billing-run",
        "billing-account",
        "collections",
        "webhook-deliveries",
        "ses-feedback",  # issue 20: SES bounces and complaints (no feedback arrives locally: no SES)
        "pdf-render",  # issue 21: invoice PDFs are rendered by their own worker
    }
    assert resources["bucket"] == "billow-local-invoices"


def test_demo_account_summary_with_the_printed_customer_token(local_stack: LocalStack):
    demo = local_stack.info["accounts"]["demo"]
    r = local_stack.get(f"/v1/accounts/{demo}/summary", local_stack.info["tokens"]["customer"]["token"])
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"] == "application/json"
    s = r.json()
    assert s["account_id"] == demo
    assert s["name"] == "Demo Robotics"
    assert (s["type"], s["linked"], s["currency"], s["locale"]) == ("payg", True, "usd", "en")
    # seeded: charges of 150.00 and 10.80, a 50.00 credit, and five items whose New invoices depend on
    # today's place in the billing period: the balance is what the open invoices leave to pay
    token = local_stack.info["tokens"]["customer"]["token"]
    invoices = local_stack.get(f"/v1/accounts/{demo}/invoices?limit=100", token).json()["data"]
    assert {i["type"] for i in invoices} == {"one_time", "credit", "new"} and len(invoices) == 3 + 5
    assert s["balance"]["current"] == sum(i["balance_due"] for i in invoices) > 11080
    upcoming = local_stack.get(f"/v1/accounts/{demo}/invoices/upcoming", token).json()
    # v4: the five items' fees in advance, plus the seeded usage priced by the demo rate card (issue 17)
    fees = [line for line in upcoming["lines"] if line["item_id"]]
    usage = [line for line in upcoming["lines"] if not line["item_id"]]
    assert sum(line["amount"] for line in fees) == 42_000 + 9_000 + 2_500 + 1_500 + 900
    assert usage and all(line["billable"] is not None for line in usage)
    assert upcoming["total"] == sum(line["amount"] for line in upcoming["lines"])
    assert s["balance"]["next_estimated"] == s["balance"]["current"] + upcoming["total"]
    # seeded through the real card flow: SetupIntent, Stripe.js confirmation, PUT, queue pump
    assert s["payment_method"] == {
        "type": "card",  # v4: a card, or {type: invoice, net_days} for send_invoice accounts
        "brand": "visa",
        "last4": "4242",
        "exp_month": 12,
        "exp_year": 2034,
        "status": "active",
    }
    assert s["last_recurring_invoice_date"] is None
    assert s["next_recurring_invoice_date"] is not None
    assert s["past_due"] is False
    assert s["capabilities"]["devices"] is True and s["capabilities"]["billing_items"] is True


def test_demo_devices_and_lite_account_were_seeded(local_stack: LocalStack):
    info = local_stack.info
    token = info["tokens"]["customer"]["token"]
    r = local_stack.get(f"/v1/accounts/{info['accounts']['demo']}/devices", token)
    assert r.status_code == 200, r.text
    devices = r.json()["data"]
    assert sorted(d["id"] for d in devices) == sorted(info["devices"])
    assert len(devices) >= 2
    lite = local_stack.get(f"/v1/accounts/{info['accounts']['lite']}/summary", token)
    assert lite.status_code == 200, lite.text
    assert (lite.json()["type"], lite.json()["capabilities"]["payments"]) == ("lite", False)


def test_no_token_is_401_problem(local_stack: LocalStack):
    r = local_stack.get(f"/v1/accounts/{local_stack.info['accounts']['demo']}/summary")
    problem(r, 401, "missing-token")
    assert r.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_token_without_membership_is_403_problem(local_stack: LocalStack):
    lite = local_stack.info["accounts"]["lite"]
    r = local_stack.get(f"/v1/accounts/{lite}/summary", local_stack.info["tokens"]["outsider"]["token"])
    problem(r, 403, "not-a-member")


def test_unknown_path_is_404_problem_not_chalice_403(local_stack: LocalStack):
    problem(local_stack.get("/v1/no-such-route"), 404, "route-not-found")
    # with an Authorization header chalice local would also answer its own 403
    token = local_stack.info["tokens"]["customer"]["token"]
    body = problem(local_stack.get("/v1/accounts/x/no-such-thing?a=1", token), 404, "route-not-found")
    assert "/v1/accounts/x/no-such-thing" in body["detail"]


def test_openapi_document_is_valid(local_stack: LocalStack):
    r = local_stack.get("/v1/openapi.json")
    assert r.status_code == 200
    document = r.json()
    assert document["openapi"].startswith("3.1")
    validate(document)
    assert "/v1/accounts/{account_id}/summary" in document["paths"]


def test_billow_token_grants_membership_through_the_api(local_stack: LocalStack):
    demo, lite = local_stack.info["accounts"]["demo"], local_stack.info["accounts"]["lite"]
    sub = f"someone-{time.time_ns()}"
    before = billow_token(local_stack, "--sub", sub)
    problem(local_stack.get(f"/v1/accounts/{demo}/summary", before), 403, "not-a-member")

    token = billow_token(local_stack, "--account", demo, "--sub", sub)
    r = local_stack.get(f"/v1/accounts/{demo}/summary", token)
    assert r.status_code == 200, r.text
    assert r.json()["account_id"] == demo
    problem(local_stack.get(f"/v1/accounts/{lite}/summary", token), 403, "not-a-member")
    # the grant is a member record, so the earlier token (same sub) now works too
    assert local_stack.get(f"/v1/accounts/{demo}/summary", before).status_code == 200


def test_billow_token_scopes(local_stack: LocalStack):
    demo = local_stack.info["accounts"]["demo"]
    admin = billow_token(local_stack, "--admin", "--sub", "cli-operator")
    r = local_stack.get(f"/v1/accounts/{demo}/events", admin)
    assert r.status_code == 200, r.text
    assert any(e["action"] == "member.granted" for e in r.json()["data"])
    usage_only = billow_token(local_stack, "--scope", "billing:usage")
    problem(local_stack.get(f"/v1/accounts/{demo}/summary", usage_only), 403, "insufficient-scope")
    bad = subprocess.run(
        [str(BILLOW), "token", "--scope", "billing:everything"], env=local_stack.env, capture_output=True, text=True
    )
    assert bad.returncode != 0 and "unknown scope" in bad.stderr


def billow_audit(stack: LocalStack, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BILLOW), "audit", *args], env=stack.env, capture_output=True, text=True, timeout=60, check=False
    )


def test_billow_audit_passes_on_the_stack_and_fails_on_a_tampered_balance(local_stack: LocalStack):
    import boto3

    demo, lite = local_stack.info["accounts"]["demo"], local_stack.info["accounts"]["lite"]
    admin = local_stack.info["tokens"]["admin"]["token"]
    r = requests.post(
        f"{local_stack.info['api_url']}/v1/accounts/{demo}/charges",
        json={"description": "audit check", "amount": 321},
        headers={"Authorization": f"Bearer {admin}", "Idempotency-Key": "e2e-audit"},
        timeout=30,
    )
    assert r.status_code == 201, r.text
    ok = billow_audit(local_stack)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert demo in ok.stdout and lite in ok.stdout and "0 with differences" in ok.stdout

    table = boto3.resource(
        "dynamodb",
        endpoint_url=local_stack.info["moto_url"],
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    ).Table("billow-local-ledger")
    table.update_item(
        Key={"pk": lite, "sk": "BALANCE"},
        UpdateExpression="SET #c = :v",
        ExpressionAttributeNames={"#c": "current"},
        ExpressionAttributeValues={":v": 1},
    )
    try:
        bad = billow_audit(local_stack, "--account", lite)
        assert bad.returncode == 1
        assert "Σ entries 0 != balance.current 1" in bad.stdout
    finally:
        table.update_item(
            Key={"pk": lite, "sk": "BALANCE"},
            UpdateExpression="SET #c = :v",
            ExpressionAttributeNames={"#c": "current"},
            ExpressionAttributeValues={":v": 0},
        )


def test_a_card_change_against_the_running_stack(local_stack: LocalStack):
    """As the console does it: a SetupIntent from the API, confirmed at the Stripe port as Stripe.js
    would, PUT with a billing contact; the queue pump validates it within seconds."""
    from local import stripe_js

    info = local_stack.info
    api, stripe_url, demo = info["api_url"], info["stripe"]["url"], info["accounts"]["demo"]
    customer = {"Authorization": f"Bearer {info['tokens']['customer']['token']}"}
    secret = {"Authorization": f"Bearer {info['stripe']['secret_key']}"}
    contact = {
        "name": "Ada Lovelace",
        "email": f"ada-{uuid.uuid4().hex[:8]}@e2e.example",
        "address": {"line1": "12 rue de la Paix", "city": "Paris", "postal_code": "75002", "country": "FR"},
    }
    base = f"{api}/v1/accounts/{demo}/payment-method"
    assert requests.get(base, headers=customer, timeout=30).json()["card"]["last4"] == "4242"

    started = requests.post(f"{base}/setup", headers=customer, timeout=30)
    assert started.status_code == 201, started.text
    setup = started.json()
    confirmed = stripe_js.confirm_card_setup(
        stripe_url, setup["publishable_key"], setup["client_secret"], "4000056655665556", 7, 2033
    )
    assert confirmed["status"] == "succeeded"
    put = requests.put(
        base,
        json={"setup_intent_id": setup["setup_intent_id"], "billing_contact": contact},
        headers=customer,
        timeout=30,
    )
    assert (put.status_code, put.json()["status"]) == (202, "pending_validation"), put.text

    deadline, shown = time.monotonic() + 15, None
    while time.monotonic() < deadline:
        shown = requests.get(base, headers=customer, timeout=30).json()
        if shown["card"]["last4"] == "5556":
            break
        time.sleep(0.2)
    assert shown["card"] | {"activated_at": None, "billing_contact": None} == {
        "brand": "visa",
        "last4": "5556",
        "exp_month": 7,
        "exp_year": 2033,
        "status": "active",
        "activated_at": None,
        "billing_contact": None,
    }
    assert shown["pending_change"] is None
    summary = local_stack.get(f"/v1/accounts/{demo}/summary", info["tokens"]["customer"]["token"]).json()
    assert summary["payment_method"]["last4"] == "5556"

    # at Stripe: the customer keeps the new card only, as its default
    intent = requests.get(f"{stripe_url}/v1/setup_intents/{setup['setup_intent_id']}", headers=secret, timeout=10)
    customer_id, new_pm = intent.json()["customer"], intent.json()["payment_method"]
    cards = requests.get(
        f"{stripe_url}/v1/payment_methods", params={"customer": customer_id, "type": "card"}, headers=secret, timeout=10
    ).json()["data"]
    assert [c["id"] for c in cards] == [new_pm]
    stripe_customer = requests.get(f"{stripe_url}/v1/customers/{customer_id}", headers=secret, timeout=10).json()
    assert stripe_customer["invoice_settings"]["default_payment_method"] == new_pm

    result = subprocess.run(
        [str(BILLOW), "emails", "--to", contact["email"], "--json"],
        env=local_stack.env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    [mail] = json.loads(result.stdout)
    assert mail["subject"] == "Your new card is active on Demo Robotics"
    assert "ending in 5556" in mail["body"] and "The previous card was removed" in mail["body"]
    table = subprocess.run([str(BILLOW), "emails"], env=local_stack.env, capture_output=True, text=True, timeout=30)
    assert contact["email"] in table.stdout and "cards@demo-robotics.example" in table.stdout


def test_billow_bill_issues_and_charges_the_recurring_invoice_once(local_stack: LocalStack):
    bill_the_demo_account_once(local_stack)


def test_the_demo_usage_shows_in_the_view_and_its_budget_alert_was_sent_once(local_stack: LocalStack):
    """Issue 17 over the running stack: the demo rate card priced the seeded usage (no price in records),
    the view shows it by metric and by device, and the demo budget's 80 % threshold sent one e-mail."""
    info = local_stack.info
    demo, token = info["accounts"]["demo"], info["tokens"]["customer"]["token"]
    # the seeded usage is in the account's first period (the one starting the month it was created; a
    # test that ran `billow bill` before this one moved the account on to the next period)
    events = local_stack.get(f"/v1/accounts/{demo}/events?limit=100", token).json()["data"]
    created = next(e["at"] for e in events if e["action"] == "account.created")
    month = created[:7]
    view = local_stack.get(f"/v1/accounts/{demo}/usage?period={month}&group_by=metric", token).json()
    lines = {(line["service"], line["metric"]): line for line in view["lines"]}
    compute = lines[("compute", "vcpu-hours")]
    assert (compute["included"], compute["billable"]) == ("100", str(60 + 85 + 110 - 100))
    assert view["total"] == sum(line["amount"] for line in view["lines"]) > 0
    by_device = local_stack.get(f"/v1/accounts/{demo}/usage?period={month}&group_by=device", token).json()
    assert by_device["total"] == view["total"] and {line["device_id"] for line in by_device["lines"]} >= set(
        info["devices"]
    )
    crossed = [
        e["after"]["percent"]
        for e in events
        if e["action"] == "usage.budget_threshold_crossed" and e["after"]["period_start"] == view["period"]["start"]
    ]
    # the demo budget of $700 against about $675 (96 %) once seeded: 50 and 80, each once (100 too when a
    # test posted more usage in that period)
    assert sorted(crossed)[:2] == [50, 80] and len(crossed) == len(set(crossed)), events
    result = subprocess.run(
        [str(BILLOW), "emails", "--to", "billing@demo-robotics.example", "--json"],
        env=local_stack.env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    alerts = [m for m in json.loads(result.stdout) if "80 % of your budget" in m["subject"]]
    assert len(alerts) == 1, result.stdout


def test_ctrl_c_stops_everything_and_frees_the_ports(local_stack: LocalStack):
    started = time.monotonic()
    code = local_stack.stop(timeout=10)
    assert code == 0, local_stack.output()[-2000:]
    assert time.monotonic() - started < 5
    assert all(port_is_free(port) for port in local_stack.ports.values()), local_stack.ports
    assert not (local_stack.local_dir / "stack.json").exists()
    # with the stack gone, the CLI says how to start it instead of failing obscurely
    result = subprocess.run(
        [str(BILLOW), "token", "--account", local_stack.info["accounts"]["demo"]],
        env=local_stack.env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1
    assert "make run" in result.stderr
