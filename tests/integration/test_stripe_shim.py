"""The local Stripe side (local/stripe_shim.py): localstripe on loopback, in memory, and the shim's
copy of Stripe's idempotent requests."""

from __future__ import annotations

import os
import socket
import uuid

import pytest
import requests

from local.stripe_shim import StripeServer

SECRET = {"Authorization": "Bearer sk_test_billow_tests"}


def post(server, path, data, key=None, auth=SECRET):
    headers = dict(auth) | ({"Idempotency-Key": key} if key else {})
    return requests.post(f"{server.url}{path}", data=data, headers=headers, timeout=5)


def customers_with(server, email):
    r = requests.get(f"{server.url}/v1/customers", params={"email": email}, headers=SECRET, timeout=5)
    return r.json()["data"]


def test_a_repeated_key_replays_the_first_response_and_creates_nothing_more(stripe_server):
    email, key = f"replay-{uuid.uuid4()}@x.example", str(uuid.uuid4())
    first = post(stripe_server, "/v1/customers", {"email": email, "metadata[a]": "1"}, key)
    again = post(stripe_server, "/v1/customers", {"metadata[a]": "1", "email": email}, key)  # other order
    assert first.status_code == again.status_code == 200
    assert again.content == first.content
    assert again.headers["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first.headers
    assert again.headers["Idempotency-Key"] == key
    assert [c["id"] for c in customers_with(stripe_server, email)] == [first.json()["id"]]


def test_the_same_key_with_other_parameters_is_an_idempotency_error(stripe_server):
    key = str(uuid.uuid4())
    assert post(stripe_server, "/v1/customers", {"name": "one"}, key).status_code == 200
    other = post(stripe_server, "/v1/customers", {"name": "two"}, key)
    assert other.status_code == 400
    assert other.json()["error"]["type"] == "idempotency_error"
    elsewhere = post(stripe_server, "/v1/setup_intents", {"usage": "off_session"}, key)
    assert (elsewhere.status_code, elsewhere.json()["error"]["type"]) == (400, "idempotency_error")


def test_without_a_key_or_with_another_key_or_api_key_each_request_runs(stripe_server):
    email = f"fresh-{uuid.uuid4()}@x.example"
    post(stripe_server, "/v1/customers", {"email": email})
    post(stripe_server, "/v1/customers", {"email": email})
    key = str(uuid.uuid4())
    post(stripe_server, "/v1/customers", {"email": email}, key)
    post(stripe_server, "/v1/customers", {"email": email}, key, auth={"Authorization": "Bearer sk_test_other_account"})
    assert len(customers_with(stripe_server, email)) == 4


def test_a_request_refused_by_validation_is_not_saved_so_the_key_can_be_retried(stripe_server):
    key = str(uuid.uuid4())
    refused = post(stripe_server, "/v1/customers", {"name": "x", "no_such_param": "1"}, key)
    assert refused.status_code == 400
    fixed = post(stripe_server, "/v1/customers", {"name": "x"}, key)
    assert fixed.status_code == 200 and "Idempotent-Replayed" not in fixed.headers


def test_an_error_from_a_started_request_is_saved_and_replayed(stripe_server):
    customer = post(stripe_server, "/v1/customers", {"name": "declines"}).json()["id"]
    intent = post(stripe_server, "/v1/setup_intents", {"customer": customer}).json()
    card = {
        "payment_method_data[type]": "card",
        "payment_method_data[card][number]": "4000000000000002",
        "payment_method_data[card][exp_month]": "12",
        "payment_method_data[card][exp_year]": "2034",
        "payment_method_data[card][cvc]": "123",
    }
    key = str(uuid.uuid4())
    declined = post(stripe_server, f"/v1/setup_intents/{intent['id']}/confirm", card, key)
    replay = post(stripe_server, f"/v1/setup_intents/{intent['id']}/confirm", card, key)
    assert declined.status_code == replay.status_code == 402
    assert replay.headers["Idempotent-Replayed"] == "true" and replay.content == declined.content


def test_get_ignores_the_idempotency_key(stripe_server):
    customer = post(stripe_server, "/v1/customers", {"name": "before"}).json()["id"]
    key = str(uuid.uuid4())
    get = {"Idempotency-Key": key} | SECRET
    assert (
        requests.get(f"{stripe_server.url}/v1/customers/{customer}", headers=get, timeout=5).json()["name"] == "before"
    )
    post(stripe_server, f"/v1/customers/{customer}", {"name": "after"})
    again = requests.get(f"{stripe_server.url}/v1/customers/{customer}", headers=get, timeout=5)
    assert again.json()["name"] == "after" and "Idempotent-Replayed" not in again.headers


def test_requests_are_logged_with_their_key_and_replays(stripe_server):
    key = str(uuid.uuid4())
    post(stripe_server, "/v1/customers", {"name": "logged"}, key)
    post(stripe_server, "/v1/customers", {"name": "logged"}, key)
    logged = [r for r in stripe_server.requests("POST", "/v1/customers") if r.idempotency_key == key]
    assert [(r.status, r.replayed) for r in logged] == [(200, False), (200, True)]


def test_it_listens_on_loopback_only_and_writes_no_state_file(tmp_path):
    state_file = "/tmp/localstripe.pickle"
    before = os.stat(state_file).st_mtime_ns if os.path.exists(state_file) else None
    server = StripeServer().start()
    try:
        assert server.host == "127.0.0.1"
        assert post(server, "/v1/customers", {"name": "no disk"}).status_code == 200
        post(server, "/v1/customers", {"name": "still no disk"})
    finally:
        server.stop()
    after = os.stat(state_file).st_mtime_ns if os.path.exists(state_file) else None
    assert after == before
    with pytest.raises(OSError):  # the port is released: nothing answers any more
        socket.create_connection(("127.0.0.1", server.port), timeout=1).close()


def test_a_port_in_use_fails_at_construction(stripe_server):
    with pytest.raises(OSError):
        StripeServer(port=stripe_server.port)
