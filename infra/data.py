"""Stateful resources: the DynamoDB tables (from the one table spec), the invoice bucket, the secret
and the SES sender. Everything here is retained when the stack is deleted: it is the billing record."""

from __future__ import annotations

import json

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_ses as ses
from constructs import Construct

from functions.core import secrets as secret_fields
from functions.core.tables import TABLES, TableSpec
from infra.stages import StageSettings
from infra.suppressions import skip

PROJECTIONS = {"ALL": dynamodb.ProjectionType.ALL, "KEYS_ONLY": dynamodb.ProjectionType.KEYS_ONLY}


def _string_key(name: str) -> dynamodb.Attribute:
    return dynamodb.Attribute(name=name, type=dynamodb.AttributeType.STRING)


class Data(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, stage: StageSettings) -> None:
        super().__init__(scope, construct_id)
        self.stage = stage
        self.tables = {name: self._table(spec) for name, spec in TABLES.items()}
        self.bucket = self._bucket()
        self.secret = self._secret()
        self.webhook_key = self._webhook_key()
        self.email_identity: ses.EmailIdentity | None = None  # None when the identity already exists
        self.email_identity_arn = self._email_identity()

    def _table(self, spec: TableSpec) -> dynamodb.Table:
        table = dynamodb.Table(
            self,
            f"Table-{spec.name}",
            table_name=self.stage.physical_name(spec.name),
            partition_key=_string_key(spec.hash_key),
            sort_key=_string_key(spec.range_key) if spec.range_key else None,
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            deletion_protection=True,
            time_to_live_attribute=spec.ttl_attribute,
            removal_policy=RemovalPolicy.RETAIN,
            stream=dynamodb.StreamViewType[spec.stream] if spec.stream else None,
        )
        for index in spec.indexes:
            table.add_global_secondary_index(
                index_name=index.name,
                partition_key=_string_key(index.hash_key),
                sort_key=_string_key(index.range_key) if index.range_key else None,
                projection_type=PROJECTIONS[index.projection],
            )
        skip(table, "CKV_AWS_119")
        return table

    def _bucket(self) -> s3.Bucket:
        # The name is left to CloudFormation (bucket names are global); the app reads BILLOW_INVOICE_BUCKET.
        bucket = s3.Bucket(
            self,
            "Invoices",
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            versioned=True,  # an overwritten or deleted invoice PDF stays recoverable for 30 days
            removal_policy=RemovalPolicy.RETAIN,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="invoice-retention",
                    expiration=Duration.days(self.stage.invoice_retention_days),
                    noncurrent_version_expiration=Duration.days(30),
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                ),
                s3.LifecycleRule(id="expired-delete-markers", expired_object_delete_marker=True),
                # the PDF route's markers of renders asked for (functions/invoices/store.py): a day is plenty
                s3.LifecycleRule(
                    id="render-requests",
                    prefix="renders/",
                    expiration=Duration.days(1),
                    noncurrent_version_expiration=Duration.days(1),
                ),
            ],
        )
        skip(bucket, "CKV_AWS_18")
        return bucket

    def _secret(self) -> secretsmanager.Secret:
        # The stack generates the cursor key; operators fill in the Stripe fields (docs/deploy.md).
        template = {
            secret_fields.STRIPE_SECRET_KEY: "",
            secret_fields.STRIPE_PUBLISHABLE_KEY: "",
            secret_fields.STRIPE_WEBHOOK_SECRET: "",
        }
        secret = secretsmanager.Secret(
            self,
            "AppSecret",
            secret_name=f"billow/{self.stage.name}/app",
            description="billow: Stripe secret and publishable keys, Stripe webhook signing secret, cursor HMAC key",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                secret_string_template=json.dumps(template),
                generate_string_key=secret_fields.CURSOR_SECRET,
                exclude_punctuation=True,
                password_length=64,
            ),
            removal_policy=RemovalPolicy.RETAIN,
        )
        skip(secret, "CKV_AWS_149")
        return secret

    def _webhook_key(self) -> kms.Key:
        """The customer-managed key that encrypts webhook endpoint secrets (functions/events/webhook_secrets.py),
        rotated yearly; each ciphertext is bound to its endpoint by the encryption context."""
        return kms.Key(
            self,
            "WebhookSecretsKey",
            alias=f"alias/billow-{self.stage.name}-webhooks",
            description="billow: webhook endpoint signing secrets",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.RETAIN,
        )

    def _email_identity(self) -> str:
        """The SES identity the app sends from (its ARN, for grants)."""
        name = self.stage.email_domain or self.stage.email_from
        stack = Stack.of(self)
        arn = stack.format_arn(service="ses", resource="identity", resource_name=name)
        if self.stage.email_identity_exists:
            return arn
        identity = ses.Identity.domain(name) if self.stage.email_domain else ses.Identity.email(name)
        self.email_identity = ses.EmailIdentity(self, "Sender", identity=identity)
        return arn
