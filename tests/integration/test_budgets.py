"""Budgets and alerts (issue 17, DESIGN §3 v4 Budgets): an owner sets a monthly budget and thresholds;
the period's estimate (recurring fees + usage so far, priced as invoiced) is checked when usage
arrives and daily; each threshold crossed is e-mailed once per period (en/fr) and audited."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from functions.core import clock
from tests.integration.usage_helpers import set_rate

NOW = datetime(2026, 11, 20, 9, tzinfo=UTC)


@pytest.fixture
def budgeted(api, mint, queues_and_mail):
    with clock.frozen(datetime(2026, 11, 3, 9, tzinfo=UTC)):
        account_id = api.create_account(type="subscription", billing_day=1, locale="fr")["id"]
    set_rate(api, "compute", "hours", "1", included_quantity=100)
    owner = api.member_token(account_id)
    return api, account_id, owner, mint("meter", "billing:usage")


def _mails():
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    return ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages


def _usage(api, token, account_id, n, quantity):
    record = {
        "id": f"r{n}",
        "account_id": account_id,
        "service": "compute",
        "metric": "hours",
        "quantity": quantity,
        "occurred_at": "2026-11-12T00:00:00Z",
    }
    with clock.frozen(NOW):
        out = api.call("POST", "/v1/usage", {"records": [record]}, token=token)[1]
    assert out["accepted"] == 1, out


def _call(api, method, account_id, token, body=None):
    with clock.frozen(NOW):
        return api.call(method, f"/v1/accounts/{account_id}/budget", body, token=token)


def test_each_threshold_sends_one_email_per_period(budgeted):
    api, account_id, owner, meter = budgeted
    status, budget, _ = _call(api, "PUT", account_id, owner, {"amount": 1000})
    assert status == 200 and (budget["thresholds"], budget["period_estimate"], budget["crossed"]) == (
        [50, 80, 100],
        0,
        [],
    )
    _usage(api, meter, account_id, 1, 599)  # 100 included: 499 billable, 49.9 % of 1,000
    assert _mails() == []
    _usage(api, meter, account_id, 2, 1)  # 500: 50 %
    (mail,) = _mails()
    assert mail.destinations["ToAddresses"] == ["ada@example.com"] and "50 %" in mail.subject
    assert "Votre consommation" in mail.subject  # the account's language
    _usage(api, meter, account_id, 3, 1)
    _usage(api, meter, account_id, 4, 350)  # 851: 85 %, past 80
    assert [("80 %" in m.subject) for m in _mails()] == [False, True]
    status, budget, _ = _call(api, "GET", account_id, owner)
    assert (status, budget["period_estimate"], budget["crossed"]) == (200, 851, [50, 80])
    assert budget["period"] == {"start": "2026-11-01", "end": "2026-12-01"}
    # checked again (usage, a PUT, the daily run): no second e-mail for a threshold already crossed
    _usage(api, meter, account_id, 5, 1)
    from functions.usage.budgets import shard_of
    from functions.usage.service import check_shard

    with clock.frozen(NOW):
        assert check_shard(shard_of(account_id)) == 0
    assert len(_mails()) == 2
    with clock.frozen(NOW):
        events = api.call("GET", f"/v1/accounts/{account_id}/events", token=api.admin)[1]["data"]
    crossed = [e["after"]["percent"] for e in events if e["action"] == "usage.budget_threshold_crossed"]
    assert sorted(crossed) == [50, 80]


def test_a_lower_budget_is_checked_at_once_and_the_daily_check_resends_a_failed_email(budgeted, monkeypatch):
    api, account_id, owner, meter = budgeted
    _usage(api, meter, account_id, 1, 1100)  # 1,000 billable, no budget yet: nothing to check
    from functions.core import email
    from functions.usage.budgets import shard_of
    from functions.usage.service import check_shard

    real, calls = email.send, []

    def down(message):
        calls.append(message)
        raise RuntimeError("SES down")

    monkeypatch.setattr(email, "send", down)
    status, budget, _ = _call(api, "PUT", account_id, owner, {"amount": 1000, "thresholds": [100, 90]})
    assert (status, budget["thresholds"], budget["crossed"]) == (200, [90, 100], [90, 100])
    assert len(calls) == 2 and _mails() == []  # recorded, not e-mailed
    monkeypatch.setattr(email, "send", real)
    with clock.frozen(NOW):
        check_shard(shard_of(account_id))
        check_shard(shard_of(account_id))
    assert sorted(m.subject for m in _mails()) == sorted(
        ["Votre consommation atteint 90 % de votre budget", "Votre consommation atteint 100 % de votre budget"]
    )


def test_owners_set_budgets_viewers_read_them(budgeted):
    api, account_id, _, _ = budgeted
    viewer = api.member_token(account_id, sub="viewer-1", role="viewer", scopes=("billing:read", "billing:write"))
    none = _call(api, "GET", account_id, viewer)[1]
    assert (none["amount"], none["thresholds"], none["crossed"], none["period_estimate"]) == (None, [], [], 0)
    status, problem, _ = _call(api, "PUT", account_id, viewer, {"amount": 1000})
    assert (status, problem["code"]) == (403, "role-insufficient")
    for body in (
        {"amount": 0},
        {"amount": 1000, "thresholds": [50, 50]},
        {"amount": 1000, "thresholds": []},
        {"amount": 10.5},
        {"amount": 1000, "currency": "eur"},
    ):
        status, problem, _ = _call(api, "PUT", account_id, api.admin, body)
        assert status == 422, (body, problem)
    assert _call(api, "PUT", account_id, api.admin, {"amount": 1000})[0] == 200
    assert _call(api, "GET", account_id, viewer)[1]["amount"] == 1000
    assert _call(api, "DELETE", account_id, api.admin)[1]["deleted"] is True
    assert _call(api, "GET", account_id, viewer)[1]["amount"] is None
    assert _call(api, "DELETE", account_id, api.admin)[1]["deleted"] is False  # nothing to remove
    with clock.frozen(NOW):
        events = api.call("GET", f"/v1/accounts/{account_id}/events", token=api.admin)[1]["data"]
    # one event each (same frozen time: their order is the event ids'); the idle DELETE wrote none
    assert sorted(e["action"] for e in events if e["action"].startswith("budget.")) == ["budget.deleted", "budget.set"]


def test_the_estimate_includes_the_recurring_fees(budgeted):
    api, account_id, owner, meter = budgeted
    import uuid

    with clock.frozen(NOW):
        status, _, _ = api.call(
            "POST",
            f"/v1/accounts/{account_id}/billing-items",
            {"description": "vm", "category": "server", "recurring_fee": 3000},
            token=api.admin,
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )
    assert status == 201
    _usage(api, meter, account_id, 1, 150)
    _call(api, "PUT", account_id, owner, {"amount": 10_000})
    assert _call(api, "GET", account_id, owner)[1]["period_estimate"] == 3000 + 50
