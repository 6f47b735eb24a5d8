"""Webhook storm (issue 10, deliverable 2): every Stripe event of a scripted day, delivered three times
in a shuffled order, ends in the same balances, ledger entries, invoices and payment statuses as each
event delivered once, in order.

The day, over four accounts (moto in-process, the Stripe side in-process: localstripe behind the
shim): cards saved through SetupIntents (a card change), card payments with the card on file and with
a Stripe.js card, a 3-D Secure payment completed by the customer, a PayPal payment approved and one
the customer cancels, the collector's off-session charge of an account's balance that succeeds and one that is
declined, a refund through billow and one made in Stripe's Dashboard, and a dispute. Every event the
Stripe side produced during the day is collected and signed with the endpoint's secret, as Stripe
sends it.

World A runs the day in a fresh moto and delivers each event once, in order; world B runs the same day
in another fresh moto and delivers every event three times, shuffled by a seeded RNG (the seed is
printed; BILLOW_STORM_SEED replays one).
"""

from __future__ import annotations

import os
import random
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import requests

from functions.payments import collections
from functions.payments import store as payment_store
from local import stripe_js
from tests.integration.conftest import Api, moto_with_tables, queues_and_mail_created
from tests.integration.payments_helpers import WEBHOOK_SECRET, Payments
from tests.proof import state

DELIVERIES = 3  # each event, in world B
SEED = int(os.environ.get("BILLOW_STORM_SEED") or random.SystemRandom().randrange(2**32))
RETURN_URL = "http://localhost:3000/back"
# The payment event types the day must produce (so the storm cannot pass on a day without them).
EXPECTED_TYPES_ORDERED = (
    "payment_intent.succeeded",
    "payment_intent.payment_failed",
    "charge.refunded",
    "charge.dispute.created",
)


@contextmanager
def fresh_world(stripe_server: Any, mint: Any) -> Iterator[Payments]:
    """A fresh moto (tables, queues, SES) and the app's test client: a world of its own."""
    from chalice.test import Client

    from app import app

    with moto_with_tables(), queues_and_mail_created() as sqs, Client(app) as client:
        yield Payments(Api(client, mint), client, stripe_server, sqs)


def _ok(result: tuple[int, Any, Any], status: int = 201) -> Any:
    assert result[0] == status, result
    return result[1]


def _refund(pay: Payments, account_id: str, payment_id: str, amount: int) -> None:
    _ok(
        pay.api.call(
            "POST",
            f"/v1/accounts/{account_id}/refunds",
            {"amount": amount, "reason": "goodwill", "payment_id": payment_id},
            token=pay.api.admin,
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )
    )


def scripted_day(pay: Payments) -> list[str]:
    """The day's Stripe activity; returns the accounts, in order. Webhooks are not delivered here."""
    # Ada: a card saved, then changed (two SetupIntents); pays part by the card on file; billow refunds
    # part of it, the Dashboard another part; pays with a Stripe.js card too, which is disputed.
    ada, ada_token, _ = pay.owing(5000, 3000)
    pay.change_card(ada, ada_token, number="4000056655665556")
    paid = _ok(pay.pay(ada, ada_token, {"amount": 4000}))
    assert paid["status"] == "succeeded", paid
    _refund(pay, ada, paid["id"], 1500)
    pi = payment_store.get_payment(ada, paid["id"]).payment_intent_id
    assert pay.stripe_post("/v1/refunds", {"payment_intent": pi, "amount": "1000"})[0] == 200  # the Dashboard
    by_new_card = _ok(pay.pay(ada, ada_token, {"amount": 2000, "payment_method_id": pay.new_card_pm()}))
    disputed = payment_store.get_payment(ada, by_new_card["id"]).payment_intent_id
    requests.post(f"{pay.stripe.url}/_shim/disputes", data={"payment_intent": disputed}, timeout=5).raise_for_status()

    # Bea: PayPal, one approved (applied only by its webhook), one cancelled at PayPal; then 3-D Secure.
    bea, bea_token, _ = pay.owing(6000, 2500, card=False)
    approved = _ok(pay.pay(bea, bea_token, {"amount": 2500, "method": "paypal", "return_url": RETURN_URL}))
    cancelled = _ok(pay.pay(bea, bea_token, {"amount": 1000, "method": "paypal", "return_url": RETURN_URL}))
    requests.get(approved["next_action"]["url"], allow_redirects=False, timeout=5)
    declined_url = cancelled["next_action"]["url"].replace("/approve", "/decline")
    assert requests.get(declined_url, allow_redirects=False, timeout=5).status_code == 302
    secure = _ok(
        pay.pay(
            bea, bea_token, {"amount": 1200, "payment_method_id": pay.new_card_pm(stripe_js.REQUIRES_AUTHENTICATION)}
        )
    )
    assert secure["status"] == "requires_action", secure
    pi_3ds = secure["client_secret"].split("_secret_")[0]
    code, _ = pay.stripe_post(
        f"/v1/payment_intents/{pi_3ds}/_authenticate",
        {"client_secret": secure["client_secret"], "success": "true", "key": "pk_test_billow_tests"},
    )
    assert code == 200

    # Cy: the collection of its invoices (v4: the one off-session path) succeeds; Dee's card is declined.
    cy, _, _ = pay.owing(2200, 900)
    assert collections.collect(cy, payment_store.get_collection(cy).seq) == "succeeded"
    dee, dee_token, _ = pay.owing(1800, card=False)
    pay.change_card(dee, dee_token, number=stripe_js.DECLINED_AT_CHARGE)
    assert collections.collect(dee, payment_store.get_collection(dee).seq) == "dunning"
    return [ada, bea, cy, dee]


def _events_since(before: set[str]) -> list[dict[str, Any]]:
    """Every event the Stripe side made since `before` (its event keys then), oldest first."""
    from localstripe import resources

    return [
        event._export()
        for key, event in list(resources.store.items())
        if key.startswith("event:") and key not in before
    ]


def _event_keys() -> set[str]:
    from localstripe import resources

    return {key for key in list(resources.store) if key.startswith("event:")}


def _world(stripe_server: Any, mint: Any, deliveries: int, rng: random.Random | None) -> dict[str, Any]:
    with fresh_world(stripe_server, mint) as pay:
        before = _event_keys()
        accounts = scripted_day(pay)
        events = _events_since(before)
        schedule = [event for event in events for _ in range(deliveries)]
        if rng is not None:
            rng.shuffle(schedule)
        outcomes = Counter()
        for event in schedule:
            status, body = pay.deliver_event(event)
            assert status == 200, (event["type"], body)
            outcomes[body["outcome"]] += 1
        for account_id in accounts:
            state.audit_clean(account_id)
        return {
            "events": Counter(e["type"] for e in events),
            "outcomes": outcomes,
            "delivered": len(schedule),
            # entries as a multiset: two webhooks applying two payments post them in arrival order
            "accounts": [{**s, "entries": sorted(s["entries"])} for s in map(state.account_state, accounts)],
            "payment_intents": [len(state.stripe_payment_intents(a)) for a in accounts],
        }


def test_every_event_of_a_day_three_times_shuffled_ends_as_each_once_in_order(stripe_server, mint, monkeypatch):
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET)
    print(f"\n[webhook storm] seed {SEED} (BILLOW_STORM_SEED={SEED} replays it)")

    once = _world(stripe_server, mint, 1, None)
    storm = _world(stripe_server, mint, DELIVERIES, random.Random(SEED))

    events = sum(once["events"].values())
    print(f"[webhook storm] {events} events {dict(once['events'])}; world B delivered {storm['delivered']}")
    print(f"[webhook storm] outcomes once {dict(once['outcomes'])}; storm {dict(storm['outcomes'])}")
    assert once["events"] == storm["events"]  # the same day in both worlds
    assert once["delivered"] == events
    # five PaymentIntents succeed (two card payments, PayPal, 3-D Secure, off-session), two fail
    # (PayPal cancelled, the declined off-session charge), two refunds, one dispute
    assert [once["events"][t] for t in EXPECTED_TYPES_ORDERED] == [5, 2, 2, 1], once["events"]
    assert storm["delivered"] == DELIVERIES * events
    assert storm["outcomes"]["duplicate"] == (DELIVERIES - 1) * events  # each first delivery took effect
    assert once["outcomes"]["duplicate"] == 0
    assert storm["outcomes"] - Counter({"duplicate": storm["outcomes"]["duplicate"]}) == once["outcomes"]
    # the same changes, hence the same outbound events; in the storm the deliveries come shuffled, so the
    # changes (and the sequence each event gets, gapless either way: state.outbound_events) come in another order
    assert _by_type(storm["accounts"]) == _by_type(once["accounts"])
    assert storm["payment_intents"] == once["payment_intents"]
    # and the day's money is what the script says, not merely the same twice (the webhooks mattered)
    ada, bea, cy, dee = once["accounts"]
    # billow's refund nets to zero; the Dashboard's 1000 and the disputed 2000 are money back (§3 v4)
    assert ada["balance"] == (5000 + 3000 - 4000 + 1000 - 2000 + 2000, 0)
    assert ("money_back", 1000) in ada["entries"] and ("money_back", 2000) in ada["entries"]
    assert bea["balance"] == (6000 + 2500 - 2500 - 1200, 0)
    assert sorted(p[3] for p in bea["payments"]) == ["failed", "succeeded", "succeeded"]
    # v4: the collector charges the balance (both of Cy's invoices, 2200 + 900) in ONE PaymentIntent,
    # not one invoice as v3's monthly run did (docs/collections.md, "Collectable")
    assert cy["balance"] == (0, 0), cy
    assert [(p[0], p[2], p[3]) for p in cy["payments"]] == [(2200 + 900, "off_session", "succeeded")], cy
    assert [i[4] for i in cy["invoices"]] == [0, 0], cy
    assert dee["balance"][0] == 1800
    assert [p[3] for p in dee["payments"]] == ["failed"]


def _by_type(accounts: list[dict]) -> list[dict]:
    """Each account's state with its outbound events as the sorted list of their types."""
    return [{**a, "events": sorted(t for _, t in a["events"])} for a in accounts]
