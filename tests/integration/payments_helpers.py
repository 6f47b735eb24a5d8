"""GIVEN/WHEN helpers of the payment tests: accounts owing money, a card on file, Stripe.js's card
payment method, the webhook as Stripe delivers it (signed, from the Stripe side's event list)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid

import requests
from moto.core import DEFAULT_ACCOUNT_ID

from functions.core import ledger
from functions.payments import store as payment_store
from local import stripe_js
from local.queue_pump import sqs_event
from tests.integration.test_payment_method import Cards

SK = "sk_test_billow_tests"
WEBHOOK_SECRET = "whsec_test_billow"


class Payments(Cards):
    def owing(self, *amounts, card=True, **overrides):
        """An account with a member token, one open One-time invoice per amount (oldest first), and
        (by default) an active card on file."""
        account_id, token = self.account(**overrides)
        invoices = [self.charge(account_id, amount) for amount in amounts]
        if card:
            self.change_card(account_id, token)
        return account_id, token, invoices

    def confirmed_setup_3ds(self, account_id, token):
        """A 3-D Secure card saved through its authentication challenge (setup succeeds)."""
        status, started, _ = self.setup(account_id, token)
        assert status == 201, started
        intent = stripe_js.confirm_card_setup(
            self.stripe.url, started["publishable_key"], started["client_secret"], stripe_js.REQUIRES_AUTHENTICATION
        )
        if intent["status"] == "requires_action":
            intent = stripe_js.complete_authentication(
                self.stripe.url, started["publishable_key"], started["client_secret"]
            )
        assert intent["status"] == "succeeded", intent
        return started["setup_intent_id"]

    def charge(self, account_id, amount):
        status, inv, _ = self.api.call(
            "POST",
            f"/v1/accounts/{account_id}/charges",
            {"description": "Support plan", "amount": amount},
            token=self.api.admin,
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )
        assert status == 201, inv
        return inv["id"]

    def pay(self, account_id, token, body, key=None):
        return self.api.call(
            "POST",
            f"/v1/accounts/{account_id}/payments",
            body,
            token=token,
            headers={"Idempotency-Key": key or str(uuid.uuid4())},
        )

    def paid(self, *amounts, pay_amount):
        """An account owing `amounts` that paid `pay_amount` by its card on file: (account, token,
        invoices, the succeeded payment's row)."""
        from functions.payments import store as payment_store

        account_id, token, invoices = self.owing(*amounts)
        status, body, _ = self.pay(account_id, token, {"amount": pay_amount})
        assert status == 201 and body["status"] == "succeeded", body
        return account_id, token, invoices, payment_store.get_payment(account_id, body["id"])

    def collection_messages(self):
        from functions.core.queues import queue_url

        response = self.sqs.receive_message(
            QueueUrl=queue_url("collections"), MaxNumberOfMessages=10, AttributeNames=["All"], VisibilityTimeout=0
        )
        return response.get("Messages", [])

    def deliver_collections(self, messages):
        from functions.core.queues import queue_url

        arn = f"arn:aws:sqs:us-east-1:{DEFAULT_ACCOUNT_ID}:billow-test-collections"
        answer = self.client.lambda_.invoke("collect", sqs_event(messages, arn, "us-east-1")).payload
        failed = {f["itemIdentifier"] for f in answer["batchItemFailures"]}
        done = [m for m in messages if m["MessageId"] not in failed]
        if done:
            self.sqs.delete_message_batch(
                QueueUrl=queue_url("collections"),
                Entries=[{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(done)],
            )
        return answer

    def drain(self):
        """Deliver every collections message (and those the collector sends meanwhile); returns how many."""
        total = 0
        while messages := self.collection_messages():
            assert self.deliver_collections(messages) == {"batchItemFailures": []}
            total += len(messages)
        return total

    def intents(self):
        """PaymentIntents created (not their cancels or confirmations)."""
        return len([r for r in self.stripe.requests("POST", "/v1/payment_intents") if r.path == "/v1/payment_intents"])

    def collection_payments(self, account_id):
        rows = payment_store.all_payments(account_id)
        return [p for p in rows if p.source == "off_session"]

    def balance(self, account_id):
        return ledger.get_balance(account_id)

    def invoice(self, account_id, invoice_id):
        return ledger.get_invoice(account_id, invoice_id)

    def audit_ok(self, account_id):
        result = ledger.audit_account(account_id)
        assert result.problems == [], result.problems
        return result

    def new_card_pm(self, number=stripe_js.SUCCEEDS):
        """A payment method as the console's Stripe.js creates it (publishable key), attached to nobody."""
        return stripe_js.create_payment_method(self.stripe.url, "pk_test_billow_tests", number)

    def stripe_post(self, path, data):
        r = requests.post(f"{self.stripe.url}{path}", data=data, headers={"Authorization": f"Bearer {SK}"}, timeout=5)
        return r.status_code, r.json()

    def events_for(self, object_id, event_type=None):
        """Stripe's events about one object (payment intent, charge), oldest first."""
        found, data, after = [], [], ""
        while True:  # every page: the session's Stripe side holds every test's events
            page = self.stripe_get(f"/v1/events?limit=100{after}")
            data += page["data"]
            if not page.get("has_more") or not page["data"]:
                break
            after = f"&starting_after={page['data'][-1]['id']}"
        for event in data:
            obj = event["data"]["object"]
            ids = {obj.get("id"), obj.get("payment_intent"), obj.get("charge")}
            if object_id in ids and (event_type is None or event["type"] == event_type):
                found.append(event)
        return sorted(found, key=lambda e: e["created"])

    def signed(self, event, secret=WEBHOOK_SECRET, at=None):
        body = json.dumps(event).encode()
        at = at or int(time.time())
        signature = hmac.new(secret.encode(), b"%d.%s" % (at, body), hashlib.sha256).hexdigest()
        return body, f"t={at},v1={signature}"

    def deliver_event(self, event, **kwargs):
        body, signature = self.signed(event, **kwargs)
        return self.webhook(body, signature)

    def webhook(self, body, signature):
        r = self.client.http.post(
            "/v1/webhooks/stripe",
            headers={"Content-Type": "application/json", "Stripe-Signature": signature},
            body=body,
        )
        return r.status_code, json.loads(r.body) if r.body else None
