"""The local stack on awkward days: the calendar moved (BILLOW_TODAY, functions/core/clock.py) to the last
day of a year, the 28th of a non-leap February and a leap day. The stack seeds its demo account on that
day, the CLI follows the stack's calendar (stack.json), and the monthly run bills the account's next
recurring date: billing day, New invoice period, usage period and the Recurring invoice all follow from
the moved day, computed here by a calendar rule of the test's own."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
import requests

from tests.e2e.conftest import LocalStack, start_local_stack
from tests.e2e.stack_flows import bill_the_demo_account_once, stack_now

pytestmark = [pytest.mark.e2e]

AWKWARD_DAYS = ["2026-12-31", "2027-02-28", "2028-02-29"]


def next_month_day(day: date, billing_day: int) -> date:
    """The first date after `day` whose day of month is `billing_day` (≤ 28: every month has it)."""
    year, month = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
    return date(day.year, day.month, billing_day) if day.day < billing_day else date(year, month, billing_day)


def cycle_start(day: date, billing_day: int) -> date:
    """The last date on or before `day` whose day of month is `billing_day`: the start of its period."""
    if day.day >= billing_day:
        return date(day.year, day.month, billing_day)
    year, month = (day.year - 1, 12) if day.month == 1 else (day.year, day.month - 1)
    return date(year, month, billing_day)


@pytest.fixture(scope="module", params=AWKWARD_DAYS)
def moved_stack(request, tmp_path_factory) -> Iterator[tuple[LocalStack, date]]:
    with start_local_stack(tmp_path_factory, BILLOW_TODAY=request.param) as stack:
        yield stack, date.fromisoformat(request.param)


def test_the_monthly_run_on_an_awkward_day(moved_stack: tuple[LocalStack, date]):
    stack, today = moved_stack
    info = stack.info
    api, demo = info["api_url"], info["accounts"]["demo"]
    admin = {"Authorization": f"Bearer {info['tokens']['admin']['token']}"}
    assert info["today_moved_to"] == today.isoformat()
    assert stack_now(api, demo, admin).date() == today  # the stack wrote its seed on the moved day

    billing_day = min(today.day, 28)
    first_recurring = next_month_day(today, billing_day)
    summary = requests.get(f"{api}/v1/accounts/{demo}/summary", headers=admin, timeout=30).json()
    assert summary["next_recurring_invoice_date"] == first_recurring.isoformat()
    new_invoices = requests.get(f"{api}/v1/accounts/{demo}/invoices?type=new", headers=admin, timeout=30).json()
    assert new_invoices["data"] and {inv["date"] for inv in new_invoices["data"]} == {today.isoformat()}
    first = new_invoices["data"][0]
    lines = requests.get(f"{api}/v1/accounts/{demo}/invoices/{first['id']}", headers=admin, timeout=30).json()
    fees = [line for line in lines["lines"] if "setup" not in line["description"]]
    assert {(line["period_start"], line["period_end"]) for line in fees} == {
        (today.isoformat(), first_recurring.isoformat())
    }

    detail = bill_the_demo_account_once(stack)  # usage now, then the run of the first recurring date
    # Usage lines (group "Service: …": the CDN usage added now and the demo's seeded usage, issue 17) are
    # the past period in arrears: the billing period containing the creation day (docs/usage.md), which
    # may start before it. Every other line is a fee for the coming period, in advance (DESIGN §3).
    usage = [ln for ln in detail["lines"] if (ln["group"] or "").startswith("Service: ")]
    fees = [ln for ln in detail["lines"] if ln not in usage]
    assert fees and {(ln["period_start"], ln["period_end"]) for ln in fees} == {
        (first_recurring.isoformat(), next_month_day(first_recurring, billing_day).isoformat())
    }
    assert {ln["description"] for ln in usage} >= {"cdn · gb", "Compute (vCPU hours)"}
    assert {(ln["period_start"], ln["period_end"]) for ln in usage} == {
        (cycle_start(today, billing_day).isoformat(), first_recurring.isoformat())
    }
    after = requests.get(f"{api}/v1/accounts/{demo}/summary", headers=admin, timeout=30).json()
    assert after["last_recurring_invoice_date"] == first_recurring.isoformat()
    assert after["next_recurring_invoice_date"] == next_month_day(first_recurring, billing_day).isoformat()
