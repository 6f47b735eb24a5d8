"""Accounts routes: creation, numbering, members, devices, events, summary, and bad input."""

from __future__ import annotations

import json

import boto3
import pytest


def _count_items():
    client = boto3.client("dynamodb", region_name="us-east-1")
    return sum(client.scan(TableName=t)["Count"] for t in client.list_tables()["TableNames"])


def test_accounts_get_sequential_numbers_and_a_zero_balance(api):
    first = api.create_account()
    second = api.create_account(name="Beta", type="subscription", currency="eur", locale="fr", billing_day=15)
    assert (first["number"], second["number"]) == (1, 2)
    assert second["billing_day"] == 15 and second["next_recurring_invoice_date"].endswith("-15")
    token = api.member_token(second["id"])
    status, summary, _ = api.call("GET", f"/v1/accounts/{second['id']}/summary", token=token)
    assert status == 200
    assert summary["balance"] == {"current": 0, "unapplied_credit": 0, "next_estimated": 0}
    assert summary["currency"] == "eur" and summary["locale"] == "fr" and summary["type"] == "subscription"
    # v4: a new subscription account pays by invoice, net 30 (the summary says so instead of null)
    assert summary["payment_method"] == {"type": "invoice", "net_days": 30} and summary["past_due"] is False


def test_summary_capabilities_follow_type_and_link(api):
    lite = api.create_account(type="lite", linked=False, name="Free tier")
    token = api.member_token(lite["id"])
    status, summary, _ = api.call("GET", f"/v1/accounts/{lite['id']}/summary", token=token)
    assert status == 200
    assert not any(summary["capabilities"].values())
    assert summary["next_recurring_invoice_date"] is None
    payg_unlinked = api.create_account(linked=False)
    token = api.member_token(payg_unlinked["id"], sub="u2")
    caps = api.call("GET", f"/v1/accounts/{payg_unlinked['id']}/summary", token=token)[1]["capabilities"]
    assert caps["payments"] and caps["invoices"] and not caps["devices"] and not caps["billing_items"]


def test_summary_balance_is_the_stored_ledger_value(api):
    from functions.core.ledger_store import BALANCE_SK, BalanceModel

    acct = api.create_account()
    token = api.member_token(acct["id"])
    BalanceModel(acct["id"], BALANCE_SK).update(actions=[BalanceModel.current.set(1234)])
    summary = api.call("GET", f"/v1/accounts/{acct['id']}/summary", token=token)[1]
    assert summary["balance"]["current"] == 1234
    assert summary["balance"]["next_estimated"] == 1234


def test_devices_are_created_by_operators_and_listed_for_members_with_pages(api):
    acct = api.create_account()
    token = api.member_token(acct["id"], role="viewer", scopes=("billing:read",))
    names = [f"vm-{i}" for i in range(5)]
    for name in names:
        status, dev, _ = api.call(
            "POST", f"/v1/accounts/{acct['id']}/devices", {"name": name, "kind": "vm"}, token=api.admin
        )
        assert status == 201 and dev["id"].startswith("dev_")
    seen, cursor = [], None
    while True:
        path = f"/v1/accounts/{acct['id']}/devices?limit=2" + (f"&cursor={cursor}" if cursor else "")
        status, page, _ = api.call("GET", path, token=token)
        assert status == 200 and len(page["data"]) <= 2
        seen += [d["name"] for d in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == names


def test_devices_need_a_linked_account(api):
    acct = api.create_account(linked=False)
    status, body, _ = api.call(
        "POST", f"/v1/accounts/{acct['id']}/devices", {"name": "x", "kind": "vm"}, token=api.admin
    )
    assert status == 403 and body["code"] == "capability-unavailable"


def test_a_cursor_from_another_account_is_400(api):
    a, b = api.create_account(), api.create_account()
    for _ in range(3):
        api.call("POST", f"/v1/accounts/{a['id']}/devices", {"name": "d", "kind": "vm"}, token=api.admin)
    page = api.call("GET", f"/v1/accounts/{a['id']}/devices?limit=1", token=api.admin)[1]
    status, body, _ = api.call("GET", f"/v1/accounts/{b['id']}/devices?cursor={page['next_cursor']}", token=api.admin)
    assert status == 400 and body["code"] == "invalid-cursor"


def test_events_record_who_did_what_newest_first(api):
    acct = api.create_account()
    token = api.member_token(acct["id"], sub="carol", role="viewer", scopes=("billing:read",))
    api.call("POST", f"/v1/accounts/{acct['id']}/devices", {"name": "edge-1", "kind": "router"}, token=api.admin)
    status, page, _ = api.call("GET", f"/v1/accounts/{acct['id']}/events", token=token)
    assert status == 200
    actions = [e["action"] for e in page["data"]]
    assert actions == ["device.created", "member.granted", "account.created"]
    granted = page["data"][1]
    assert granted["actor"] == "operator-1" and granted["actor_kind"] == "operator"
    assert granted["before"] is None and granted["after"]["role"] == "viewer" and granted["target"] == "carol"


def test_changing_a_members_role_records_before_and_after(api):
    acct = api.create_account()
    api.member_token(acct["id"], sub="dan", role="viewer")
    api.member_token(acct["id"], sub="dan", role="owner")
    events = api.call("GET", f"/v1/accounts/{acct['id']}/events", token=api.admin)[1]["data"]
    assert events[0]["before"]["role"] == "viewer" and events[0]["after"]["role"] == "owner"


def test_revoking_someone_who_is_not_a_member_is_404(api):
    acct = api.create_account()
    status, body, _ = api.call("DELETE", f"/v1/accounts/{acct['id']}/members", {"sub": "ghost"}, token=api.admin)
    assert status == 404 and body["code"] == "member-not-found"


def test_operator_routes_on_an_unknown_account_are_404(api):
    status, body, _ = api.call(
        "POST", "/v1/accounts/acct_aaaaaaaaaaaaaaaaaaaa/devices", {"name": "x", "kind": "y"}, token=api.admin
    )
    assert status == 404 and body["code"] == "account-not-found"


VALID = {
    "type": "payg",
    "linked": True,
    "currency": "usd",
    "name": "Acme",
    "billing_contact": {
        "name": "A",
        "email": "a@example.com",
        "address": {"line1": "1 St", "city": "X", "postal_code": "1", "country": "US"},
    },
}


def _with(**changes):
    body = json.loads(json.dumps(VALID))
    for key, value in changes.items():
        if value is ...:
            body.pop(key)
        else:
            body[key] = value
    return body


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (_with(type="gold"), "type"),
        (_with(currency="xyz"), "currency"),
        (_with(currency="USD"), "currency"),
        (_with(locale="de"), "locale"),
        (_with(linked="yes"), "linked"),
        (_with(billing_day=29), "billing_day"),
        (_with(billing_day=1.0), "billing_day"),
        (_with(billing_day="5"), "billing_day"),
        (_with(name=...), "name"),
        (_with(nickname="x"), "nickname"),
        (_with(billing_contact={**VALID["billing_contact"], "email": "nope"}), "billing_contact.email"),
    ],
)
def test_bad_account_bodies_are_422_with_the_field_and_write_nothing(api, body, field):
    api.create_account()  # something to compare against
    before = _count_items()
    status, problem, headers = api.call("POST", "/v1/accounts", body, token=api.admin)
    assert status == 422, problem
    assert headers["Content-Type"] == "application/problem+json"
    assert problem["code"] == "validation-failed"
    assert field in [e["field"] for e in problem["errors"]]
    assert _count_items() == before


@pytest.mark.parametrize("raw", ["{", "[]", "null", '"text"', "", '{"a": NaN}', "[" * 5000 + "]" * 5000])
def test_unreadable_bodies_are_400_malformed_json(api, raw):
    before = _count_items()
    status, problem, _ = api.call("POST", "/v1/accounts", raw=raw, token=api.admin)
    assert status == 400 and problem["code"] == "malformed-json"
    assert _count_items() == before


def test_oversized_bodies_are_413(api):
    body = _with(name="x" * 300_000)
    status, problem, _ = api.call("POST", "/v1/accounts", body, token=api.admin)
    assert status == 413 and problem["code"] == "payload-too-large"


def test_unknown_query_parameters_and_bad_limits_are_422(api):
    acct = api.create_account()
    for query in ("limit=0", "limit=101", "limit=abc", "color=red"):
        status, problem, _ = api.call("GET", f"/v1/accounts/{acct['id']}/devices?{query}", token=api.admin)
        assert status == 422 and problem["code"] == "validation-failed", query


def test_chalices_own_405_and_415_are_problem_json(api):
    status, problem, headers = api.call("PATCH", "/v1/accounts", {}, token=api.admin)
    assert status == 405 and headers["Content-Type"] == "application/problem+json"
    assert problem["code"] == "method-not-allowed"
    status, problem, headers = api.call(
        "POST",
        "/v1/accounts",
        raw="a=b",
        token=api.admin,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert status == 415 and problem["code"] == "unsupported-media-type"


def test_health_needs_no_token(api):
    assert api.call("GET", "/v1/health")[:2] == (200, {"status": "ok"})
