"""The usage view and usage lines on the Recurring invoice (issue 17): one pricing for both — flat with an
allowance, graduated and volume tiers; device and day groups share their metric's amount (largest
remainder); the Recurring invoice's usage lines equal the view's amounts, with quantity, included,
billable and the tier breakdown in JSON, CSV and PDF."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime

import boto3
import pytest

from functions.core import clock
from tests.integration.render_helpers import pdf_link
from tests.integration.usage_helpers import set_rate

NOW = datetime(2026, 11, 20, 9, tzinfo=UTC)
TIERS = [
    {"up_to": 1000, "unit_amount_decimal": "2"},
    {"up_to": 10000, "unit_amount_decimal": "1.5", "flat_amount": 500},
    {"up_to": None, "unit_amount_decimal": "0.25"},
]


@pytest.fixture
def metered(api, mint, queues_and_mail):
    from functions.core.resources import bucket_name
    from functions.invoices import store

    store.reset_client()
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=bucket_name())
    with clock.frozen(datetime(2026, 11, 3, 9, tzinfo=UTC)):
        account_id = api.create_account(type="subscription", billing_day=1)["id"]
        devices = [
            api.call(
                "POST", f"/v1/accounts/{account_id}/devices", {"name": f"vm-{n}", "kind": "server"}, token=api.admin
            )[1]["id"]
            for n in range(3)
        ]
    set_rate(api, "compute", "hours", "2.5", included_quantity=100, description="Compute hours")
    set_rate(
        api,
        "storage",
        "gb-month",
        included_quantity=100,
        tiers_mode="graduated",
        tiers=TIERS,
        description="Object storage",
    )
    set_rate(
        api, "network", "egress-gb", included_quantity=0, tiers_mode="volume", tiers=TIERS, description="Bandwidth"
    )
    token = mint("meter", "billing:usage")
    records = []
    for n, device in enumerate(devices):  # 3 x 40 hours over 3 days, one device each: 120 hours, 20 billable
        for day in (12, 13, 14):
            records.append(
                _rec(account_id, f"h{n}{day}", "compute", "hours", "13.333333", f"2026-11-{day}T10:00:00Z", device)
            )
    records[-1]["quantity"] = "13.333337"  # devices: 39.999999, 39.999999, 40.000003; 120.000001 in all
    records.append(_rec(account_id, "s1", "storage", "gb-month", 12100, "2026-11-15T00:00:00Z"))
    records.append(_rec(account_id, "e1", "network", "egress-gb", 1001, "2026-11-16T00:00:00Z", devices[0]))
    with clock.frozen(NOW):
        out = api.call("POST", "/v1/usage", {"records": records}, token=token)[1]
    assert out["accepted"] == len(records), out
    store.reset_client()
    return api, account_id, devices


def _rec(account_id, rid, service, metric, quantity, at, device=None):
    record = {
        "id": rid,
        "account_id": account_id,
        "service": service,
        "metric": metric,
        "quantity": quantity,
        "occurred_at": at,
    }
    return record | ({"device_id": device} if device else {})


def _view(api, account_id, query=""):
    with clock.frozen(NOW):
        status, body, _ = api.call("GET", f"/v1/accounts/{account_id}/usage{query}", token=api.admin)
    assert status == 200, body
    return body


def test_the_view_prices_each_metric_as_the_invoice_will(metered):
    api, account_id, _ = metered
    view = _view(api, account_id, "?group_by=metric")
    assert view["period"] == {"start": "2026-11-01", "end": "2026-12-01"} and view["currency"] == "usd"
    lines = {(ln["service"], ln["metric"]): ln for ln in view["lines"]}
    lines = {key: (ln["quantity"], ln["included"], ln["billable"], ln["amount"]) for key, ln in lines.items()}
    assert lines == {
        ("compute", "hours"): ("120.000001", "100", "20.000001", 50),  # 20.000001 x 2.5 = 50.0000025
        ("storage", "gb-month"): ("12100", "100", "12000", 16500),  # 1000 x 2 + 9000 x 1.5 + 500 + 2000 x 0.25
        ("network", "egress-gb"): ("1001", "0", "1001", 2002),  # volume: 1001 x 1.5 + 500 = 2001.5
    }
    assert view["total"] == 50 + 16500 + 2002
    assert _view(api, account_id, "?period=2026-11&group_by=metric") == view  # the period starting in November
    assert _view(api, account_id, "?period=2026-10")["lines"] == []
    by_service = _view(api, account_id, "?group_by=service")
    assert {ln["service"]: ln["amount"] for ln in by_service["lines"]} == {
        "compute": 50,
        "storage": 16500,
        "network": 2002,
    }


def test_device_and_day_groups_add_up_to_their_metric(metered):
    api, account_id, devices = metered
    by_device = _view(api, account_id, "?group_by=device")
    compute = [(ln["device_id"], ln["quantity"], ln["amount"]) for ln in by_device["lines"] if ln["metric"] == "hours"]
    # 50 shared by 39.999999, 39.999999, 40.000003: floors 16, 16, 16; the 2 cents left go to the largest
    # remainder (the third device) and, of the two equal ones, to the first in the groups' order
    third = next(c for c in compute if c[0] == devices[2])
    assert third == (devices[2], "40.000003", 17)
    assert sorted((q, a) for d, q, a in compute if d != devices[2]) == [("39.999999", 16), ("39.999999", 17)]
    storage = [(ln["device_id"], ln["amount"]) for ln in by_device["lines"] if ln["metric"] == "gb-month"]
    assert storage == [(None, 16500)]  # records without a device
    by_day = _view(api, account_id, "?group_by=day")
    for metric, amount in (("hours", 50), ("gb-month", 16500), ("egress-gb", 2002)):
        assert sum(ln["amount"] for ln in by_day["lines"] if ln["metric"] == metric) == amount
    assert sorted(ln["day"] for ln in by_day["lines"] if ln["metric"] == "hours") == [
        "2026-11-12",
        "2026-11-13",
        "2026-11-14",
    ]
    assert by_day["total"] == by_device["total"] == 18552
    with clock.frozen(NOW):
        status, text, headers = api.call("GET", f"/v1/accounts/{account_id}/usage.csv?group_by=day", token=api.admin)
    rows = list(csv.DictReader(io.StringIO(text.decode())))
    assert status == 200 and headers["Content-Type"].startswith("text/csv")
    assert sum(int(r["amount_minor"]) for r in rows) == 18552 and {r["day"] for r in rows} >= {
        "2026-11-12",
        "2026-11-16",
    }


def test_a_viewer_reads_the_view_and_a_stranger_does_not(metered, mint):
    api, account_id, _ = metered
    viewer = api.member_token(account_id, sub="viewer-1", role="viewer", scopes=("billing:read",))
    with clock.frozen(NOW):
        assert api.call("GET", f"/v1/accounts/{account_id}/usage", token=viewer)[0] == 200
        status, problem, _ = api.call("GET", f"/v1/accounts/{account_id}/usage", token=mint("x", "billing:read"))
        bad = api.call("GET", f"/v1/accounts/{account_id}/usage?period=2026-13", token=viewer)
    assert (status, problem["code"]) == (403, "not-a-member")
    assert bad[0] == 422


def test_the_recurring_invoice_bills_what_the_view_shows(metered):
    api, account_id, _ = metered
    from functions.billing_run import service

    view = _view(api, account_id, "?group_by=metric")
    with clock.frozen(datetime(2026, 12, 1, 0, 5, tzinfo=UTC)):
        service.bill_account(account_id, date(2026, 12, 1))
        (row,) = api.call("GET", f"/v1/accounts/{account_id}/invoices?type=recurring", token=api.admin)[1]["data"]
        inv = api.call("GET", f"/v1/accounts/{account_id}/invoices/{row['id']}", token=api.admin)[1]
        text = api.call("GET", f"/v1/accounts/{account_id}/invoices/{row['id']}/csv", token=api.admin)[1]
        pdf = pdf_link(api, f"/v1/accounts/{account_id}/invoices/{row['id']}/pdf", api.admin)[0]
    assert pdf == 200  # rendered by the pdf-render worker the run queued (issue 21), tier rows included
    lines = {ln["description"]: ln for ln in inv["lines"]}
    assert (
        {d: ln["amount"] for d, ln in lines.items()}
        == {
            "Compute hours": 50,
            "Object storage": 16500,
            "Bandwidth": 2002,
        }
        == {ln["description"]: ln["amount"] for ln in view["lines"]}
    )
    storage = lines["Object storage"]
    assert (storage["quantity"], storage["included"], storage["billable"], storage["unit_amount"]) == (
        "12100",
        "100",
        "12000",
        None,
    )
    assert [(t["start"], t["up_to"], t["quantity"], t["amount"]) for t in storage["tiers"]] == [
        ("0", "1000", "1000", "2000"),
        ("1000", "10000", "9000", "14000"),
        ("10000", None, "2000", "500"),
    ]
    assert (lines["Compute hours"]["unit_amount"], lines["Compute hours"]["tiers"]) == ("2.5", None)
    assert lines["Bandwidth"]["unit_amount"] == "1.5" and len(lines["Bandwidth"]["tiers"]) == 1
    rows = {r["description"]: r for r in csv.DictReader(io.StringIO(text.decode()))}
    tiers = "0-1000: 1000 x 2; 1000-10000: 9000 x 1.5 + 500; 10000-: 2000 x 0.25"
    assert rows["Object storage"]["tiers_minor"] == tiers  # issue 22: the column names its unit
    # issue 22: the unit price in major units beside its minor-unit twin (2.5 cents = $0.025)
    assert (rows["Compute hours"]["unit_amount"], rows["Compute hours"]["unit_amount_minor"]) == ("0.025", "2.5")
    assert (rows["Compute hours"]["included"], rows["Compute hours"]["billable"]) == ("100", "20.000001")
    # the PDF shows the allowance and the tiers under the line (rendered from the stored lines)
    from functions.core import ledger
    from functions.invoices import render

    stored = ledger.get_lines(account_id, row["id"])
    invoice = ledger.get_invoice(account_id, row["id"])
    party = render.Party(name="Acme", account_number=1, contact={"name": "Ada", "email": "a@example.com"})
    seller = render.Seller(name="billow", address=["1 Cloud St"], email="b@example.com", tax_id="")
    pdf = render.render_pdf(invoice, stored, party, seller, "en")
    from pypdf import PdfReader

    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert "100 included · 12000 billable" in text and "Tier 1000\u201310000 + $5.00" in text, text
    # the period is sealed: the view of November still reads the same, and usage for it goes to December
    assert _view(api, account_id, "?period=2026-11&group_by=metric")["total"] == 18552
