"""POST /v1/usage: dedupe on (service, id), aggregates per (account, period, service, metric), sealed
periods, per-record answers; the preview and the summary include the usage so far.

v4 (issue 17): records carry no price — each test puts its prices on the rate card first
(tests/integration/usage_helpers.py) and records that name a price are rejected `price-not-accepted`."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from functions.core import clock
from tests.integration.usage_helpers import set_rate, set_rates


@pytest.fixture
def setup(api, mint):
    with clock.frozen(datetime(2026, 11, 10, 9, tzinfo=UTC)):
        account = api.create_account(type="subscription", billing_day=1)
    usage_token = mint("metering-service", "billing:usage")
    set_rate(api, "object-storage", "egress-gb", "0.25")
    return api, account["id"], usage_token


def _record(account_id, n, quantity=1, service="object-storage", metric="egress-gb", at="2026-11-12T10:00:00Z"):
    return {
        "id": f"r-{n}",
        "account_id": account_id,
        "service": service,
        "metric": metric,
        "quantity": quantity,
        "occurred_at": at,
    }


def _post(api, token, records):
    with clock.frozen(datetime(2026, 11, 20, 9, tzinfo=UTC)):
        return api.call("POST", "/v1/usage", {"records": records}, token=token)


def test_records_are_counted_once_and_answered_one_by_one(setup):
    api, account_id, token = setup
    records = [_record(account_id, n, quantity=100) for n in range(3)]
    status, out, _ = _post(api, token, records)
    assert status == 200 and (out["accepted"], out["duplicates"], out["rejected"]) == (3, 0, 0)
    assert {r["period_start"] for r in out["results"]} == {"2026-11-01"}
    status, again, _ = _post(api, token, [*records, _record(account_id, 9, quantity=4)])
    assert [r["status"] for r in again["results"]] == ["duplicate"] * 3 + ["accepted"]
    from functions.usage.store import records as store

    (agg,) = store.aggregates(account_id, date(2026, 11, 1))
    assert (agg.quantity, agg.records) == (304, 4)


def test_sub_cent_prices_are_priced_once_per_aggregate(setup):
    api, account_id, token = setup
    set_rates(api, {("object-storage", "api-calls"): "0.5", ("cdn", "gb"): "2.5"})
    # 3 x 0.333333 GB at 0.5 cent: priced on the sum (0.4999995 -> 0), never per record
    records = [_record(account_id, n, quantity="0.333333", metric="api-calls") for n in range(3)]
    records += [_record(account_id, 10 + n, quantity=800, service="cdn", metric="gb") for n in range(2)]
    assert _post(api, token, records)[1]["accepted"] == 5
    with clock.frozen(datetime(2026, 11, 20, 9, tzinfo=UTC)):
        upcoming = api.call("GET", f"/v1/accounts/{account_id}/invoices/upcoming", token=api.admin)[1]
        summary = api.call("GET", f"/v1/accounts/{account_id}/summary", token=api.admin)[1]
    lines = {(line["description"], line["amount"]) for line in upcoming["lines"]}
    assert lines == {("cdn · gb", 4000)}  # 1600 GB x 2.5 cents; the 0-cent api line is left out
    assert (upcoming["lines"][0]["period_start"], upcoming["lines"][0]["period_end"]) == ("2026-11-01", "2026-12-01")
    assert summary["balance"]["next_estimated"] == summary["balance"]["current"] + upcoming["total"] == 4000


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"quantity": 1.5}, "quantity"),
        ({"quantity": -1}, "quantity"),
        ({"quantity": "1.1234567"}, "quantity"),
        ({"unit_amount_decimal": "0.25"}, "price-not-accepted"),  # v4: the rate card prices usage
        ({"unit_amount_decimal": 0.25}, "price-not-accepted"),
        ({"metric": "no-such-metric"}, "unknown-metric"),
        ({"device_id": "dev_aaaaaaaaaaaaaaaaaaaa"}, "device-not-found"),
        ({"occurred_at": "yesterday"}, "occurred_at"),
        ({"occurred_at": "2026-12-25T00:00:00Z"}, "occurred-in-the-future"),
        ({"occurred_at": "2026-10-31T23:59:59Z"}, "before-account-start"),
        ({"account_id": "acct_aaaaaaaaaaaaaaaaaaaa"}, "unknown-account"),
        ({"service": "bad service name"}, "service"),
        ({"extra": 1}, "extra"),
    ],
)
def test_bad_records_are_rejected_with_why_and_the_rest_accepted(setup, change, reason):
    api, account_id, token = setup
    bad = {**_record(account_id, 1), **change}
    status, out, _ = _post(api, token, [bad, _record(account_id, 2)])
    assert status == 200
    assert out["results"][0]["status"] == "rejected" and reason in out["results"][0]["reason"], out
    assert out["results"][1]["status"] == "accepted"


def test_lite_accounts_have_no_usage_billing(setup):
    api, _, token = setup
    lite = api.create_account(type="lite", linked=False)
    out = _post(api, token, [_record(lite["id"], 1)])[1]
    assert out["results"][0]["status"] == "rejected"


def test_a_record_for_a_sealed_period_goes_to_the_next_open_one(setup):
    api, _, token = setup
    with clock.frozen(datetime(2026, 10, 5, 9, tzinfo=UTC)):
        account_id = api.create_account(type="subscription", billing_day=1)["id"]
    from functions.core.uow import UnitOfWork
    from functions.usage import service
    from functions.usage.store import records as store

    UnitOfWork().add(service.seal_period(account_id, date(2026, 10, 1), "inv_x")).commit()
    out = _post(
        api,
        token,
        [_record(account_id, 1, at="2026-10-20T12:00:00Z"), _record(account_id, 2, at="2026-11-02T12:00:00Z")],
    )[1]
    assert [r["period_start"] for r in out["results"]] == ["2026-11-01", "2026-11-01"]
    assert store.aggregates(account_id, date(2026, 10, 1)) == []


def test_only_the_usage_scope_may_post_usage(setup, mint):
    api, account_id, _ = setup
    status, problem, _ = api.call(
        "POST",
        "/v1/usage",
        {"records": [_record(account_id, 1)]},
        token=mint("someone", "billing:read", "billing:write"),
    )
    assert status == 403 and problem["code"] == "insufficient-scope"


def test_batches_are_bounded(setup):
    api, account_id, token = setup
    for records in ([_record(account_id, n) for n in range(501)], []):
        status, problem, _ = _post(api, token, records)
        assert status == 422 and problem["errors"][0]["field"] == "records"


# ---- amount limits (issue 14, hole 4; DESIGN §3 v4 Amount limits) -------------------------------------

MAX_AMOUNT = 99_999_999


def _upcoming(api, account_id):
    with clock.frozen(datetime(2026, 11, 20, 9, tzinfo=UTC)):
        return api.call("GET", f"/v1/accounts/{account_id}/invoices/upcoming", token=api.admin)[1]


def test_quantities_above_10_to_the_12_are_rejected_per_record_with_a_code(setup):
    api, account_id, token = setup
    set_rates(api, {("cdn", "tiny"): "0.00001", ("cdn", "huge"): "999999999999", ("cdn", "one"): "1"})
    records = [
        _record(account_id, 1, quantity=10**12, service="cdn", metric="tiny"),  # the largest: 10,000,000 minor units
        _record(account_id, 2, quantity=10**12 + 1, service="cdn", metric="tiny"),
        _record(account_id, 3, quantity="1000000000000.000001", service="cdn", metric="tiny"),
        _record(account_id, 4, quantity=10**15, service="cdn", metric="huge"),  # the record
        _record(account_id, 5, quantity=10**40, service="cdn", metric="one"),
    ]
    out = _post(api, token, records)[1]
    assert [(r["status"], r["reason"]) for r in out["results"]] == [("accepted", None)] + [
        ("rejected", "quantity-too-large")
    ] * 4
    assert [line["amount"] for line in _upcoming(api, account_id)["lines"]] == [10_000_000]


def test_a_record_whose_line_would_pass_the_limit_is_rejected_amount_too_large(setup):
    api, account_id, token = setup
    from functions.usage.store import records as store

    set_rates(
        api, {("cdn", "huge"): "999999999999", ("object-storage", "half"): "0.5", ("object-storage", "in"): "0.5"}
    )
    # 10^12 x a 12-digit price alone passes the limit: rejected, nothing counted
    out = _post(api, token, [_record(account_id, 1, quantity=10**12, service="cdn", metric="huge")])[1]
    assert (out["results"][0]["status"], out["results"][0]["reason"]) == ("rejected", "amount-too-large")
    assert store.aggregates(account_id, date(2026, 11, 1)) == []
    # one line filled up to the limit exactly, rounding half up included: 199,999,998 x 0.5 = 99,999,999;
    # + 0.999999 x 0.5 = 0.4999995 still rounds down; + 0.000001 more would round up to 100,000,000
    out = _post(
        api,
        token,
        [
            _record(account_id, 2, quantity=150_000_000, metric="half"),
            _record(account_id, 3, quantity=60_000_000, metric="half"),  # would pass: rejected
            _record(account_id, 4, quantity=49_999_998, metric="half"),  # fits after it: accepted
            _record(account_id, 5, quantity="0.999999", metric="half"),
            _record(account_id, 6, quantity="0.000001", metric="half"),  # 99,999,999.5 -> 100,000,000
            _record(account_id, 7, quantity=60_000_000, metric="in"),  # another line
        ],
    )[1]
    assert [(r["status"], r["reason"]) for r in out["results"]] == [
        ("accepted", None),
        ("rejected", "amount-too-large"),
        ("accepted", None),
        ("accepted", None),
        ("rejected", "amount-too-large"),
        ("accepted", None),
    ]
    # a later batch cannot add to the full line, even a quantity that is alone tiny
    later = _post(api, token, [_record(account_id, 8, quantity=1, metric="half")])[1]
    assert later["results"][0]["reason"] == "amount-too-large"
    lines = sorted(line["amount"] for line in _upcoming(api, account_id)["lines"])
    assert lines == [30_000_000, MAX_AMOUNT]
    # a rejected record was not counted: sent again (once the operator split it), it is not a duplicate
    again = _post(api, token, [_record(account_id, 3, quantity=1, metric="in")])[1]
    assert again["results"][0]["status"] == "accepted"


def test_a_batch_landing_between_the_read_and_the_write_cannot_push_a_line_over(setup, monkeypatch):
    """The limit is a condition of the aggregate's write: another batch that adds to the line after this
    one decided (here: inside its add_to_aggregate) makes the write fail, and the record is answered
    amount-too-large against the line as it then stands."""
    api, account_id, token = setup
    from functions.usage import service
    from functions.usage.store import records as store

    set_rate(api, "object-storage", "one", "1")
    assert _post(api, token, [_record(account_id, 1, quantity=60_000_000, metric="one")])[1]["accepted"] == 1
    real = store.add_to_aggregate
    raced = []

    def racing(*args, **kwargs):
        if not raced:
            raced.append(True)
            with clock.frozen(datetime(2026, 11, 20, 9, tzinfo=UTC)):
                other = service.record_usage([_record(account_id, 2, quantity=30_000_000, metric="one")])
            assert other.accepted == 1
        return real(*args, **kwargs)

    monkeypatch.setattr(store, "add_to_aggregate", racing)
    out = _post(api, token, [_record(account_id, 3, quantity=30_000_000, metric="one")])[1]
    assert (out["results"][0]["status"], out["results"][0]["reason"]) == ("rejected", "amount-too-large")
    (agg,) = store.aggregates(account_id, date(2026, 11, 1))
    assert (agg.quantity, agg.records) == (90_000_000, 2)
    assert _upcoming(api, account_id)["total"] == 90_000_000


def test_the_preview_shows_a_line_counted_before_the_limit_as_parts_within_it(setup):
    api, account_id, _ = setup
    from functions.usage.store import records as store

    def legacy(unit, quantity):
        """An aggregate written before v4 (its records' price in its key) and before the limit."""
        sk = f"AGG#2026-11-01#cdn#gb#{unit}"
        model = store.AggregateModel(account_id, sk, service="cdn", metric="gb", unit_amount=unit, quantity=quantity)
        model.save()

    # an aggregate written before the limit was enforced (no condition): 250,000,000 minor units
    legacy("2.5", 100_000_000 * store.QUANTITY_SCALE)
    upcoming = _upcoming(api, account_id)
    assert [(line["description"], line["amount"]) for line in upcoming["lines"]] == [
        ("cdn · gb (part 1 of 3)", 83_333_334),
        ("cdn · gb (part 2 of 3)", 83_333_333),
        ("cdn · gb (part 3 of 3)", 83_333_333),
    ]
    assert upcoming["total"] == 250_000_000
    # the record, counted before the limits: no invoice could carry it; the preview says so
    legacy("999999999999", 10**15 * store.QUANTITY_SCALE)
    with clock.frozen(datetime(2026, 11, 20, 9, tzinfo=UTC)):
        status, problem, _ = api.call("GET", f"/v1/accounts/{account_id}/invoices/upcoming", token=api.admin)
    assert (status, problem["code"]) == (409, "usage-over-limit")
