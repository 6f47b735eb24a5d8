"""Issue 16 from the outside, over the running local stack (`python -m local.run` in a subprocess): the
collector (docs/collections.md) and the account lifecycle (docs/accounts.md) driven over HTTP as the
console and an operator would, the money counted at the Stripe side (PaymentIntents listed at the
Stripe port), the e-mails read with `billow emails --json`, and `billow audit` at the end.

One stack for the module, with the collector's delay at 2 s (BILLOW_COLLECTION_DELAY_SECONDS; `make
run` keeps its 60 s default): every wait below polls with a timeout, never sleeps a fixed time to pass.
"""

from __future__ import annotations

import html
import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from typing import Any

import pytest
import requests

from tests.e2e.conftest import LocalStack, start_local_stack
from tests.e2e.stack_flows import run_cli

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("local-stack-collections")]

DELAY = 2  # seconds: the collector's delay on this stack
WAIT = 45.0  # seconds: the longest any poll waits (the delay, the queue pump, a few Stripe calls)


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[LocalStack]:
    with start_local_stack(tmp_path_factory, BILLOW_COLLECTION_DELAY_SECONDS=str(DELAY)) as running:
        yield running


class Console:
    """The stack's API as an operator (and the console's Stripe.js), the Stripe side and the CLI."""

    def __init__(self, stack: LocalStack) -> None:
        self.stack = stack
        info = stack.info
        self.api = info["api_url"]
        self.stripe_url = info["stripe"]["url"]
        self.publishable_key = info["stripe"]["publishable_key"]
        self.stripe_auth = {"Authorization": f"Bearer {info['stripe']['secret_key']}"}
        self.admin = {"Authorization": f"Bearer {info['tokens']['admin']['token']}"}
        self.contacts: dict[str, dict[str, Any]] = {}

    # --- HTTP ------------------------------------------------------------------------------------------
    def call(self, method: str, path: str, body: Any = None, idem: str | None = None) -> requests.Response:
        headers = dict(self.admin)
        if method in ("POST", "PUT", "PATCH", "DELETE"):
            headers["Idempotency-Key"] = idem or str(uuid.uuid4())
        return requests.request(method, f"{self.api}{path}", json=body, headers=headers, timeout=30)

    def ok(self, method: str, path: str, body: Any = None, status: int = 200) -> dict[str, Any]:
        response = self.call(method, path, body)
        assert response.status_code == status, f"{method} {path}: {response.status_code} {response.text}"
        return dict(response.json())

    def create(self, type_: str) -> dict[str, Any]:
        """A usd account as an operator creates it (linked unless lite); the account's JSON."""
        body = {
            "type": type_,
            "linked": type_ != "lite",
            "currency": "usd",
            "name": f"E2E {type_}",
            "billing_contact": {
                "name": "Pay Er",
                "email": f"payer-{uuid.uuid4().hex[:8]}@e2e.example",
                "address": {"line1": "1 Main St", "city": "Springfield", "postal_code": "12345", "country": "US"},
            },
        }
        created = requests.post(f"{self.api}/v1/accounts", json=body, headers=self.admin, timeout=30)
        assert created.status_code == 201, created.text
        self.contacts[created.json()["id"]] = body["billing_contact"]
        return dict(created.json())

    def account(self, type_: str = "payg", card: bool = True) -> tuple[str, str]:
        """An account (its id and its billing contact's address), with a valid card on file."""
        account_id = self.create(type_)["id"]
        if card:
            self.add_card(account_id)
        return account_id, self.contacts[account_id]["email"]

    def confirmed_setup(self, account_id: str) -> str:
        """A SetupIntent from the API, confirmed with the 4242 card at the Stripe side as Stripe.js does."""
        from local import stripe_js

        started = self.ok("POST", f"/v1/accounts/{account_id}/payment-method/setup", status=201)
        confirmed = stripe_js.confirm_card_setup(self.stripe_url, started["publishable_key"], started["client_secret"])
        assert confirmed["status"] == "succeeded", confirmed
        return str(started["setup_intent_id"])

    def add_card(self, account_id: str) -> dict[str, Any]:
        """The card flow: SetupIntent, Stripe.js, PUT payment-method; done when the queue pump validated it."""
        seti = self.confirmed_setup(account_id)
        body = {"setup_intent_id": seti, "billing_contact": self.contact(account_id)}
        put = self.call("PUT", f"/v1/accounts/{account_id}/payment-method", body)
        assert put.status_code in (200, 202), put.text
        path = f"/v1/accounts/{account_id}/payment-method"
        return wait_for(lambda: (c := self.ok("GET", path)["card"]) and c["status"] == "active" and c, "card active")

    def contact(self, account_id: str) -> dict[str, Any]:
        return self.contacts[account_id]

    def summary(self, account_id: str) -> dict[str, Any]:
        return self.ok("GET", f"/v1/accounts/{account_id}/summary")

    def invoice(self, account_id: str, invoice_id: str) -> dict[str, Any]:
        return self.ok("GET", f"/v1/accounts/{account_id}/invoices/{invoice_id}")

    def charge(self, account_id: str, amount: int, description: str = "Consulting") -> dict[str, Any]:
        body = {"description": description, "amount": amount}
        return self.ok("POST", f"/v1/accounts/{account_id}/charges", body, status=201)

    def payments(self, account_id: str) -> list[dict[str, Any]]:
        return list(self.ok("GET", f"/v1/accounts/{account_id}/payments?limit=100")["data"])

    # --- the Stripe side ---------------------------------------------------------------------------------
    def intents(self, account_id: str) -> list[dict[str, Any]]:
        """The PaymentIntents Stripe holds for the account (our metadata names it), oldest first."""
        listed = requests.get(f"{self.stripe_url}/v1/payment_intents?limit=100", headers=self.stripe_auth, timeout=30)
        assert listed.status_code == 200, listed.text
        data = listed.json()
        assert not data.get("has_more"), "more than 100 PaymentIntents: page through them"
        mine = [pi for pi in data["data"] if (pi.get("metadata") or {}).get("billow_account_id") == account_id]
        return sorted(mine, key=lambda pi: pi["created"])

    # --- the CLI -------------------------------------------------------------------------------------------
    def emails(self, to: str) -> list[dict[str, Any]]:
        result = run_cli(self.stack.env, "emails", "--json", "--to", to, timeout=60)
        assert result.returncode == 0, result.stdout + result.stderr
        mails = [m | {"text": text_of(m["body"])} for m in json.loads(result.stdout)]
        # kept beside the stack's log for a person to read (pytest keeps the last runs' temp dirs)
        (self.stack.local_dir / f"mails-{to}.json").write_text(json.dumps(mails, indent=2, ensure_ascii=False))
        return mails

    def audit(self) -> None:
        result = run_cli(self.stack.env, "audit", timeout=120)
        assert result.returncode == 0, result.stdout + result.stderr
        assert " 0 with differences" in result.stdout, result.stdout


def text_of(body: str) -> str:
    """What a customer reads: the HTML part without its tags, entities decoded, spaces collapsed."""
    without_tags = re.sub(r"<[^>]+>", " ", re.sub(r"(?is)<(style|head)[^>]*>.*?</\1>", " ", body))
    return re.sub(r"\s+", " ", html.unescape(without_tags)).strip()


def wait_for(check: Callable[[], Any], what: str, timeout: float = WAIT) -> Any:
    """Poll `check` until it answers something truthy (returned); fail after `timeout` seconds."""
    deadline, last = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.25)
    raise AssertionError(f"{what}: not within {timeout:.0f}s (last: {last!r})")


def closed(console: Console, account_id: str, *invoice_ids: str) -> Callable[[], bool]:
    return lambda: all(console.invoice(account_id, i)["status"] == "closed" for i in invoice_ids)


def money(cents: int) -> str:
    return f"${cents // 100:,}.{cents % 100:02d}"


@pytest.fixture(scope="module")
def console(stack: LocalStack) -> Console:
    return Console(stack)


@pytest.fixture(scope="module")
def payg(console: Console) -> dict[str, Any]:
    """(a)'s account, reused by (b) and (f): payg, linked, a valid card on file."""
    account_id, contact = console.account("payg")
    return {"id": account_id, "contact": contact}


def test_a_provisioned_item_is_followed_by_one_off_session_charge_that_closes_the_new_invoice(console, payg):
    account_id = payg["id"]
    assert console.intents(account_id) == []
    item = {"description": "Bare metal, 8 cores", "category": "server", "recurring_fee": 3000, "setup_fee": 1000}
    provisioned = console.ok("POST", f"/v1/accounts/{account_id}/billing-items", item, status=201)
    invoice_id = provisioned["invoice_id"]
    new = console.invoice(account_id, invoice_id)
    assert new["type"] == "new" and new["status"] == "open" and new["total"] >= 1000  # setup fee + part-month
    assert console.intents(account_id) == []  # never charged inside the request that issued it

    wait_for(closed(console, account_id, invoice_id), "the New invoice closed by the collector")
    (pi,) = console.intents(account_id)  # ONE PaymentIntent
    assert (pi["amount"], pi["currency"], pi["status"]) == (new["total"], "usd", "succeeded")
    (payment,) = console.payments(account_id)
    assert (payment["source"], payment["method"], payment["status"]) == ("off_session", "card", "succeeded")
    assert payment["amount"] == new["total"] and payment["invoice_id"] is None  # the balance, no target
    assert payment["applied_to"] == [{"invoice_id": invoice_id, "amount": new["total"]}]
    assert console.summary(account_id)["balance"]["current"] == 0

    mails = wait_for(lambda: len(m := console.emails(payg["contact"])) >= 3 and m, "the notice and the receipt")
    notices = [m for m in mails if new["number"] in (m["subject"] or "")]
    receipts = [m for m in mails if "Payment received" in (m["subject"] or "")]
    assert len(notices) == 1 and len(receipts) == 1, [m["subject"] for m in mails]
    assert money(new["total"]) in notices[0]["text"] and "4242" in notices[0]["text"], notices[0]["text"]
    assert money(new["total"]) in receipts[0]["text"] and "4242" in receipts[0]["text"], receipts[0]["text"]
    payg["mails"] = mails


def test_an_operator_one_time_charge_is_collected_the_same_way(console, payg):
    account_id = payg["id"]
    before = len(console.intents(account_id))
    invoice = console.charge(account_id, 1250, "Migration assistance")
    assert invoice["type"] == "one_time" and invoice["status"] == "open"
    wait_for(closed(console, account_id, invoice["id"]), "the One-time invoice closed by the collector")
    intents = console.intents(account_id)
    assert len(intents) == before + 1
    assert (intents[-1]["amount"], intents[-1]["status"]) == (1250, "succeeded")
    latest = console.payments(account_id)[0]
    assert (latest["source"], latest["amount"], latest["status"]) == ("off_session", 1250, "succeeded")
    assert latest["applied_to"] == [{"invoice_id": invoice["id"], "amount": 1250}]
    receipts = wait_for(
        lambda: [m for m in console.emails(payg["contact"]) if "Payment received" in (m["subject"] or "")][1:],
        "the second receipt",
    )
    assert money(1250) in receipts[-1]["text"], receipts[-1]["text"]


def test_a_charge_below_the_minimum_is_carried_then_collected_with_the_next_as_one_payment(console):
    account_id, contact = console.account("payg")
    small = console.charge(account_id, 20, "Overage: 2 GB egress")
    carried = wait_for(
        lambda: (inv := console.invoice(account_id, small["id"]))["carried_forward"] and inv, "the 0.20 carried"
    )
    assert carried["status"] == "open" and carried["balance_due"] == 20
    assert console.intents(account_id) == []  # nothing charged for 0.20
    listed = console.ok("GET", f"/v1/accounts/{account_id}/invoices?limit=100")["data"]
    assert [i["carried_forward"] for i in listed if i["id"] == small["id"]] == [True]
    assert console.summary(account_id)["past_due"] is False

    large = console.charge(account_id, 3000, "Consulting, 2 hours")
    wait_for(closed(console, account_id, small["id"], large["id"]), "both invoices closed by one collection")
    (pi,) = console.intents(account_id)
    assert (pi["amount"], pi["status"]) == (3020, "succeeded")  # 0.20 + 30.00, ONE payment
    (payment,) = console.payments(account_id)
    assert payment["amount"] == 3020
    assert sorted(a["amount"] for a in payment["applied_to"]) == [20, 3000]
    assert console.summary(account_id)["balance"]["current"] == 0
    mails = wait_for(
        lambda: (
            [m for m in console.emails(contact) if "Payment received" in (m["subject"] or "")]
            and console.emails(contact)
        ),
        "the receipt",
    )
    (small_notice,) = [m for m in mails if small["number"] in (m["subject"] or "")]
    assert "below the minimum card charge ($0.50)" in small_notice["text"], small_notice["text"]  # carried, not charged
    assert "charged shortly" not in small_notice["text"], small_notice["text"]
    (receipt,) = [m for m in mails if "Payment received" in (m["subject"] or "")]
    assert money(3020) in receipt["subject"] and money(3020) in receipt["text"], receipt


def test_a_send_invoice_account_gets_an_email_with_its_due_date_and_no_charge(console):
    shown = console.create("subscription")
    account_id, contact = shown["id"], console.contact(shown["id"])["email"]
    assert (shown["collection"], shown["net_days"]) == ("send_invoice", 30)
    assert console.summary(account_id)["payment_method"] == {"type": "invoice", "net_days": 30}
    invoice = console.charge(account_id, 4200, "Annual support plan")
    detail = console.invoice(account_id, invoice["id"])
    due = date.fromisoformat(detail["date"]) + timedelta(days=30)
    assert detail["due_date"] == due.isoformat()
    (mail,) = wait_for(lambda: console.emails(contact), "the invoice e-mail")
    assert invoice["number"] in mail["subject"], mail["subject"]
    text = mail["text"]
    assert money(4200) in text, text
    shown_due = f"{due:%b} {due.day}, {due.year}"  # as the e-mail writes days in English: Jan 5, 2027
    assert f"Due date {shown_due}" in text and f"Please pay the amount due by {shown_due}" in text, text
    assert invoice["number"] in text  # the reference a bank transfer quotes
    # no charge, ever: after twice the collector's delay there is still no PaymentIntent and it is open
    time.sleep(2 * DELAY + 1)
    assert console.intents(account_id) == [] and console.payments(account_id) == []
    assert console.invoice(account_id, invoice["id"])["status"] == "open"


def test_a_lite_account_upgraded_through_the_card_flow_becomes_payg_and_linked(console):
    lite = console.create("lite")
    account_id, contact = lite["id"], console.contact(lite["id"])
    assert lite["type"] == "lite" and lite["collection"] is None
    seti = console.confirmed_setup(account_id)  # lite accounts may start a SetupIntent for the upgrade
    accepted = console.ok(
        "POST", f"/v1/accounts/{account_id}/upgrade", {"setup_intent_id": seti, "billing_contact": contact}, status=202
    )
    assert accepted["status"] == "pending_validation"
    upgraded = wait_for(
        lambda: (s := console.summary(account_id))["type"] == "payg" and s, "the account payg once the card validated"
    )
    assert upgraded["linked"] is True and upgraded["upgrade"]["status"] == "completed"
    assert upgraded["payment_method"]["type"] == "card" and upgraded["payment_method"]["status"] == "active"
    assert upgraded["capabilities"]["billing_items"] is True
    assert upgraded["collection"] == "automatic"
    (mail,) = wait_for(lambda: console.emails(contact["email"]), "the upgrade e-mail")
    assert "pay-as-you-go" in mail["subject"] + mail["text"], mail
    assert "4242" in mail["text"], mail["text"]
    events = console.ok("GET", f"/v1/accounts/{account_id}/events?limit=100")["data"]
    assert "account.upgraded" in {e["action"] for e in events}


def test_a_closed_account_refuses_a_new_charge_and_reads_still_work(console, payg):
    account_id = payg["id"]
    closure = console.ok("POST", f"/v1/accounts/{account_id}/closure", {"when": "now"})
    assert closure["status"] == "closed" and len(closure["items_cancelled"]) == 1, closure
    assert closure["credit_left"] == 0 and closure["credit_returned"] > 0  # the unused part back to the card
    refunded = sum(p["refunded"] for p in console.payments(account_id))
    assert refunded == closure["credit_returned"], console.payments(account_id)
    refused = console.call("POST", f"/v1/accounts/{account_id}/charges", {"description": "late", "amount": 500})
    assert refused.status_code == 409 and refused.headers["Content-Type"].startswith("application/problem+json")
    assert refused.json()["code"] == "account-closed", refused.text
    again = console.call("POST", f"/v1/accounts/{account_id}/closure", {"when": "now"})
    assert again.status_code == 409 and again.json()["code"] == "account-closed"
    summary = console.summary(account_id)
    assert summary["status"] == "closed"
    assert summary["balance"]["current"] == 0  # the item's unused part went back to the card
    invoices = console.ok("GET", f"/v1/accounts/{account_id}/invoices?limit=100")["data"]
    assert {"new", "one_time", "refund"} <= {i["type"] for i in invoices}
    assert console.ok("GET", f"/v1/accounts/{account_id}/payments?limit=100")["data"]
    mails = console.emails(payg["contact"])
    new_mails = [m for m in mails if m["id"] not in {seen["id"] for seen in payg["mails"]}]
    assert new_mails, "the closure e-mailed nothing"
    actions = [e["action"] for e in console.ok("GET", f"/v1/accounts/{account_id}/events?limit=100")["data"]]
    assert {"account.closing", "account.closed", "item.cancelled"} <= set(actions), actions
    assert len(invoices) == len(console.ok("GET", f"/v1/accounts/{account_id}/invoices?limit=100")["data"])
    assert "one_time" not in {i["type"] for i in invoices[:1]}  # the refused charge wrote nothing (newest first)


def test_a_double_click_racing_the_collection_never_takes_more_than_owed(console):
    """The console's Pay button clicked twice (two Idempotency-Keys) just as the collector's delay ends:
    the collection and the clicks share the room (balance - payments in flight), so 50.00 is taken once."""
    account_id, _ = console.account("payg")
    invoice = console.charge(account_id, 5000)
    issued = time.monotonic()
    answers: list[requests.Response] = []
    balances: list[int] = []

    def click() -> None:
        answers.append(console.call("POST", f"/v1/accounts/{account_id}/payments", {"amount": 5000}))

    def watch(until: float) -> None:
        while time.monotonic() < until:
            balances.append(console.summary(account_id)["balance"]["current"])
            time.sleep(0.1)

    time.sleep(max(0.0, issued + DELAY - 0.3 - time.monotonic()))  # the clicks land as the collection starts
    watcher = threading.Thread(target=watch, args=(time.monotonic() + DELAY + 4,))
    clicks = [threading.Thread(target=click) for _ in range(2)]
    watcher.start()
    for t in clicks:
        t.start()
    for t in clicks:
        t.join()
    watcher.join()
    wait_for(closed(console, account_id, invoice["id"]), "the invoice paid")
    wait_for(lambda: all(p["status"] != "creating" for p in console.payments(account_id)), "no payment in flight")

    seen = [(r.status_code, r.json().get("code") or r.json().get("status")) for r in answers]
    (console.stack.local_dir / "double-click.json").write_text(json.dumps(seen))  # for a person to read
    assert all(r.status_code in (201, 409, 422) for r in answers), [(r.status_code, r.text) for r in answers]
    succeeded = [p for p in console.payments(account_id) if p["status"] == "succeeded"]
    assert sum(p["amount"] for p in succeeded) == 5000, succeeded  # never more than owed
    taken = [pi for pi in console.intents(account_id) if pi["status"] == "succeeded"]
    assert sum(pi["amount"] for pi in taken) == 5000, taken  # at the Stripe side too
    assert min(balances) >= 0, balances  # never below zero on the way
    summary = console.summary(account_id)
    assert summary["balance"]["current"] == 0 and summary["balance"]["unapplied_credit"] == 0
    console.audit()
