"""Alarms, all sent to one SNS topic (optionally e-mailed to the stage's alarmEmail).

- a message in any dead-letter queue (a consumer gave up on it, or the schedule's events failed);
- a queue whose oldest message is too old (its consumer is missing, stuck or throttled);
- API Gateway 5xx answers (billow's own 500s and the gateway's 502/504);
- per function: errors (a crash or timeout: the app maps its exceptions to responses, so any Lambda
  error is a bug or a limit) and throttles;
- the daily run: the scheduled function failed, or did not run at all in the last day.
"""

from __future__ import annotations

from aws_cdk import CfnOutput, Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.lambdas import DeployedFunction
from infra.messaging import Messaging, consumer_settings
from infra.stages import StageSettings
from infra.suppressions import skip

FIVE_MINUTES = Duration.minutes(5)


class Monitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage: StageSettings,
        messaging: Messaging,
        functions: list[DeployedFunction],
        api_name: str,
        publish_failures: sqs.IQueue | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.topic = sns.Topic(self, "Alarms", topic_name=f"billow-{stage.name}-alarms", enforce_ssl=True)
        skip(self.topic, "CKV_AWS_26")
        if stage.alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(stage.alarm_email))
        CfnOutput(Stack.of(self), "AlarmTopicArn", value=self.topic.topic_arn)
        self.action = actions.SnsAction(self.topic)
        self.alarms: list[cloudwatch.Alarm] = []

        for name, dlq in messaging.dlqs.items():
            self._dlq_alarm(f"Dlq-{name}", dlq, f"messages in {dlq.queue_name}: the {name} consumer gave up on them")
        if publish_failures is not None:  # outbound events the publisher could not put on the bus (infra/events.py)
            self._dlq_alarm(
                "Dlq-events-publish",
                publish_failures,
                "outbound events the publisher gave up on after 24 h: still in the outbox (docs/events.md)",
            )
        for name, queue in messaging.queues.items():
            limit = consumer_settings(name).oldest_message_alarm_seconds
            self._alarm(
                f"Backlog-{name}",
                queue.metric_approximate_age_of_oldest_message(period=FIVE_MINUTES, statistic="Maximum"),
                threshold=limit,
                description=f"the oldest message of {name} is over {limit} s old: its consumer is missing or stuck",
            )
        self._alarm(
            "Api5xx",
            cloudwatch.Metric(
                namespace="AWS/ApiGateway",
                metric_name="5XXError",
                dimensions_map={"ApiName": api_name, "Stage": stage.api_gateway_stage},
                statistic="Sum",
                period=FIVE_MINUTES,
            ),
            threshold=1,
            description="the API answered 5xx (a billow internal-error, or API Gateway's 502/504)",
        )
        for fn in functions:
            metric = {"dimensions_map": {"FunctionName": fn.name}, "statistic": "Sum", "period": FIVE_MINUTES}
            self._alarm(
                f"Errors-{fn.decl.logical_id}",
                cloudwatch.Metric(namespace="AWS/Lambda", metric_name="Errors", **metric),
                threshold=1,
                description=f"{fn.name} failed (crash, timeout or out of memory)",
            )
            self._alarm(
                f"Throttles-{fn.decl.logical_id}",
                cloudwatch.Metric(namespace="AWS/Lambda", metric_name="Throttles", **metric),
                threshold=1,
                description=f"{fn.name} was throttled (account concurrency exhausted)",
            )
            if fn.decl.schedules:
                self._daily_run_missing(fn)
        if any(fn.decl.schedules for fn in functions):
            self._dlq_alarm(
                "Dlq-scheduled",
                messaging.scheduled_dlq(),
                "a scheduled run failed after Lambda's retries: re-run it for its date (billow bill --date)",
            )

    def _alarm(
        self,
        construct_id: str,
        metric: cloudwatch.IMetric,
        *,
        threshold: float,
        description: str,
        comparison: cloudwatch.ComparisonOperator = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        missing: cloudwatch.TreatMissingData = cloudwatch.TreatMissingData.NOT_BREACHING,
    ) -> cloudwatch.Alarm:
        alarm = cloudwatch.Alarm(
            self,
            construct_id,
            metric=metric,
            threshold=threshold,
            evaluation_periods=1,
            comparison_operator=comparison,
            treat_missing_data=missing,
            alarm_description=description,
        )
        alarm.add_alarm_action(self.action)
        self.alarms.append(alarm)
        return alarm

    def _dlq_alarm(self, construct_id: str, dlq: sqs.IQueue, description: str) -> None:
        self._alarm(
            construct_id,
            dlq.metric_approximate_number_of_messages_visible(period=FIVE_MINUTES, statistic="Maximum"),
            threshold=1,
            description=description,
        )

    def _daily_run_missing(self, fn: DeployedFunction) -> None:
        self._alarm(
            f"DailyRunMissing-{fn.decl.logical_id}",
            cloudwatch.Metric(
                namespace="AWS/Lambda",
                metric_name="Invocations",
                dimensions_map={"FunctionName": fn.name},
                statistic="Sum",
                period=Duration.days(1),
            ),
            threshold=1,
            comparison=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
            missing=cloudwatch.TreatMissingData.BREACHING,
            description=f"{fn.name} did not run in the last 24 hours: the daily billing run was skipped",
        )
