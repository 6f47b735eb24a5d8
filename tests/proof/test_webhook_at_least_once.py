"""Proof (issue 19): webhook delivery is at least once — events published twice and out of order, an
endpoint that flaps, the deliverer crashing after the POST and before its record: every event reaches the
receiver with a valid signature, none is lost; duplicates happen and carry the same `webhook-id`, so a
receiver that dedupes on it and orders by `sequence` rebuilds the exact history."""

from __future__ import annotations

import random
import uuid

from tests.integration.webhook_helpers import event, pump

N = 12


def test_duplicated_reordered_and_flapping_deliveries_lose_nothing(api, webhooks, queues_and_mail, monkeypatch):
    from functions.events import service
    from functions.events import webhook_store as store

    status, endpoint, _ = api.call(
        "POST", "/v1/webhook-endpoints", {"url": webhooks.url, "event_types": ["*"]}, token=api.admin,
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )  # fmt: skip
    assert status == 201
    webhooks.secrets.append(endpoint["secret"])
    # the endpoint flaps: every other answer fails (500, 503, 502 in turn)
    webhooks.then(*["500", "ok", "503", "ok", "502", "ok"] * 4)
    # the deliverer dies twice after its POST, before recording it (a crash between delivery and record)
    crashes = {"left": 2}
    save = store.save_attempt

    def crashing_save(record):
        if record.status == "delivered" and crashes["left"] > 0:
            crashes["left"] -= 1
            raise ConnectionError("the worker died here")
        return save(record)

    monkeypatch.setattr(store, "save_attempt", crashing_save)
    events = [event(n, "payment.succeeded", "acct_bbbbbbbbbbbbbbbbbbbb") for n in range(1, N + 1)]
    published = events + events  # the publisher's own at-least-once: every event fanned out twice
    random.Random(19).shuffle(published)  # and in no order
    for e in published:
        service.fan_out(e)

    def all_in() -> bool:
        return {r["id"] for r in webhooks.valid()} == {e["id"] for e in events}

    outcomes = pump(queues_and_mail, seconds=60, until=all_in)
    assert all_in(), outcomes
    assert crashes["left"] == 0 and outcomes.count("raised") == 2
    got = webhooks.valid()
    assert len(got) > N  # duplicates happened (the crashes' retries, the double fan-out's racing copies)
    for r in got:
        assert r["headers"]["webhook-id"] == r["id"]
    deduped = {r["id"]: r["event"] for r in got}
    assert sorted(deduped.values(), key=lambda e: e["sequence"]) == events  # the receiver rebuilds the history
    assert [e["sequence"] for e in sorted(deduped.values(), key=lambda e: e["sequence"])] == list(range(1, N + 1))
    for e in events:  # every delivery ends delivered, whatever the order its copies ran in
        assert store.get_delivery(e["id"], endpoint["id"]).status == "delivered"
