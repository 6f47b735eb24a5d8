"""Invoice views: list with filters and pages, detail, PDF, CSV, upcoming, refunds — all over HTTP."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, date, datetime

import pytest

from functions.core import clock


@pytest.fixture
def acct(api):
    account = api.create_account(name="Démo Robotique", currency="eur", locale="fr")
    return account["id"], api.member_token(account["id"], role="viewer", scopes=("billing:read",))


def _post(api, account_id, kind, body):
    status, data, _ = api.call(
        "POST",
        f"/v1/accounts/{account_id}/{kind}",
        body,
        token=api.admin,
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    assert status == 201, data
    return data


def _get(api, path, token):
    status, data, headers = api.call("GET", path, token=token)
    return status, data, headers


def _on(day: date):
    return clock.frozen(datetime(day.year, day.month, day.day, 12, tzinfo=UTC))


def test_the_list_shows_every_type_and_status_newest_first(api, acct):
    account_id, token = acct
    with _on(date(2026, 10, 1)):
        a = _post(api, account_id, "charges", {"description": "Migration", "amount": 10_000})
    with _on(date(2026, 10, 5)):
        b = _post(api, account_id, "charges", {"description": "Support", "amount": 2_500})
    with _on(date(2026, 10, 9)):
        c = _post(api, account_id, "credits", {"amount": 10_000, "reason": "Geste commercial"})
    with _on(date(2026, 10, 12)):
        d = _post(api, account_id, "refunds", {"amount": 500, "reason": "Support non rendu", "invoice_id": b["id"]})
    status, page, _ = _get(api, f"/v1/accounts/{account_id}/invoices", token)
    assert status == 200 and page["next_cursor"] is None
    rows = page["data"]
    assert [r["id"] for r in rows] == [d["id"], c["id"], b["id"], a["id"]]
    assert {r["type"] for r in rows} == {"one_time", "credit", "refund"}
    by_id = {r["id"]: r for r in rows}
    assert by_id[a["id"]]["status"] == "closed" and by_id[a["id"]]["amount_paid"] == 10_000  # settled by the credit
    assert by_id[b["id"]]["status"] == "open" and by_id[b["id"]]["balance_due"] == 2_000  # 500 refunded
    assert set(rows[0]) == {"id", "number", "date", "type", "status", "currency", "total", "amount_paid", "balance_due"}


def test_filters_by_type_status_and_dates_at_their_edges(api, acct):
    account_id, token = acct
    days = [date(2026, 9, 30), date(2026, 10, 1), date(2026, 10, 31), date(2026, 11, 1)]
    ids = []
    for n, day in enumerate(days):
        with _on(day):
            ids.append(_post(api, account_id, "charges", {"description": f"c{n}", "amount": 1000})["id"])

    def listed(query):
        status, page, _ = _get(api, f"/v1/accounts/{account_id}/invoices?{query}", token)
        assert status == 200, page
        return [r["id"] for r in page["data"]]

    assert listed("from=2026-10-01&to=2026-10-31") == [ids[2], ids[1]]
    assert listed("from=2026-10-31") == [ids[3], ids[2]]
    assert listed("to=2026-10-01") == [ids[1], ids[0]]
    assert listed("from=2026-10-02&to=2026-10-30") == []
    with _on(date(2026, 11, 2)):
        credit = _post(api, account_id, "credits", {"amount": 1500, "reason": "r"})
    assert listed("type=credit") == [credit["id"]]
    assert listed("type=credit,one_time&status=closed") == [credit["id"], ids[0]]
    assert listed("status=open") == [ids[3], ids[2], ids[1]]


@pytest.mark.parametrize(
    "query", ["type=gift", "status=paid", "from=2026-13-01", "from=2026-11-02&to=2026-11-01", "limit=0", "page=2"]
)
def test_bad_list_queries_are_422(api, acct, query):
    account_id, token = acct
    status, problem, _ = _get(api, f"/v1/accounts/{account_id}/invoices?{query}", token)
    assert status == 422 and problem["code"] == "validation-failed", query


def test_a_thousand_invoices_page_without_gaps_or_repeats(api, acct):
    from bench.invoices import seed_invoice_headers

    account_id, token = acct
    # seeded directly: 1,000 postings through moto are too slow
    seed_invoice_headers(account_id, 1000, start=date(2024, 1, 1), per_day=3, currency="eur")
    seen, cursor, pages = [], None, 0
    while True:
        query = "limit=100" + (f"&cursor={cursor}" if cursor else "")
        status, page, _ = _get(api, f"/v1/accounts/{account_id}/invoices?{query}", token)
        assert status == 200 and len(page["data"]) <= 100
        seen += [r["number"] for r in page["data"]]
        cursor, pages = page["next_cursor"], pages + 1
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 1000
    assert seen == sorted(seen, reverse=True)
    assert pages <= 11


def test_one_invoice_with_its_lines_applications_and_balances(api, acct):
    account_id, token = acct
    charge = _post(api, account_id, "charges", {"description": "Hébergement", "amount": 12_345})
    credit = _post(api, account_id, "credits", {"amount": 2_345, "reason": "Avoir"})
    status, inv, _ = _get(api, f"/v1/accounts/{account_id}/invoices/{charge['id']}", token)
    assert status == 200
    assert inv["lines"] == [
        {
            "description": "Hébergement",
            "amount": 12_345,
            "period_start": inv["date"],
            "period_end": inv["date"],
            "quantity": None,
            "unit_amount": None,
            "group": None,
            "item_id": None,
            # v4 (issue 17): what a usage line shows past its allowance; empty on other lines
            "included": None,
            "billable": None,
            "tiers": None,
        }
    ]
    assert [(a["source"], a["kind"], a["amount"]) for a in inv["applications"]] == [(credit["id"], "credit", 2_345)]
    assert (inv["balance_due"], inv["amount_paid"]) == (10_000, 2_345)
    assert (inv["balance_before"], inv["balance_after"]) == (0, 12_345)


def test_another_accounts_invoice_is_404(api, acct):
    account_id, _ = acct
    other = api.create_account(name="Other")
    other_token = api.member_token(other["id"], sub="other-user")
    charge = _post(api, account_id, "charges", {"description": "x", "amount": 100})
    for suffix in ("", "/pdf", "/csv"):
        status, problem, _ = _get(api, f"/v1/accounts/{other['id']}/invoices/{charge['id']}{suffix}", other_token)
        assert status == 404 and problem["code"] == "invoice-not-found"
    status, problem, _ = _get(api, f"/v1/accounts/{account_id}/invoices/nonsense", api.admin)
    assert status == 404


def _rows(body):
    return list(csv.reader(io.StringIO(body.decode("utf-8") if isinstance(body, bytes) else body)))


def test_csv_exports_neutralise_formula_cells(api, acct):
    account_id, token = acct
    charge = _post(
        api, account_id, "charges", {"description": '=HYPERLINK("http://evil.example","click")', "amount": 1999}
    )
    _post(api, account_id, "charges", {"description": "@SUM(1+1)", "amount": 1})
    status, text, headers = _get(api, f"/v1/accounts/{account_id}/invoices/{charge['id']}/csv", token)
    assert status == 200 and headers["Content-Type"].startswith("text/csv")
    rows = _rows(text)
    assert rows[0][:3] == ["invoice_number", "group", "description"]
    assert rows[1][2] == '\'=HYPERLINK("http://evil.example","click")'
    line = dict(zip(rows[0], rows[1], strict=True))
    assert (line["amount"], line["amount_minor"]) == ("19.99", "1999")
    status, text, headers = _get(api, f"/v1/accounts/{account_id}/invoices.csv", token)
    assert status == 200 and "attachment" in headers["Content-Disposition"]
    rows = _rows(text)
    assert rows[0][0] == "number" and len(rows) == 3
    assert {r[3] for r in rows[1:]} == {"one_time"}
    assert [r[-3] for r in rows[1:]] == ["1", "1999"]


def test_the_list_csv_pages_with_a_cursor_header(api, acct):
    account_id, token = acct
    for n in range(3):
        _post(api, account_id, "charges", {"description": f"c{n}", "amount": 100 + n})
    status, text, headers = _get(api, f"/v1/accounts/{account_id}/invoices.csv?limit=2", token)
    assert status == 200 and len(_rows(text)) == 3
    status, rest, _ = _get(
        api, f"/v1/accounts/{account_id}/invoices.csv?limit=2&cursor={headers['X-Next-Cursor']}", token
    )
    assert status == 200 and len(_rows(rest)) == 2


def test_upcoming_and_next_estimated_agree(api, acct):
    account_id, token = acct
    _post(api, account_id, "charges", {"description": "x", "amount": 700})
    status, upcoming, _ = _get(api, f"/v1/accounts/{account_id}/invoices/upcoming", token)
    assert status == 200
    summary = _get(api, f"/v1/accounts/{account_id}/summary", token)[1]
    assert upcoming["type"] == "recurring" and upcoming["date"] == summary["next_recurring_invoice_date"]
    assert summary["balance"]["next_estimated"] == summary["balance"]["current"] + upcoming["total"]


def test_refund_rules(api, acct):
    account_id, _ = acct
    charge = _post(api, account_id, "charges", {"description": "x", "amount": 1000})
    credit = _post(api, account_id, "credits", {"amount": 100, "reason": "r"})
    refund_path = f"/v1/accounts/{account_id}/refunds"
    cases = [
        ({"amount": 1001, "reason": "r", "invoice_id": charge["id"]}, 422, "refund-exceeds-remaining"),
        ({"amount": 50, "reason": "r", "invoice_id": credit["id"]}, 422, "invoice-not-refundable"),
        ({"amount": 50, "reason": "r", "invoice_id": "inv_aaaaaaaaaaaaaaaaaaaa"}, 404, "invoice-not-found"),
    ]
    for body, expected, code in cases:
        status, problem, _ = api.call(
            "POST", refund_path, body, token=api.admin, headers={"Idempotency-Key": str(uuid.uuid4())}
        )
        assert (status, problem["code"]) == (expected, code)
    refund = _post(api, account_id, "refunds", {"amount": 900, "reason": "r", "invoice_id": charge["id"]})
    assert refund["type"] == "refund" and refund["status"] == "closed"
    assert refund["applied_to"] == [{"invoice_id": charge["id"], "amount": 900}]
