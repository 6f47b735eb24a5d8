"""One billow stage on AWS: the packaged Chalice app and everything it uses, in one CloudFormation stack."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import CfnOutput, Environment, Fn, RemovalPolicy, Stack, Tags
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_iam as iam
from constructs import Construct

from functions.core.resources import QUEUES
from infra import sam
from infra.console import ConsoleSite
from infra.data import Data
from infra.events import OutboundEvents
from infra.gateway import ACCESS_LOG_FORMAT, sam_gateway_responses
from infra.identity import Identity
from infra.lambdas import AppFunctions, log_group
from infra.mail import Mail
from infra.messaging import Messaging
from infra.monitoring import Monitoring
from infra.packaged_app import PackagedChaliceApp
from infra.stages import StageSettings
from infra.suppressions import skip

REST_API = "RestAPI"  # Chalice's logical id of the AWS::Serverless::Api


class BillowStack(Stack):
    def __init__(
        self, scope: Construct, *, stage: StageSettings, package_dir: Path, work_dir: Path, console_dir: Path
    ) -> None:
        env = Environment(account=stage.account, region=stage.region) if stage.account or stage.region else None
        super().__init__(
            scope,
            stage.stack_name,
            env=env,
            description=f"billow {stage.name}: billing API, workers, tables, queues, bucket, event bus (infra/)",
            termination_protection=True,
        )
        Tags.of(self).add("app", "billow")
        Tags.of(self).add("stage", stage.name)
        self.stage = stage
        self.data = Data(self, "Data", stage=stage)
        self.messaging = Messaging(self, "Messaging", stage=stage)
        self.identity = Identity(self, "Identity", stage=stage)
        self.mail = Mail(self, "Mail", stage=stage, messaging=self.messaging)
        self.outbound = OutboundEvents(self, "Events", stage=stage)
        self.app = PackagedChaliceApp(self, "App", package_dir=package_dir, template_dir=work_dir / stage.stack_name)
        self.decls = sam.functions(self.app.template, QUEUES)
        self.functions = AppFunctions(
            self,
            "Functions",
            stage=stage,
            app=self.app,
            decls=self.decls,
            data=self.data,
            messaging=self.messaging,
            issuer=self.identity.settings,
            outbound=self.outbound,
        ).functions
        api_name = self._configure_api()
        self.monitoring = Monitoring(
            self,
            "Monitoring",
            stage=stage,
            messaging=self.messaging,
            functions=self.functions,
            api_name=api_name,
            publish_failures=self.outbound.failures,
        )
        self.console = self._console(console_dir) if stage.console_hosting else None
        CfnOutput(self, "InvoiceBucket", value=self.data.bucket.bucket_name)
        self._operator_outputs()
        CfnOutput(self, "SecretArn", value=self.data.secret.secret_arn)
        CfnOutput(self, "JwtIssuer", value=self.identity.settings.issuer)
        CfnOutput(self, "EventBus", value=self.outbound.bus.event_bus_name)
        identity = self.data.email_identity
        if identity is not None and stage.email_domain:
            for number, record in enumerate(identity.dkim_records, start=1):
                CfnOutput(self, f"DkimCname{number}", value=f"{record.name} CNAME {record.value}")

    def _console(self, console_dir: Path) -> ConsoleSite:
        """The console on S3 + CloudFront (infra/console.py), signing in through this stage's Cognito."""
        stage_path = self.stage.function_config("api_handler").api_gateway_stage
        origin = Fn.sub(f"https://${{{REST_API}}}.execute-api.${{AWS::Region}}.${{AWS::URLSuffix}}")
        site = ConsoleSite(
            self,
            "Console",
            stage=self.stage,
            api_origin=origin,
            api_url=Fn.join("", [origin, f"/{stage_path}/"]),
            cognito=self.identity.console,
            console_dir=console_dir,
        )
        # Cognito's callback URLs stay the settings' consoleOrigins: naming the distribution there would be a
        # cycle (console client -> distribution -> CSP -> API -> API function's audience -> console client).
        return site

    def _operator_outputs(self) -> None:
        """What `billow --stage <stage> …` reads (local/deployed.py): the tables' prefix, every queue's and
        DLQ's URL, and the functions' names (the daily run's under `DailyRunFunction`)."""
        CfnOutput(self, "TablePrefix", value=self.stage.table_prefix)
        for name in self.messaging.queues:
            key = "".join(part.title() for part in name.split("-"))
            CfnOutput(self, f"QueueUrl{key}", value=self.messaging.queues[name].queue_url)
            CfnOutput(self, f"DlqUrl{key}", value=self.messaging.dlqs[name].queue_url)
        for fn in self.functions:
            CfnOutput(self, f"Function{fn.decl.logical_id}", value=fn.name)
            if fn.decl.schedules:
                CfnOutput(self, "DailyRunFunction", value=fn.name)

    def _configure_api(self) -> str:
        """Name, stage, throttling, logs and problem+json gateway responses of Chalice's REST API."""
        api = self.app.get_resource(REST_API)
        config = self.stage.function_config("api_handler")
        name = f"billow-{self.stage.name}"
        access_logs = log_group(self, "ApiAccessLogs", f"/aws/apigateway/{name}/access", self.stage.log_retention_days)
        api.add_property_override("Name", name)
        api.add_property_override("StageName", config.api_gateway_stage)
        api.add_property_override("EndpointConfiguration", config.api_gateway_endpoint_type)
        api.add_property_override("GatewayResponses", sam_gateway_responses(self.stage.console_origins))
        api.add_property_override(
            "MethodSettings",
            [
                {
                    "ResourcePath": "/*",
                    "HttpMethod": "*",
                    "ThrottlingRateLimit": self.stage.throttle_rate,
                    "ThrottlingBurstLimit": self.stage.throttle_burst,
                    "MetricsEnabled": True,
                    "LoggingLevel": "ERROR",
                    "DataTraceEnabled": False,  # full request/response logging would write tokens and bodies
                }
            ],
        )
        api.add_property_override(
            "AccessLogSetting", {"DestinationArn": access_logs.log_group_arn, "Format": ACCESS_LOG_FORMAT}
        )
        skip(api, "CKV_AWS_120", "CKV_AWS_73")
        api.node.add_dependency(self._api_gateway_logging_role())
        self.app.sam_template.get_output("EndpointURL").value = Fn.sub(
            f"https://${{{REST_API}}}.execute-api.${{AWS::Region}}.${{AWS::URLSuffix}}/{config.api_gateway_stage}/"
        )
        return name

    def _api_gateway_logging_role(self) -> apigateway.CfnAccount:
        """API Gateway writes stage logs with one role per account and region (AWS::ApiGateway::Account).

        The role is retained on stack deletion, as CDK's RestApi does: another stack (the other stage) may
        have set the same account setting to it.
        """
        role = iam.Role(
            self,
            "ApiGatewayLogsRole",
            assumed_by=iam.ServicePrincipal("apigateway.amazonaws.com"),
            managed_policies=[
                iam.ManagedPolicy.from_aws_managed_policy_name("service-role/AmazonAPIGatewayPushToCloudWatchLogs")
            ],
        )
        role.apply_removal_policy(RemovalPolicy.RETAIN)
        account = apigateway.CfnAccount(self, "ApiGatewayAccount", cloud_watch_role_arn=role.role_arn)
        account.apply_removal_policy(RemovalPolicy.RETAIN)
        return account
