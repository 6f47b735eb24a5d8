"""Outbound events (DESIGN §7): each change writes exactly its event, in its transaction, with the next
sequence of its account; the publisher puts every event on the EventBridge bus (moto), at least once."""

from __future__ import annotations

import uuid

from functions.core import ids


def _post(api, account_id, kind, body):
    headers = {"Idempotency-Key": str(uuid.uuid4())}
    status, data, _ = api.call("POST", f"/v1/accounts/{account_id}/{kind}", body, token=api.admin, headers=headers)
    assert status == 201, data
    return data


def test_account_created_is_the_first_event_of_the_account_and_reaches_the_bus(api, outbound):
    account = api.create_account()
    (event,) = outbound.of(account["id"])
    assert event["type"] == "account.created" and event["sequence"] == 1
    assert event["account_id"] == account["id"] and event["api_version"] == "v1"
    assert ids.is_outbound_event_id(event["id"]) and not ids.is_id(event["id"], "evt")
    assert event["data"]["object"]["id"] == account["id"] and event["data"]["object"]["number"] == account["number"]
    envelopes = outbound.publish()
    assert [(e["source"], e["detail-type"], e["detail"]) for e in envelopes] == [("billow", "account.created", event)]
    assert outbound.publish() == []  # nothing new: nothing published again


def test_a_charge_and_a_credit_write_their_invoice_events_with_gapless_sequences(api, outbound):
    account = api.create_account()
    charge = _post(api, account["id"], "charges", {"description": "Overage", "amount": 1250})
    credit = _post(api, account["id"], "credits", {"amount": 2000, "reason": "goodwill"})
    events = outbound.of(account["id"])
    assert [(e["type"], e["sequence"]) for e in events] == [
        ("account.created", 1),
        ("invoice.issued", 2),
        ("invoice.issued", 3),  # the credit, then what its money paid: one transaction
        ("invoice.paid", 4),
    ]
    issued_charge, issued_credit, paid = (e["data"]["object"] for e in events[1:])
    assert issued_charge["id"] == charge["id"] and issued_charge["status"] == "open" and "lines" not in issued_charge
    assert issued_charge["line_count"] == 1 and issued_charge["total"] == 1250
    assert paid["id"] == charge["id"] and paid["status"] == "closed" and paid["balance_due"] == 0
    assert issued_credit["id"] == credit["id"] and issued_credit["type"] == "credit"
    assert [e["id"] for e in outbound.published()] == [e["id"] for e in events]


def test_operators_list_and_read_events_with_filters_and_cursors(api, outbound, mint):
    first, second = api.create_account(), api.create_account(name="Second Co")
    _post(api, first["id"], "charges", {"description": "Overage", "amount": 900})
    status, page, _ = api.call("GET", "/v1/events?limit=2", token=api.admin)
    assert status == 200 and len(page["data"]) == 2 and page["next_cursor"]
    newest = page["data"][0]
    assert newest["type"] == "invoice.issued" and newest["account_id"] == first["id"]
    status, rest, _ = api.call("GET", f"/v1/events?limit=2&cursor={page['next_cursor']}", token=api.admin)
    assert status == 200
    seen = [e["id"] for e in page["data"] + rest["data"]]
    assert len(seen) == len(set(seen)) == 3

    status, mine, _ = api.call("GET", f"/v1/events?account_id={first['id']}", token=api.admin)
    assert [e["sequence"] for e in mine["data"]] == [2, 1]  # newest first
    status, created, _ = api.call("GET", "/v1/events?type=account.created", token=api.admin)
    assert {e["account_id"] for e in created["data"]} == {first["id"], second["id"]}

    status, one, _ = api.call("GET", f"/v1/events/{newest['id']}", token=api.admin)
    assert status == 200 and one == newest
    audit_id = api.call("GET", f"/v1/accounts/{first['id']}/events", token=api.admin)[1]["data"][0]["id"]
    status, problem, _ = api.call("GET", f"/v1/events/{audit_id}", token=api.admin)
    assert status == 404 and problem["code"] == "event-not-found"
    status, problem, _ = api.call("GET", "/v1/events?type=account.deleted", token=api.admin)
    assert status == 422 and problem["code"] == "validation-failed"
    customer = api.member_token(first["id"])
    assert api.call("GET", "/v1/events", token=customer)[0] == 403
    status, _, _ = api.call("GET", f"/v1/events?cursor={page['next_cursor']}&type=invoice.issued", token=api.admin)
    assert status == 400  # a cursor is bound to its filters


def test_with_moto_in_process_an_idle_stream_pump_reads_nothing_and_still_publishes_at_once(api, outbound):
    """local/stream_pump.py `in_process_moto`: while the stream is as its last poll read it, the pump sends
    no request (without the look it polls every second); a new record is published within a poll."""
    import time

    from app import app
    from local.event_bus import read_tap
    from local.stream_pump import StreamPump

    def wait_for(condition) -> None:
        deadline = time.monotonic() + 10
        while not condition() and time.monotonic() < deadline:
            time.sleep(0.01)

    def settled() -> int:
        """The reads once they stop (a poll after a batch, or one between two writes, may follow it)."""
        for _ in range(5):
            seen = len(reads)
            time.sleep(1.2)
            if len(reads) == seen:
                return seen
        raise AssertionError(f"still reading after 6 s: {len(reads)} reads")

    pump = StreamPump(app, log=lambda _: None, in_process_moto=True)
    reads = []
    pump.streams.meta.events.register("before-call.dynamodbstreams.GetRecords", lambda **_: reads.append(1))
    pump.start()
    try:
        wait_for(lambda: reads)
        assert settled() == 1, "one poll read the empty stream to its end; then only looks"
        account = api.create_account()
        events = outbound.of(account["id"])
        wait_for(lambda: pump.published >= len(events))
        assert [envelope["detail"] for envelope in read_tap(outbound.sqs, outbound.tap)] == events
        # caught up again, reads stop (how many polls it took depends on how the writes and the publisher's
        # own updates fell between them; without the look it never stops: a poll a second)
        settled()
    finally:
        pump.stop()
