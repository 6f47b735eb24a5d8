"""Each change of DESIGN §7 that needs no Stripe writes exactly its outbound event, in its transaction,
with the next sequence of its account: accounts, billing items (one by one and in bulk), budgets, the
billing run (once per run date and shard, whatever the redeliveries)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from functions.core import clock, outbox
from tests.integration.events_helpers import conforms
from tests.integration.test_billing_items import Setup
from tests.integration.test_budgets import _call, _usage, budgeted  # noqa: F401 (fixture)


def _new(account_id: str, since: int) -> list[tuple[str, dict]]:
    """The account's events after sequence `since`, checked gapless from 1: (type, object)."""
    events = outbox.events_of(account_id)
    assert [e["sequence"] for e in events] == list(range(1, len(events) + 1))
    for event in events:
        conforms(event)
    return [(e["type"], e["data"]["object"]) for e in events if e["sequence"] > since]


def test_account_changes_write_account_updated(api, outbound):
    account = api.create_account(type="subscription")
    account_id = account["id"]
    status, _, _ = api.call("PATCH", f"/v1/accounts/{account_id}", {"name": "Renamed Co"}, token=api.admin)
    assert status == 200
    ((kind, obj),) = _new(account_id, 1)
    assert kind == "account.updated" and obj["name"] == "Renamed Co" and obj["id"] == account_id
    status, _, _ = api.call("PATCH", f"/v1/accounts/{account_id}", {"name": "Renamed Co"}, token=api.admin)
    assert _new(account_id, 2) == []  # nothing changed: nothing written
    assert api.call("DELETE", f"/v1/accounts/{account_id}/link", token=api.admin)[0] == 200
    ((kind, obj),) = _new(account_id, 2)
    assert kind == "account.updated" and obj["linked"] is False
    published = outbound.published()
    assert [e["type"] for e in published if e["account_id"] == account_id] == [
        "account.created",
        "account.updated",
        "account.updated",
    ]


def test_billing_item_changes_write_their_events(api, outbound):
    s = Setup(api, on=date(2026, 11, 10))
    start = outbox.last_sequence(s.id)
    item = s.provision(fee=3000, device=None)["item"]
    # one transaction: the New invoice's event (planned by the ledger) and the item's, consecutive
    assert [k for k, _ in _new(s.id, start)] == ["invoice.issued", "billing_item.provisioned"]
    provisioned = dict(_new(s.id, start))["billing_item.provisioned"]
    assert provisioned["id"] == item["id"] and provisioned["status"] == "active"
    mark = outbox.last_sequence(s.id)
    assert s.admin("PUT", f"billing-items/{item['id']}/device", {"device_id": s.devices[0]})[0] == 200
    assert s.admin("DELETE", f"billing-items/{item['id']}/device")[0] == 200
    assert [(k, o["device_id"]) for k, o in _new(s.id, mark)] == [
        ("billing_item.associated", s.devices[0]),
        ("billing_item.dissociated", None),
    ]
    mark = outbox.last_sequence(s.id)
    with clock.frozen(datetime(2026, 11, 12, tzinfo=UTC)):
        assert s.admin("POST", f"billing-items/{item['id']}/cancellation", {"when": "anniversary"})[0] == 201
        assert s.admin("DELETE", f"billing-items/{item['id']}/cancellation")[0] == 200
        assert s.admin("POST", f"billing-items/{item['id']}/cancellation", {"when": "now"})[0] == 201
    kinds = [(k, o.get("status")) for k, o in _new(s.id, mark)]
    assert kinds == [
        ("billing_item.cancellation_scheduled", "pending_cancellation"),
        ("billing_item.cancellation_undone", "active"),
        ("invoice.issued", "closed"),  # the Refund invoice of the unused days, in the same transaction
        ("billing_item.cancelled", "cancelled"),
    ]


def test_a_bulk_association_writes_one_event_per_item_changed(api, outbound):
    s = Setup(api, on=date(2026, 11, 10))
    items = [s.provision(description=f"vm {n}", fee=100)["item"]["id"] for n in range(3)]
    mark = outbox.last_sequence(s.id)
    body = {"action": "associate", "item_ids": [*items, "item_aaaaaaaaaaaaaaaaaaaa"], "device_id": s.devices[1]}
    status, out, _ = s.admin("POST", "billing-items/bulk", body)
    assert status == 200 and [r["ok"] for r in out["results"]] == [True, True, True, False]
    assert [(k, o["id"], o["device_id"]) for k, o in _new(s.id, mark)] == [
        ("billing_item.associated", i, s.devices[1]) for i in items
    ]


def test_a_budget_threshold_crossed_writes_its_event_once(budgeted):  # noqa: F811
    api, account_id, owner, meter = budgeted
    _call(api, "PUT", account_id, owner, {"amount": 1000})
    mark = outbox.last_sequence(account_id)
    _usage(api, meter, account_id, 1, 600)  # 500 billable: 50 %
    _usage(api, meter, account_id, 2, 1)  # still 50 %: no second event
    ((kind, obj),) = _new(account_id, mark)
    assert kind == "usage.budget_threshold_crossed"
    assert (obj["percent"], obj["budget_amount"], obj["currency"], obj["period_start"]) == (
        50,
        1000,
        "usd",
        "2026-11-01",
    )


def test_billing_run_completed_once_per_run_date_and_shard(aws, queues_and_mail):
    from functions.billing_run import service

    run_date = date(2026, 12, 1)
    assert service.completed(3, run_date, 0) is True
    assert service.completed(3, run_date, 0) is False  # a redelivered shard message: recorded once
    assert service.completed(4, run_date, 2) is True
    events = outbox.events_of(outbox.RUN_SPACE)
    for event in events:
        conforms(event)
    assert [(e["sequence"], e["type"], e["account_id"]) for e in events] == [
        (1, "billing_run.completed", None),
        (2, "billing_run.completed", None),
    ]
    assert [e["data"]["object"]["shard"] for e in events] == [3, 4]
    assert events[1]["data"]["object"]["accounts_dispatched"] == 2
    service.dispatch_shard(5, run_date)
    assert [e["data"]["object"]["shard"] for e in outbox.events_of(outbox.RUN_SPACE)] == [3, 4, 5]
