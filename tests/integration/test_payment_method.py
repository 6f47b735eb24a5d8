"""Card on file (DESIGN §2 payment-method routes, §4 card validation), through localstripe behind the
local shim and moto: the routes over chalice's test client, Stripe.js's confirmation over HTTP, and
the `card-validation` consumer invoked as Lambda invokes it, with real SQS messages from moto."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

from functions.core import clock
from local import stripe_js
from local.queue_pump import sqs_event

MASTERCARD_LIKE = "4000056655665556"  # a second test card (Visa debit): another last4
CONTACT = {
    "name": "Grace Hopper",
    "email": "grace@cards.example",
    "address": {"line1": "1 Harbour Way", "city": "Boston", "state": "MA", "postal_code": "02110", "country": "US"},
}


class Cards:
    """GIVEN/WHEN helpers: accounts, the three routes, Stripe.js, the queue and the mail that went out."""

    def __init__(self, api, client, stripe, sqs):
        self.api, self.client, self.stripe, self.sqs = api, client, stripe, sqs
        from functions.core.queues import queue_url

        self.queue_url = queue_url("card-validation")
        self.sent: list[dict] = []
        from functions.core import email

        email._ses().meta.events.register("provide-client-params.sesv2.SendEmail", self._capture)

    def _capture(self, params, **_):
        self.sent.append(params)

    def account(self, **overrides):
        account = self.api.create_account(**overrides)
        return account["id"], self.api.member_token(account["id"], sub=f"owner-{account['id']}")

    def path(self, account_id, suffix=""):
        return f"/v1/accounts/{account_id}/payment-method{suffix}"

    def setup(self, account_id, token):
        return self.api.call("POST", self.path(account_id, "/setup"), token=token)

    def put(self, account_id, token, setup_intent_id, contact=CONTACT):
        return self.api.call(
            "PUT", self.path(account_id), {"setup_intent_id": setup_intent_id, "billing_contact": contact}, token=token
        )

    def get(self, account_id, token):
        return self.api.call("GET", self.path(account_id), token=token)

    def confirmed_setup(self, account_id, token, number=stripe_js.SUCCEEDS, **card):
        status, started, _ = self.setup(account_id, token)
        assert status == 201, started
        intent = stripe_js.confirm_card_setup(
            self.stripe.url, started["publishable_key"], started["client_secret"], number, **card
        )
        assert intent["status"] == "succeeded", intent
        return started["setup_intent_id"]

    def messages(self):
        """What is waiting on card-validation (received, so invisible until delivered or released)."""
        response = self.sqs.receive_message(
            QueueUrl=self.queue_url, MaxNumberOfMessages=10, AttributeNames=["All"], VisibilityTimeout=0
        )
        return response.get("Messages", [])

    def deliver(self, messages):
        """Invoke the consumer as Lambda does, then delete what succeeded as Lambda does; returns the
        partial batch response. Delivering the same messages again is SQS's redelivery."""
        arn = f"arn:aws:sqs:us-east-1:{DEFAULT_ACCOUNT_ID}:billow-test-card-validation"
        answer = self.client.lambda_.invoke("validate_card", sqs_event(messages, arn, "us-east-1")).payload
        failed = {f["itemIdentifier"] for f in answer["batchItemFailures"]}
        done = [m for m in messages if m["MessageId"] not in failed]
        if done:
            self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(done)],
            )
        return answer

    def change_card(self, account_id, token, number=stripe_js.SUCCEEDS, contact=CONTACT):
        seti = self.confirmed_setup(account_id, token, number)
        status, body, _ = self.put(account_id, token, seti, contact)
        assert status == 202, body
        messages = self.messages()
        assert self.deliver(messages) == {"batchItemFailures": []}
        return seti

    def mails_to(self, address):
        return [
            m for m in ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages if address in str(m.destinations)
        ]

    def stripe_get(self, path):
        import requests

        r = requests.get(
            f"{self.stripe.url}{path}", headers={"Authorization": "Bearer sk_test_billow_tests"}, timeout=5
        )
        assert r.status_code == 200, r.text
        return r.json()

    def customer_of(self, account_id):
        from functions.payments import store

        return store.get_state(account_id).customer_id


@pytest.fixture
def cards(api, client, stripe_server, queues_and_mail):
    return Cards(api, client, stripe_server, queues_and_mail)


def problem(result, status, code):
    got_status, body, headers = result
    assert got_status == status, body
    assert headers["Content-Type"] == "application/problem+json"
    assert body["code"] == code
    return body


# --- POST /setup ----------------------------------------------------------------------------------------


def test_setup_returns_an_off_session_setup_intent_on_the_accounts_single_customer(cards):
    account_id, token = cards.account()
    status, first, _ = cards.setup(account_id, token)
    assert status == 201, first
    assert set(first) == {"setup_intent_id", "client_secret", "publishable_key"}
    assert first["client_secret"].startswith(first["setup_intent_id"] + "_secret_")
    assert first["publishable_key"] == "pk_test_billow_tests"
    _, second, _ = cards.setup(account_id, token)
    assert second["setup_intent_id"] != first["setup_intent_id"]

    customer = cards.customer_of(account_id)
    for seti in (first["setup_intent_id"], second["setup_intent_id"]):
        intent = cards.stripe_get(f"/v1/setup_intents/{seti}")
        assert (intent["customer"], intent["usage"], intent["payment_method_types"]) == (
            customer,
            "off_session",
            ["card"],
        )
    created = cards.stripe.requests("POST", "/v1/customers")
    mine = [r for r in created if r.idempotency_key == f"customer:create:{account_id}"]
    assert len(mine) == 1, "the customer is created once, with a key derived from the account"
    assert cards.stripe_get(f"/v1/customers/{customer}")["metadata"]["billow_account_id"] == account_id


# --- the whole change -------------------------------------------------------------------------------------


def test_a_confirmed_card_is_pending_then_active_after_the_queue_and_confirmed_by_one_email(cards, api):
    account_id, token = cards.account()
    seti = cards.confirmed_setup(account_id, token)

    status, accepted, _ = cards.put(account_id, token, seti)
    assert status == 202
    assert accepted == {
        "status": "pending_validation",
        "setup_intent_id": seti,
        "card": {"brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2034},
    }
    _, pending, _ = cards.get(account_id, token)
    assert pending["card"] is None
    assert pending["pending_change"]["setup_intent_id"] == seti and pending["pending_change"]["last4"] == "4242"
    messages = cards.messages()
    assert [json.loads(m["Body"]) for m in messages] == [{"account_id": account_id, "setup_intent_id": seti}]

    assert cards.deliver(messages) == {"batchItemFailures": []}

    _, shown, _ = cards.get(account_id, token)
    assert shown["pending_change"] is None
    card = shown["card"]
    assert {k: card[k] for k in ("brand", "last4", "exp_month", "exp_year", "status")} == {
        "brand": "visa",
        "last4": "4242",
        "exp_month": 12,
        "exp_year": 2034,
        "status": "active",
    }
    assert card["billing_contact"]["email"] == CONTACT["email"]
    _, summary, _ = api.call("GET", f"/v1/accounts/{account_id}/summary", token=token)
    assert summary["payment_method"] == {
        "type": "card",  # v4: the summary says what the account pays with (card, or invoice with net days)
        "brand": "visa",
        "last4": "4242",
        "exp_month": 12,
        "exp_year": 2034,
        "status": "active",
    }
    # Stripe: attached to the account's customer and its default
    customer = cards.customer_of(account_id)
    pm_id = cards.stripe_get(f"/v1/setup_intents/{seti}")["payment_method"]
    assert cards.stripe_get(f"/v1/payment_methods/{pm_id}")["customer"] == customer
    assert cards.stripe_get(f"/v1/customers/{customer}")["invoice_settings"]["default_payment_method"] == pm_id
    # one e-mail to the contact, with a text and an HTML part
    assert len(cards.mails_to(CONTACT["email"])) == 1
    [sent] = cards.sent
    assert sent["Destination"] == {"ToAddresses": [CONTACT["email"]]}
    body = sent["Content"]["Simple"]["Body"]
    assert "ending in 4242" in body["Text"]["Data"] and "4242" in body["Html"]["Data"]
    assert sent["Content"]["Simple"]["Subject"]["Data"] == "Your new card is active on Acme Robotics"
    # the audit trail: the customer's request and the system's activation
    _, events, _ = api.call("GET", f"/v1/accounts/{account_id}/events", token=token)
    actions = [(e["action"], e["actor_kind"]) for e in events["data"]]
    assert ("payment_method.change_requested", "customer") in actions
    assert ("payment_method.activated", "system") in actions


def test_changing_the_card_detaches_the_old_one_and_redelivery_sends_one_email_and_attaches_once(cards):
    account_id, token = cards.account()
    first = cards.change_card(account_id, token)
    old_pm = cards.stripe_get(f"/v1/setup_intents/{first}")["payment_method"]
    contact = CONTACT | {"email": "new-card@cards.example"}

    second = cards.confirmed_setup(account_id, token, MASTERCARD_LIKE)
    assert cards.put(account_id, token, second, contact)[0] == 202
    messages = cards.messages()
    for _ in range(3):  # the same message delivered three times (SQS is at least once)
        assert cards.deliver(messages) == {"batchItemFailures": []}

    _, shown, _ = cards.get(account_id, token)
    assert (shown["card"]["last4"], shown["card"]["status"], shown["pending_change"]) == ("5556", "active", None)
    new_pm = cards.stripe_get(f"/v1/setup_intents/{second}")["payment_method"]
    assert cards.stripe_get(f"/v1/payment_methods/{old_pm}")["customer"] is None, "the old card is detached"
    assert cards.stripe_get(f"/v1/payment_methods/{new_pm}")["customer"] == cards.customer_of(account_id)
    [mail] = cards.mails_to("new-card@cards.example")
    assert "ending in 5556" in mail.body and "The previous card was removed" in mail.body
    assert "previous card" not in cards.mails_to(CONTACT["email"])[0].body  # the first card replaced none
    assert len(cards.stripe.requests("POST", f"/v1/payment_methods/{new_pm}/attach")) == 1
    assert len(cards.stripe.requests("POST", f"/v1/payment_methods/{old_pm}/detach")) == 1


def test_a_crash_after_the_stripe_steps_is_finished_by_the_redelivery_without_repeating_them(cards, monkeypatch):
    from functions.payments import store

    account_id, token = cards.account()
    first = cards.change_card(account_id, token)
    old_pm = cards.stripe_get(f"/v1/setup_intents/{first}")["payment_method"]
    second = cards.confirmed_setup(account_id, token, MASTERCARD_LIKE)
    assert cards.put(account_id, token, second)[0] == 202
    new_pm = cards.stripe_get(f"/v1/setup_intents/{second}")["payment_method"]
    messages = cards.messages()
    real_activate = store.activate

    def crash(*args, **kwargs):
        raise RuntimeError("the worker died before its transaction")

    monkeypatch.setattr(store, "activate", crash)
    assert cards.deliver(messages)["batchItemFailures"] == [{"itemIdentifier": messages[0]["MessageId"]}]
    assert cards.get(account_id, token)[1]["card"]["last4"] == "4242", "not activated yet"
    assert cards.stripe_get(f"/v1/payment_methods/{old_pm}")["customer"] is None, "Stripe steps were done"

    monkeypatch.setattr(store, "activate", real_activate)
    assert cards.deliver(messages) == {"batchItemFailures": []}
    assert cards.get(account_id, token)[1]["card"]["last4"] == "5556"
    assert len(cards.stripe.requests("POST", f"/v1/payment_methods/{new_pm}/attach")) == 1
    assert len(cards.stripe.requests("POST", f"/v1/payment_methods/{old_pm}/detach")) == 1
    assert len(cards.mails_to(CONTACT["email"])) == 2  # the first card's and this one's


def test_a_redelivered_done_message_reads_one_item_and_calls_stripe_and_ses_nothing(cards):
    from bench.ddb_counter import counting

    account_id, token = cards.account()
    seti = cards.confirmed_setup(account_id, token)
    assert cards.put(account_id, token, seti)[0] == 202
    messages = cards.messages()
    cards.deliver(messages)
    stripe_before, mails_before = len(cards.stripe.requests()), len(cards.sent)
    with counting() as counts:
        assert cards.deliver(messages) == {"batchItemFailures": []}
    assert (counts.total, counts.calls["GetItem"]) == (1, 1), counts.describe()
    assert len(cards.stripe.requests()) == stripe_before and len(cards.sent) == mails_before


def test_an_ses_failure_reports_the_message_failed_and_the_retry_sends_the_email_once(cards, monkeypatch):
    from functions.core import email

    account_id, token = cards.account(locale="fr", name="Démo Robotique")
    seti = cards.confirmed_setup(account_id, token)
    assert cards.put(account_id, token, seti)[0] == 202
    messages = cards.messages()
    real_send = email.send

    def ses_down(message):
        raise RuntimeError("SES throttled")

    monkeypatch.setattr(email, "send", ses_down)
    assert cards.deliver(messages) == {"batchItemFailures": [{"itemIdentifier": messages[0]["MessageId"]}]}
    assert cards.mails_to(CONTACT["email"]) == []
    assert cards.get(account_id, token)[1]["card"]["status"] == "active"  # the card change itself is done

    monkeypatch.setattr(email, "send", real_send)
    assert cards.deliver(messages) == {"batchItemFailures": []}
    assert cards.deliver(messages) == {"batchItemFailures": []}
    [mail] = cards.mails_to(CONTACT["email"])
    assert mail.subject == "Votre nouvelle carte est active sur Démo Robotique"
    assert "se terminant par 4242" in mail.body


def test_one_batch_of_distinct_messages_fails_only_the_poison_one(cards):
    ids = []
    for n in range(2):
        account_id, token = cards.account(name=f"Batch {n}")
        seti = cards.confirmed_setup(account_id, token)
        assert cards.put(account_id, token, seti, CONTACT | {"email": f"batch{n}@cards.example"})[0] == 202
        ids.append((account_id, token))
    cards.sqs.send_message(
        QueueUrl=cards.queue_url, MessageBody=json.dumps({"account_id": ids[0][0], "setup_intent_id": "seti_gone"})
    )
    cards.sqs.send_message(QueueUrl=cards.queue_url, MessageBody="not json")
    messages = cards.messages()
    assert len({m["MessageId"] for m in messages}) == 4
    poison = {m["MessageId"] for m in messages if "seti_gone" in m["Body"] or m["Body"] == "not json"}

    answer = cards.deliver(messages)

    assert {f["itemIdentifier"] for f in answer["batchItemFailures"]} == poison
    for n, (account_id, token) in enumerate(ids):
        assert cards.get(account_id, token)[1]["card"]["status"] == "active"
        assert len(cards.mails_to(f"batch{n}@cards.example")) == 1


def test_a_newer_change_supersedes_an_unvalidated_one_whose_card_is_detached(cards):
    account_id, token = cards.account()
    older = cards.confirmed_setup(account_id, token)
    newer = cards.confirmed_setup(account_id, token, MASTERCARD_LIKE)
    assert cards.put(account_id, token, older, CONTACT | {"email": "older@cards.example"})[0] == 202
    assert cards.put(account_id, token, newer, CONTACT | {"email": "newer@cards.example"})[0] == 202
    assert cards.get(account_id, token)[1]["pending_change"]["setup_intent_id"] == newer
    messages = sorted(cards.messages(), key=lambda m: json.loads(m["Body"])["setup_intent_id"] != older)

    for message in messages:  # the older one first
        assert cards.deliver([message]) == {"batchItemFailures": []}

    _, shown, _ = cards.get(account_id, token)
    assert shown["card"]["last4"] == "5556" and shown["pending_change"] is None
    older_pm = cards.stripe_get(f"/v1/setup_intents/{older}")["payment_method"]
    assert cards.stripe_get(f"/v1/payment_methods/{older_pm}")["customer"] is None
    assert cards.mails_to("older@cards.example") == []
    assert len(cards.mails_to("newer@cards.example")) == 1
    # submitting the superseded SetupIntent again says so, and queues nothing
    assert cards.put(account_id, token, older)[1]["status"] == "superseded"
    assert cards.messages() == []


def test_the_same_setup_intent_submitted_twice_is_one_change(cards):
    account_id, token = cards.account()
    seti = cards.confirmed_setup(account_id, token)
    assert cards.put(account_id, token, seti)[1]["status"] == "pending_validation"
    assert cards.put(account_id, token, seti)[1]["status"] == "pending_validation"
    messages = cards.messages()
    assert len(messages) == 2 and {json.loads(m["Body"])["setup_intent_id"] for m in messages} == {seti}
    assert cards.deliver(messages) == {"batchItemFailures": []}
    assert len(cards.mails_to(CONTACT["email"])) == 1
    status, again, _ = cards.put(account_id, token, seti)
    assert (status, again["status"]) == (202, "active")
    assert cards.messages() == []


# --- refusals: nothing changes --------------------------------------------------------------------------


def _nothing_changed(cards, api, account_id, token):
    assert cards.get(account_id, token)[1] == {
        "card": None,
        "pending_change": None,
        "last_failed_change": None,
        "upgrade": None,
    }
    assert cards.messages() == []
    _, events, _ = api.call("GET", f"/v1/accounts/{account_id}/events", token=token)
    assert not [e for e in events["data"] if e["action"].startswith("payment_method.")]


def test_a_declined_card_never_succeeds_so_put_is_409_and_nothing_changes(cards, api):
    account_id, token = cards.account()
    _, started, _ = cards.setup(account_id, token)
    with pytest.raises(stripe_js.StripeJsError) as declined:
        stripe_js.confirm_card_setup(
            cards.stripe.url, started["publishable_key"], started["client_secret"], stripe_js.DECLINED
        )
    assert declined.value.status == 402
    problem(cards.put(account_id, token, started["setup_intent_id"]), 409, "setup-not-succeeded")
    _nothing_changed(cards, api, account_id, token)


def test_a_card_needing_authentication_is_409_until_the_customer_completes_it(cards, api):
    account_id, token = cards.account()
    _, started, _ = cards.setup(account_id, token)
    intent = stripe_js.confirm_card_setup(
        cards.stripe.url, started["publishable_key"], started["client_secret"], stripe_js.REQUIRES_AUTHENTICATION
    )
    assert intent["status"] == "requires_action"
    body = problem(cards.put(account_id, token, started["setup_intent_id"]), 409, "setup-not-succeeded")
    assert "requires_action" in body["detail"]
    _nothing_changed(cards, api, account_id, token)

    stripe_js.complete_authentication(cards.stripe.url, started["publishable_key"], started["client_secret"])
    status, accepted, _ = cards.put(account_id, token, started["setup_intent_id"])
    assert (status, accepted["status"], accepted["card"]["last4"]) == (202, "pending_validation", "3184")


def test_an_unconfirmed_setup_intent_is_409(cards, api):
    account_id, token = cards.account()
    _, started, _ = cards.setup(account_id, token)
    problem(cards.put(account_id, token, started["setup_intent_id"]), 409, "setup-not-succeeded")
    _nothing_changed(cards, api, account_id, token)


def test_unknown_and_other_accounts_setup_intents_are_404(cards, api):
    mine, my_token = cards.account()
    theirs, their_token = cards.account(name="Other Co")
    their_seti = cards.confirmed_setup(theirs, their_token)
    cards.setup(mine, my_token)  # so that my account has a Stripe customer too

    problem(cards.put(mine, my_token, their_seti), 404, "setup-intent-not-found")
    problem(cards.put(mine, my_token, "seti_doesnotexist"), 404, "setup-intent-not-found")
    _nothing_changed(cards, api, mine, my_token)
    # an account that never started a setup has no customer, so no SetupIntent can be its own
    fresh, fresh_token = cards.account(name="Fresh Co")
    problem(cards.put(fresh, fresh_token, their_seti), 404, "setup-intent-not-found")


@pytest.mark.parametrize(
    "body",
    [
        {"billing_contact": CONTACT},
        {"setup_intent_id": "pi_123", "billing_contact": CONTACT},
        {"setup_intent_id": "seti_abc"},
        {"setup_intent_id": "seti_abc", "billing_contact": CONTACT | {"email": "not-an-address"}},
        {"setup_intent_id": "seti_abc", "billing_contact": CONTACT, "payment_method": "pm_1"},
    ],
)
def test_bad_put_bodies_are_422(cards, body):
    account_id, token = cards.account()
    status, problem_body, _ = cards.api.call("PUT", cards.path(account_id), body, token=token)
    assert (status, problem_body["code"]) == (422, "validation-failed"), problem_body


def test_card_numbers_in_a_body_are_refused_and_never_logged(cards):
    import io
    import logging

    from functions.core.logs import get_logger

    account_id, token = cards.account()
    bodies = [
        ("PUT", "", {"setup_intent_id": "seti_abc", "billing_contact": CONTACT | {"name": "4242 4242 4242 4242"}}),
        ("PUT", "", {"card": {"number": "4000002760003184", "cvc": "123"}}),
        ("POST", "/setup", {"number": "4242-4242-4242-4242"}),
    ]
    # everything billow logs while the requests run, formatted as in Lambda (JSON with every field)
    logged = io.StringIO()
    handler = logging.StreamHandler(logged)
    handler.setFormatter(get_logger().registered_formatter)
    billow_logger = logging.getLogger("billow")
    level = billow_logger.level
    billow_logger.addHandler(handler)
    billow_logger.setLevel(logging.DEBUG)
    try:
        for method, suffix, body in bodies:
            result = cards.api.call(method, cards.path(account_id, suffix), body, token=token)
            problem(result, 400, "card-data-not-accepted")
    finally:
        billow_logger.removeHandler(handler)
        billow_logger.setLevel(level)
    text = logged.getvalue()
    assert text.count('"status":400') == 3, text  # each refusal was logged...
    for digits in ("4242 4242", "4242-4242", "4000002760003184", "4242"):
        assert digits not in text  # ...without the body
    assert cards.get(account_id, token)[1] == {
        "card": None,
        "pending_change": None,
        "last_failed_change": None,
        "upgrade": None,
    }


def test_lite_accounts_have_no_card_change_but_may_set_up_the_card_of_their_upgrade(cards):
    # v4 (DESIGN §2 v4 routes): a lite account calls payment-method/setup for its upgrade (POST …/upgrade,
    # tests/integration/test_account_lifecycle.py) and reads GET payment-method for the upgrade's state;
    # changing the card on file (PUT) stays for billable accounts.
    account_id, token = cards.account(type="lite", linked=False)
    problem(cards.put(account_id, token, "seti_abc"), 403, "capability-unavailable")
    assert cards.get(account_id, token)[1] == {
        "card": None,
        "pending_change": None,
        "last_failed_change": None,
        "upgrade": None,
    }
    status, started, _ = cards.setup(account_id, token)
    assert status == 201 and started["setup_intent_id"].startswith("seti_")
    keys = {r.idempotency_key for r in cards.stripe.requests("POST", "/v1/customers")}
    assert f"customer:create:{account_id}" in keys


def test_viewers_see_the_card_but_cannot_change_it(cards, api):
    account_id, owner = cards.account()
    seti = cards.change_card(account_id, owner)
    viewer = api.member_token(account_id, sub="viewer-1", role="viewer")
    problem(cards.setup(account_id, viewer), 403, "role-insufficient")
    problem(cards.put(account_id, viewer, seti), 403, "role-insufficient")
    status, shown, _ = cards.get(account_id, viewer)
    assert (status, shown["card"]["last4"]) == (200, "4242")
    read_only = api.mint("viewer-1", "billing:read")
    problem(cards.put(account_id, read_only, seti), 403, "insufficient-scope")


# --- expiry and what other domains read -------------------------------------------------------------------


def test_an_expired_card_shows_expired_and_counts_as_no_card(cards, api):
    from functions.payments import service

    account_id, token = cards.account()
    cards.change_card(account_id, token)  # expires 12/2034
    chargeable = service.chargeable_card(account_id)
    assert chargeable is not None
    assert chargeable.customer_id == cards.customer_of(account_id)
    assert chargeable.payment_method_id.startswith("pm_") and chargeable.last4 == "4242"

    with clock.frozen(datetime(2034, 12, 31, 23, 59, tzinfo=UTC)):
        assert service.chargeable_card(account_id) is not None, "valid through the last day of its month"
    with clock.frozen(datetime(2035, 1, 1, 0, 0, tzinfo=UTC)):
        assert service.chargeable_card(account_id) is None
        assert cards.get(account_id, token)[1]["card"]["status"] == "expired"
        _, summary, _ = api.call("GET", f"/v1/accounts/{account_id}/summary", token=token)
        assert summary["payment_method"]["status"] == "expired"


def test_a_card_already_expired_is_refused_at_put(cards, api):
    account_id, token = cards.account()
    seti = cards.confirmed_setup(account_id, token, exp_month=1, exp_year=2020)  # localstripe accepts it
    problem(cards.put(account_id, token, seti), 422, "card-expired")
    _nothing_changed(cards, api, account_id, token)


def test_stripe_unreachable_is_503_and_nothing_changes(cards, api, monkeypatch):
    import socket

    from functions.core import stripe_gateway
    from functions.core.settings import get_settings, reset_settings

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    account_id, token = cards.account()
    monkeypatch.setenv("BILLOW_STRIPE_API_BASE", f"http://127.0.0.1:{closed}")
    monkeypatch.setenv("BILLOW_STRIPE_MAX_ATTEMPTS", "2")
    monkeypatch.setattr(stripe_gateway, "_sleep", lambda seconds: None)
    reset_settings()
    get_settings()
    stripe_gateway.use_client(None)
    try:
        problem(cards.setup(account_id, token), 503, "service-unavailable")
    finally:
        monkeypatch.undo()
        reset_settings()
        get_settings()  # from the suite's environment, not from inside a test Client request (its stage's)
        stripe_gateway.use_client(None)
    from functions.payments import store

    assert store.get_state(account_id) is None, "no customer recorded"
    _nothing_changed(cards, api, account_id, token)
