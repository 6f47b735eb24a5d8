"""SES's configuration set and where its bounces and complaints go (DESIGN §9).

Every e-mail billow sends names the stage's configuration set (`BILLOW_SES_CONFIGURATION_SET`,
functions/core/email.py). The set publishes BOUNCE and COMPLAINT events to an SNS topic; the topic
delivers them (raw) to the `ses-feedback` queue, whose consumer suppresses the address
(functions/accounts/suppression.py). Through a queue rather than an SNS-triggered function: the same
retries, DLQ and alarms as every other consumer, and no new kind of trigger in infra/sam.py.
"""

from __future__ import annotations

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_ses as ses
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from functions.core.resources import SES_FEEDBACK
from infra.messaging import Messaging
from infra.stages import StageSettings
from infra.suppressions import skip


def configuration_set_name(stage: StageSettings) -> str:
    return f"billow-{stage.name}"


class Mail(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, stage: StageSettings, messaging: Messaging) -> None:
        super().__init__(scope, construct_id)
        self.configuration_set = ses.ConfigurationSet(
            self, "ConfigurationSet", configuration_set_name=configuration_set_name(stage)
        )
        self.topic = sns.Topic(self, "Feedback", topic_name=f"billow-{stage.name}-ses-feedback", enforce_ssl=True)
        skip(self.topic, "CKV_AWS_26")  # SES event notifications carry no secret; no KMS key to manage
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                actions=["sns:Publish"],
                principals=[iam.ServicePrincipal("ses.amazonaws.com")],
                resources=[self.topic.topic_arn],
                conditions={"StringEquals": {"AWS:SourceAccount": Stack.of(self).account}},
            )
        )
        self.configuration_set.add_event_destination(
            "BouncesAndComplaints",
            destination=ses.EventDestination.sns_topic(self.topic),
            events=[ses.EmailSendingEvent.BOUNCE, ses.EmailSendingEvent.COMPLAINT],
        )
        self.topic.add_subscription(
            subscriptions.SqsSubscription(messaging.queues[SES_FEEDBACK], raw_message_delivery=True)
        )
        CfnOutput(Stack.of(self), "SesConfigurationSet", value=configuration_set_name(stage))
