"""send_invoice accounts (DESIGN §3 v4 Collection): every debit invoice carries a due date (issue +
net_days), reminders go out 3 days before and 7 days after it, and 14 days after it the account is
past due until the invoice is paid — all found by the daily run's shard workers on the due index."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from functions.core import clock
from tests.integration.test_billing_run import Run

ISSUED = date(2026, 11, 10)


def _at(day: date):
    return clock.frozen(datetime(day.year, day.month, day.day, 0, 5, tzinfo=UTC))


class Books(Run):
    """The billing run's test helpers (accounts on 2026-11-10, subscription, billing day 1), posting on
    the issue day unless told otherwise."""

    def post(self, account_id, path, body, on=ISSUED):
        return super().post(account_id, path, body, on)


@pytest.fixture
def books(api, queues_and_mail, mint):
    return Books(api, queues_and_mail, mint)


def _mails():
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    return ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages


def _reminders():
    return [m for m in _mails() if "due on" in m.subject or "overdue" in m.subject or "échéance" in m.subject]


def _daily(day: date) -> list:
    """What the daily run does for reminders on `day`: the shard workers' "remind" entries, each handled
    as the account worker handles its message."""
    from functions.accounts.service import SHARDS, due_accounts
    from functions.billing_run import service

    outcomes = []
    with _at(day):
        for shard in range(SHARDS):
            ids, _ = due_accounts("remind", shard, day, 100, None)
            for account_id in ids:
                body = {"account_id": account_id, "run_date": day.isoformat(), "kind": "remind"}
                outcomes.append(service.handle_account_message(body))
    return outcomes


def test_debit_invoices_of_a_send_invoice_account_are_due_net_days_after_issue(books, api):
    account_id = books.account()
    charge = books.post(account_id, "charges", {"description": "Migration", "amount": 12_000})
    assert charge["due_date"] == (ISSUED + timedelta(days=30)).isoformat()
    (notice,) = [m for m in _mails() if charge["number"] in m.subject]
    assert "Please pay the amount due by Dec 10, 2026" in notice.body
    assert f"quoting the invoice number {charge['number']}" in notice.body
    credit = books.post(account_id, "credits", {"amount": 500, "reason": "goodwill"})
    assert credit["due_date"] is None  # money in is never "due"
    listed = api.call("GET", f"/v1/accounts/{account_id}/invoices", token=api.admin)[1]["data"]
    assert {row["id"]: row["due_date"] for row in listed} == {
        charge["id"]: charge["due_date"],
        credit["id"]: None,
    }
    csv = api.client.http.get(
        f"/v1/accounts/{account_id}/invoices.csv", headers={"Authorization": f"Bearer {api.admin}"}
    ).body.decode()
    assert csv.splitlines()[0].endswith(",due_date")
    assert any(line.endswith(charge["due_date"]) for line in csv.splitlines()[1:])


def test_an_automatic_account_has_no_due_date(books):
    account_id = books.account(type="payg")
    charge = books.post(account_id, "charges", {"description": "Migration", "amount": 12_000})
    assert charge["due_date"] is None


def test_reminders_before_and_after_the_due_date_each_once_then_past_due_until_paid(books):
    account_id = books.account()
    charge = books.post(account_id, "charges", {"description": "Migration", "amount": 12_000})
    due = date.fromisoformat(charge["due_date"])

    assert _daily(due - timedelta(days=4)) == [] and _reminders() == []  # nothing scheduled before its day
    _daily(due - timedelta(days=3))
    _daily(due - timedelta(days=3))  # a re-run the same day sends nothing more
    (before,) = _reminders()
    assert before.subject == f"Invoice {charge['number']} is due on Dec 10, 2026"
    assert "$120.00 is left to pay" in before.body
    assert f"/#/invoices/{charge['id']}?account={account_id}" in before.body
    assert books.summary(account_id)["past_due"] is False

    _daily(due + timedelta(days=7))
    assert [m.subject for m in _reminders()][1:] == [f"Invoice {charge['number']} is overdue"]
    assert "past due from Dec 24, 2026" in _reminders()[1].body
    assert books.summary(account_id)["past_due"] is False

    _daily(due + timedelta(days=14))
    assert books.summary(account_id)["past_due"] is True
    assert len(_reminders()) == 2

    books.post(account_id, "credits", {"amount": 12_000, "reason": "paid by transfer"}, on=due + timedelta(days=15))
    assert books.invoice(account_id, charge["id"])["status"] == "closed"
    assert books.summary(account_id)["past_due"] is False
    assert _daily(due + timedelta(days=30)) == []  # the entry went with the last step


def test_a_paid_invoice_gets_no_reminder_nor_past_due(books):
    account_id = books.account()
    paid = books.post(account_id, "charges", {"description": "Paid early", "amount": 5_000})
    books.post(account_id, "credits", {"amount": 5_000, "reason": "paid"}, on=ISSUED + timedelta(days=1))
    due = date.fromisoformat(paid["due_date"])
    for day in (due - timedelta(days=3), due + timedelta(days=7), due + timedelta(days=14)):
        _daily(day)
    assert _reminders() == []
    assert books.summary(account_id)["past_due"] is False


def test_switching_to_send_invoice_dates_the_open_debit_invoices_once(books):
    from functions.payments.service import give_due_dates

    account_id = books.account(type="payg")  # automatic: no due dates
    open_charge = books.post(account_id, "charges", {"description": "Open", "amount": 4_000})
    second = books.post(account_id, "charges", {"description": "Second", "amount": 1_000})
    books.post(account_id, "credits", {"amount": 1_000, "reason": "paid"})  # oldest first: pays `Open` partly
    assert books.invoice(account_id, open_charge["id"])["due_date"] is None
    switched = ISSUED + timedelta(days=3)
    with _at(switched):
        assert give_due_dates(account_id, switched, 15) == 2
        assert give_due_dates(account_id, switched, 15) == 0  # already dated
    for invoice in (open_charge, second):
        assert books.invoice(account_id, invoice["id"])["due_date"] == (switched + timedelta(days=15)).isoformat()
    _daily(switched + timedelta(days=12))  # 3 days before the new due date
    assert {m.subject for m in _reminders()} == {
        f"Invoice {open_charge['number']} is due on Nov 28, 2026",
        f"Invoice {second['number']} is due on Nov 28, 2026",
    }


def test_patch_to_send_invoice_dates_open_invoices_from_the_switch(books, api):
    account_id = books.account(collection="automatic")
    charge = books.post(account_id, "charges", {"description": "Open", "amount": 4_000})
    assert charge["due_date"] is None
    switched = ISSUED + timedelta(days=5)
    with _at(switched):
        status, body, _ = api.call(
            "PATCH", f"/v1/accounts/{account_id}", {"collection": "send_invoice", "net_days": 10}, token=api.admin
        )
    assert status == 200, body
    assert books.invoice(account_id, charge["id"])["due_date"] == "2026-11-25"
    later = books.post(account_id, "charges", {"description": "Later", "amount": 1_000}, on=switched)
    assert later["due_date"] == "2026-11-25"
