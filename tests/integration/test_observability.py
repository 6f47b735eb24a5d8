"""Observability (issue 20, DESIGN §9): the correlation id from an API request into the queue worker's
log lines and the e-mail it sends; the Lambda context on log lines; business metrics as EMF lines."""

from __future__ import annotations

import json
import logging
import uuid

import pytest

from functions.core.logs import get_logger, set_correlation_id
from tests.integration.payments_helpers import Payments
from tests.integration.test_payment_method import CONTACT


class Lines(logging.Handler):
    """billow's log lines as Powertools formats them (JSON), parsed."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[dict] = []
        self.setFormatter(get_logger().registered_formatter)

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))


@pytest.fixture
def log_lines():
    handler = Lines()
    target = logging.getLogger(get_logger().name)
    level = target.level
    target.setLevel(logging.INFO)  # the suite logs at WARNING; these tests read info lines
    target.addHandler(handler)
    yield handler.lines
    target.removeHandler(handler)
    target.setLevel(level)
    set_correlation_id(None)


@pytest.fixture
def pay(api, client, stripe_server, queues_and_mail):
    return Payments(api, client, stripe_server, queues_and_mail)


def _waiting(pay):
    response = pay.sqs.receive_message(
        QueueUrl=pay.queue_url,
        MaxNumberOfMessages=10,
        AttributeNames=["All"],
        MessageAttributeNames=["All"],
        VisibilityTimeout=0,
    )
    return response.get("Messages", [])


def test_a_correlation_id_set_on_an_api_request_reaches_the_worker_logs_and_the_email(pay, log_lines):
    account_id, token = pay.account()
    seti = pay.confirmed_setup(account_id, token)
    correlation = f"client-{uuid.uuid4()}"
    body = {"setup_intent_id": seti, "billing_contact": CONTACT}
    status, reply, _ = pay.api.call(
        "PUT", pay.path(account_id), body, token=token, headers={"X-Request-Id": correlation}
    )
    assert status == 202, reply
    (request_line,) = [line for line in log_lines if line["message"] == "request" and line["status"] == 202]
    assert request_line["correlation_id"] == correlation

    (message,) = _waiting(pay)
    assert message["MessageAttributes"]["correlation_id"]["StringValue"] == correlation
    set_correlation_id(None)  # the worker is another Lambda invocation: it knows only the message
    log_lines.clear()
    sent_before = len(pay.sent)
    assert pay.deliver([message]) == {"batchItemFailures": []}

    (validated,) = [line for line in log_lines if line["message"] == "card change validated"]
    assert validated["correlation_id"] == correlation and validated["account_id"] == account_id
    assert validated["function_name"] == "validate_card" and "function_request_id" in validated
    assert "cold_start" in validated
    (mail,) = pay.sent[sent_before:]
    assert mail["Destination"]["ToAddresses"] == [CONTACT["email"]]
    assert mail["Content"]["Simple"]["Headers"] == [{"Name": "X-Billow-Correlation-Id", "Value": correlation}]
    # and the outbound event the worker emitted (issue 19's outbox) carries it too
    from functions.core import outbox

    (updated,) = [e for e in outbox.events_of(account_id) if e["type"] == "payment_method.updated"]
    assert updated["correlation_id"] == correlation
    (created,) = [e for e in outbox.events_of(account_id) if e["type"] == "account.created"]
    assert created["correlation_id"] != correlation  # another request: its own id


def test_a_request_without_x_request_id_is_correlated_by_its_request_id(pay, log_lines):
    account_id, token = pay.account()
    seti = pay.confirmed_setup(account_id, token)
    status, _, headers = pay.put(account_id, token, seti)
    assert status == 202
    (message,) = _waiting(pay)
    assert message["MessageAttributes"]["correlation_id"]["StringValue"] == headers["X-Request-Id"]


def test_a_header_that_cannot_be_a_correlation_id_is_not_used(pay, log_lines):
    account_id, token = pay.account()
    seti = pay.confirmed_setup(account_id, token)
    body = {"setup_intent_id": seti, "billing_contact": CONTACT}
    status, _, headers = pay.api.call(
        "PUT", pay.path(account_id), body, token=token, headers={"X-Request-Id": "a b\tc" + "x" * 200}
    )
    assert status == 202
    (message,) = _waiting(pay)
    assert message["MessageAttributes"]["correlation_id"]["StringValue"] == headers["X-Request-Id"]


def _emf(captured: str) -> list[dict]:
    return [json.loads(line) for line in captured.splitlines() if line.startswith('{"_aws"')]


def _points(emf: list[dict], name: str) -> list[dict]:
    found = []
    for doc in emf:
        (directive,) = doc["_aws"]["CloudWatchMetrics"]
        if [m["Name"] for m in directive["Metrics"]] == [name]:
            assert directive["Namespace"] == "billow"
            (dimensions,) = directive["Dimensions"]
            found.append({key: doc[key] for key in dimensions} | {"value": doc[name]})
    return found


def test_a_payment_and_a_decline_are_emitted_as_emf(pay, capsys):
    account_id, token, _ = pay.owing(5000)
    capsys.readouterr()
    status, body, _ = pay.pay(account_id, token, {"amount": 1000})
    assert status == 201 and body["status"] == "succeeded", body
    pm = pay.new_card_pm("4000000000000341")
    status, err, _ = pay.pay(account_id, token, {"amount": 1000, "payment_method_id": pm})
    assert status == 402 and err["code"] == "card-declined"

    emf = _emf(capsys.readouterr().out)
    base = {"stage": "test", "service": "billow"}
    assert _points(emf, "Payments") == [
        base | {"outcome": "succeeded", "value": [1.0]},
        base | {"outcome": "declined", "value": [1.0]},
    ]
    assert _points(emf, "PaymentDeclines") == [base | {"decline_code": err["decline_code"], "value": [1.0]}]
    assert _points(emf, "EmailsSent") == [base | {"value": [1.0]}]  # the receipt of the payment


def test_a_refused_webhook_is_counted(pay, capsys, monkeypatch):
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", "whsec_test_billow")
    capsys.readouterr()
    body, _ = pay.signed({"id": "evt_1", "type": "payment_intent.succeeded"})
    status, _ = pay.webhook(body, "t=1,v1=00")
    assert status == 400
    assert _points(_emf(capsys.readouterr().out), "WebhooksRefused") == [
        {"stage": "test", "service": "billow", "value": [1.0]}
    ]


def _bounce(address, bounce_type="Permanent"):
    """What SES publishes for a bounce through the configuration set (SNS raw delivery to SQS)."""
    return {
        "eventType": "Bounce",
        "bounce": {
            "bounceType": bounce_type,
            "bounceSubType": "General",
            "bouncedRecipients": [{"emailAddress": address}],
            "feedbackId": f"fb-{uuid.uuid4()}",
        },
        "mail": {"destination": [address]},
    }


def _feedback(pay, *events):
    from functions.core.queues import queue_url
    from local.queue_pump import sqs_event

    url = queue_url("ses-feedback")
    for event in events:
        pay.sqs.send_message(QueueUrl=url, MessageBody=json.dumps(event))
    messages = pay.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"])["Messages"]
    arn = "arn:aws:sqs:us-east-1:123456789012:billow-test-ses-feedback"
    answer = pay.client.lambda_.invoke("ses_feedback", sqs_event(messages, arn, "us-east-1")).payload
    assert answer == {"batchItemFailures": []}


def test_a_bounce_suppresses_the_address_shows_in_the_summary_and_stops_the_mail(pay, monkeypatch):
    from functions.core.settings import get_settings

    account_id, token = pay.account()
    summary = f"/v1/accounts/{account_id}/summary"
    assert pay.api.call("GET", summary, token=token)[1]["billing_contact_suppressed"] is False
    contact = "ada@example.com"  # the billing contact api.create_account gives

    sent_before = len(pay.sent)
    _feedback(pay, _bounce(contact.upper()), _bounce("someone@else.example", "Transient"))
    (notice,) = pay.sent[sent_before:]  # the operators hear of it, once
    assert notice["Destination"]["ToAddresses"] == [get_settings().operator_email]
    assert contact.upper() in notice["Content"]["Simple"]["Subject"]["Data"]  # as SES reported it
    _feedback(pay, _bounce(contact))  # reported again: nothing new
    assert len(pay.sent) == sent_before + 1

    assert pay.api.call("GET", summary, token=token)[1]["billing_contact_suppressed"] is True
    pay.charge(account_id, 2500)  # a one-time invoice: its notice would go to the billing contact
    assert [m for m in pay.sent[sent_before + 1 :] if contact in m["Destination"]["ToAddresses"]] == []
    assert pay.mails_to(contact) == []
    from functions.core import suppressions

    assert not suppressions.is_suppressed("someone@else.example")  # a transient bounce suppresses nothing


def _contact(email):
    return {
        "name": "Billing",
        "email": email,
        "address": {"line1": "1 Main St", "city": "Springfield", "postal_code": "12345", "country": "US"},
    }


def test_a_bounce_tells_each_account_of_its_billing_contact_once_in_its_events_and_audit(pay):
    from functions.core import outbox

    bounced = "billing@acme.example"
    created = [pay.api.create_account(billing_contact=_contact(c))["id"] for c in (bounced, "Billing@ACME.example")]
    patched, moved, bystander = (pay.api.create_account()["id"] for _ in range(3))
    admin = pay.api.admin
    for account_id, email in ((patched, bounced), (moved, bounced), (moved, "other@acme.example")):
        body = {"billing_contact": _contact(email)}
        assert pay.api.call("PATCH", f"/v1/accounts/{account_id}", body, token=admin)[0] == 200
    told = sorted([*created, patched])
    every = [*told, moved, bystander]
    sequences = {a: outbox.last_sequence(a) for a in every}
    sent_before = len(pay.sent)
    bounce = _bounce(bounced)

    from functions.accounts import suppression

    def e_mail_down(message):
        raise RuntimeError("SES is down")

    with pytest.MonkeyPatch.context() as patch:  # the accounts are told, then the operators' e-mail fails:
        patch.setattr(suppression.email, "send", e_mail_down)  # SQS delivers the message again (below)
        with pytest.raises(RuntimeError):
            suppression.handle_feedback(bounce)
    assert [len(outbox.events_of(a, sequences[a])) for a in every] == [1, 1, 1, 0, 0]
    assert pay.sent[sent_before:] == []
    _feedback(pay, bounce)

    def state():
        events = {a: outbox.events_of(a, sequences[a]) for a in every}
        audit = {a: pay.api.call("GET", f"/v1/accounts/{a}/events", token=admin)[1]["data"] for a in every}
        return events, audit, pay.sent[sent_before:]

    events, audit, sent = state()
    for account_id in told:
        (event,) = events[account_id]
        assert event["type"] == "account.updated"
        assert event["data"]["object"]["id"] == account_id
        assert event["data"]["object"]["billing_contact_suppressed"] is True
        latest = audit[account_id][0]
        assert latest["action"] == "account.billing_contact_suppressed" and latest["actor_kind"] == "system"
        assert latest["after"]["kind"] == "bounce"
        summary = pay.api.call("GET", f"/v1/accounts/{account_id}/summary", token=admin)[1]
        assert summary["billing_contact_suppressed"] is True
    assert events[moved] == events[bystander] == []
    assert {row["action"] for a in (moved, bystander) for row in audit[a]}.isdisjoint(
        {"account.billing_contact_suppressed"}
    )
    (notice,) = sent  # one e-mail to the operators, listing the three accounts
    text = notice["Content"]["Simple"]["Body"]["Text"]["Data"]
    assert [a for a in every if a in text] == told
    assert "3 account(s)" in text

    _feedback(pay, bounce)  # SQS redelivers, or SES reports it again: nothing more
    _feedback(pay, _bounce(bounced.upper()))
    assert state() == (events, audit, sent)

    from functions.core.suppressions import SuppressionModel

    SuppressionModel(bounced).delete()  # an operator lifts it (docs/operations.md), then it bounces again
    _feedback(pay, _bounce(bounced))
    again, _, sent = state()
    assert {a: [e["type"] for e in again[a]] for a in told} == {a: ["account.updated"] * 2 for a in told}
    assert len(sent) == 2
