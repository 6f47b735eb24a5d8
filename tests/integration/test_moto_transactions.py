"""local/moto_transactions.py: moto's TransactWriteItems rolled back from a journal, not table copies.

Each case is checked against what moto itself (and DynamoDB) gives: a committed transaction writes
every item and one stream record per write; a cancelled one (a failed condition, two operations on
one item) leaves the items and the stream exactly as they were, reports the same cancellation
reasons, and the next record reuses the cancelled one's sequence number. And no table is copied.
"""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.models.table import Table

from local import moto_transactions
from local.stream_pump import streams_client

moto_transactions.install()  # tests/conftest.py installs it for the whole suite; explicit here

TABLE = "journal-test"


@pytest.fixture
def ddb(monkeypatch):
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )
        client.put_item(TableName=TABLE, Item=_item("acct", "balance", 100))
        client.put_item(TableName=TABLE, Item=_item("acct", "old", 1))
        client.put_item(TableName=TABLE, Item=_item("acct", "limit", 500))

        def no_table_copies(self, memo):
            raise AssertionError("a whole table was deep-copied")

        monkeypatch.setattr(Table, "__deepcopy__", no_table_copies, raising=False)
        yield client


def _item(pk: str, sk: str, n: int) -> dict:
    return {"pk": {"S": pk}, "sk": {"S": sk}, "n": {"N": str(n)}}


def _key(pk: str, sk: str) -> dict:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def _state(client) -> list[dict]:
    return sorted(client.scan(TableName=TABLE)["Items"], key=lambda i: (i["pk"]["S"], i["sk"]["S"]))


def _table() -> Table:
    return dynamodb_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].tables[TABLE]


def _records(client) -> list[dict]:
    # the classic endpoint: botocore's default for dynamodbstreams is one moto does not route (as
    # local/stream_pump.streams_client)
    streams = streams_client()
    arn = client.describe_table(TableName=TABLE)["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    return streams.get_records(ShardIterator=iterator["ShardIterator"])["Records"]


def _writes(condition_holds: bool) -> list[dict]:
    """A put of a new item, an update and a delete of existing ones, then a condition on a fourth item."""
    return [
        {"Put": {"TableName": TABLE, "Item": _item("acct", "new", 7)}},
        {
            "Update": {
                "TableName": TABLE,
                "Key": _key("acct", "balance"),
                "UpdateExpression": "SET n = n + :d",
                "ExpressionAttributeValues": {":d": {"N": "5"}},
            }
        },
        {"Delete": {"TableName": TABLE, "Key": _key("acct", "old")}},
        {
            "ConditionCheck": {
                "TableName": TABLE,
                "Key": _key("acct", "limit"),
                "ConditionExpression": "attribute_exists(pk)" if condition_holds else "attribute_not_exists(pk)",
            }
        },
    ]


def test_a_committed_transaction_writes_every_item_and_one_record_each(ddb):
    before = len(_records(ddb))
    ddb.transact_write_items(TransactItems=_writes(condition_holds=True))

    assert _state(ddb) == [_item("acct", "balance", 105), _item("acct", "limit", 500), _item("acct", "new", 7)]
    records = _records(ddb)[before:]
    assert [r["eventName"] for r in records] == ["INSERT", "MODIFY", "REMOVE"]
    assert records[1]["dynamodb"]["OldImage"]["n"] == {"N": "100"}
    assert records[1]["dynamodb"]["NewImage"]["n"] == {"N": "105"}


def test_a_cancelled_transaction_leaves_items_and_stream_as_they_were(ddb):
    table, shard = _table(), _table().stream_shard
    items_before, records_before = _state(ddb), _records(ddb)

    with pytest.raises(ClientError) as cancelled:
        ddb.transact_write_items(TransactItems=_writes(condition_holds=False))

    error = cancelled.value.response
    assert error["Error"]["Code"] == "TransactionCanceledException"
    assert [r["Code"] for r in error["CancellationReasons"]] == ["None", "None", "None", "ConditionalCheckFailed"]
    assert _state(ddb) == items_before
    assert _records(ddb) == records_before
    # the same table and shard objects, the shard cut in place: a reader holding it sees no phantom record
    assert _table() is table and table.stream_shard is shard
    assert len(shard.items) == len(records_before)

    ddb.put_item(TableName=TABLE, Item=_item("acct", "after", 3))
    after = _records(ddb)
    assert len(after) == len(records_before) + 1
    assert int(after[-1]["dynamodb"]["SequenceNumber"]) == int(records_before[-1]["dynamodb"]["SequenceNumber"]) + 1


def test_two_operations_on_one_item_are_refused_and_undone(ddb):
    items_before, records_before = _state(ddb), _records(ddb)
    with pytest.raises(ClientError) as refused:
        ddb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": TABLE, "Item": _item("acct", "balance", 1)}},
                {"Delete": {"TableName": TABLE, "Key": _key("acct", "balance")}},
            ]
        )
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert _state(ddb) == items_before
    assert _records(ddb) == records_before


def test_a_cancel_restores_an_item_an_update_changed_in_place(ddb):
    """moto's update changes the stored Item object itself: the journal keeps a copy, not a reference."""
    stored = _table().items
    with pytest.raises(ClientError):
        ddb.transact_write_items(TransactItems=_writes(condition_holds=False))
    balance = [i for i in _state(ddb) if i["sk"]["S"] == "balance"]
    assert balance == [_item("acct", "balance", 100)]
    assert len(stored) == 1  # no hash key added by reading an absent item


def test_other_deep_copies_stay_real(ddb):
    """Only a table copy inside a transaction is the table itself: elsewhere deepcopy copies."""
    import moto.dynamodb.models as backend_module

    item = _table().items[next(iter(_table().items))]
    assert backend_module.copy.deepcopy(item) is not item
    with pytest.raises(AssertionError, match="deep-copied"):
        backend_module.copy.deepcopy(_table())


def test_a_key_moto_cannot_read_cancels_the_transaction_as_on_plain_moto(ddb):
    """A key value that is a list (unhashable) or a malformed number: moto reports it as a cancellation
    reason and writes nothing; the journal skips that entry instead of failing before moto runs."""
    items_before, records_before = _state(ddb), _records(ddb)
    for bad in ({"L": [{"S": "x"}]}, {"N": "abc"}):
        with pytest.raises(ClientError) as cancelled:
            ddb.transact_write_items(
                TransactItems=[
                    {"Put": {"TableName": TABLE, "Item": _item("acct", "new", 7)}},
                    {"Put": {"TableName": TABLE, "Item": {"pk": {"S": "acct"}, "sk": bad, "n": {"N": "1"}}}},
                ]
            )
        error = cancelled.value.response
        assert error["Error"]["Code"] in ("TransactionCanceledException", "ValidationException"), error
        assert _state(ddb) == items_before
        assert _records(ddb) == records_before
