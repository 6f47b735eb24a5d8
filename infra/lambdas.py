"""Each function of the packaged Chalice app, made deployable for one stage: what Chalice cannot express.

For every AWS::Serverless::Function in sam.json (infra/sam.py says what it is):

- its own IAM role with its grants (infra/grants.py) and its own log group (retention set);
- a name `billow-<stage>-<function>`, the stage's environment (Chalice's config for that stage, since
  the package is built once for all stages) plus the stage's settings file (seller, addresses, console
  origins: infra/settings.py) and what the stack provides (bucket, secret, issuer);
- memory and timeout from the Chalice stage; a queue consumer's timeout from its queue spec instead,
  the same number its queue's visibility timeout derives from;
- on its SQS event, which Chalice writes with the queue's name as it was at packaging time: the queue of
  this stage, `FunctionResponseTypes: [ReportBatchItemFailures]` (a batch reports the messages that
  failed, the rest are deleted) and `ScalingConfig.MaximumConcurrency` (unless the app sets one);
- on a scheduled function: a DLQ for the events Lambda gave up on after its two retries.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.budgets import function_environment
from infra.data import Data
from infra.events import OutboundEvents
from infra.grants import BUCKET_READ, BUCKET_WRITE, TABLE_READ, TABLE_WRITE, grants_for
from infra.identity import IssuerSettings
from infra.mail import configuration_set_name
from infra.messaging import Messaging, consumer_settings
from infra.packaged_app import PackagedChaliceApp
from infra.sam import FunctionDecl
from infra.stages import StageSettings
from infra.suppressions import skip

FUNCTION_SKIPS = ("CKV_AWS_117", "CKV_AWS_115", "CKV_AWS_173")


@dataclass
class DeployedFunction:
    decl: FunctionDecl
    name: str
    role: iam.Role
    log_group: logs.LogGroup


# The retention periods CloudWatch Logs accepts (days).
RETENTION_DAYS = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)


def log_group(scope: Construct, construct_id: str, name: str, days: int) -> logs.LogGroup:
    """A retained log group keeping its events `days` days."""
    if days not in RETENTION_DAYS:
        raise ValueError(f"{days} days is not a CloudWatch Logs retention period {RETENTION_DAYS}")
    group = logs.LogGroup(scope, construct_id, log_group_name=name, removal_policy=RemovalPolicy.RETAIN)
    group.node.default_child.retention_in_days = days
    skip(group, "CKV_AWS_158")
    return group


def function_name(stage: StageSettings, decl: FunctionDecl) -> str:
    short = "api" if decl.is_api else decl.chalice_name.replace("_", "-")
    name = f"billow-{stage.name}-{short}"
    if len(name) > 64:
        raise ValueError(f"function name {name!r} is longer than Lambda's 64 characters")
    return name


class AppFunctions(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage: StageSettings,
        app: PackagedChaliceApp,
        decls: list[FunctionDecl],
        data: Data,
        messaging: Messaging,
        issuer: IssuerSettings,
        outbound: OutboundEvents,
    ) -> None:
        super().__init__(scope, construct_id)
        self.stage, self.app, self.data, self.messaging, self.issuer = stage, app, data, messaging, issuer
        self.outbound = outbound
        self.functions = [self._deploy(decl) for decl in decls]

    def _environment(self, decl: FunctionDecl) -> dict[str, str]:
        env = dict(self.stage.function_config(decl.chalice_name).environment_variables)
        env.update(self.stage.settings_env)  # seller, addresses, console origins (infra/settings.py)
        # Stripe retries within this function's time budget (infra/budgets.py)
        env.update(function_environment(is_api=decl.is_api, queue=decl.sqs[0].queue if decl.sqs else None))
        env.update(
            {
                "BILLOW_INVOICE_BUCKET": self.data.bucket.bucket_name,
                "BILLOW_SECRETS_ARN": self.data.secret.secret_arn,
                "BILLOW_WEBHOOK_KMS_KEY": self.data.webhook_key.key_arn,
                "BILLOW_JWT_ISSUER": self.issuer.issuer,
                "BILLOW_JWKS_URL": self.issuer.jwks_url,
                "BILLOW_JWT_AUDIENCE": self.issuer.audience,
                "BILLOW_TRACING": "1",  # X-Ray active tracing below; the SDK loads on first use
                "BILLOW_SES_CONFIGURATION_SET": configuration_set_name(self.stage),
                "BILLOW_EVENT_BUS": self.outbound.bus.event_bus_name,
                "BILLOW_CORS_ORIGINS": ",".join(self.stage.console_origins),
            }
        )
        return env

    def _configuration_set_arn(self) -> str:
        """SES checks the sender's right to the configuration set a message names, too (infra/mail.py)."""
        stack = Stack.of(self)
        name = configuration_set_name(self.stage)
        return f"arn:{stack.partition}:ses:{stack.region}:{stack.account}:configuration-set/{name}"

    def _deploy(self, decl: FunctionDecl) -> DeployedFunction:
        name = function_name(self.stage, decl)
        grants = grants_for(decl.role)  # fails the synth for a kind of function nobody has reviewed
        logs_ = log_group(self, f"Logs-{decl.logical_id}", f"/aws/lambda/{name}", self.stage.log_retention_days)
        role = iam.Role(
            self,
            f"Role-{decl.logical_id}",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"billow {self.stage.name}: {decl.role} function {name}",
        )
        logs_.grant_write(role)
        if grants.tables:
            actions = TABLE_READ + (TABLE_WRITE if grants.tables == "read_write" else ())
            tables = list(self.data.tables.values())
            resources = [t.table_arn for t in tables] + [f"{t.table_arn}/index/*" for t in tables]
            role.add_to_policy(iam.PolicyStatement(actions=list(actions), resources=resources))
        if grants.bucket:
            bucket = self.data.bucket
            actions = BUCKET_READ + (BUCKET_WRITE if grants.bucket == "read_write" else ())
            role.add_to_policy(iam.PolicyStatement(actions=list(actions), resources=[bucket.arn_for_objects("*")]))
            role.add_to_policy(iam.PolicyStatement(actions=["s3:ListBucket"], resources=[bucket.bucket_arn]))
        for queue in grants.send_to:
            self.messaging.queues[queue].grant_send_messages(role)
        if grants.email:
            role.add_to_policy(
                iam.PolicyStatement(
                    actions=["ses:SendEmail", "ses:SendRawEmail"],
                    resources=[self.data.email_identity_arn, self._configuration_set_arn()],
                )
            )
        if grants.secrets:
            self.data.secret.grant_read(role)
        if grants.put_events:
            self.outbound.grant_put(role)
        if grants.webhook_key == "encrypt":
            self.data.webhook_key.grant(role, "kms:Encrypt")
        elif grants.webhook_key == "decrypt":
            self.data.webhook_key.grant(role, "kms:Decrypt")

        config = self.stage.function_config(decl.chalice_name)
        fn = self.app.get_resource(decl.logical_id)
        fn.add_property_override("FunctionName", name)
        fn.add_property_override("Role", role.role_arn)
        fn.add_property_override("MemorySize", config.lambda_memory_size)
        fn.add_property_override("Timeout", config.lambda_timeout)
        fn.add_property_override("Environment.Variables", self._environment(decl))
        fn.add_property_override("LoggingConfig", {"LogGroup": logs_.log_group_name})
        fn.add_property_override("Tracing", "Active")
        # X-Ray's write actions take no resource ("*" only): AWS's managed policy for exactly them
        role.add_managed_policy(iam.ManagedPolicy.from_aws_managed_policy_name("AWSXRayDaemonWriteAccess"))
        tags = dict(self.app.template["Resources"][decl.logical_id]["Properties"].get("Tags") or {})
        if "aws-chalice" in tags:  # the package is built with --stage prod; say which stage this is
            tags["aws-chalice"] = tags["aws-chalice"].replace("stage=prod", f"stage={self.stage.name}")
            fn.add_property_override("Tags", tags)
        for trigger in decl.sqs:
            spec, queue = self.messaging.specs[trigger.queue], self.messaging.queues[trigger.queue]
            queue.grant_consume_messages(role)
            fn.add_property_override("Timeout", spec.consumer_timeout_seconds)
            event = f"Events.{trigger.event}.Properties"
            fn.add_property_override(f"{event}.Queue", queue.queue_arn)
            fn.add_property_override(f"{event}.FunctionResponseTypes", ["ReportBatchItemFailures"])
            concurrency = trigger.max_concurrency or consumer_settings(trigger.queue).max_concurrency
            if not 2 <= concurrency <= 1000:
                raise ValueError(f"{decl.logical_id}: MaximumConcurrency {concurrency} is outside SQS's 2..1000")
            fn.add_property_override(f"{event}.ScalingConfig", {"MaximumConcurrency": concurrency})
        if decl.schedules:
            dlq = self.messaging.scheduled_dlq()
            dlq.grant_send_messages(role)
            fn.add_property_override("DeadLetterQueue", {"Type": "SQS", "TargetArn": dlq.queue_arn})
        skip(fn, *FUNCTION_SKIPS)
        if not decl.schedules:  # invoked synchronously or by an event source mapping: no Lambda DLQ applies
            skip(fn, "CKV_AWS_116")
        if decl.stream:
            self._stream_trigger(decl, name, fn, role)
        # The role's policy must exist before the function: its event source mapping checks queue access.
        policy = role.node.try_find_child("DefaultPolicy")
        if policy is not None:
            fn.node.add_dependency(policy)
        return DeployedFunction(decl=decl, name=name, role=role, log_group=logs_)

    def _stream_trigger(self, decl: FunctionDecl, name: str, fn: Any, role: iam.Role) -> None:
        """The function's DynamoDB stream event source (infra/events.py), created after the function and
        after its role may read the stream."""
        assert decl.stream is not None
        mapping = self.outbound.stream_source(
            self, f"Stream-{decl.logical_id}", self.data.tables[decl.stream], name, role
        )
        mapping.node.add_dependency(fn)
        policy = role.node.try_find_child("DefaultPolicy")
        if policy is not None:
            mapping.node.add_dependency(policy)
