"""The account lifecycle (DESIGN §2 v4 routes, §3 v4 Collection and Closure): how an account pays
(collection, net_days) at creation and by PATCH, link and unlink, the Lite → payg upgrade through the
card flow, the card required for paid items, and closure now or at the end of the period. Over
moto and localstripe behind the local shim; every refusal is problem+json and writes nothing."""

from __future__ import annotations

import uuid

import pytest

from functions.core import audit


def problem(result, status, code):
    got_status, body, headers = result
    assert got_status == status, body
    assert headers["Content-Type"] == "application/problem+json"
    assert body["code"] == code, body
    return body


def events(account_id, action=None):
    rows, _ = audit.list_events(account_id, 100, None, "events")
    return [e for e in rows if action is None or e.action == action]


def key():
    return {"Idempotency-Key": str(uuid.uuid4())}


# --- 1. creation: collection and net_days ------------------------------------------------------------


def test_subscription_accounts_take_collection_and_net_days_and_echo_them(api):
    default = api.create_account(type="subscription")
    assert (default["collection"], default["net_days"], default["status"]) == ("send_invoice", 30, "active")
    assert default["invoice_emails"] is True
    net45 = api.create_account(type="subscription", collection="send_invoice", net_days=45)
    assert (net45["collection"], net45["net_days"]) == ("send_invoice", 45)
    auto = api.create_account(type="subscription", collection="automatic")
    assert (auto["collection"], auto["net_days"]) == ("automatic", None)
    payg = api.create_account()
    assert (payg["collection"], payg["net_days"]) == ("automatic", None)
    lite = api.create_account(type="lite", linked=False)
    assert (lite["collection"], lite["net_days"]) == (None, None)


@pytest.mark.parametrize(
    "overrides, code",
    [
        ({"type": "payg", "collection": "automatic"}, "collection-not-allowed"),
        ({"type": "payg", "net_days": 30}, "collection-not-allowed"),
        ({"type": "lite", "linked": False, "collection": "send_invoice"}, "collection-not-allowed"),
        ({"type": "subscription", "collection": "automatic", "net_days": 10}, "validation-failed"),
        ({"type": "subscription", "collection": "monthly"}, "validation-failed"),
        ({"type": "subscription", "net_days": 0}, "validation-failed"),
        ({"type": "subscription", "net_days": "30"}, "validation-failed"),
    ],
)
def test_collection_where_it_does_not_belong_is_422_and_creates_nothing(api, overrides, code):
    from functions.accounts import store

    before = store.read_account_counter()
    body = {
        "type": "payg",
        "linked": True,
        "currency": "usd",
        "name": "Acme",
        "billing_contact": {
            "name": "Ada",
            "email": "ada@example.com",
            "address": {"line1": "1 Main St", "city": "Springfield", "postal_code": "12345", "country": "US"},
        },
    } | overrides
    problem(api.call("POST", "/v1/accounts", body, token=api.admin), 422, code)
    assert store.read_account_counter() == before


# --- 2. PATCH /v1/accounts/{id} -------------------------------------------------------------------------

NEW_CONTACT = {
    "name": "Grace Hopper",
    "email": "grace@acme.example",
    "address": {"line1": "2 Dock Rd", "city": "Arlington", "postal_code": "22201", "country": "US"},
}


def patch(api, account_id, body, token):
    return api.call("PATCH", f"/v1/accounts/{account_id}", body, token=token)


def profile(account_id):
    from functions.accounts import service

    return service.get_account(account_id)


def test_an_owner_changes_the_profile_with_one_audit_event_of_before_and_after(api):
    account = api.create_account()
    owner = api.member_token(account["id"])
    body = {"name": "Acme Labs", "billing_contact": NEW_CONTACT, "locale": "fr", "invoice_emails": False}
    status, data, _ = patch(api, account["id"], body, owner)
    assert status == 200, data
    assert (data["name"], data["locale"], data["invoice_emails"]) == ("Acme Labs", "fr", False)
    assert data["billing_contact"]["email"] == "grace@acme.example"
    stored = profile(account["id"])
    assert (stored.name, stored.locale, stored.invoice_emails) == ("Acme Labs", "fr", False)
    assert stored.billing_contact["name"] == "Grace Hopper"
    (event,) = events(account["id"], "account.updated")
    assert event.actor == "user-1" and event.before["name"] == "Acme Robotics" and event.before["locale"] == "en"
    assert event.after["name"] == "Acme Labs" and event.after["invoice_emails"] is False
    # the same values again change nothing and write no event
    assert patch(api, account["id"], {"name": "Acme Labs"}, owner)[0] == 200
    assert len(events(account["id"], "account.updated")) == 1


@pytest.mark.parametrize(
    "body, status, code",
    [
        ({}, 422, "nothing-to-update"),
        ({"colour": "red"}, 422, "validation-failed"),
        ({"name": None}, 422, "validation-failed"),
        ({"name": ""}, 422, "validation-failed"),
        ({"locale": "de"}, 422, "validation-failed"),
        ({"invoice_emails": "no"}, 422, "validation-failed"),
        ({"collection": "automatic"}, 403, "operator-only-field"),
        ({"name": "X", "net_days": 10}, 403, "operator-only-field"),
    ],
)
def test_bad_patches_and_customers_setting_collection_are_refused_and_write_nothing(api, body, status, code):
    account = api.create_account(type="subscription")
    owner = api.member_token(account["id"])
    problem(patch(api, account["id"], body, owner), status, code)
    assert profile(account["id"]).name == "Acme Robotics" and profile(account["id"]).collection == "send_invoice"
    assert events(account["id"], "account.updated") == []


def test_viewers_and_strangers_cannot_patch(api, mint):
    account = api.create_account()
    viewer = api.member_token(account["id"], sub="viewer-1", role="viewer")
    problem(patch(api, account["id"], {"name": "X"}, viewer), 403, "role-insufficient")
    problem(patch(api, account["id"], {"name": "X"}, mint("stranger", "billing:write")), 403, "not-a-member")
    owner_without_write = api.member_token(account["id"], sub="reader", scopes=("billing:read",))
    problem(patch(api, account["id"], {"name": "X"}, owner_without_write), 403, "insufficient-scope")
    assert profile(account["id"]).name == "Acme Robotics"


def test_operators_set_net_days_and_collection_on_subscription_accounts_only(api):
    sub = api.create_account(type="subscription")
    status, data, _ = patch(api, sub["id"], {"net_days": 15}, api.admin)
    assert status == 200 and (data["collection"], data["net_days"]) == ("send_invoice", 15)
    (event,) = events(sub["id"], "account.updated")
    assert (event.before, event.after, event.actor) == ({"net_days": 30}, {"net_days": 15}, "operator-1")
    payg = api.create_account()
    problem(patch(api, payg["id"], {"collection": "send_invoice"}, api.admin), 422, "collection-not-allowed")
    problem(patch(api, payg["id"], {"net_days": 10}, api.admin), 422, "collection-not-allowed")
    assert profile(payg["id"]).collection == "automatic"


@pytest.fixture
def cards(api, client, stripe_server, queues_and_mail):
    from tests.integration.payments_helpers import Payments

    return Payments(api, client, stripe_server, queues_and_mail)


def test_switching_to_automatic_needs_a_valid_card_and_back_to_send_invoice_keeps_net_days(cards, api):
    account_id, owner = cards.account(type="subscription", collection="send_invoice", net_days=20)
    problem(patch(api, account_id, {"collection": "automatic"}, api.admin), 422, "payment-method-required")
    assert profile(account_id).collection == "send_invoice" and events(account_id, "account.updated") == []
    cards.change_card(account_id, owner)
    status, data, _ = patch(api, account_id, {"collection": "automatic"}, api.admin)
    assert status == 200 and (data["collection"], data["net_days"]) == ("automatic", None)
    (event,) = events(account_id, "account.updated")
    assert event.before == {"collection": "send_invoice", "net_days": 20}
    assert event.after == {"collection": "automatic", "net_days": None}
    problem(patch(api, account_id, {"net_days": 10}, api.admin), 422, "validation-failed")
    status, data, _ = patch(api, account_id, {"collection": "send_invoice"}, api.admin)
    assert status == 200 and (data["collection"], data["net_days"]) == ("send_invoice", 30)
    assert profile(account_id).collection == "send_invoice"


# --- 3. link and unlink (operators) ------------------------------------------------------------------


def provision(api, account_id, recurring_fee=3000, setup_fee=0, headers=None):
    body = {"description": "Robot arm", "category": "hardware", "recurring_fee": recurring_fee, "setup_fee": setup_fee}
    return api.call("POST", f"/v1/accounts/{account_id}/billing-items", body, token=api.admin, headers=headers or key())


def test_operators_link_and_unlink_an_account_with_audit_events(api):
    account = api.create_account(type="subscription", linked=False)
    status, data, _ = api.call("POST", f"/v1/accounts/{account['id']}/link", token=api.admin)
    assert status == 200 and data["linked"] is True and profile(account["id"]).linked
    (linked,) = events(account["id"], "account.linked")
    assert (linked.before, linked.after, linked.actor) == ({"linked": False}, {"linked": True}, "operator-1")
    # linking a linked account changes nothing
    assert api.call("POST", f"/v1/accounts/{account['id']}/link", token=api.admin)[0] == 200
    assert len(events(account["id"], "account.linked")) == 1
    status, data, _ = api.call("DELETE", f"/v1/accounts/{account['id']}/link", token=api.admin)
    assert status == 200 and data["linked"] is False and not profile(account["id"]).linked
    assert len(events(account["id"], "account.unlinked")) == 1


def test_unlinking_with_items_not_cancelled_is_409_items_active_until_they_are(api):
    account = api.create_account(type="subscription")
    status, item, _ = provision(api, account["id"])
    assert status == 201, item
    item_id = item["item"]["id"]
    problem(api.call("DELETE", f"/v1/accounts/{account['id']}/link", token=api.admin), 409, "items-active")
    cancel = f"/v1/accounts/{account['id']}/billing-items/{item_id}/cancellation"
    assert api.call("POST", cancel, {"when": "anniversary"}, token=api.admin, headers=key())[0] == 201
    problem(api.call("DELETE", f"/v1/accounts/{account['id']}/link", token=api.admin), 409, "items-active")
    assert profile(account["id"]).linked and events(account["id"], "account.unlinked") == []
    assert api.call("POST", cancel, {"when": "now"}, token=api.admin, headers=key())[0] == 201
    assert api.call("DELETE", f"/v1/accounts/{account['id']}/link", token=api.admin)[0] == 200


def test_only_operators_link_and_unknown_accounts_are_404(api):
    account = api.create_account(linked=False)
    owner = api.member_token(account["id"])
    for method in ("POST", "DELETE"):
        problem(api.call(method, f"/v1/accounts/{account['id']}/link", token=owner), 403, "insufficient-scope")
        problem(api.call(method, "/v1/accounts/acct_nope/link", token=api.admin), 404, "account-not-found")
    assert not profile(account["id"]).linked and events(account["id"], "account.linked") == []
