"""Alarms, all sent to one SNS topic (optionally e-mailed to the stage's alarmEmail).

- a message in any dead-letter queue (a consumer gave up on it, or the schedule's events failed);
- a queue whose oldest message is too old (its consumer is missing, stuck or throttled);
- API Gateway 5xx answers (billow's own 500s and the gateway's 502/504);
- per function: errors (a crash or timeout: the app maps its exceptions to responses, so any Lambda
  error is a bug or a limit) and throttles;
- the daily run: the scheduled function failed, or did not run at all in the last day;
- billow's own metrics (namespace `billow`, functions/core/metrics.py, `BUSINESS_ALARMS` below): payments
  failing (not declines: Stripe errors), webhooks refused, e-mails failing, complaints, run accounts
  failing, outbound event deliveries failing;

and a CloudWatch dashboard `billow-<stage>` with those metrics. Every alarm's description ends with
the section of docs/operations.md that says what it means and what to run.
"""

from __future__ import annotations

from dataclasses import dataclass

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
RUNBOOK = "docs/operations.md"


@dataclass(frozen=True)
class BusinessAlarm:
    metric: str
    dimensions: tuple[tuple[str, str], ...]
    threshold: int  # in five minutes
    description: str
    section: str  # the anchor of its section in docs/operations.md


BUSINESS_ALARMS = (
    BusinessAlarm(
        "Payments", (("outcome", "failed"),), 3, "charges failed (Stripe errors, not declines)", "payments-failing"
    ),
    BusinessAlarm("WebhooksRefused", (), 5, "Stripe webhooks refused (signature or body)", "webhooks-refused"),
    BusinessAlarm("EmailsFailed", (), 3, "e-mails SES refused", "e-mails-failing"),
    BusinessAlarm(
        "EmailFeedback", (("kind", "complaint"),), 1, "a recipient marked billow's mail as spam", "e-mail-suppressed"
    ),
    BusinessAlarm("RunAccountsFailed", (), 1, "the daily run failed to bill an account", "run-accounts-failing"),
    BusinessAlarm("EventDeliveriesFailed", (), 10, "outbound event deliveries failed", "event-deliveries-failing"),
)

# The dashboard's graphs: (title, metric, the dimension that splits it and its values).
DASHBOARD = (
    ("Payments by outcome", "Payments", "outcome", ("succeeded", "declined", "requires_action", "failed")),
    ("Collections", "Collections", "state", ("opened", "succeeded", "retrying", "failed")),
    ("Invoices issued by type", "InvoicesIssued", "type", ("new", "recurring", "one_time", "credit", "refund")),
    ("Daily run: accounts", "RunAccountsBilled", "", ()),
    ("E-mails", "EmailsSent", "", ()),
)


def runbook(section: str) -> str:
    return f"Runbook: {RUNBOOK}#{section}"


def business_metric(
    stage: str, metric: str, dimensions: dict[str, str], period: Duration = FIVE_MINUTES
) -> cloudwatch.Metric:
    """A billow metric (EMF, functions/core/metrics.py) with its exact dimension set."""
    return cloudwatch.Metric(
        namespace="billow",
        metric_name=metric,
        dimensions_map={"stage": stage, "service": "billow", **dimensions},
        statistic="Sum",
        period=period,
    )


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
            self._dlq_alarm(
                f"Dlq-{name}",
                dlq,
                f"messages in {dlq.queue_name}: the {name} consumer gave up on them. {runbook('dead-letter-queues')}",
            )
        if publish_failures is not None:  # outbound events the publisher could not put on the bus (infra/events.py)
            self._dlq_alarm(
                "Dlq-events-publish",
                publish_failures,
                "outbound events the publisher gave up on after 24 h: still in the outbox (docs/events.md). "
                f"{runbook('dead-letter-queues')}",
            )
        for name, queue in messaging.queues.items():
            limit = consumer_settings(name).oldest_message_alarm_seconds
            self._alarm(
                f"Backlog-{name}",
                queue.metric_approximate_age_of_oldest_message(period=FIVE_MINUTES, statistic="Maximum"),
                threshold=limit,
                description=f"the oldest message of {name} is over {limit} s old: its consumer is missing or stuck. "
                f"{runbook('queue-backlog')}",
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
            description="the API answered 5xx (a billow internal-error, or API Gateway's 502/504). "
            f"{runbook('api-5xx')}",
        )
        for fn in functions:
            metric = {"dimensions_map": {"FunctionName": fn.name}, "statistic": "Sum", "period": FIVE_MINUTES}
            self._alarm(
                f"Errors-{fn.decl.logical_id}",
                cloudwatch.Metric(namespace="AWS/Lambda", metric_name="Errors", **metric),
                threshold=1,
                description=f"{fn.name} failed (crash, timeout or out of memory). {runbook('function-errors')}",
            )
            self._alarm(
                f"Throttles-{fn.decl.logical_id}",
                cloudwatch.Metric(namespace="AWS/Lambda", metric_name="Throttles", **metric),
                threshold=1,
                description=f"{fn.name} was throttled (account concurrency exhausted). {runbook('function-throttles')}",
            )
            if fn.decl.schedules:
                self._daily_run_missing(fn)
        for alarm in BUSINESS_ALARMS:
            self._alarm(
                f"Metric-{alarm.metric}{''.join(v for _, v in alarm.dimensions).title()}",
                business_metric(stage.name, alarm.metric, dict(alarm.dimensions)),
                threshold=alarm.threshold,
                description=f"{alarm.description} (at least {alarm.threshold} in 5 minutes). {runbook(alarm.section)}",
            )
        self.dashboard = self._dashboard(stage.name, api_name, stage.api_gateway_stage)
        if any(fn.decl.schedules for fn in functions):
            self._dlq_alarm(
                "Dlq-scheduled",
                messaging.scheduled_dlq(),
                "a scheduled run failed after Lambda's retries: re-run it for its date (billow --stage S bill --date). "
                f"{runbook('daily-run')}",
            )

    def _dashboard(self, stage: str, api_name: str, api_stage: str) -> cloudwatch.Dashboard:
        dashboard = cloudwatch.Dashboard(self, "Dashboard", dashboard_name=f"billow-{stage}")
        widgets: list[cloudwatch.IWidget] = []
        for title, metric, dimension, values in DASHBOARD:
            lines = [business_metric(stage, metric, {dimension: v} if dimension else {}) for v in values or ("",)]
            if metric == "RunAccountsBilled":
                lines.append(business_metric(stage, "RunAccountsFailed", {}))
            if metric == "EmailsSent":
                lines += [business_metric(stage, m, {}) for m in ("EmailsFailed", "EmailsSuppressed")]
            widgets.append(cloudwatch.GraphWidget(title=title, left=lines, width=8))
        widgets.append(
            cloudwatch.GraphWidget(
                title="Failures",
                left=[business_metric(stage, a.metric, dict(a.dimensions)) for a in BUSINESS_ALARMS],
                width=8,
            )
        )
        api = {"ApiName": api_name, "Stage": api_stage}
        widgets.append(
            cloudwatch.GraphWidget(
                title="API 4xx / 5xx",
                left=[
                    cloudwatch.Metric(namespace="AWS/ApiGateway", metric_name=m, dimensions_map=api, statistic="Sum")
                    for m in ("4XXError", "5XXError")
                ],
                width=8,
            )
        )
        dashboard.add_widgets(*widgets)
        return dashboard

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
            description=f"{fn.name} did not run in the last 24 hours: the daily billing run was skipped. "
            f"{runbook('daily-run')}",
        )
