"""Issue 14 hole 12: every paged list is stable under writes (DESIGN §4 v4 "Pagination is stable under
writes"). A cursor is keyed on an order no write changes (created_at + id, a date + number, an id);
filters on mutable fields (status, view, device) apply to that order. So while a client pages, an item
that keeps matching is listed exactly once, an item that changes is listed at most once, and a page may
be shorter than `limit` but `next_cursor` is null only at the end.

Found driving billow from outside: 8 billing items in pages of 3, one cancellation scheduled and one
undone during paging -> one item listed twice, one never (the cursor was keyed on `status#created`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from functions.core import clock
from tests.integration.test_billing_items import Setup

T0 = datetime(2026, 11, 10, 9, 0, tzinfo=UTC)


def walk(get: Callable[[str], tuple[int, dict]], path: str, between: Callable[[int], None]) -> Counter:
    """Every page of `path`, calling `between(n)` after page n (the writes a console's user makes
    meanwhile); how many times each id was listed."""
    seen: Counter = Counter()
    cursor, n = None, 0
    while True:
        sep = "&" if "?" in path else "?"
        status, page = get(path + (f"{sep}cursor={cursor}" if cursor else ""))
        assert status == 200, page
        seen.update(row["id"] for row in page["data"])
        cursor = page["next_cursor"]
        if cursor is None:
            return seen
        n += 1
        between(n)
        assert n < 50, "the cursor never ends"


def _items(s: Setup, n: int, device: str | None) -> list[str]:
    """n items, each created a minute after the previous one (newest last)."""
    ids = []
    for k in range(n):
        with clock.frozen(T0 + timedelta(minutes=k)):
            body = {"description": f"item {k}", "category": "server", "recurring_fee": 1000}
            if device is not None:
                body["device_id"] = device
            status, data, _ = s.admin("POST", "billing-items", body)
        assert status == 201, data
        ids.append(data["item"]["id"])
    return ids


def _get(s: Setup) -> Callable[[str], tuple[int, dict]]:
    def get(path: str) -> tuple[int, dict]:
        status, data, _ = s.call("GET", path)
        return status, data

    return get


def _cancel(s: Setup, item_id: str) -> None:
    with clock.frozen(T0 + timedelta(hours=1)):
        status, out, _ = s.call("POST", f"billing-items/{item_id}/cancellation", {"when": "anniversary"})
    assert status == 201 and out["item"]["status"] == "pending_cancellation", out


def _undo(s: Setup, item_id: str) -> None:
    with clock.frozen(T0 + timedelta(hours=2)):
        status, out, _ = s.call("DELETE", f"billing-items/{item_id}/cancellation")
    assert status == 200 and out["status"] == "active", out


def test_billing_items_in_pages_of_3_while_a_cancellation_is_scheduled_and_one_undone(api):
    s = Setup(api)
    items = _items(s, 8, s.devices[0])  # newest first: items[7] .. items[0]
    _cancel(s, items[7])  # pending before the paging starts

    def between(n: int) -> None:
        if n == 1:
            _undo(s, items[7])  # listed on page 1; moved among the active ones by the old cursor
            _cancel(s, items[0])  # not listed yet; moved before the cursor by the old one

    seen = walk(_get(s), "billing-items?limit=3", between)
    assert seen == Counter({i: 1 for i in items}), seen  # each exactly once


def test_every_billing_item_view_and_status_filter_lists_the_items_that_keep_matching_exactly_once(api):
    s = Setup(api)
    linked = _items(s, 6, s.devices[0])
    loose = _items(s, 6, None)
    for i in (linked[1], linked[4], loose[2], loose[5]):
        _cancel(s, i)  # pending_cancellation
    stay_active = [linked[0], linked[2], loose[0], loose[3]]
    stay_pending = [linked[4], loose[5]]

    def changes(n: int) -> None:
        # status changes both ways, and a link change that moves an item between views and devices
        if n == 1:
            _undo(s, linked[1])
            _undo(s, loose[2])
            _cancel(s, linked[3])
            _cancel(s, loose[4])
        if n == 2:
            status, out, _ = s.call("DELETE", f"billing-items/{linked[5]}/device")
            assert status == 200, out
            status, out, _ = s.call("PUT", f"billing-items/{loose[1]}/device", {"device_id": s.devices[0]})
            assert status == 200, out

    cases = {
        "billing-items?limit=2": (set(linked) - {linked[5]}, {linked[5], loose[1]}),
        f"billing-items?limit=2&device_id={s.devices[0]}": (set(linked) - {linked[5]}, {linked[5], loose[1]}),
        "billing-items?limit=2&view=dissociated": (set(loose) - {loose[1]}, {linked[5], loose[1]}),
        "billing-items?limit=2&view=all": (set(linked + loose), set()),
        "billing-items?limit=2&view=all&status=active": (set(stay_active), set(linked + loose) - set(stay_active)),
        "billing-items?limit=1&status=pending_cancellation": (
            {linked[4]},
            set(linked + loose) - {linked[4]},
        ),
        "billing-items?limit=2&view=dissociated&status=pending_cancellation": (
            {loose[5]},
            set(linked + loose) - set(stay_pending),
        ),
    }
    for path, (exactly_once, at_most_once) in cases.items():
        # every case starts from the same state: undo what the previous walk changed
        for i in linked + loose:
            item = s.call("GET", f"billing-items/{i}")[1]
            should_pend = i in (linked[1], linked[4], loose[2], loose[5])
            if item["status"] == "pending_cancellation" and not should_pend:
                _undo(s, i)
            elif item["status"] == "active" and should_pend:
                _cancel(s, i)
        assert s.call("PUT", f"billing-items/{linked[5]}/device", {"device_id": s.devices[0]})[0] == 200
        assert s.call("DELETE", f"billing-items/{loose[1]}/device")[0] == 200
        seen = walk(_get(s), path, changes)
        assert all(seen[i] == 1 for i in exactly_once), (path, seen)
        assert all(seen[i] <= 1 for i in at_most_once), (path, seen)
        assert set(seen) <= exactly_once | at_most_once, (path, seen)


def test_invoices_listed_with_a_status_filter_while_payments_close_some(api):
    from tests.integration.test_invoices import _post

    s = Setup(api)
    invoices = []
    for k in range(8):
        with clock.frozen(T0 + timedelta(days=k)):  # one per day: the list is newest first by date
            invoices.append(_post(api, s.id, "charges", {"description": f"charge {k}", "amount": 1000})["id"])

    def credit(n: int) -> None:
        # a credit settles the oldest open invoices first: they close while the client pages
        with clock.frozen(T0 + timedelta(days=9)):
            _post(api, s.id, "credits", {"amount": 1000, "reason": "goodwill"})

    seen = walk(_get(s), "invoices?limit=3&type=one_time&status=open", credit)
    closed_meanwhile = set(invoices[:3])  # at most three credits while paging three or four pages
    assert all(seen[i] == 1 for i in set(invoices) - closed_meanwhile), seen
    assert all(seen[i] <= 1 for i in closed_meanwhile), seen
    seen = walk(_get(s), "invoices?limit=3", credit)
    assert all(seen[i] == 1 for i in invoices), seen  # the credits are new rows: at most once each
    assert all(n == 1 for n in seen.values()), seen


def test_devices_and_events_listed_while_new_ones_are_written(api):
    s = Setup(api)
    for k in range(5):
        assert s.admin("POST", "devices", {"name": f"gw-{k}", "kind": "gateway"})[0] == 201
    before_devices = {d["id"] for d in s.admin("GET", "devices?limit=100")[1]["data"]}
    before_events = {e["id"] for e in s.admin("GET", "events?limit=100")[1]["data"]}

    def write(n: int) -> None:
        assert s.admin("POST", "devices", {"name": f"new-{n}", "kind": "gateway"})[0] == 201

    seen = walk(_get(s), "devices?limit=2", write)
    assert all(seen[i] == 1 for i in before_devices) and all(n == 1 for n in seen.values()), seen
    seen = walk(_get(s), "events?limit=2", write)
    assert all(seen[i] == 1 for i in before_events) and all(n == 1 for n in seen.values()), seen


def test_payments_listed_while_new_ones_are_made(api, client, stripe_server, queues_and_mail, monkeypatch):
    from tests.integration.payments_helpers import Payments

    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", "whsec_test_billow")
    pay = Payments(api, client, stripe_server, queues_and_mail)
    account_id, token, _ = pay.owing(20_000)
    made = [pay.pay(account_id, token, {"amount": 600 + k})[1]["id"] for k in range(5)]

    def another(n: int) -> None:
        status, out, _ = pay.pay(account_id, token, {"amount": 700 + n})
        assert status == 201, out

    def get(path: str) -> tuple[int, dict]:
        status, data, _ = api.call("GET", f"/v1/accounts/{account_id}/{path}", token=token)
        return status, data

    seen = walk(get, "payments?limit=2", another)
    assert all(seen[i] == 1 for i in made) and all(n == 1 for n in seen.values()), seen


def test_a_cursor_of_another_key_shape_is_400_not_500(api):
    # a cursor issued before the items' order changed (its key carries `status_sk`) is refused cleanly
    from functions.core import cursor

    s = Setup(api)
    _items(s, 2, s.devices[0])
    filters = {"view": "associated", "device_id": None, "status": None, "category": None}
    old = {
        "pk": {"S": s.id},
        "sk": {"S": "ITEM#item_x"},
        "view_pk": {"S": f"{s.id}#associated"},
        "status_sk": {"S": "active#2026-11-10T09:00:00Z#item_x"},
    }
    token = cursor.encode(s.id, "billing-items", filters, old)
    status, problem, _ = s.call("GET", f"billing-items?cursor={token}")
    assert (status, problem["code"]) == (400, "invalid-cursor"), problem
