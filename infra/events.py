"""Outbound events on AWS (DESIGN §7): the stack's EventBridge bus, its archive, and the publisher's
trigger — the outbox table's stream — with what happens to a batch the publisher cannot publish.

- The bus `billow-<stage>-events`: every outbox event is put on it (source `billow`, detail-type = the
  event's type); consumers add their own rules (docs/events.md gives the common ones).
- An archive of every event the bus receives from billow (retention from the stage), so a consumer that
  was down can replay them (EventBridge StartReplay).
- The stream event source: NEW_IMAGE records from the oldest not yet processed (TRIM_HORIZON), batches of
  up to 100, ReportBatchItemFailures, bisect on error, retried for up to 24 h (the stream's own retention);
  a batch given up on is described on the on-failure queue (kept 14 days), whose age and depth are alarmed
  (infra/monitoring.py): the events themselves stay in the outbox (90 days), and can be put on the bus again.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from functions.core.resources import EVENT_BUS, EVENT_SOURCE
from infra.stages import StageSettings
from infra.suppressions import skip

ARCHIVE_DAYS = 90
STREAM_BATCH = 100
STREAM_RETRY_AGE = Duration.hours(24)


class OutboundEvents(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, stage: StageSettings) -> None:
        super().__init__(scope, construct_id)
        self.stage = stage
        self.bus = events.EventBus(self, "Bus", event_bus_name=stage.physical_name(EVENT_BUS))
        self.archive = self.bus.archive(
            "Archive",
            archive_name=stage.physical_name("events-archive"),
            description=f"billow {stage.name}: every outbound event, for replay",
            event_pattern=events.EventPattern(source=[EVENT_SOURCE]),
            retention=Duration.days(ARCHIVE_DAYS),
        )
        self.failures = sqs.Queue(
            self,
            "PublishFailures",
            queue_name=stage.physical_name("events-publish-failures"),
            retention_period=Duration.days(14),
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
        )
        skip(self.failures, "CKV_AWS_27")

    def grant_put(self, role: iam.IRole) -> None:
        self.bus.grant_put_events_to(role)

    def stream_source(
        self, scope: Construct, construct_id: str, table: dynamodb.ITable, function_arn: str, role: iam.IRole
    ) -> lambda_.CfnEventSourceMapping:
        """The publisher's trigger: the outbox table's stream (the role may read it and report failures)."""
        # What Lambda's poller needs, on this table's streams only (CDK's grant_stream_read would add
        # ListStreams on "*")
        streams = f"{table.table_arn}/stream/*"
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"],
                resources=[table.table_stream_arn],
            )
        )
        role.add_to_principal_policy(iam.PolicyStatement(actions=["dynamodb:ListStreams"], resources=[streams]))
        self.failures.grant_send_messages(role)
        return lambda_.CfnEventSourceMapping(
            scope,
            construct_id,
            function_name=function_arn,
            event_source_arn=table.table_stream_arn,
            starting_position="TRIM_HORIZON",
            batch_size=STREAM_BATCH,
            maximum_batching_window_in_seconds=1,
            bisect_batch_on_function_error=True,
            maximum_record_age_in_seconds=int(STREAM_RETRY_AGE.to_seconds()),
            maximum_retry_attempts=-1,
            function_response_types=["ReportBatchItemFailures"],
            destination_config=lambda_.CfnEventSourceMapping.DestinationConfigProperty(
                on_failure=lambda_.CfnEventSourceMapping.OnFailureProperty(destination=self.failures.queue_arn)
            ),
        )
