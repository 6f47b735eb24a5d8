"""Invoice notices (DESIGN §3 v4 Notices): every invoice of every type is e-mailed to the billing
contact when issued — New, One-time, Credit, Refund here, Recurring in test_billing_run.py — with its
number, date, total, what is due and the console's invoice page, in the account's language; what the
notice says about paying follows the account's collection; `invoice_emails: false` stops them except a
send_invoice account's debits; exactly once per invoice, whoever calls the hook and however often."""

from __future__ import annotations

import html
import re
import uuid

import pytest
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

from functions.core.money import display
from tests.integration.payments_helpers import Payments

CONSOLE = "https://console.billow.example"


@pytest.fixture
def pay(api, client, stripe_server, queues_and_mail, monkeypatch):
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", "whsec_test_billow")
    return Payments(api, client, stripe_server, queues_and_mail)


def mails(to="ada@example.com"):
    return [m for m in ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages if to in str(m.destinations)]


def text(mail):
    """What a reader sees of the e-mail (moto keeps its HTML part): tags dropped, entities read."""
    return re.sub(r"[ \t\n]+", " ", html.unescape(re.sub(r"<[^>]+>", " ", mail.body))).strip()


def about(number):
    return [m for m in mails() if number in m.subject]


def post(api, account_id, path, body):
    status, data, _ = api.call(
        "POST",
        f"/v1/accounts/{account_id}/{path}",
        body,
        token=api.admin,
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    assert status in (200, 201), data
    return data


def invoice(api, account_id, invoice_id):
    return api.call("GET", f"/v1/accounts/{account_id}/invoices/{invoice_id}", token=api.admin)[1]


def test_every_invoice_type_is_emailed_once_with_its_number_total_due_and_console_link(pay):
    api = pay.api
    account_id, token = pay.account(type="payg")
    pay.change_card(account_id, token)
    new = post(
        api,
        account_id,
        "billing-items",
        {"description": "vm", "category": "server", "recurring_fee": 0, "setup_fee": 1234},
    )
    charge = post(api, account_id, "charges", {"description": "Support plan", "amount": 5000})
    credit = post(api, account_id, "credits", {"amount": 700, "reason": "goodwill"})
    refund = post(api, account_id, "refunds", {"amount": 300, "reason": "late delivery"})

    ids = [new["invoice_id"], charge["id"], credit["id"], refund["id"]]
    invoices = [invoice(api, account_id, i) for i in ids]
    assert [i["type"] for i in invoices] == ["new", "one_time", "credit", "refund"]
    for inv in invoices:
        (mail,) = about(inv["number"])
        assert mail.destinations["ToAddresses"] == ["ada@example.com"]
        assert display(inv["total"], "usd", "en") in mail.subject
        assert f"{CONSOLE}/#/invoices/{inv['id']}?account={account_id}" in text(mail)
        assert "Date " in text(mail) and "open a support ticket" in text(mail).lower()
    new_mail, charge_mail, credit_mail, refund_mail = (about(i["number"])[0] for i in invoices)
    # an automatic account: charged shortly to the card on file, named by brand and last four digits
    assert "will be charged shortly to your card Visa •••• 4242" in text(new_mail)
    assert "Amount due $12.34" in text(new_mail) and "Total $12.34" in text(new_mail)
    assert "Amount due $50.00" in text(charge_mail)
    assert "Your credit note" in credit_mail.subject and "We credited $7.00 to the account (goodwill)" in text(
        credit_mail
    )
    assert "Amount due" not in text(credit_mail)
    assert "Your refund note" in refund_mail.subject and "We refunded $3.00 on the account (late delivery)" in (
        text(refund_mail)
    )
    assert len(mails()) == 4  # nothing else went to the billing contact


def test_a_notice_in_french_with_amounts_and_dates_as_french_readers_write_them(pay):
    api = pay.api
    account_id, _ = pay.account(type="payg", locale="fr", currency="eur")
    charge = post(api, account_id, "charges", {"description": "Forfait support", "amount": 123456})
    (mail,) = about(charge["number"])
    assert mail.subject == f"Votre facture {charge['number']} pour Acme Robotics : {display(123456, 'eur', 'fr')}"
    assert display(123456, "eur", "fr") == "1\u202f234,56\u00a0€"
    assert f"Montant dû {display(123456, 'eur', 'fr')}" in text(mail)
    # automatic without a valid card: asked to add one
    assert "Aucune carte valide n'est enregistrée" in text(mail)
    assert "Ouvrez un ticket de support dans la console" in text(mail)
    credit = post(api, account_id, "credits", {"amount": 500, "reason": "geste commercial"})
    (credit_mail,) = about(credit["number"])
    assert credit_mail.subject.startswith("Votre avoir ")
    assert f"Nous avons crédité {display(500, 'eur', 'fr')} sur le compte (geste commercial)" in text(credit_mail)


def test_a_send_invoice_account_is_asked_to_pay_and_invoice_emails_off_keeps_only_its_debits(pay):
    from functions.accounts.store import PROFILE, AccountsModel

    api = pay.api
    account_id, _ = pay.account(type="subscription")
    first = post(api, account_id, "charges", {"description": "Setup", "amount": 2000})
    asked = text(about(first["number"])[0])
    assert f"Please pay the amount due by {first['due_date']}" not in asked  # shown as a day, not ISO
    assert "Please pay the amount due by " in asked and "from the invoice's page in the console" in asked
    AccountsModel(account_id, PROFILE).update(actions=[AccountsModel.invoice_emails.set(False)])
    second = post(api, account_id, "charges", {"description": "Setup 2", "amount": 3000})
    credit = post(api, account_id, "credits", {"amount": 100, "reason": "sorry"})
    assert len(about(second["number"])) == 1  # send_invoice: its debits always go out
    assert about(credit["number"]) == []  # but not the credit
    payg_id, _ = pay.account(type="payg")
    AccountsModel(payg_id, PROFILE).update(actions=[AccountsModel.invoice_emails.set(False)])
    quiet = post(api, payg_id, "charges", {"description": "Support plan", "amount": 5000})
    assert about(quiet["number"]) == []  # an automatic account that turned them off gets none


def test_calling_the_hook_again_sends_nothing_and_an_ses_failure_lets_the_next_call_send(pay, monkeypatch):
    from functions.core import email, ledger
    from functions.payments import service, store

    api = pay.api
    account_id, _ = pay.account(type="payg")
    charge = post(api, account_id, "charges", {"description": "Support plan", "amount": 5000})
    inv = ledger.get_invoice(account_id, charge["id"])
    service.invoice_issued(account_id, [inv])  # a redelivered run or a retried request
    service.invoice_issued(account_id, [inv])
    assert len(about(charge["number"])) == 1
    assert store.get_notice(account_id, inv.id)["status"] == "sent"

    def ses_down(message):
        raise RuntimeError("SES down")

    monkeypatch.setattr(email, "send", ses_down)
    second = post(api, account_id, "charges", {"description": "Support plan", "amount": 6000})
    assert second["status"] == "open"  # the request succeeded; the notice was not sent
    assert about(second["number"]) == [] and store.get_notice(account_id, second["id"]) is None
    inv2 = ledger.get_invoice(account_id, second["id"])
    with pytest.raises(RuntimeError):
        service.invoice_issued(account_id, [inv2], raise_errors=True)  # a queue worker's redelivery retries
    monkeypatch.undo()
    service.invoice_issued(account_id, [inv2])
    service.invoice_issued(account_id, [inv2])
    assert len(about(second["number"])) == 1


def test_a_payment_refunded_invoice_made_by_money_back_is_noticed_too(pay):
    # P paid A; the Dashboard refunded P (A reopened); Q paid A again; then P is disputed: P's money is on
    # no invoice any more, so the money back is a One-time invoice "Payment refunded" — issued, so noticed.
    import requests

    api = pay.api
    account_id, token, (a,), p = pay.paid(1000, pay_amount=1000)
    code, _ = pay.stripe_post("/v1/refunds", {"payment_intent": p.payment_intent_id, "amount": "1000"})
    assert code == 200
    (refunded,) = pay.events_for(p.payment_intent_id, "charge.refunded")
    assert pay.deliver_event(refunded)[0] == 200
    status, q, _ = pay.pay(account_id, token, {"amount": 1000})
    assert status == 201 and q["status"] == "succeeded", q
    requests.post(f"{pay.stripe.url}/_shim/disputes", data={"payment_intent": p.payment_intent_id}, timeout=5)
    (disputed,) = pay.events_for(p.payment_intent_id, "charge.dispute.created")
    assert pay.deliver_event(disputed)[0] == 200
    page = api.call("GET", f"/v1/accounts/{account_id}/invoices?type=one_time", token=api.admin)[1]["data"]
    (refund_invoice,) = [i for i in page if i["id"] != a]
    (mail,) = about(refund_invoice["number"])
    assert "Amount due $10.00" in text(mail)
    pay.audit_ok(account_id)
