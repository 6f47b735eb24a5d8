"""The outbox's proof (issue 19, DESIGN §7): a change never commits without its event nor an event without
its change, whatever fails; a crash between the commit and the publishing loses nothing; duplicated
deliveries put the same event (same id) on the bus again; sequences stay gapless per account under
concurrent changes.

In-process: moto's DynamoDB (its stream too), EventBridge with the tap rule to SQS, and the stream pump
of the local stack (local/stream_pump.py) calling the app's publisher handler. Failures are injected at
the botocore layer (tests/proof/faults.py's hooks: an error, or a lost reply after the work was done).
"""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from datetime import date

import pytest

from functions.core import audit, ledger, outbox
from functions.core.audit import Actor
from functions.core.errors import ConcurrentUpdateError
from functions.core.uow import Op, UnitOfWork, retrying
from tests.integration.conftest import outbound  # noqa: F401 (fixture)
from tests.integration.events_helpers import conforms
from tests.proof.faults import KINDS, Injector

OPERATOR = Actor("operator-proof", "operator")


def _charge(api, account_id, key, amount=1000):
    return api.call(
        "POST",
        f"/v1/accounts/{account_id}/charges",
        {"description": "Overage", "amount": amount},
        token=api.admin,
        headers={"Idempotency-Key": key},
    )


def _gapless(account_id):
    events = outbox.events_of(account_id)
    assert [e["sequence"] for e in events] == list(range(1, len(events) + 1)), events
    assert outbox.last_sequence(account_id) == len(events)
    for event in events:
        conforms(event)
    return events


def _events_match_changes(account_id):
    """Each invoice of the account has exactly one invoice.issued, and no invoice.issued names a missing one."""
    invoices = {inv.id for inv in ledger.ledger_store.all_invoices(account_id)}
    issued = Counter(e["data"]["object"]["id"] for e in _gapless(account_id) if e["type"] == "invoice.issued")
    assert set(issued) == invoices and set(issued.values()) <= {1}, (issued, invoices)


@pytest.fixture
def injector(api, queues_and_mail, outbound):  # noqa: F811
    import botocore.session

    from functions.core import db, email, queues

    injector = Injector()
    original = botocore.session.Session.create_client

    def create_client(self, *args, **kwargs):
        return injector.hook(original(self, *args, **kwargs))

    botocore.session.Session.create_client = create_client
    for reset in (db.reset_connections, email.reset_client, queues.reset_client):
        reset()
    try:
        yield injector
    finally:
        botocore.session.Session.create_client = original
        for reset in (db.reset_connections, email.reset_client, queues.reset_client):
            reset()


def test_a_failure_at_each_call_of_a_charge_leaves_the_change_and_its_event_together(api, injector):
    """An error or a lost reply at every external call of a charge, then the client's retry with the same
    key: one invoice and one invoice.issued, sequences gapless — never one without the other."""
    assert _charge(api, api.create_account()["id"], "warm-up")[0] == 201  # the per-process caches (queue URLs)
    account = api.create_account()
    with injector.recording() as calls:
        assert _charge(api, account["id"], "recorded")[0] == 201
    assert "dynamodb.TransactWriteItems" in calls
    for index, label in enumerate(list(calls)):
        if not label.startswith("dynamodb."):  # the notice's e-mail, the collection's message: not the outbox's
            continue
        for kind in KINDS:
            account_id = api.create_account()["id"]
            key = str(uuid.uuid4())
            with injector.fault(index, kind):
                first = _charge(api, account_id, key)
            assert injector.fired == label
            if first[0] != 201:
                # nothing half done: no invoice without its event, no event without its invoice
                _events_match_changes(account_id)
            status, body, _ = _charge(api, account_id, key)
            if status == 409:  # the first attempt still holds the key: after its lease
                from tests.proof.test_faults import _later

                with _later():
                    status, body, _ = _charge(api, account_id, key)
            assert status == 201, (index, label, kind, body)
            _events_match_changes(account_id)
            assert [e["type"] for e in _gapless(account_id)] == ["account.created", "invoice.issued"], (label, kind)


def test_a_cancelled_transaction_writes_neither_the_change_nor_its_event(aws):
    from functions.accounts import service as accounts

    account = accounts.create_account(
        OPERATOR,
        type="payg",
        linked=True,
        currency="usd",
        locale="en",
        name="Proof",
        billing_contact={
            "name": "A",
            "email": "a@example.com",
            "address": {"line1": "1 Main St", "city": "Springfield", "postal_code": "12345", "country": "US"},
        },
        billing_day=1,
    )
    before = outbox.last_sequence(account.id)
    posting = ledger.prepare(
        account.id,
        type="one_time",
        parts=[ledger.Part("inv_" + "a" * 20, "x", [ledger.Line("x", 500, date(2026, 1, 1), date(2026, 1, 1))])],
    )
    ops, _ = ledger.post_invoice(posting)
    # a condition that fails (another invoice that does not exist must exist): the whole transaction is cancelled
    from functions.core.ledger_store.models import INV, InvoiceModel

    failing = Op("check", (InvoiceModel, account.id, f"{INV}inv_{'b' * 20}"), condition=InvoiceModel.pk.exists())
    with pytest.raises(ConcurrentUpdateError):
        UnitOfWork().add(*ops, audit.record(account.id, OPERATOR, "charge.posted", "x"), failing).commit()
    assert outbox.last_sequence(account.id) == before
    assert [e["type"] for e in _gapless(account.id)] == ["account.created"]
    assert ledger.ledger_store.all_invoices(account.id) == []


def test_a_crash_after_the_commit_loses_no_event_and_an_eventbridge_outage_only_delays_it(api, outbound, injector):  # noqa: F811
    account_id = api.create_account()["id"]
    for n in range(3):
        assert _charge(api, account_id, f"k{n}")[0] == 201
    written = _gapless(account_id)
    # the process that committed died before anything was published: a new one (a new stream reader
    # from the oldest record, as Lambda's event source after a crash) publishes everything
    from app import app
    from local.stream_pump import StreamPump

    outbound.pump = StreamPump(app, log=lambda m: None)
    # ... while EventBridge first fails: the batch is reported failed and retried, nothing skipped
    put_calls = 0
    original = injector.before_call

    def failing_put(model, **kwargs):
        nonlocal put_calls
        if model.name == "PutEvents":
            put_calls += 1
            if put_calls == 1:  # the outage: PutEvents answers 500
                from botocore.awsrequest import AWSResponse

                error = {"Error": {"Code": "InternalFailure", "Message": "injected"}}
                return AWSResponse("https://injected.invalid/", 500, {}, None), error | {
                    "ResponseMetadata": {"HTTPStatusCode": 500}
                }
        return original(model, **kwargs)

    injector.before_call = failing_put  # type: ignore[method-assign]
    from functions.events import publisher

    publisher.reset_client()
    outbound.pump.pump_once()  # the outage: the handler raises, the batch stays
    assert outbound.pump.failed_batches == 1 and outbound.pump.published == 0
    outbound.pump.drain()  # EventBridge is back
    published = [e for e in outbound.published() if e["account_id"] == account_id]
    assert sorted(e["id"] for e in published) == sorted(e["id"] for e in written)
    assert {e["id"]: e for e in published} == {e["id"]: e for e in written}


def test_a_duplicated_stream_delivery_puts_the_same_event_twice_with_the_same_id(api, outbound):  # noqa: F811
    from app import app

    account_id = api.create_account()["id"]
    assert _charge(api, account_id, "dup")[0] == 201
    streams = outbound.pump.streams
    shard = streams.describe_stream(StreamArn=outbound.pump.stream_arn)["StreamDescription"]["Shards"][0]
    iterator = streams.get_shard_iterator(
        StreamArn=outbound.pump.stream_arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    records = streams.get_records(ShardIterator=iterator)["Records"]
    handler = app.handler_map["publish_events"]
    assert handler({"Records": records}, None) == {"batchItemFailures": []}
    assert handler({"Records": records}, None) == {"batchItemFailures": []}  # Lambda delivered it again
    from local.event_bus import read_tap

    received = [m["detail"] for m in read_tap(outbound.sqs, outbound.tap) if m["detail"]["account_id"] == account_id]
    written = _gapless(account_id)
    got = Counter(e["id"] for e in received)
    assert set(got) == {e["id"] for e in written} and set(got.values()) == {2}
    # consumers dedupe on id and order by sequence: exactly the outbox
    deduped = sorted({e["id"]: e for e in received}.values(), key=lambda e: e["sequence"])
    assert deduped == written


def test_ten_concurrent_changes_of_one_account_get_sequences_1_to_n_once_each(api, outbound, monkeypatch):  # noqa: F811
    """Ten charges racing on one account (moto serialised per call, as the local stack serves it): every
    read-plan-commit interleaves; the counter's condition sends the losers round again."""
    from moto.core.botocore_stubber import BotocoreStubber

    lock = threading.Lock()
    serve = BotocoreStubber.__call__

    def one_at_a_time(self, *args, **kwargs):
        with lock:
            return serve(self, *args, **kwargs)

    monkeypatch.setattr(BotocoreStubber, "__call__", one_at_a_time)
    account_id = api.create_account()["id"]
    errors: list[BaseException] = []

    def charge(n: int) -> None:
        invoice_id = f"inv_{'abcdefghij'[n] * 20}"
        posting = ledger.prepare(
            account_id,
            type="one_time",
            parts=[
                ledger.Part(invoice_id, f"c{n}", [ledger.Line(f"c{n}", 100 + n, date(2026, 1, 1), date(2026, 1, 1))])
            ],
        )

        def attempt() -> None:
            ops, _ = ledger.post_invoice(posting)
            UnitOfWork().add(*ops, audit.record(account_id, OPERATOR, "charge.posted", invoice_id)).commit()

        try:
            retrying(attempt, attempts=50)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=charge, args=(n,)) for n in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    events = _gapless(account_id)
    assert [e["sequence"] for e in events] == list(range(1, 12))
    _events_match_changes(account_id)
    numbers = sorted(inv.number for inv in ledger.ledger_store.all_invoices(account_id))
    assert [n.rsplit("-", 1)[1] for n in numbers] == [f"{i:06d}" for i in range(1, 11)]
    published = {e["id"]: e for e in outbound.published() if e["account_id"] == account_id}
    assert sorted(published) == sorted(e["id"] for e in events)
