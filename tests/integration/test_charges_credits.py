"""Operator charges and credits over HTTP: balances move by exactly the amounts, once per key."""

from __future__ import annotations

import uuid

import boto3
import pytest


def _items():
    client = boto3.client("dynamodb", region_name="us-east-1")
    return sum(client.scan(TableName=t)["Count"] for t in client.list_tables()["TableNames"])


@pytest.fixture
def acct(api):
    account = api.create_account()
    token = api.member_token(account["id"], role="viewer", scopes=("billing:read",))
    return account["id"], token


def _post(api, account_id, kind, body, key=None):
    headers = {"Idempotency-Key": key or str(uuid.uuid4())}
    return api.call("POST", f"/v1/accounts/{account_id}/{kind}", body, token=api.admin, headers=headers)


def _balance(api, account_id, token):
    return api.call("GET", f"/v1/accounts/{account_id}/summary", token=token)[1]["balance"]


def test_a_charge_and_a_credit_move_the_balance_by_exactly_their_amounts(api, acct):
    account_id, token = acct
    status, charge, _ = _post(api, account_id, "charges", {"description": "Overage: 12 GB egress", "amount": 1250})
    assert status == 201
    assert charge["type"] == "one_time" and charge["status"] == "open" and charge["number"] == "1-000001"
    assert (charge["total"], charge["balance_due"], charge["amount_paid"]) == (1250, 1250, 0)
    assert charge["lines"][0]["amount"] == 1250 and charge["currency"] == "usd"
    assert _balance(api, account_id, token) == {"current": 1250, "unapplied_credit": 0, "next_estimated": 1250}

    status, credit, _ = _post(api, account_id, "credits", {"amount": 2000, "reason": "Service outage goodwill"})
    assert status == 201
    assert credit["type"] == "credit" and credit["status"] == "closed" and credit["number"] == "1-000002"
    assert credit["applied_to"] == [{"invoice_id": charge["id"], "amount": 1250}, {"invoice_id": None, "amount": 750}]
    assert _balance(api, account_id, token) == {"current": -750, "unapplied_credit": 750, "next_estimated": -750}


def test_a_new_charge_consumes_unapplied_credit(api, acct):
    account_id, token = acct
    _post(api, account_id, "credits", {"amount": 500, "reason": "welcome"})
    status, charge, _ = _post(api, account_id, "charges", {"description": "Support plan", "amount": 800})
    assert status == 201
    assert (charge["balance_due"], charge["amount_paid"], charge["status"]) == (300, 500, "open")
    assert charge["applications"][0]["kind"] == "unapplied_credit"
    assert _balance(api, account_id, token)["current"] == 300
    assert _balance(api, account_id, token)["unapplied_credit"] == 0


def test_a_replayed_request_returns_the_same_reply_and_posts_nothing(api, acct):
    account_id, token = acct
    body = {"description": "Migration service", "amount": 4200}
    first = _post(api, account_id, "charges", body, key="key-1")
    items = _items()
    second = _post(api, account_id, "charges", body, key="key-1")
    assert second[0] == first[0] == 201
    assert second[1] == first[1]
    assert second[2].get("Idempotent-Replayed") == "true" and "Idempotent-Replayed" not in first[2]
    assert _items() == items
    assert _balance(api, account_id, token)["current"] == 4200


def test_a_key_reused_with_another_body_is_422_and_posts_nothing(api, acct):
    account_id, _token = acct
    _post(api, account_id, "charges", {"description": "A", "amount": 100}, key="k")
    items = _items()
    status, problem, _ = _post(api, account_id, "charges", {"description": "A", "amount": 101}, key="k")
    assert status == 422 and problem["code"] == "idempotency-key-reuse"
    assert _items() == items


def test_the_same_key_on_another_route_or_account_is_a_different_request(api, acct):
    account_id, token = acct
    other = api.create_account(name="Other")["id"]
    assert _post(api, account_id, "charges", {"description": "A", "amount": 100}, key="shared")[0] == 201
    assert _post(api, account_id, "credits", {"amount": 100, "reason": "r"}, key="shared")[0] == 201
    assert _post(api, other, "charges", {"description": "A", "amount": 100}, key="shared")[0] == 201
    assert _balance(api, account_id, token)["current"] == 0


def test_a_missing_idempotency_key_is_400_and_posts_nothing(api, acct):
    account_id, _ = acct
    items = _items()
    status, problem, _ = api.call(
        "POST", f"/v1/accounts/{account_id}/charges", {"description": "A", "amount": 100}, token=api.admin
    )
    assert status == 400 and problem["code"] == "idempotency-key-missing"
    assert _items() == items


@pytest.mark.parametrize("amount", [0, -100, 12.5, 100.0, "100", None, True, 10**12])
def test_bad_amounts_are_422_and_post_nothing(api, acct, amount):
    account_id, _token = acct
    items = _items()
    for kind, body in (
        ("charges", {"description": "A", "amount": amount}),
        ("credits", {"reason": "A", "amount": amount}),
    ):
        status, problem, _ = _post(api, account_id, kind, body)
        assert status == 422 and problem["code"] == "validation-failed"
        assert "amount" in [e["field"] for e in problem["errors"]]
    assert _items() == items


def test_another_currency_is_422_currency_mismatch(api, acct):
    account_id, _token = acct
    status, problem, _ = _post(api, account_id, "charges", {"description": "A", "amount": 100, "currency": "eur"})
    assert status == 422 and problem["code"] == "currency-mismatch"
    assert _post(api, account_id, "charges", {"description": "A", "amount": 100, "currency": "usd"})[0] == 201


def test_lite_accounts_have_no_billing(api):
    lite = api.create_account(type="lite", linked=False)
    status, problem, _ = _post(api, lite["id"], "charges", {"description": "A", "amount": 100})
    assert status == 403 and problem["code"] == "capability-unavailable"


def test_an_unknown_account_is_404(api):
    status, problem, _ = _post(api, "acct_aaaaaaaaaaaaaaaaaaaa", "credits", {"reason": "A", "amount": 100})
    assert status == 404 and problem["code"] == "account-not-found"


def test_customers_cannot_post_charges_or_credits(api, acct, mint):
    account_id, _ = acct
    owner = api.member_token(account_id, sub="owner-1")
    status, problem, _ = api.call(
        "POST",
        f"/v1/accounts/{account_id}/credits",
        {"reason": "A", "amount": 100},
        token=owner,
        headers={"Idempotency-Key": "x"},
    )
    assert status == 403 and problem["code"] == "insufficient-scope"


def test_each_posting_writes_one_audit_event(api, acct):
    account_id, token = acct
    _post(api, account_id, "charges", {"description": "A", "amount": 100})
    _post(api, account_id, "credits", {"reason": "B", "amount": 40})
    events = api.call("GET", f"/v1/accounts/{account_id}/events", token=token)[1]["data"]
    assert [e["action"] for e in events[:2]] == ["credit.posted", "charge.posted"]
    assert events[1]["after"]["amount"] == 100 and events[0]["after"]["amount"] == 40
