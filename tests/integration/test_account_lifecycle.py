"""The account lifecycle (DESIGN §2 v4 routes, §3 v4 Collection and Closure): how an account pays
(collection, net_days) at creation and by PATCH, link and unlink, the Lite → payg upgrade through the
card flow, the card required for paid items, and closure now or at the end of the period. Over
moto and localstripe behind the local shim; every refusal is problem+json and writes nothing."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

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


# --- 5. a valid card before paid items ------------------------------------------------------------------


def nothing_billed(account_id):
    from functions.billing_items import service as items
    from functions.core import ledger

    assert not items.has_active_items(account_id)
    assert ledger.get_balance(account_id).current == 0


@pytest.mark.parametrize("overrides", [{}, {"type": "subscription", "collection": "automatic"}])
def test_accounts_collected_automatically_need_a_card_for_paid_items_not_for_charges_or_free_items(
    cards, api, overrides
):
    account_id, owner = cards.account(**overrides)
    for fees in ({"recurring_fee": 3000}, {"recurring_fee": 0, "setup_fee": 500}):
        problem(provision(api, account_id, **fees), 422, "payment-method-required")
    nothing_billed(account_id)
    status, free, _ = provision(api, account_id, recurring_fee=0)
    assert status == 201 and free["invoice_id"] is None
    cards.charge(account_id, 1200)  # an operator One-time charge is still accepted (and collected later)
    cards.change_card(account_id, owner)
    status, paid, _ = provision(api, account_id)
    assert status == 201 and paid["invoice_total"] > 0


def test_send_invoice_subscription_accounts_need_no_card(api):
    account = api.create_account(type="subscription")
    status, body, _ = provision(api, account["id"])
    assert status == 201 and body["invoice_total"] > 0


# --- 7. the summary says how the account pays -------------------------------------------------------------


def summary(api, account_id):
    status, body, _ = api.call("GET", f"/v1/accounts/{account_id}/summary", token=api.admin)
    assert status == 200, body
    return body


def test_the_summary_shows_the_card_or_the_invoice_terms_with_status_and_collection(cards, api):
    sub = api.create_account(type="subscription", net_days=45)
    shown = summary(api, sub["id"])
    assert shown["payment_method"] == {"type": "invoice", "net_days": 45}
    assert (shown["status"], shown["collection"], shown["net_days"], shown["upgrade"]) == (
        "active",
        "send_invoice",
        45,
        None,
    )
    account_id, owner = cards.account()
    shown = summary(api, account_id)
    assert shown["payment_method"] is None and shown["collection"] == "automatic"
    cards.change_card(account_id, owner)
    assert summary(api, account_id)["payment_method"] == {
        "type": "card",
        "brand": "visa",
        "last4": "4242",
        "exp_month": 12,
        "exp_year": 2034,
        "status": "active",
    }


# --- 4. upgrade: lite → payg through the card flow ------------------------------------------------------


def upgrade(cards, account_id, token, seti, contact=None):
    from tests.integration.test_payment_method import CONTACT

    body = {"setup_intent_id": seti, "billing_contact": contact or CONTACT}
    return cards.api.call("POST", f"/v1/accounts/{account_id}/upgrade", body, token=token)


def test_a_lite_account_upgraded_through_the_card_flow_becomes_payg_once_the_card_validates(cards, api):
    from functions.accounts import service as accounts
    from functions.core import clock

    account_id, owner = cards.account(type="lite", linked=False)
    seti = cards.confirmed_setup(account_id, owner)
    status, body, _ = upgrade(cards, account_id, owner, seti)
    assert status == 202 and body["status"] == "pending_validation", body
    assert profile(account_id).type == "lite"
    shown = cards.get(account_id, owner)[1]
    assert shown["upgrade"]["status"] == "pending_validation" and shown["upgrade"]["setup_intent_id"] == seti
    messages = cards.messages()
    assert cards.deliver(messages) == {"batchItemFailures": []}
    account = profile(account_id)
    today = clock.today()
    assert (account.type, account.linked, account.collection, account.status) == ("payg", True, "automatic", "active")
    assert account.billing_day == min(today.day, 28)
    assert account.next_recurring_date == accounts.next_recurring_date(account.billing_day, today)
    shard = accounts.store.shard_of(account_id)
    due, _ = accounts.due_accounts("due", shard, account.next_recurring_date, 100, None)
    assert account_id in due  # on the due index: the monthly run bills it
    (event,) = events(account_id, "account.upgraded")
    assert (event.before["type"], event.after["type"], event.after["linked"]) == ("lite", "payg", True)
    shown = summary(api, account_id)
    assert shown["type"] == "payg" and shown["upgrade"]["status"] == "completed"
    assert shown["payment_method"]["last4"] == "4242" and shown["capabilities"]["billing_items"]
    (mail,) = cards.mails_to("grace@cards.example")
    assert "pay-as-you-go" in str(mail.subject)
    # redelivery changes nothing and sends nothing
    assert cards.deliver(messages) == {"batchItemFailures": []}
    assert len(events(account_id, "account.upgraded")) == 1 and len(cards.mails_to("grace@cards.example")) == 1
    # now payg: a paid item can be provisioned on its card
    assert provision(api, account_id)[0] == 201


def test_an_upgrade_whose_card_fails_validation_leaves_the_account_lite_with_the_reason(cards, api, monkeypatch):
    from functions.core import stripe_gateway
    from functions.core.stripe_gateway import StripeRejectedError

    account_id, owner = cards.account(type="lite", linked=False)
    seti = cards.confirmed_setup(account_id, owner)
    assert upgrade(cards, account_id, owner, seti)[0] == 202

    def refused(*args, **kwargs):
        raise StripeRejectedError(402, "card_declined", "Your card was declined.")

    monkeypatch.setattr(stripe_gateway, "attach_payment_method", refused)
    assert cards.deliver(cards.messages()) == {"batchItemFailures": []}
    account = profile(account_id)
    assert (account.type, account.linked, account.next_recurring_date) == ("lite", False, None)
    assert events(account_id, "account.upgraded") == []
    shown = cards.get(account_id, owner)[1]
    assert shown["upgrade"]["status"] == "failed" and shown["upgrade"]["failure_code"] == "card_declined"
    assert summary(api, account_id)["upgrade"]["failure_code"] == "card_declined"


def test_upgrading_a_billable_account_or_with_bad_input_is_refused_and_writes_nothing(cards, api):
    account_id, owner = cards.account()
    problem(upgrade(cards, account_id, owner, "seti_abc"), 409, "account-not-lite")
    lite_id, lite_owner = cards.account(type="lite", linked=False)
    problem(upgrade(cards, lite_id, lite_owner, "not-a-seti"), 422, "validation-failed")
    problem(
        cards.api.call("POST", f"/v1/accounts/{lite_id}/upgrade", {"setup_intent_id": "seti_x"}, token=lite_owner),
        422,
        "validation-failed",
    )
    problem(upgrade(cards, lite_id, lite_owner, "seti_unknown"), 404, "setup-intent-not-found")
    viewer = api.member_token(lite_id, sub="viewer-1", role="viewer")
    problem(upgrade(cards, lite_id, viewer, "seti_abc"), 403, "role-insufficient")
    assert profile(lite_id).type == "lite" and cards.messages() == []
    assert events(lite_id, "account.upgrade_requested") == []


# --- 6. closure ---------------------------------------------------------------------------------------------


FAR = date(2099, 12, 31)


def at(year, month, day):
    from datetime import UTC, datetime

    from functions.core import clock

    return clock.frozen(datetime(year, month, day, 9, tzinfo=UTC))


def close(api, account_id, when, token=None, headers=None):
    return api.call(
        "POST", f"/v1/accounts/{account_id}/closure", {"when": when}, token=token or api.admin, headers=headers or key()
    )


def usage_record(account_id, n, quantity, day):
    return {
        "id": f"close-{account_id}-{n}",
        "account_id": account_id,
        "service": "cdn",
        "metric": "gb",
        "quantity": quantity,
        "occurred_at": f"{day}T08:00:00Z",
    }


def test_closing_now_cancels_items_with_proration_invoices_usage_to_date_returns_the_credit_and_closes(
    cards, api, mint
):
    from functions.accounts import service as accounts
    from functions.billing_items import service as items
    from functions.core import ledger

    with at(2026, 11, 10):
        account_id, owner = cards.account(billing_day=1)
        cards.change_card(account_id, owner)
        status, provisioned, _ = provision(api, account_id)  # 3,000 a month: New invoice 3,000 x 21/30 = 2,100
        assert status == 201 and provisioned["invoice_total"] == 2100
        status, paid, _ = cards.pay(account_id, owner, {"amount": 2100})
        assert status == 201 and paid["status"] == "succeeded", paid
    with at(2026, 11, 12):
        from tests.integration.usage_helpers import set_rate

        set_rate(api, "cdn", "gb", "0.25")  # usage is priced by the rate card (v4)
        metering = mint("meter", "billing:usage")
        records = [usage_record(account_id, 1, 400, "2026-11-12")]  # 400 x 0.25 = 100
        answer = api.call("POST", "/v1/usage", {"records": records}, token=metering)[1]
        assert answer["accepted"] == 1, answer
    with at(2026, 11, 20):
        headers = key()
        status, closed, _ = close(api, account_id, "now", token=owner, headers=headers)
        assert status == 200, closed
        # the item: 11 of its 21 invoiced days unused -> a Refund invoice of 1,100 to unapplied credit; the
        # final invoice (usage to date, 100) consumes 100 of it; the 1,000 left goes back to the card
        assert closed["status"] == "closed" and closed["items_cancelled"] == [provisioned["item"]["id"]]
        assert (closed["final_invoice_total"], closed["credit_returned"], closed["credit_left"]) == (100, 1000, 0)
        replay = close(api, account_id, "now", token=owner, headers=headers)
        assert replay[0] == 200 and replay[1] == closed and replay[2]["Idempotent-Replayed"] == "true"
        problem(close(api, account_id, "now", token=owner), 409, "account-closed")
    account = accounts.get_account(account_id)
    assert (account.status, account.next_recurring_date) == ("closed", None)
    shard = accounts.store.shard_of(account_id)
    assert account_id not in accounts.due_accounts("due", shard, FAR, 100, None)[0]
    assert (
        items.get_item(accounts.AccountAccess(account, None, "operator"), provisioned["item"]["id"]).status
        == "cancelled"
    )
    final = ledger.get_invoice(account_id, closed["final_invoice_id"])
    assert (final.type, final.total, final.status, final.balance_due) == ("recurring", 100, "closed", 0)
    balance = ledger.get_balance(account_id)
    assert (balance.current, balance.unapplied_credit) == (0, 0)
    cards.audit_ok(account_id)
    # the final invoice goes through the issuing hook like any other: its notice (and its collection)
    assert [m for m in cards.mails_to("ada@example.com") if final.number in str(m.subject)]
    # issue 22: the customer is told where the credit went: the amount and the payment, never an id
    (returned,) = [m for m in cards.mails_to("ada@example.com") if "Credit returned" in str(m.subject)]
    assert "$10.00: Card payment of Nov 10, 2026, Visa •••• 4242" in returned.body, returned.body
    assert "pay_" not in returned.body and "ref_" not in returned.body
    assert [e.after["status"] for e in events(account_id, "account.closing")] == ["closing"]
    (closed_event,) = events(account_id, "account.closed")
    assert closed_event.after["final_invoice_id"] == final.id and closed_event.actor == f"owner-{account_id}"
    assert len(events(account_id, "item.cancelled")) == 1


@pytest.fixture
def run_bucket(aws):
    import boto3

    from functions.core.resources import bucket_name
    from functions.invoices import store

    store.reset_client()
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=bucket_name())
    yield
    store.reset_client()


def test_closing_at_the_end_of_the_period_ends_items_at_their_anniversary_and_the_run_closes_it(
    api, queues_and_mail, run_bucket
):
    from functions.accounts import service as accounts
    from functions.billing_items import service as items
    from functions.billing_run import service as run
    from functions.core import ledger

    with at(2026, 11, 10):
        account = api.create_account(type="subscription", billing_day=1)
        account_id = account["id"]
        status, provisioned, _ = provision(api, account_id)
        assert status == 201
        item_id = provisioned["item"]["id"]
    with at(2026, 11, 20):
        status, closing, _ = close(api, account_id, "end_of_period")
        assert status == 200, closing
        assert (closing["status"], closing["closes_on"], closing["items_cancelled"]) == (
            "closing",
            "2026-12-01",
            [item_id],
        )
        assert accounts.get_account(account_id).status == "closing"
        access = accounts.AccountAccess(accounts.get_account(account_id), None, "operator")
        assert items.get_item(access, item_id).status == "pending_cancellation"
        # closing: no new items, charges, links nor undoing the cancellation; reads and credits go on
        problem(provision(api, account_id), 409, "account-closed")
        charge = {"description": "Support", "amount": 500}
        problem(
            api.call("POST", f"/v1/accounts/{account_id}/charges", charge, token=api.admin, headers=key()),
            409,
            "account-closed",
        )
        problem(
            api.call("DELETE", f"/v1/accounts/{account_id}/billing-items/{item_id}/cancellation", token=api.admin),
            409,
            "account-closed",
        )
        problem(close(api, account_id, "now"), 409, "account-closed")
        assert summary(api, account_id)["status"] == "closing"
        credit = {"amount": 300, "reason": "goodwill"}
        assert api.call("POST", f"/v1/accounts/{account_id}/credits", credit, token=api.admin, headers=key())[0] == 201
    with at(2026, 12, 1):
        outcome = run.bill_account(account_id, date(2026, 12, 1))
    closed = accounts.get_account(account_id)
    assert (closed.status, closed.next_recurring_date) == ("closed", None)
    assert account_id not in accounts.due_accounts("due", accounts.store.shard_of(account_id), FAR, 100, None)[0]
    assert items.get_item(accounts.AccountAccess(closed, None, "operator"), item_id).status == "cancelled"
    last = ledger.get_invoice(account_id, outcome.invoice_id)
    assert last.type == "recurring" and last.total == 0  # no fees (the item ended), no usage
    (event,) = events(account_id, "account.closed")
    assert event.actor == "billing-run" and event.after["final_invoice_id"] == last.id
    with at(2026, 12, 2):  # a second run finds nothing to bill
        assert run.bill_account(account_id, date(2027, 1, 1)).result == "skipped"
    assert ledger.audit_account(account_id).problems == []


@pytest.mark.parametrize(
    "body, headers, status, code",
    [
        ({}, None, 422, "validation-failed"),
        ({"when": "later"}, None, 422, "validation-failed"),
        ({"when": "now", "reason": "x"}, None, 422, "validation-failed"),
        ({"when": "now"}, {}, 400, "idempotency-key-missing"),
    ],
)
def test_bad_closure_requests_are_refused_and_write_nothing(api, body, headers, status, code):
    account = api.create_account(type="subscription")
    h = key() if headers is None else headers
    problem(api.call("POST", f"/v1/accounts/{account['id']}/closure", body, token=api.admin, headers=h), status, code)
    assert profile(account["id"]).status == "active" and events(account["id"], "account.closing") == []


def test_viewers_and_strangers_cannot_close(api, mint):
    account = api.create_account(type="subscription")
    viewer = api.member_token(account["id"], sub="viewer-1", role="viewer")
    problem(close(api, account["id"], "now", token=viewer), 403, "role-insufficient")
    problem(close(api, account["id"], "now", token=mint("x", "billing:write")), 403, "not-a-member")
    problem(close(api, "acct_unknown", "now"), 404, "account-not-found")
    assert profile(account["id"]).status == "active"


def test_credit_that_cannot_go_back_to_a_card_stays_and_the_operators_are_emailed(api, queues_and_mail):
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    from functions.core import ledger
    from functions.core.settings import get_settings

    account = api.create_account(type="subscription", linked=False)
    credit = {"amount": 700, "reason": "goodwill"}
    assert api.call("POST", f"/v1/accounts/{account['id']}/credits", credit, token=api.admin, headers=key())[0] == 201
    status, closed, _ = close(api, account["id"], "now")
    assert status == 200 and (closed["status"], closed["credit_returned"], closed["credit_left"]) == ("closed", 0, 700)
    assert ledger.get_balance(account["id"]).unapplied_credit == 700
    operator = get_settings().operator_email
    sent = [m for m in ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages if operator in str(m.destinations)]
    assert len(sent) == 1 and account["id"] in str(sent[0].subject)
    # closed: no link, no charge; reads and offline money go on
    problem(api.call("POST", f"/v1/accounts/{account['id']}/link", token=api.admin), 409, "account-closed")
    assert summary(api, account["id"])["status"] == "closed"


def test_upgrade_and_closure_need_the_write_scope_and_a_closed_lite_account_cannot_upgrade(cards, api):
    lite_id, owner = cards.account(type="lite", linked=False)
    reader = api.member_token(lite_id, sub="reader", scopes=("billing:read",))
    problem(upgrade(cards, lite_id, reader, "seti_abc"), 403, "insufficient-scope")
    problem(close(api, lite_id, "now", token=reader), 403, "insufficient-scope")
    assert profile(lite_id).status == "active"
    status, closed, _ = close(api, lite_id, "now", token=owner)  # a lite account closes at once, no invoice
    assert status == 200 and (closed["status"], closed["final_invoice_id"]) == ("closed", None)
    seti = cards.confirmed_setup(lite_id, owner)
    problem(upgrade(cards, lite_id, owner, seti), 409, "account-closed")
    problem(patch(api, lite_id, {"collection": "automatic"}, api.admin), 422, "collection-not-allowed")
    assert patch(api, lite_id, {"locale": "fr"}, owner)[0] == 200  # the profile still changes
    assert profile(lite_id).type == "lite" and cards.messages() == []


def test_a_balance_below_the_minimum_at_closure_is_written_off(api, queues_and_mail):
    from functions.core import ledger

    account = api.create_account(type="subscription")
    charge = {"description": "Small fee", "amount": 20}  # below usd's 50 minimum charge
    assert api.call("POST", f"/v1/accounts/{account['id']}/charges", charge, token=api.admin, headers=key())[0] == 201
    status, closed, _ = close(api, account["id"], "now")
    assert status == 200 and closed["status"] == "closed", closed
    credit = ledger.get_invoice(account["id"], closed["written_off_invoice_id"])
    assert (credit.type, credit.total) == ("credit", 20)
    assert ledger.get_balance(account["id"]).current == 0
    assert ledger.audit_account(account["id"]).problems == []


def test_switching_to_send_invoice_cancels_the_open_collection_and_gives_due_dates(cards, api):
    from functions.core import clock, ledger
    from functions.payments import store as payments_store

    account_id, owner = cards.account(type="subscription", collection="automatic")
    cards.change_card(account_id, owner)
    status, provisioned, _ = provision(api, account_id)
    assert status == 201
    assert payments_store.get_collection(account_id).state == "open"  # the New invoice's collection, not run yet
    status, data, _ = patch(api, account_id, {"collection": "send_invoice", "net_days": 10}, api.admin)
    assert status == 200 and (data["collection"], data["net_days"]) == ("send_invoice", 10)
    row = payments_store.get_collection(account_id)
    assert (row.state, row.reason) == ("idle", "cancelled")  # the collector's cancel_collection
    new_invoice = ledger.get_invoice(account_id, provisioned["invoice_id"])
    assert new_invoice.status == "open" and new_invoice.due_date == clock.today() + timedelta(days=10)
