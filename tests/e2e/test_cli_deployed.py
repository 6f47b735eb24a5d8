"""`billow --stage dev …` (issue 20, DESIGN §5 v4, §9) against moto's server standing in for AWS: a
CloudFormation stack `BillowDev` in moto holds the queues and the outputs the CLI reads (tables'
prefix, queue and DLQ URLs, the daily-run function's name); the tables carry that prefix; `bill` is
checked by the Lambda Invoke it sends (moto's Lambda without Docker answers it)."""

from __future__ import annotations

import json

import boto3
import pytest
import requests
from typer.testing import CliRunner

from functions.core.resources import QUEUES
from local import cli, moto_server, stack

pytestmark = pytest.mark.e2e

PREFIX = "billow-deployed-test-"  # not the dev stage's local default: only the outputs say it
DAILY_RUN = "billow-dev-daily_run"


def _key(name: str) -> str:
    return "".join(part.title() for part in name.split("-"))


def _template() -> dict:
    resources, outputs = {}, {"TablePrefix": {"Value": PREFIX}, "DailyRunFunction": {"Value": DAILY_RUN}}
    for name in QUEUES:
        resources[f"Queue{_key(name)}"] = {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": f"{PREFIX}{name}"}}
        resources[f"Dlq{_key(name)}"] = {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": f"{PREFIX}{name}-dlq"}}
        outputs[f"QueueUrl{_key(name)}"] = {"Value": {"Ref": f"Queue{_key(name)}"}}
        outputs[f"DlqUrl{_key(name)}"] = {"Value": {"Ref": f"Dlq{_key(name)}"}}
    return {"AWSTemplateFormatVersion": "2010-09-09", "Resources": resources, "Outputs": outputs}


@pytest.fixture
def deployed(monkeypatch, tmp_path):
    from functions.core import db, email, queues
    from functions.core.settings import reset_settings

    server, url = moto_server.start()
    requests.post(f"{url}/moto-api/reset", timeout=5)  # moto's backends are per process: start empty
    for name, value in stack.aws_env(url, tmp_path).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("BILLOW_TABLE_PREFIX", PREFIX)
    monkeypatch.setenv("BILLOW_STAGE", "test")  # the CLI sets the stage and prefix it reads: restored after
    requests.post(f"{url}/moto-api/config", json={"lambda": {"use_docker": False}}, timeout=5)
    boto3.setup_default_session()
    reset_settings()
    db.reset_connections()
    db.create_tables(boto3.client("dynamodb"))
    boto3.client("cloudformation").create_stack(StackName="BillowDev", TemplateBody=json.dumps(_template()))
    yield url
    requests.post(f"{url}/moto-api/config", json={"lambda": {"use_docker": True}}, timeout=5)
    requests.post(f"{url}/moto-api/reset", timeout=5)
    moto_server.stop(server)
    monkeypatch.undo()
    boto3.setup_default_session()
    reset_settings()
    db.retarget_tables()  # the models back on this session's tables
    queues.reset_client()
    email.reset_client()


def _run(*args):
    return CliRunner().invoke(cli.app, ["--stage", "dev", *args])


def _outputs():
    (described,) = boto3.client("cloudformation").describe_stacks(StackName="BillowDev")["Stacks"]
    return {o["OutputKey"]: o["OutputValue"] for o in described["Outputs"]}


def test_dlq_list_and_redrive_use_the_stacks_queue_urls(deployed):
    outputs, sqs = _outputs(), boto3.client("sqs")
    sqs.send_message(QueueUrl=outputs["DlqUrlCollections"], MessageBody=json.dumps({"account_id": "acct_x"}))

    listed = _run("dlq", "list", "--queue", "collections")
    assert listed.exit_code == 0, listed.output
    assert "collections" in listed.output and " 1 " in listed.output

    moved = _run("dlq", "redrive", "--queue", "collections")
    assert moved.exit_code == 0, moved.output
    (message,) = sqs.receive_message(QueueUrl=outputs["QueueUrlCollections"])["Messages"]
    assert json.loads(message["Body"]) == {"account_id": "acct_x"}
    assert "Messages" not in sqs.receive_message(QueueUrl=outputs["DlqUrlCollections"])


def test_bill_invokes_the_daily_run_function_with_the_date_and_counts_from_the_stacks_tables(deployed):
    invokes = []
    boto3.DEFAULT_SESSION.events.register(
        "provide-client-params.lambda.Invoke", lambda params, **_: invokes.append(dict(params))
    )
    answer = json.dumps({"run_date": "2026-12-01", "shards": 32, "card_changes_expired": 0})
    requests.post(f"{deployed}/moto-api/static/lambda-simple/response", json={"results": [answer]}, timeout=5)
    table = boto3.resource("dynamodb").Table(f"{PREFIX}billing_runs")
    table.put_item(Item={"pk": "acct_a", "sk": "RUN#2026-12-01", "run_date": "2026-12-01", "charge": "succeeded"})

    result = _run("bill", "--date", "2026-12-01", "--timeout", "30")

    assert result.exit_code == 0, result.output
    (invoke,) = invokes
    assert invoke["FunctionName"] == DAILY_RUN and invoke["InvocationType"] == "RequestResponse"
    payload = json.loads(invoke["Payload"])
    assert payload == {"date": "2026-12-01"}  # bare: the handler envelopes it (functions/billing_run/manual.py)
    (every_run,) = [line for line in result.output.splitlines() if "by every run of 2026-12-01" in line]
    assert every_run.split("│")[2].strip() == "1"  # invoiced: the deployed table's one period


def test_audit_reads_the_stacks_tables_and_emails_are_not_for_a_deployed_stage(deployed):
    audited = _run("audit")
    assert audited.exit_code == 0, audited.output
    assert "0 accounts audited" in audited.output
    mails = _run("emails")
    assert mails.exit_code == 2 and "SES" in mails.output


def test_a_stage_without_a_stack_fails_naming_it(deployed):
    result = CliRunner().invoke(cli.app, ["--stage", "prod", "dlq", "list"])
    assert result.exit_code == 1 and "BillowProd" in result.output


def test_events_reads_the_stacks_events_table_newest_last(deployed):
    from functions.core import db, outbox
    from functions.core.uow import UnitOfWork

    db.retarget_tables()  # write where the stack's outputs say its tables are
    for n in range(3):
        UnitOfWork().add(outbox.event("acct_a", "account.updated", {"id": "acct_a", "n": n})).commit()
    UnitOfWork().add(outbox.event("acct_b", "invoice.issued", {"id": "inv_b"})).commit()

    newest = _run("events", "--json", "--limit", "3")
    assert newest.exit_code == 0, newest.output
    got = json.loads(newest.output)
    assert [(e["account_id"], e["sequence"], e["type"]) for e in got] == [
        ("acct_a", 2, "account.updated"),
        ("acct_a", 3, "account.updated"),
        ("acct_b", 1, "invoice.issued"),
    ]
    assert got[-1]["data"] == {"object": {"id": "inv_b"}} and got[-1]["id"].startswith("evt_")
    typed = json.loads(_run("events", "--json", "--type", "account.updated", "--account", "acct_a").output)
    assert [e["data"]["object"]["n"] for e in typed] == [0, 1, 2]
    table = _run("events", "--type", "invoice.issued")
    assert table.exit_code == 0 and "1 event of type invoice.issued" in table.output and "acct_b" in table.output
