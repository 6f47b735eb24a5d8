"""The rate card (issue 17, DESIGN §3 v4 Rate card): operator routes, immutable versions, validation,
retirement, an account's negotiated rate before the card; and the v4 usage-record rules that depend on
it (no price in records, UTC occurred_at, the account's first period, devices, closing accounts)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from functions.core import clock
from tests.integration.usage_helpers import set_rate

NOW = datetime(2026, 11, 20, 9, tzinfo=UTC)
GRADUATED = {
    "tiers_mode": "graduated",
    "tiers": [
        {"up_to": 100, "unit_amount_decimal": "10"},
        {"up_to": 1000, "unit_amount_decimal": "5", "flat_amount": 200},
        {"up_to": None, "unit_amount_decimal": "1"},
    ],
}


def _put(api, path, body, token=None):
    with clock.frozen(NOW):
        return api.call("PUT", path, body, token=token or api.admin)


def test_versions_are_immutable_and_listed_with_their_metric(api):
    first = set_rate(api, "compute", "hours", "2.5", included_quantity=100, description="Compute hours")
    assert (first["effective_from"], first["included_quantity"], first["description"]) == (
        "2020-01-01",
        "100",
        "Compute hours",
    )
    status, later, _ = _put(
        api, "/v1/rates/compute/hours", {"currency": "usd", "effective_from": "2027-01-01", **GRADUATED}
    )
    assert status == 200 and later["tiers_mode"] == "graduated" and later["tiers"][1]["flat_amount"] == 200
    status, problem, _ = _put(
        api, "/v1/rates/compute/hours", {"currency": "usd", "effective_from": "2027-01-01", "unit_amount_decimal": "1"}
    )
    assert (status, problem["code"]) == (409, "rate-version-exists")
    # a later version may not start in the past: only the first one of a (service, metric, currency) may
    status, problem, _ = _put(
        api, "/v1/rates/compute/hours", {"currency": "usd", "effective_from": "2026-11-19", "unit_amount_decimal": "1"}
    )
    assert (status, problem["code"]) == (422, "effective-from-in-the-past")
    assert set_rate(api, "compute", "hours", "2.3", currency="eur")["currency"] == "eur"  # first eur version
    with clock.frozen(NOW):
        status, card, _ = api.call("GET", "/v1/rates", token=api.admin)
    assert status == 200
    (metric,) = card["data"]
    assert [(v["currency"], v["effective_from"]) for v in metric["versions"]] == [
        ("usd", "2020-01-01"),
        ("eur", "2020-01-01"),
        ("usd", "2027-01-01"),
    ]
    with clock.frozen(NOW):
        events = api.call("GET", "/v1/accounts/ratecard/events", token=api.admin)[0]
    assert events in (403, 404)  # the card's audit partition is not an account


@pytest.mark.parametrize(
    "body",
    [
        {"currency": "usd"},  # no price
        {"currency": "usd", "unit_amount_decimal": "1", **GRADUATED},  # both
        {
            "currency": "usd",
            "tiers_mode": "volume",
            "tiers": [{"up_to": 10, "unit_amount_decimal": "1"}],
        },  # no open end
        {
            "currency": "usd",
            "tiers_mode": "volume",
            "tiers": [
                {"up_to": 10, "unit_amount_decimal": "1"},
                {"up_to": 5, "unit_amount_decimal": "1"},
                {"up_to": None, "unit_amount_decimal": "1"},
            ],
        },
        {"currency": "usd", "tiers": GRADUATED["tiers"]},  # no mode
        {"currency": "usd", "unit_amount_decimal": 0.25},
        {"currency": "usd", "unit_amount_decimal": "1", "included_quantity": -1},
        {"currency": "usd", "unit_amount_decimal": "1", "included_quantity": 10**12 + 1},
        {"currency": "xxx", "unit_amount_decimal": "1"},
        {"unit_amount_decimal": "1"},  # the card names its currency
        {
            "currency": "usd",
            "tiers_mode": "graduated",
            "tiers": [{"up_to": None, "unit_amount_decimal": "1", "flat_amount": 1.5}],
        },
    ],
)
def test_a_bad_rate_is_422_and_nothing_is_written(api, body):
    status, problem, _ = _put(api, "/v1/rates/compute/hours", body)
    assert status == 422 and problem["code"] == "validation-failed", problem
    with clock.frozen(NOW):
        assert api.call("GET", "/v1/rates", token=api.admin)[1]["data"] == []


def test_only_operators_set_rates(api, mint):
    status, problem, _ = _put(
        api,
        "/v1/rates/compute/hours",
        {"currency": "usd", "unit_amount_decimal": "1"},
        token=mint("u", "billing:write"),
    )
    assert (status, problem["code"]) == (403, "insufficient-scope")


@pytest.fixture
def metered(api, mint):
    with clock.frozen(datetime(2026, 11, 10, 9, tzinfo=UTC)):
        account = api.create_account(type="payg", billing_day=6)
    return api, account["id"], mint("meter", "billing:usage")


def _usage(api, token, records, at=NOW):
    with clock.frozen(at):
        status, out, _ = api.call("POST", "/v1/usage", {"records": records}, token=token)
    assert status == 200, out
    return out["results"]


def _rec(account_id, n, metric="hours", at="2026-11-12T10:00:00Z", quantity=1, **extra):
    return {
        "id": f"r{n}",
        "account_id": account_id,
        "service": "compute",
        "metric": metric,
        "quantity": quantity,
        "occurred_at": at,
        **extra,
    }


def test_occurred_at_counts_in_utc(metered):
    """The issue's record: 22:00 on Dec 5 at -05:00 is 03:00 UTC on Dec 6, the first day of the account's
    next period (billing day 6) — before v4 it was filed by its local date in the period before."""
    api, account_id, token = metered
    set_rate(api, "compute", "hours", "1")
    (result,) = _usage(
        api, token, [_rec(account_id, 1, at="2026-12-05T22:00:00-05:00")], at=datetime(2026, 12, 6, 4, tzinfo=UTC)
    )
    assert (result["status"], result["period_start"]) == ("accepted", "2026-12-06")
    (result,) = _usage(
        api, token, [_rec(account_id, 2, at="2026-12-06T01:00:00+05:00")], at=datetime(2026, 12, 6, 4, tzinfo=UTC)
    )
    assert result["period_start"] == "2026-11-06"  # 20:00 UTC on Dec 5


def test_a_record_before_the_first_period_is_rejected_never_lost(metered):
    api, account_id, token = metered
    set_rate(api, "compute", "hours", "1")
    results = _usage(
        api, token, [_rec(account_id, 1, at="2026-11-05T23:59:59Z"), _rec(account_id, 2, at="2026-11-06T00:00:00Z")]
    )
    assert [(r["status"], r["reason"]) for r in results] == [("rejected", "before-account-start"), ("accepted", None)]


def test_devices_of_the_account_only(metered):
    api, account_id, token = metered
    set_rate(api, "compute", "hours", "1")
    with clock.frozen(NOW):
        other = api.create_account(type="payg")["id"]
        mine = api.call(
            "POST", f"/v1/accounts/{account_id}/devices", {"name": "vm-1", "kind": "server"}, token=api.admin
        )[1]
        theirs = api.call("POST", f"/v1/accounts/{other}/devices", {"name": "vm-2", "kind": "server"}, token=api.admin)[
            1
        ]
    results = _usage(
        api, token, [_rec(account_id, 1, device_id=mine["id"]), _rec(account_id, 2, device_id=theirs["id"])]
    )
    assert [(r["status"], r["reason"]) for r in results] == [("accepted", None), ("rejected", "device-not-found")]


def test_a_closing_account_rejects_usage_per_record(metered):
    api, account_id, token = metered
    set_rate(api, "compute", "hours", "1")
    from functions.accounts.store import AccountsModel

    # (issue 16's closure sets it; here the profile is changed as that flow would leave it)
    AccountsModel(account_id, "PROFILE").update(actions=[AccountsModel.status.set("closing")])
    (result,) = _usage(api, token, [_rec(account_id, 1)])
    assert (result["status"], result["reason"]) == ("rejected", "account-closed")


def test_a_retired_metric_takes_no_usage_for_periods_from_its_date(metered):
    api, account_id, token = metered
    set_rate(api, "compute", "hours", "1")
    with clock.frozen(NOW):
        status, retired, _ = api.call("DELETE", "/v1/rates/compute/hours?effective_from=2026-12-06", token=api.admin)
        missing = api.call("DELETE", "/v1/rates/compute/nothing", token=api.admin)
        past = api.call("DELETE", "/v1/rates/compute/hours?effective_from=2026-11-01", token=api.admin)
    assert (status, retired["retired"], retired["currency"]) == (200, True, "*")
    assert (missing[0], missing[1]["code"]) == (404, "rate-not-found")
    assert (past[0], past[1]["code"]) == (422, "effective-from-in-the-past")
    at = datetime(2026, 12, 7, tzinfo=UTC)
    results = _usage(
        api,
        token,
        [_rec(account_id, 1, at="2026-12-05T10:00:00Z"), _rec(account_id, 2, at="2026-12-06T10:00:00Z")],
        at=at,
    )
    assert [(r["status"], r["reason"]) for r in results] == [("accepted", None), ("rejected", "unknown-metric")]


def test_an_accounts_negotiated_rate_comes_before_the_card(metered):
    api, account_id, token = metered
    set_rate(api, "compute", "hours", "10", description="Compute hours")
    with clock.frozen(NOW):
        other = api.create_account(type="payg", billing_day=6)["id"]
    status, problem, _ = _put(
        api, f"/v1/accounts/{account_id}/rates/compute/hours", {"currency": "eur", "unit_amount_decimal": "1"}
    )
    assert (status, problem["code"]) == (422, "currency-mismatch")
    with clock.frozen(NOW):
        set_rate(
            api,
            "compute",
            "hours",
            "4",
            account_id=account_id,
            effective_from="2026-11-20",
            description="Compute hours (negotiated)",
        )
    # the period that started on Nov 6 keeps the card's price; the next one (Dec 6) has the account's
    at = datetime(2026, 12, 10, tzinfo=UTC)
    _usage(
        api,
        token,
        [
            _rec(account_id, 1, quantity=10, at="2026-12-01T00:00:00Z"),
            _rec(account_id, 2, quantity=10, at="2026-12-07T00:00:00Z"),
            _rec(other, 3, quantity=10, at="2026-12-07T00:00:00Z"),
        ],
        at=at,
    )
    from functions.usage.service import usage_total

    assert usage_total(account_id, "usd", date(2026, 11, 6)) == 100
    assert usage_total(account_id, "usd", date(2026, 12, 6)) == 40
    assert usage_total(other, "usd", date(2026, 12, 6)) == 100


def test_a_card_version_prices_the_periods_that_start_after_it(metered):
    """A new version added mid-period leaves the period that started before it at the old price (the view
    and budgets never move under the customer) and prices the next one."""
    api, account_id, token = metered
    set_rate(api, "compute", "hours", "10", included_quantity=5)
    status, _, _ = _put(
        api,
        "/v1/rates/compute/hours",
        {"currency": "usd", "effective_from": "2026-12-01", "included_quantity": 0, **GRADUATED},
    )
    assert status == 200
    records = [
        _rec(account_id, 1, quantity=20, at="2026-12-05T10:00:00Z"),  # period Nov 6: the first version
        _rec(account_id, 2, quantity=150, at="2026-12-06T10:00:00Z"),  # period Dec 6: the graduated one
    ]
    _usage(api, token, records, at=datetime(2026, 12, 7, tzinfo=UTC))
    from functions.usage.service import usage_total

    assert usage_total(account_id, "usd", date(2026, 11, 6)) == (20 - 5) * 10
    assert usage_total(account_id, "usd", date(2026, 12, 6)) == 100 * 10 + 50 * 5 + 200  # 2nd tier's flat
