"""POST /v1/usage: dedupe on (service, id), aggregates per (account, period, service, metric, price),
sealed periods, per-record answers; the preview and the summary include the usage so far."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from functions.core import clock


@pytest.fixture
def setup(api, mint):
    with clock.frozen(datetime(2026, 11, 10, 9, tzinfo=UTC)):
        account = api.create_account(type="subscription", billing_day=1)
    usage_token = mint("metering-service", "billing:usage")
    return api, account["id"], usage_token


def _record(
    account_id, n, quantity=1, unit="0.25", service="object-storage", metric="egress-gb", at="2026-11-12T10:00:00Z"
):
    return {
        "id": f"r-{n}",
        "account_id": account_id,
        "service": service,
        "metric": metric,
        "quantity": quantity,
        "unit_amount_decimal": unit,
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
    from functions.usage import store

    (agg,) = store.aggregates(account_id, date(2026, 11, 1))
    assert (agg.quantity, agg.records) == (304, 4)


def test_sub_cent_prices_are_priced_once_per_aggregate(setup):
    api, account_id, token = setup
    # 3 x 0.333333 GB at 0.5 cent: priced on the sum (0.4999995 -> 0), never per record
    records = [_record(account_id, n, quantity="0.333333", unit="0.5", metric="api-calls") for n in range(3)]
    records += [_record(account_id, 10 + n, quantity=800, unit="2.5", service="cdn", metric="gb") for n in range(2)]
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
        ({"unit_amount_decimal": 0.25}, "unit_amount_decimal"),
        ({"unit_amount_decimal": "1e-3"}, "unit_amount_decimal"),
        ({"unit_amount_decimal": "0.1234567890123"}, "unit_amount_decimal"),
        ({"occurred_at": "yesterday"}, "occurred_at"),
        ({"occurred_at": "2026-12-25T00:00:00Z"}, "future"),
        ({"account_id": "acct_aaaaaaaaaaaaaaaaaaaa"}, "unknown account"),
        ({"service": "bad service name"}, "service"),
        ({"extra": 1}, "extra"),
    ],
)
def test_bad_records_are_rejected_with_why_and_the_rest_accepted(setup, change, reason):
    api, account_id, token = setup
    bad = {**_record(account_id, 1), **change}
    status, out, _ = _post(api, token, [bad, _record(account_id, 2)])
    assert status == 200
    assert out["results"][0]["status"] == "rejected" and reason in out["results"][0]["reason"]
    assert out["results"][1]["status"] == "accepted"


def test_lite_accounts_have_no_usage_billing(setup):
    api, _, token = setup
    lite = api.create_account(type="lite", linked=False)
    out = _post(api, token, [_record(lite["id"], 1)])[1]
    assert out["results"][0]["status"] == "rejected"


def test_a_record_for_a_sealed_period_goes_to_the_next_open_one(setup):
    api, account_id, token = setup
    from functions.core.uow import UnitOfWork
    from functions.usage import service, store

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
