"""local/moto_speed.py: DynamoDB's data answers as JSON text, checked against moto's own serializer.

With BILLOW_MOTO_CHECK=1 every fast answer is built both ways and must match; the suite's in-process
tests (integration, proof, unit) were run once so with no difference (docs/performance.md). Here: a
billow flow under the check, the check failing on a changed answer, moto's serializer skipped for data
operations and kept for the rest, and the cached lookups equal to moto's own.
"""

from __future__ import annotations

import boto3
import pytest

from local import moto_speed


def test_a_billow_flow_answers_the_same_as_moto_s_own_serializer(api, queues_and_mail, monkeypatch):
    monkeypatch.setenv("BILLOW_MOTO_CHECK", "1")
    account = api.create_account(name="Checked")
    base = f"/v1/accounts/{account['id']}"
    key = {"Idempotency-Key": "moto-check-1"}
    status, charge, _ = api.call(
        "POST", f"{base}/charges", {"amount": 1234, "description": "Setup"}, token=api.admin, headers=key
    )
    assert status == 201, charge
    status, summary, _ = api.call("GET", f"{base}/summary", token=api.admin)
    assert (status, summary["balance"]["current"]) == (200, 1234)
    status, invoices, _ = api.call("GET", f"{base}/invoices", token=api.admin)
    assert status == 200 and len(invoices["data"]) == 1


def test_the_check_fails_when_the_fast_answer_differs(aws, monkeypatch):
    monkeypatch.setenv("BILLOW_MOTO_CHECK", "1")
    real = moto_speed._fast_answer

    def one_count_off(handler, action_result):
        answer = real(handler, action_result)
        if answer is None or '"Count":' not in answer[2]:
            return answer
        return answer[0], answer[1], answer[2].replace('"Count":', '"Count":1', 1)

    monkeypatch.setattr(moto_speed, "_fast_answer", one_count_off)
    dynamodb = boto3.client("dynamodb", region_name="us-east-1")
    table = dynamodb.list_tables()["TableNames"][0]
    with pytest.raises(moto_speed.MotoAnswerDiffers):
        dynamodb.scan(TableName=table)


def test_data_operations_skip_moto_s_serializer_and_the_rest_keep_it(aws, monkeypatch):
    from moto.core.responses import ActionResult

    monkeypatch.delenv("BILLOW_MOTO_CHECK", raising=False)  # the check runs moto's serializer too
    serialized = []
    own = ActionResult.execute_result

    def counted(self, context):
        serialized.append(context.operation_model.name)
        return own(self, context)

    monkeypatch.setattr(ActionResult, "execute_result", counted)
    dynamodb = boto3.client("dynamodb", region_name="us-east-1")
    table = dynamodb.list_tables()["TableNames"][0]
    key_schema = dynamodb.describe_table(TableName=table)["Table"]["KeySchema"]
    dynamodb.scan(TableName=table)
    key = {k["AttributeName"]: {"S": "x"} for k in key_schema}
    assert "Item" not in dynamodb.get_item(TableName=table, Key=key)
    assert serialized == ["ListTables", "DescribeTable"]


def test_the_lookups_read_once_equal_moto_s_own():
    import inspect
    import os

    import moto
    import moto.backends
    import moto.core.responses
    from moto.dynamodb.responses import DynamoHandler

    folder = os.path.dirname(moto.__file__)
    listed = [
        f for f in sorted(os.listdir(folder)) if os.path.isdir(os.path.join(folder, f)) and not f.startswith("__")
    ]
    assert list(moto.backends.list_of_moto_modules()) == listed
    assert "dynamodb" in moto.backends.list_of_moto_modules()
    names = [name for name, _ in inspect.getmembers(DynamoHandler, predicate=inspect.isfunction)]
    assert moto.core.responses.method_names_from_class(DynamoHandler) == names


def test_the_check_tells_an_int_from_a_double():
    """1 == 1.0 in Python, not to boto3's callers: the check compares each number's kind too."""
    with pytest.raises(moto_speed.MotoAnswerDiffers):
        moto_speed._check((200, {}, '{"CapacityUnits":1}'), (200, {}, '{"CapacityUnits": 1.0}'))
    moto_speed._check((200, {}, '{"CapacityUnits":1.0}'), (200, {}, '{"CapacityUnits": 1.0}'))


def test_consumed_capacity_is_a_double_as_moto_s_serializer_writes_it(aws, monkeypatch):
    """BatchGetItem's units are an int in moto's result (its key count); its serializer writes 1.0."""
    monkeypatch.setenv("BILLOW_MOTO_CHECK", "1")
    dynamodb = boto3.client("dynamodb", region_name="us-east-1")
    table = dynamodb.list_tables()["TableNames"][0]
    key_schema = dynamodb.describe_table(TableName=table)["Table"]["KeySchema"]
    key = {k["AttributeName"]: {"S": "x"} for k in key_schema}
    answer = dynamodb.batch_get_item(RequestItems={table: {"Keys": [key]}}, ReturnConsumedCapacity="TOTAL")
    units = [c["CapacityUnits"] for c in answer["ConsumedCapacity"]]
    assert units and all(isinstance(u, float) for u in units), answer["ConsumedCapacity"]


def _sent_headers(client) -> list[dict[str, str]]:
    """The headers of every request `client` sends from now on, as they leave botocore."""
    sent: list[dict[str, str]] = []

    def record(request, **_):
        sent.append({k: v.decode() if isinstance(v, bytes) else v for k, v in request.headers.items()})

    client.meta.events.register("before-send", record)
    return sent


def test_a_request_moto_answers_in_this_process_goes_unsigned_and_a_presigned_url_is_signed(aws):
    dynamodb = boto3.client("dynamodb", region_name="us-east-1")
    sent = _sent_headers(dynamodb)
    tables = dynamodb.list_tables()["TableNames"]
    assert tables  # moto answered, for its default account (the one mock_aws's own key maps to)
    assert sent and "Authorization" not in sent[-1] and "X-Amz-Date" not in sent[-1], sent[-1]
    s3 = boto3.client("s3", region_name="us-east-1")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": "b", "Key": "k"}, ExpiresIn=60)
    assert "Signature=" in url  # moto's mock_aws presigns S3 with its own key, signed all the same


def test_a_request_that_goes_over_http_is_signed_even_under_mock_aws(aws):
    """To a moto server (the local stack) or any host that is not AWS's: moto's stubber does not answer it."""
    from botocore.awsrequest import AWSResponse

    dynamodb = boto3.client("dynamodb", region_name="us-east-1", endpoint_url="http://127.0.0.1:9")
    sent = _sent_headers(dynamodb)
    # answered here, before it would reach the (closed) port
    answer = AWSResponse("http://127.0.0.1:9", 200, {}, None)
    answer._content = b'{"TableNames": []}'
    dynamodb.meta.events.register_first("before-send", lambda **_: answer)
    dynamodb.list_tables()
    assert sent[-1]["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=FOOBARKEY/")  # mock_aws's key


def test_a_request_outside_mock_aws_is_signed():
    from botocore.awsrequest import AWSResponse

    dynamodb = boto3.client("dynamodb", region_name="us-east-1")
    sent = _sent_headers(dynamodb)
    answer = AWSResponse("https://dynamodb.us-east-1.amazonaws.com/", 200, {}, None)
    answer._content = b'{"TableNames": []}'
    dynamodb.meta.events.register_first("before-send", lambda **_: answer)
    dynamodb.list_tables()
    assert "AWS4-HMAC-SHA256 Credential=testing/" in sent[-1]["Authorization"]
