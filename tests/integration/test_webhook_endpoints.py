"""Webhook endpoints' operator routes (DESIGN §2 v4 routes, §7): create (secret once, KMS-encrypted at rest),
list, read, change, delete, rotate; bad input is 422 with its code and writes nothing; SSRF on DNS answers."""

from __future__ import annotations

import json
import uuid

import boto3
import pytest

ENDPOINTS = "/v1/webhook-endpoints"


def post(api, path, body, key=None, token=None):
    headers = {"Idempotency-Key": key or str(uuid.uuid4())}
    return api.call("POST", path, body, token=token or api.admin, headers=headers)


def table_items():
    from functions.core.tables import table_name

    return boto3.client("dynamodb", region_name="us-east-1").scan(TableName=table_name("webhooks"))["Items"]


def webhook_audit():
    from functions.core.tables import table_name

    client = boto3.client("dynamodb", region_name="us-east-1")
    return client.query(
        TableName=table_name("audit"),
        KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": {"S": "webhooks"}},
    )["Items"]


def test_create_shows_the_secret_once_stores_it_encrypted_and_audits(api, webhooks):
    status, created, _ = post(api, ENDPOINTS, {"url": "https://hooks.example.com/billow", "event_types": ["*"],
                                               "description": "CRM"})  # fmt: skip
    assert status == 201, created
    assert created["secret"].startswith("whsec_") and created["enabled"] is True
    assert created["id"].startswith("we_") and created["event_types"] == ["*"]
    status, one, _ = api.call("GET", f"{ENDPOINTS}/{created['id']}", token=api.admin)
    assert status == 200 and "secret" not in one and one["url"] == "https://hooks.example.com/billow"
    status, listed, _ = api.call("GET", ENDPOINTS, token=api.admin)
    assert [e["id"] for e in listed["data"]] == [created["id"]] and "secret" not in listed["data"][0]
    raw = json.dumps(table_items())
    assert created["secret"] not in raw and created["secret"].removeprefix("whsec_") not in raw
    (item,) = table_items()
    (stored,) = json.loads(item["secrets"]["S"])
    from functions.events import webhook_secrets

    assert webhook_secrets.decrypt(created["id"], stored["ciphertext"]) == created["secret"]
    actions = [a["action"]["S"] for a in webhook_audit()]
    assert actions == ["webhook_endpoint.created"]
    assert created["secret"] not in json.dumps(webhook_audit())


def test_a_replayed_create_returns_the_same_endpoint_without_its_secret(api, webhooks):
    body = {"url": "https://hooks.example.com/a", "event_types": ["invoice.issued", "payment.failed"]}
    first = post(api, ENDPOINTS, body, key="k-1")
    again = post(api, ENDPOINTS, body, key="k-1")
    assert first[0] == again[0] == 201
    assert again[1]["id"] == first[1]["id"] and again[2].get("Idempotent-Replayed") == "true"
    assert first[1]["secret"] and again[1]["secret"] is None
    assert len(table_items()) == 1
    other = post(api, ENDPOINTS, {**body, "description": "x"}, key="k-1")
    assert other[0] == 422 and other[1]["code"] == "idempotency-key-reuse"


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("https://loopback.example.com/h", "webhook-url-private-address"),
        ("https://metadata.example.com/h", "webhook-url-private-address"),
        ("https://private.example.com/h", "webhook-url-private-address"),
        ("https://mixed.example.com/h", "webhook-url-private-address"),
        ("https://mapped.example.com/h", "webhook-url-private-address"),
        ("https://ula.example.com/h", "webhook-url-private-address"),
        ("https://v6loop.example.com/h", "webhook-url-private-address"),
        ("https://nat64.example.com/h", "webhook-url-private-address"),
        ("https://169.254.169.254/latest", "webhook-url-private-address"),
        ("https://[::ffff:169.254.169.254]/x", "webhook-url-private-address"),
        ("https://127.0.0.1/h", "webhook-url-private-address"),
        ("https://nowhere.example.com/h", "webhook-url-unresolvable"),
        ("ftp://hooks.example.com/h", "webhook-url-not-https"),
        ("http://hooks.example.com/h", "webhook-url-not-https"),
        ("http://localhost:8422/h", "webhook-url-not-https"),
        ("https://user:pw@hooks.example.com/h", "webhook-url-invalid"),
        ("https://hooks.example.com:99999/h", "webhook-url-invalid"),
    ],
)
def test_unsafe_urls_are_422_with_their_code_and_nothing_written(api, webhooks, url, code):
    status, problem, _ = post(api, ENDPOINTS, {"url": url, "event_types": ["*"]})
    assert status == 422 and problem["code"] == code, problem
    assert table_items() == [] and webhook_audit() == []


def test_a_deployed_stage_refuses_http_to_the_local_receiver(api, webhooks, monkeypatch):
    from functions.events import ssrf

    status, _created, _ = post(api, ENDPOINTS, {"url": "http://127.0.0.1:8422/hooks", "event_types": ["*"]})
    assert status == 201  # the test stage is local: the receiver is allowed
    monkeypatch.setattr(ssrf, "local_allowed", lambda: False)
    status, problem, _ = post(api, ENDPOINTS, {"url": "http://127.0.0.1:8422/hooks", "event_types": ["*"]})
    assert status == 422 and problem["code"] == "webhook-url-not-https"
    assert len(table_items()) == 1


@pytest.mark.parametrize(
    ("types", "code"),
    [
        (["invoice.issued", "invoice.exploded"], "unknown-event-type"),
        (["*", "invoice.issued"], "unknown-event-type"),
        (["invoice.issued"] * 500, "too-many-event-types"),
        ([f"t{n}" for n in range(10_000)], "too-many-event-types"),
        ([], "validation-failed"),
    ],
)
def test_bad_event_types_are_422_and_nothing_written(api, webhooks, types, code):
    status, problem, _ = post(api, ENDPOINTS, {"url": "https://hooks.example.com/h", "event_types": types})
    assert status == 422 and problem["code"] == code, problem
    assert table_items() == [] and webhook_audit() == []


def test_change_delete_and_only_operators(api, webhooks):
    _, created, _ = post(api, ENDPOINTS, {"url": "https://hooks.example.com/h", "event_types": ["*"]})
    path = f"{ENDPOINTS}/{created['id']}"
    status, changed, _ = api.call("PATCH", path, {"event_types": ["payment.failed"], "enabled": False}, token=api.admin)
    assert status == 200 and changed["event_types"] == ["payment.failed"] and changed["enabled"] is False
    status, problem, _ = api.call("PATCH", path, {"url": "https://metadata.example.com/"}, token=api.admin)
    assert status == 422 and problem["code"] == "webhook-url-private-address"
    status, back, _ = api.call("GET", path, token=api.admin)
    assert back["url"] == "https://hooks.example.com/h"
    customer = api.mint("someone", "billing:read", "billing:write")
    assert api.call("GET", ENDPOINTS, token=customer)[0] == 403
    assert post(api, ENDPOINTS, {"url": "https://hooks.example.com/h", "event_types": ["*"]}, token=customer)[0] == 403
    assert api.call("DELETE", path, token=api.admin)[0] == 200
    status, problem, _ = api.call("GET", path, token=api.admin)
    assert status == 404 and problem["code"] == "webhook-endpoint-not-found"
    actions = sorted(a["action"]["S"] for a in webhook_audit())
    assert actions == ["webhook_endpoint.created", "webhook_endpoint.deleted", "webhook_endpoint.updated"]


def test_rotation_keeps_at_most_two_secrets_and_the_old_one_for_24_hours(api, webhooks):
    from functions.events import webhook_endpoints
    from functions.events import webhook_store as store

    _, created, _ = post(api, ENDPOINTS, {"url": "https://hooks.example.com/h", "event_types": ["*"]})
    path = f"{ENDPOINTS}/{created['id']}/rotate-secret"
    status, rotated, _ = post(api, path, None)
    assert status == 200 and rotated["secret"].startswith("whsec_") and rotated["secret"] != created["secret"]
    assert rotated["previous_secret_expires_at"] is not None
    endpoint = store.get_endpoint(created["id"])
    now = max(s.expires_at or 0 for s in endpoint.secrets) - 24 * 3600
    assert webhook_endpoints.signing_secrets(endpoint, now) == [rotated["secret"], created["secret"]]
    assert webhook_endpoints.signing_secrets(endpoint, now + 24 * 3600 + 1) == [rotated["secret"]]
    _, third, _ = post(api, path, None)
    endpoint = store.get_endpoint(created["id"])
    assert len(endpoint.secrets) == 2
    assert webhook_endpoints.signing_secrets(endpoint, now) == [third["secret"], rotated["secret"]]
    assert (
        post(api, f"{ENDPOINTS}/we_aaaaaaaaaaaaaaaaaaaa/rotate-secret", None)[1]["code"] == "webhook-endpoint-not-found"
    )
