"""The webhook deliverer (DESIGN §7): fan-out to subscribed endpoints, Standard Webhooks signatures (two
during a rotation), retries until the third attempt succeeds, failures that never stick the queue (500,
hang, redirect, huge body), SSRF checked again at delivery on the DNS answers, the pinned address, the
endpoint disabled after 5 days of failures with an e-mail to operators, redelivery, the deliveries route."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

from functions.events.signing import verify
from tests.integration.webhook_helpers import FAKE_DNS, event, pump

ENDPOINTS = "/v1/webhook-endpoints"


def register(api, url, types=("*",)):
    status, created, _ = api.call(
        "POST", ENDPOINTS, {"url": url, "event_types": list(types)}, token=api.admin,
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )  # fmt: skip
    assert status == 201, created
    return created


def attempts(api, endpoint_id):
    status, page, _ = api.call("GET", f"{ENDPOINTS}/{endpoint_id}/deliveries", token=api.admin)
    assert status == 200, page
    return page["data"]


def test_an_event_reaches_each_subscribed_endpoint_signed_and_the_attempt_is_listed(api, webhooks, queues_and_mail):
    from functions.events import service

    everything = register(api, webhooks.url)
    webhooks.secrets.append(everything["secret"])
    register(api, "https://hooks.example.com/only-payments", ["payment.failed"])
    disabled = register(api, webhooks.url, ["invoice.issued"])
    api.call("PATCH", f"{ENDPOINTS}/{disabled['id']}", {"enabled": False}, token=api.admin)
    sent = event(1)
    assert service.fan_out(sent) == 1  # the payments-only and the disabled endpoint are not sent it
    assert pump(queues_and_mail, until=lambda: len(webhooks.received) >= 1) == ["delivered"]
    (got,) = webhooks.received
    assert got["signature_valid"] and got["event"] == sent and got["headers"]["webhook-id"] == sent["id"]
    assert got["headers"]["webhook-signature"].startswith("v1,") and " " not in got["headers"]["webhook-signature"]
    (attempt,) = attempts(api, everything["id"])
    assert (attempt["event_id"], attempt["attempt"], attempt["status"]) == (sent["id"], 1, "delivered")
    assert attempt["status_code"] == 204 and attempt["duration_ms"] >= 0 and attempt["error"] is None
    assert attempts(api, disabled["id"]) == []


def test_a_receiver_answering_500_twice_gets_the_event_on_the_third_attempt(api, webhooks, queues_and_mail):
    from functions.events import service

    endpoint = register(api, webhooks.url)
    webhooks.secrets.append(endpoint["secret"])
    webhooks.fail_next(2, 500)
    started = time.monotonic()
    service.fan_out(event(2))
    outcomes = pump(queues_and_mail, until=lambda: len(webhooks.received) >= 1)
    assert outcomes == ["failed", "failed", "delivered"]
    assert time.monotonic() - started >= 1.5  # each retry waited its (1 s in tests) delay
    assert webhooks.requests == 3 and len(webhooks.valid()) == 1
    listed = attempts(api, endpoint["id"])
    assert [(a["attempt"], a["status"], a["status_code"]) for a in listed] == [
        (3, "delivered", 204), (2, "failed", 500), (1, "failed", 500),
    ]  # fmt: skip
    assert all("body" not in a for a in listed)


def test_hang_redirect_and_huge_body_are_failed_attempts_then_retried(api, webhooks, queues_and_mail):
    from functions.events import service

    endpoint = register(api, webhooks.url)
    webhooks.secrets.append(endpoint["secret"])
    webhooks.then("hang", "redirect", "huge")
    service.fan_out(event(3))
    outcomes = pump(queues_and_mail, seconds=40, until=lambda: len(webhooks.received) >= 1)
    assert outcomes == ["failed", "failed", "failed", "delivered"]
    listed = {a["attempt"]: a for a in attempts(api, endpoint["id"])}
    assert listed[1]["error"] == "timeout" and listed[1]["status_code"] is None
    assert 1900 <= listed[1]["duration_ms"] < 3900  # the (2 s in tests) timeout, not the 4 s hang
    assert (listed[2]["error"], listed[2]["status_code"]) == ("redirect", 302)
    assert webhooks.requests == 4  # the redirect to the metadata address was not followed
    assert (listed[3]["error"], listed[3]["status_code"]) == ("http-500", 500)
    assert listed[3]["duration_ms"] < 1900  # 64 MB offered, a few KB read
    assert listed[4]["status"] == "delivered"


def test_during_a_rotation_both_secrets_sign(api, webhooks, queues_and_mail):
    from functions.events import service

    endpoint = register(api, webhooks.url)
    webhooks.secrets.append(endpoint["secret"])
    status, rotated, _ = api.call(
        "POST", f"{ENDPOINTS}/{endpoint['id']}/rotate-secret", token=api.admin, headers={"Idempotency-Key": "r1"}
    )
    assert status == 200
    service.fan_out(event(4))
    pump(queues_and_mail, until=lambda: len(webhooks.received) >= 1)
    (got,) = webhooks.received
    body, headers = _raw(got)
    assert len(headers["webhook-signature"].split(" ")) == 2
    assert verify(endpoint["secret"], body, headers) == got["event"]
    assert verify(rotated["secret"], body, headers) == got["event"]


def _raw(got):
    import json

    return json.dumps(got["event"], sort_keys=True, separators=(",", ":")), dict(got["headers"])


def test_ssrf_is_checked_again_at_delivery_on_the_dns_answer(api, webhooks, queues_and_mail, monkeypatch):
    from functions.events import service

    endpoint = register(api, "https://hooks.example.com/h")
    monkeypatch.setitem(FAKE_DNS, "hooks.example.com", ["169.254.169.254"])  # the name now points inside
    service.fan_out(event(5))
    outcomes = pump(queues_and_mail, seconds=3)
    assert outcomes[0] == "failed"
    first = next(a for a in attempts(api, endpoint["id"]) if a["attempt"] == 1)
    assert first["error"] == "unsafe-address" and first["status_code"] is None


def test_the_connection_goes_to_the_checked_address_with_the_name_in_host(webhooks):
    from functions.events.ssrf import Target
    from functions.events.webhook_http import post

    seen = {}
    original = webhooks._take

    def spy(body, headers):
        seen.update(headers)
        return original(body, headers)

    webhooks._take = spy
    # `pinned.invalid` resolves nowhere: the POST reached the receiver only through the checked address
    target = Target("http", "pinned.invalid", webhooks.port, "/hooks", "127.0.0.1")
    result = post(target, b"{}", {"webhook-id": "evt_x"}, timeout=2)
    assert result.status_code == 400  # answered (unsigned, so refused by the receiver)
    assert seen["host"] == f"pinned.invalid:{webhooks.port}"


def test_an_endpoint_failing_for_five_days_is_disabled_and_operators_are_emailed(api, webhooks, queues_and_mail):
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    from functions.core import clock
    from functions.core.settings import get_settings
    from functions.events import deliverer, service
    from functions.events import webhook_store as store

    endpoint = register(api, webhooks.url)
    webhooks.fail_next(10, 503)
    t0 = datetime(2026, 12, 1, tzinfo=UTC)
    with clock.frozen(t0):
        service.fan_out(event(6))
        assert deliverer.handle(deliverer.message(event(6), endpoint["id"])) == "failed"
    assert store.get_endpoint(endpoint["id"]).failing_since == int(t0.timestamp())
    with clock.frozen(datetime(2026, 12, 6, 0, 0, 1, tzinfo=UTC)):
        assert deliverer.handle(deliverer.message(event(7), endpoint["id"])) == "failed"
        assert deliverer.handle(deliverer.message(event(8), endpoint["id"])) == "abandoned"
    status, now, _ = api.call("GET", f"{ENDPOINTS}/{endpoint['id']}", token=api.admin)
    assert status == 200 and now["enabled"] is False and "5.0 days" in now["disabled_reason"]
    operator = get_settings().operator_email
    mails = [m for m in ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages if operator in str(m.destinations)]
    assert len(mails) == 1 and endpoint["id"] in mails[0].subject
    _status, enabled, _ = api.call("PATCH", f"{ENDPOINTS}/{endpoint['id']}", {"enabled": True}, token=api.admin)
    assert enabled["enabled"] is True and enabled["failing_since"] is None and enabled["disabled_reason"] is None


def test_redeliver_sends_again_and_a_disabled_or_unknown_target_is_refused(api, webhooks, queues_and_mail):
    from functions.events import service

    endpoint = register(api, webhooks.url)
    webhooks.secrets.append(endpoint["secret"])
    sent = event(9)
    service.fan_out(sent)
    pump(queues_and_mail, until=lambda: len(webhooks.received) >= 1)
    path = f"/v1/events/{sent['id']}/redeliver"
    status, answer, _ = api.call("POST", path, {}, token=api.admin, headers={"Idempotency-Key": "re-1"})
    assert status == 202 and answer == {"event_id": sent["id"], "endpoint_ids": [endpoint["id"]]}
    pump(queues_and_mail, until=lambda: len(webhooks.received) >= 2)
    assert [r["id"] for r in webhooks.valid()] == [sent["id"], sent["id"]]
    assert [a["attempt"] for a in attempts(api, endpoint["id"])] == [2, 1]
    unknown = api.call("POST", "/v1/events/evt_zzzzzzzzzzzzzzzzzzzz/redeliver", {}, token=api.admin,
                       headers={"Idempotency-Key": "re-2"})  # fmt: skip
    assert unknown[0] == 404 and unknown[1]["code"] == "event-not-found"
    api.call("PATCH", f"{ENDPOINTS}/{endpoint['id']}", {"enabled": False}, token=api.admin)
    refused = api.call("POST", path, {"endpoint_id": endpoint["id"]}, token=api.admin,
                       headers={"Idempotency-Key": "re-3"})  # fmt: skip
    assert refused[0] == 409 and refused[1]["code"] == "webhook-endpoint-disabled"


def test_a_deleted_endpoint_gets_nothing_more(api, webhooks, queues_and_mail):
    from functions.events import service

    endpoint = register(api, webhooks.url)
    service.fan_out(event(10))
    api.call("DELETE", f"{ENDPOINTS}/{endpoint['id']}", token=api.admin)
    assert pump(queues_and_mail, seconds=3) == ["endpoint-gone"]
    assert webhooks.requests == 0


def test_the_publisher_fans_out_what_it_put_on_the_bus_and_retries_what_sqs_refused(
    api, webhooks, queues_and_mail, outbound, monkeypatch
):
    from functions.events import service as webhook_service

    endpoint = register(api, webhooks.url, ["account.created"])
    webhooks.secrets.append(endpoint["secret"])
    sent = []
    real = webhook_service.fan_out

    def sqs_down_once(event):
        if not sent:
            sent.append("refused")
            raise ConnectionError("SQS did not answer")
        return real(event)

    monkeypatch.setattr(webhook_service, "fan_out", sqs_down_once)
    account = api.create_account()
    bus = outbound.published() + outbound.published()
    # the put succeeded, the fan-out did not: the stream sent the record again, so the bus got it twice
    assert [e["account_id"] for e in bus if e["type"] == "account.created"] == [account["id"]] * 2
    assert sent == ["refused"]
    pump(queues_and_mail, until=lambda: len(webhooks.valid()) >= 1)
    (got,) = webhooks.valid()
    assert (got["type"], got["account_id"]) == ("account.created", account["id"])
