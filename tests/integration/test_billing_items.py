"""Billing items over HTTP: provisioning and its New invoice, views, links, bulk, cancellation."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import boto3
import pytest

from functions.core import clock


def _at(day: date):
    return clock.frozen(datetime(day.year, day.month, day.day, 10, tzinfo=UTC))


def _items_in_tables():
    client = boto3.client("dynamodb", region_name="us-east-1")
    return sum(client.scan(TableName=t)["Count"] for t in client.list_tables()["TableNames"])


class Setup:
    def __init__(self, api, currency="usd", type="subscription", on=date(2026, 11, 10), billing_day=1):
        self.api, self.on = api, on
        with _at(on):
            self.account = api.create_account(type=type, currency=currency, billing_day=billing_day)
        self.id = self.account["id"]
        self.owner = api.member_token(self.id, sub=f"owner-{self.id}")
        self.devices = [
            self.admin("POST", "devices", {"name": f"edge-{n}", "kind": "server"})[1]["id"] for n in range(2)
        ]

    def admin(self, method, path, body=None, key=None):
        headers = {"Idempotency-Key": key or str(uuid.uuid4())} if method == "POST" and path != "devices" else None
        return self.api.call(method, f"/v1/accounts/{self.id}/{path}", body, token=self.api.admin, headers=headers)

    def call(self, method, path, body=None, key=None, token=None):
        headers = {"Idempotency-Key": key or str(uuid.uuid4())} if method == "POST" else None
        return self.api.call(method, f"/v1/accounts/{self.id}/{path}", body, token=token or self.owner, headers=headers)

    def provision(self, description="Bare metal", fee=3000, setup=0, device=None, category="server", on=None):
        body = {"description": description, "category": category, "recurring_fee": fee, "setup_fee": setup}
        if device is not None:
            body["device_id"] = device
        with _at(on or self.on):
            status, data, _ = self.admin("POST", "billing-items", body)
        assert status == 201, data
        return data

    def balance(self):
        return self.call("GET", "summary")[1]["balance"]["current"]


def test_provisioning_posts_a_new_invoice_with_setup_and_prorated_fee(api):
    s = Setup(api, on=date(2026, 11, 10))  # period Nov 1 - Dec 1 (30 days): 21 days left
    out = s.provision(fee=3000, setup=500, device=s.devices[0])
    assert out["item"]["status"] == "active" and out["item"]["device_id"] == s.devices[0]
    assert out["invoice_total"] == 500 + 2100
    inv = s.call("GET", f"invoices/{out['invoice_id']}")[1]
    assert inv["type"] == "new" and inv["status"] == "open"
    assert [
        (line["description"], line["amount"], line["period_start"], line["period_end"]) for line in inv["lines"]
    ] == [
        ("Bare metal · setup", 500, "2026-11-10", "2026-11-10"),
        ("Bare metal", 2100, "2026-11-10", "2026-12-01"),
    ]
    assert all(line["group"] == "Device: edge-0" for line in inv["lines"])
    assert s.balance() == 2600


@pytest.mark.parametrize(
    ("created", "starts", "fee", "currency", "expected"),
    [
        (date(2027, 2, 3), date(2027, 2, 15), 2800, "usd", 1400),  # Feb 1 - Mar 1: 28 days, 14 left
        (date(2027, 1, 3), date(2027, 1, 21), 3100, "usd", 1100),  # Jan: 31 days, 11 left
        (date(2028, 2, 3), date(2028, 2, 16), 2900, "usd", 1400),  # leap February: 29 days, 14 left
        (date(2026, 11, 3), date(2026, 11, 24), 1500, "jpy", 350),  # 30 days, 7 left, whole yen
        (date(2026, 11, 3), date(2026, 11, 3), 999, "eur", 932),  # 28 of 30 days: 932.4 rounds to 932
        (date(2026, 11, 3), date(2026, 11, 16), 999, "eur", 500),  # 15 of 30 days: 499.5 rounds half up
    ],
)
def test_proration_over_months_of_28_to_31_days_and_jpy(api, created, starts, fee, currency, expected):
    s = Setup(api, currency=currency, on=created)
    out = s.provision(fee=fee, on=starts)
    assert out["invoice_total"] == expected


def test_payg_accounts_need_a_card_before_paid_items(api):
    s = Setup(api, type="payg")
    before = _items_in_tables()
    status, problem, _ = s.admin("POST", "billing-items", {"description": "x", "category": "c", "recurring_fee": 10})
    assert status == 422 and problem["code"] == "payment-method-required"
    assert _items_in_tables() == before


def test_items_need_a_linked_billable_account(api):
    unlinked = api.create_account(linked=False)
    status, problem, _ = api.call("GET", f"/v1/accounts/{unlinked['id']}/billing-items", token=api.admin)
    assert status == 403 and problem["code"] == "capability-unavailable"


def test_views_filters_and_pages_never_show_other_accounts_items(api):
    s, other = Setup(api), Setup(api)
    other.provision(description="theirs", device=other.devices[0])
    mine = {
        "a0": s.provision(description="a0", device=s.devices[0], category="server")["item"]["id"],
        "a1": s.provision(description="a1", device=s.devices[1], category="storage")["item"]["id"],
        "d0": s.provision(description="d0", category="server")["item"]["id"],
        "d1": s.provision(description="d1", category="network")["item"]["id"],
    }

    def ids(query):
        seen, cursor = [], None
        while True:
            status, page, _ = s.call("GET", f"billing-items?limit=1&{query}" + (f"&cursor={cursor}" if cursor else ""))
            assert status == 200, page
            seen += [i["description"] for i in page["data"]]
            cursor = page["next_cursor"]
            if cursor is None:
                return sorted(seen)

    assert ids("") == ["a0", "a1"]
    assert ids("view=dissociated") == ["d0", "d1"]
    assert ids("view=all") == ["a0", "a1", "d0", "d1"]
    assert ids(f"device_id={s.devices[1]}") == ["a1"]
    assert ids("view=all&category=server") == ["a0", "d0"]
    assert ids("view=dissociated&category=network") == ["d1"]
    with _at(s.on):
        s.call("POST", f"billing-items/{mine['a0']}/cancellation", {"when": "anniversary"})
    assert ids("status=pending_cancellation") == ["a0"]
    assert ids("status=active") == ["a1"]
    assert ids("view=all&status=active") == ["a1", "d0", "d1"]
    status, problem, _ = s.call("GET", f"billing-items?device_id={other.devices[0]}")
    assert status == 404 and problem["code"] == "device-not-found"


def test_a_forged_or_foreign_cursor_is_400(api):
    s = Setup(api)
    for n in range(3):
        s.provision(description=f"i{n}", device=s.devices[0])
    page = s.call("GET", "billing-items?limit=1")[1]
    for bad in (page["next_cursor"][:-3] + "abc", "nonsense"):
        status, problem, _ = s.call("GET", f"billing-items?cursor={bad}")
        assert status == 400 and problem["code"] == "invalid-cursor"
    status, problem, _ = s.call("GET", f"billing-items?view=all&cursor={page['next_cursor']}")
    assert status == 400 and problem["code"] == "invalid-cursor"


def test_links_are_checked_and_a_no_op_writes_nothing(api):
    s, other = Setup(api), Setup(api)
    item = s.provision(description="vm")["item"]["id"]
    status, linked, _ = s.call("PUT", f"billing-items/{item}/device", {"device_id": s.devices[0]})
    assert status == 200 and linked["device_id"] == s.devices[0]
    before = _items_in_tables()
    assert s.call("PUT", f"billing-items/{item}/device", {"device_id": s.devices[0]})[0] == 200
    assert _items_in_tables() == before
    status, problem, _ = s.call("PUT", f"billing-items/{item}/device", {"device_id": other.devices[0]})
    assert status == 404 and problem["code"] == "device-not-found"
    status, problem, _ = other.call("PUT", f"billing-items/{item}/device", {"device_id": other.devices[0]})
    assert status == 404 and problem["code"] == "item-not-found"
    status, out, _ = s.call("DELETE", f"billing-items/{item}/device")
    assert status == 200 and out["device_id"] is None
    with _at(s.on):
        s.call("POST", f"billing-items/{item}/cancellation", {"when": "now"})
    status, problem, _ = s.call("PUT", f"billing-items/{item}/device", {"device_id": s.devices[0]})
    assert status == 409 and problem["code"] == "item-cancelled"
    viewer = api.member_token(s.id, sub="viewer", role="viewer")
    status, problem, _ = s.call("DELETE", f"billing-items/{item}/device", token=viewer)
    assert status == 403 and problem["code"] == "role-insufficient"


def test_bulk_applies_valid_items_and_reports_the_rest_in_order(api):
    s, other = Setup(api), Setup(api)
    items = [s.provision(description=f"i{n}")["item"]["id"] for n in range(3)]
    theirs = other.provision(description="theirs")["item"]["id"]
    ids = [items[0], "item_aaaaaaaaaaaaaaaaaaaa", items[1], theirs, items[2]]
    body = {"action": "associate", "item_ids": ids, "device_id": s.devices[1]}
    status, out, _ = s.call("POST", "billing-items/bulk", body, key="bulk-1")
    assert status == 200
    assert [(r["item_id"], r["ok"], r.get("error")) for r in out["results"]] == [
        (items[0], True, None),
        ("item_aaaaaaaaaaaaaaaaaaaa", False, "item-not-found"),
        (items[1], True, None),
        (theirs, False, "item-not-found"),
        (items[2], True, None),
    ]
    listed = s.call("GET", f"billing-items?device_id={s.devices[1]}")[1]["data"]
    assert sorted(i["id"] for i in listed) == sorted(items)
    assert other.call("GET", f"billing-items/{theirs}")[1]["device_id"] is None
    before = _items_in_tables()
    status, replay, headers = s.call("POST", "billing-items/bulk", body, key="bulk-1")
    assert (status, replay) == (200, out) and headers["Idempotent-Replayed"] == "true"
    assert _items_in_tables() == before


def test_bulk_of_100_items_runs_in_chunks_with_one_event_each(api):
    from bench.ddb_counter import counting
    from functions.billing_items.service import BULK_CHUNK

    s = Setup(api)
    items = [s.provision(description=f"i{n}", fee=0)["item"]["id"] for n in range(100)]
    with counting() as counts:
        status, out, _ = s.call(
            "POST", "billing-items/bulk", {"action": "associate", "item_ids": items, "device_id": s.devices[0]}
        )
    assert status == 200 and all(r["ok"] for r in out["results"])
    assert counts.calls["TransactWriteItems"] == 100 // BULK_CHUNK
    events = s.call("GET", "events?limit=10")[1]["data"]
    chunks = [e for e in events if e["action"] == "items.associated"]
    assert len(chunks) == 100 // BULK_CHUNK
    assert sorted(i for e in chunks for i in e["after"]["item_ids"]) == sorted(items)


def test_bad_bulk_requests(api):
    s = Setup(api)
    item = s.provision()["item"]["id"]
    cases = [
        ({"action": "associate", "item_ids": [item]}, 422),
        ({"action": "dissociate", "item_ids": [item], "device_id": s.devices[0]}, 422),
        ({"action": "associate", "item_ids": [], "device_id": s.devices[0]}, 422),
        ({"action": "associate", "item_ids": [item] * 2, "device_id": s.devices[0]}, 422),
        ({"action": "associate", "item_ids": [f"item_{n}" for n in range(101)], "device_id": s.devices[0]}, 422),
        ({"action": "associate", "item_ids": [item], "device_id": "dev_aaaaaaaaaaaaaaaaaaaa"}, 404),
    ]
    for body, expected in cases:
        assert s.call("POST", "billing-items/bulk", body)[0] == expected, body


def test_cancel_now_refunds_the_unused_part(api):
    s = Setup(api, on=date(2026, 11, 10))
    item = s.provision(fee=3000, setup=500)
    assert s.balance() == 2600
    with _at(date(2026, 11, 20)):  # 10 of the 21 invoiced days used; 11 left of 2100
        status, out, _ = s.call(
            "POST",
            f"billing-items/{item['item']['id']}/cancellation",
            {"when": "now", "reason": "moving to another region"},
        )
    assert status == 201
    assert out["item"]["status"] == "cancelled" and out["item"]["cancelled_on"] == "2026-11-20"
    assert out["refund_amount"] == 1100
    refund = s.call("GET", f"invoices/{out['refund_invoice_id']}")[1]
    assert refund["type"] == "refund" and refund["total"] == 1100
    assert refund["applied_to"] == [{"invoice_id": item["invoice_id"], "amount": 1100}]
    assert s.balance() == 1500
    event = next(e for e in s.call("GET", "events")[1]["data"] if e["action"] == "item.cancelled")
    assert event["after"]["cancel_reason"] == "moving to another region"


def test_cancel_at_the_anniversary_and_undo(api):
    s = Setup(api, on=date(2026, 11, 10))
    item = s.provision(fee=3000)["item"]["id"]
    balance = s.balance()
    with _at(date(2026, 11, 12)):
        status, out, _ = s.call("POST", f"billing-items/{item}/cancellation", {})
    assert status == 201 and out["item"]["status"] == "pending_cancellation"
    assert out["item"]["cancel_at"] == "2026-12-01" and out["refund_amount"] == 0
    assert s.call("GET", "invoices/upcoming")[1]["total"] == 0
    summary = s.call("GET", "summary")[1]["balance"]
    assert summary["next_estimated"] == summary["current"]
    status, problem, _ = s.call("POST", f"billing-items/{item}/cancellation", {"when": "anniversary"})
    assert status == 409 and problem["code"] == "cancellation-pending"
    status, undone, _ = s.call("DELETE", f"billing-items/{item}/cancellation")
    assert status == 200 and undone["status"] == "active" and undone["cancel_at"] is None
    assert s.call("GET", "invoices/upcoming")[1]["total"] == 3000
    summary = s.call("GET", "summary")[1]["balance"]
    assert summary["next_estimated"] == summary["current"] + 3000
    status, problem, _ = s.call("DELETE", f"billing-items/{item}/cancellation")
    assert status == 409 and problem["code"] == "no-pending-cancellation"
    assert s.balance() == balance


def test_upcoming_lists_active_items_fees_for_the_next_period(api):
    s = Setup(api, on=date(2026, 11, 10))
    s.provision(description="vm", fee=3000, device=s.devices[0])
    s.provision(description="disk", fee=700)
    upcoming = s.call("GET", "invoices/upcoming")[1]
    assert (upcoming["period_start"], upcoming["period_end"]) == ("2026-12-01", "2027-01-01")
    assert sorted((line["description"], line["amount"]) for line in upcoming["lines"]) == [("disk", 700), ("vm", 3000)]
    summary = s.call("GET", "summary")[1]
    assert summary["balance"]["next_estimated"] == summary["balance"]["current"] + 3700


def test_a_bulk_call_that_dies_between_chunks_is_locked_then_resumed_after_its_lease(api, monkeypatch):
    from datetime import timedelta

    from functions.core.uow import UnitOfWork

    s = Setup(api)
    items = [s.provision(description=f"i{n}", fee=0)["item"]["id"] for n in range(60)]
    body = {"action": "associate", "item_ids": items, "device_id": s.devices[0]}
    real_commit, commits = UnitOfWork.commit, []

    def die_on_second_chunk(self):
        commits.append(1)
        if len(commits) == 2:
            raise RuntimeError("the Lambda timed out")
        return real_commit(self)

    monkeypatch.setattr(UnitOfWork, "commit", die_on_second_chunk)
    status, problem, _ = s.call("POST", "billing-items/bulk", body, key="bulk-crash")
    assert status == 500
    monkeypatch.undo()
    associated = len(s.call("GET", f"billing-items?device_id={s.devices[0]}&limit=100")[1]["data"])
    assert associated == 25  # the first chunk only
    status, problem, _ = s.call("POST", "billing-items/bulk", body, key="bulk-crash")
    assert status == 409 and problem["code"] == "idempotency-in-progress"
    with clock.frozen(clock.now() + timedelta(seconds=120)):
        status, out, _ = s.call("POST", "billing-items/bulk", body, key="bulk-crash")
    assert status == 200 and all(r["ok"] for r in out["results"]) and len(out["results"]) == 60
    assert len(s.call("GET", f"billing-items?device_id={s.devices[0]}&limit=100")[1]["data"]) == 60
    status, replay, headers = s.call("POST", "billing-items/bulk", body, key="bulk-crash")
    assert replay == out and headers["Idempotent-Replayed"] == "true"


def test_the_summary_estimate_and_the_upcoming_invoice_agree_through_every_change(api):
    s = Setup(api, on=date(2026, 11, 10))
    items = [s.provision(description=f"i{n}", fee=1000 * (n + 1))["item"]["id"] for n in range(4)]
    steps = [
        ("POST", f"billing-items/{items[0]}/cancellation", {"when": "anniversary"}),
        ("POST", f"billing-items/{items[1]}/cancellation", {"when": "now"}),
        ("DELETE", f"billing-items/{items[0]}/cancellation", None),
        ("POST", f"billing-items/{items[0]}/cancellation", {"when": "anniversary"}),
        ("POST", f"billing-items/{items[0]}/cancellation", {"when": "now"}),
    ]
    for method, path, body in [(None, None, None), *steps]:
        if method:
            with _at(s.on):
                assert s.call(method, path, body)[0] in (200, 201)
        upcoming = s.call("GET", "invoices/upcoming")[1]
        balance = s.call("GET", "summary")[1]["balance"]
        assert balance["next_estimated"] == balance["current"] + upcoming["total"]
    assert s.call("GET", "invoices/upcoming")[1]["total"] == 3000 + 4000


def test_a_cancellation_key_reused_for_another_item_is_422_and_cancels_nothing(api):
    """Issue 14 hole 1: the idempotency record hashes the concrete path (with the item id), not the
    route template: the key used to cancel item A, sent to cancel item B, is a different request."""
    s = Setup(api, on=date(2026, 11, 10))
    first, second = (s.provision(description=name, fee=3000)["item"]["id"] for name in ("A", "B"))
    with _at(date(2026, 11, 12)):
        status, out, _ = s.call("POST", f"billing-items/{first}/cancellation", {"when": "now"}, key="cancel-1")
        assert status == 201 and out["item"]["id"] == first
        balance = s.balance()
        status, problem, headers = s.call(
            "POST", f"billing-items/{second}/cancellation", {"when": "now"}, key="cancel-1"
        )
    assert status == 422 and problem["code"] == "idempotency-key-reuse", problem
    assert "Idempotent-Replayed" not in headers
    assert s.call("GET", f"billing-items/{second}")[1]["status"] == "active"
    assert s.balance() == balance
    assert s.call("GET", "invoices/upcoming")[1]["total"] == 3000  # B is still billed, A is not
    # the same request again is still a replay of A's cancellation
    with _at(date(2026, 11, 12)):
        status, again, headers = s.call("POST", f"billing-items/{first}/cancellation", {"when": "now"}, key="cancel-1")
    assert (status, again, headers.get("Idempotent-Replayed")) == (201, out, "true")
