"""Outbound events on AWS (issue 19, infra/events.py): the bus, its archive, the outbox table's stream,
and the publisher triggered by it with what it needs and nothing more."""

from __future__ import annotations

from tests.infra.test_stack import _actions, _function, _policy_statements, logical_id, props_of, resources, settings


def test_the_bus_and_its_archive_exist(prod):
    prefix = settings("prod").table_prefix
    bus = props_of(prod, "AWS::Events::EventBus", Name=f"{prefix}events")
    assert bus["Name"] == f"{prefix}events"
    (archive,) = resources(prod, "AWS::Events::Archive").values()
    assert archive["Properties"]["RetentionDays"] == 90
    assert '"billow"' in str(archive["Properties"]["EventPattern"]) or archive["Properties"]["EventPattern"] == {
        "source": ["billow"]
    }


def test_the_outbox_table_streams_new_images(prod):
    prefix = settings("prod").table_prefix
    table = props_of(prod, "AWS::DynamoDB::Table", TableName=f"{prefix}events")
    assert table["StreamSpecification"] == {"StreamViewType": "NEW_IMAGE"}


def test_the_publisher_is_triggered_by_the_stream_with_retries_bisect_and_an_on_failure_queue(prod):
    prefix = settings("prod").table_prefix
    function_id, props = _function(prod, "functions.events.event_routes.publish_events")
    assert props["FunctionName"] == "billow-prod-publish-events"
    assert props["Environment"]["Variables"]["BILLOW_EVENT_BUS"]
    (mapping,) = [
        m["Properties"]
        for m in resources(prod, "AWS::Lambda::EventSourceMapping").values()
        if "DynamoDB" in str(m["Properties"].get("EventSourceArn"))
        or "StreamArn" in str(m["Properties"].get("EventSourceArn"))
    ]
    table_id = logical_id(prod, "AWS::DynamoDB::Table", TableName=f"{prefix}events")
    assert mapping["EventSourceArn"] == {"Fn::GetAtt": [table_id, "StreamArn"]}
    assert mapping["StartingPosition"] == "TRIM_HORIZON"
    assert mapping["BisectBatchOnFunctionError"] is True
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["MaximumRecordAgeInSeconds"] == 24 * 3600
    failures_id = logical_id(prod, "AWS::SQS::Queue", QueueName=f"{prefix}events-publish-failures")
    assert mapping["DestinationConfig"]["OnFailure"]["Destination"] == {"Fn::GetAtt": [failures_id, "Arn"]}
    actions = _actions(_policy_statements(prod, function_id))
    assert {"events:PutEvents", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "sqs:SendMessage"} <= actions
    # issue 19's webhooks: after the put, the publisher reads the endpoints (Query) and queues deliveries; it
    # writes nothing
    assert "dynamodb:Query" in actions
    assert not any(
        a.startswith(("dynamodb:PutItem", "dynamodb:UpdateItem", "s3:", "ses:", "secretsmanager:")) for a in actions
    )


def test_every_function_knows_the_bus(prod):
    for props in (r["Properties"] for r in resources(prod, "AWS::Serverless::Function").values()):
        assert "BILLOW_EVENT_BUS" in props["Environment"]["Variables"]


def test_events_the_publisher_gives_up_on_raise_an_alarm(prod):
    prefix = settings("prod").table_prefix
    failures_id = logical_id(prod, "AWS::SQS::Queue", QueueName=f"{prefix}events-publish-failures")
    alarms = [a["Properties"] for a in resources(prod, "AWS::CloudWatch::Alarm").values()]
    dimension = [{"Name": "QueueName", "Value": {"Fn::GetAtt": [failures_id, "QueueName"]}}]
    assert any(a.get("Dimensions") == dimension and a["Threshold"] == 1 for a in alarms)
