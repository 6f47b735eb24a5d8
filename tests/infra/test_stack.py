"""The synthesized stacks hold what billow needs in AWS, configured as docs/deploy.md says (aws_cdk.assertions)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from functions.core import secrets
from functions.core.auth import SCOPES
from functions.core.resources import QUEUES
from functions.core.tables import TABLES
from infra import budgets, sam
from infra.grants import GRANTS, TABLE_WRITE
from infra.messaging import VISIBILITY_FACTOR, consumer_settings
from infra.stages import STACK_PROVIDED_ENV, load_chalice_config, stage_settings
from tests.infra.conftest import EXISTING_ISSUER, TEST_CONTEXT


def resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def props_of(template: dict[str, Any], kind: str, **match: Any) -> dict[str, Any]:
    """The properties of the one resource of `kind` whose properties include `match`."""
    found = [r["Properties"] for r in resources(template, kind).values() if match.items() <= r["Properties"].items()]
    assert len(found) == 1, f"{len(found)} {kind} with {match}"
    return found[0]


def logical_id(template: dict[str, Any], kind: str, **match: Any) -> str:
    found = [k for k, r in resources(template, kind).items() if match.items() <= r["Properties"].items()]
    assert len(found) == 1, f"{len(found)} {kind} with {match}"
    return found[0]


def settings(stage: str):
    return stage_settings(stage, TEST_CONTEXT, load_chalice_config())


# ---- tables: from the one table spec ------------------------------------------------------------


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_every_table_of_the_spec_exists_with_its_keys_indexes_and_ttl(synthesized, stage):
    template = synthesized.templates[stage]
    prefix = settings(stage).table_prefix
    assert len(resources(template, "AWS::DynamoDB::Table")) == len(TABLES)
    for spec in TABLES.values():
        props = props_of(template, "AWS::DynamoDB::Table", TableName=f"{prefix}{spec.name}")
        keys = [{"AttributeName": spec.hash_key, "KeyType": "HASH"}]
        if spec.range_key:
            keys.append({"AttributeName": spec.range_key, "KeyType": "RANGE"})
        assert props["KeySchema"] == keys
        assert props["BillingMode"] == "PAY_PER_REQUEST"
        assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
        assert props["DeletionProtectionEnabled"] is True
        assert props["SSESpecification"]["SSEEnabled"] is True
        if spec.ttl_attribute:
            assert props["TimeToLiveSpecification"] == {"AttributeName": spec.ttl_attribute, "Enabled": True}
        else:
            assert "TimeToLiveSpecification" not in props
        indexes = {i["IndexName"]: i for i in props.get("GlobalSecondaryIndexes", [])}
        assert set(indexes) == {i.name for i in spec.indexes}
        for index in spec.indexes:
            schema = [{"AttributeName": index.hash_key, "KeyType": "HASH"}]
            if index.range_key:
                schema.append({"AttributeName": index.range_key, "KeyType": "RANGE"})
            assert indexes[index.name]["KeySchema"] == schema
            assert indexes[index.name]["Projection"]["ProjectionType"] == index.projection
        attributes = {a["AttributeName"]: a["AttributeType"] for a in props["AttributeDefinitions"]}
        assert set(attributes.values()) == {"S"}
    Template.from_json(template).all_resources("AWS::DynamoDB::Table", {"DeletionPolicy": "Retain"})


def test_the_app_computes_the_same_table_and_queue_names_as_the_stack(prod, monkeypatch):
    from functions.core import resources as app_resources
    from functions.core import tables as app_tables
    from functions.core.settings import reset_settings

    monkeypatch.setenv("BILLOW_TABLE_PREFIX", settings("prod").table_prefix)
    reset_settings()
    try:
        table_names = {r["Properties"]["TableName"] for r in resources(prod, "AWS::DynamoDB::Table").values()}
        assert table_names == {app_tables.table_name(name) for name in TABLES}
        queue_names = {r["Properties"]["QueueName"] for r in resources(prod, "AWS::SQS::Queue").values()}
        expected = {app_resources.queue_name(n) for n in QUEUES} | {app_resources.dlq_name(n) for n in QUEUES}
        assert expected <= queue_names
    finally:
        monkeypatch.undo()
        reset_settings()


# ---- queues -----------------------------------------------------------------------------------------


def test_every_queue_has_a_dlq_and_a_visibility_of_six_consumer_timeouts(prod):
    prefix = settings("prod").table_prefix
    for spec in QUEUES.values():
        dlq_id = logical_id(prod, "AWS::SQS::Queue", QueueName=f"{prefix}{spec.name}-dlq")
        props = props_of(prod, "AWS::SQS::Queue", QueueName=f"{prefix}{spec.name}")
        assert props["VisibilityTimeout"] == VISIBILITY_FACTOR * spec.consumer_timeout_seconds
        assert props["VisibilityTimeout"] >= 6 * spec.consumer_timeout_seconds
        assert props["RedrivePolicy"] == {
            "deadLetterTargetArn": {"Fn::GetAtt": [dlq_id, "Arn"]},
            "maxReceiveCount": spec.max_receive_count,
        }
        dlq = prod["Resources"][dlq_id]["Properties"]
        assert dlq["MessageRetentionPeriod"] == 14 * 24 * 3600
        assert dlq["RedriveAllowPolicy"]["redrivePermission"] == "byQueue"
        for queue in (props, dlq):
            assert queue["SqsManagedSseEnabled"] is True


def test_queue_policies_refuse_anything_but_tls(prod):
    policies = resources(prod, "AWS::SQS::QueuePolicy")
    assert len(policies) >= 2 * len(QUEUES)
    for policy in policies.values():
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        assert any(
            s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in statements
        )


# ---- bucket, secret, sender -------------------------------------------------------------------------


def _invoice_bucket(template: dict[str, Any]) -> str:
    (found,) = [k for k, r in resources(template, "AWS::S3::Bucket").items() if "DataInvoices" in k]
    return found


def test_the_invoice_bucket_is_private_encrypted_tls_only_versioned_and_has_a_lifecycle(prod):
    template = Template.from_json(prod)
    template.resource_count_is("AWS::S3::Bucket", 2)  # the invoices, and the hosted console's (test_console.py)
    template.has_resource(
        "AWS::S3::Bucket",
        {
            "DeletionPolicy": "Retain",
            "Properties": {
                "PublicAccessBlockConfiguration": {
                    "BlockPublicAcls": True,
                    "BlockPublicPolicy": True,
                    "IgnorePublicAcls": True,
                    "RestrictPublicBuckets": True,
                },
                "BucketEncryption": {
                    "ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
                },
                "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
                "VersioningConfiguration": {"Status": "Enabled"},
                "LifecycleConfiguration": {
                    "Rules": Match.array_with(
                        [
                            Match.object_like(
                                {
                                    "ExpirationInDays": settings("prod").invoice_retention_days,
                                    "NoncurrentVersionExpiration": {"NoncurrentDays": 30},
                                    "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
                                    "Status": "Enabled",
                                }
                            )
                        ]
                    )
                },
            },
        },
    )
    invoices = _invoice_bucket(prod)
    statements = props_of(prod, "AWS::S3::BucketPolicy", Bucket={"Ref": invoices})["PolicyDocument"]["Statement"]
    denies = [s for s in statements if s["Effect"] == "Deny"]
    assert {json.dumps(s["Condition"], sort_keys=True) for s in denies} == {
        json.dumps({"Bool": {"aws:SecureTransport": "false"}}),
        json.dumps({"NumericLessThan": {"s3:TlsVersion": 1.2}}),
    }


def test_the_secret_holds_the_fields_the_app_reads_and_generates_the_cursor_key(prod):
    props = props_of(prod, "AWS::SecretsManager::Secret", Name="billow/prod/app")
    generated = props["GenerateSecretString"]
    assert generated["GenerateStringKey"] == secrets.CURSOR_SECRET
    assert set(json.loads(generated["SecretStringTemplate"])) | {secrets.CURSOR_SECRET} == set(secrets.ENV_FALLBACK)
    assert generated["PasswordLength"] >= 32
    Template.from_json(prod).has_resource("AWS::SecretsManager::Secret", {"DeletionPolicy": "Retain"})


def test_the_sender_is_a_domain_identity_in_prod_and_an_address_in_dev(synthesized):
    prod, dev = settings("prod"), settings("dev")
    assert props_of(synthesized.templates["prod"], "AWS::SES::EmailIdentity")["EmailIdentity"] == prod.email_domain
    assert props_of(synthesized.templates["dev"], "AWS::SES::EmailIdentity")["EmailIdentity"] == dev.email_from
    assert any(k.startswith("DkimCname") for k in synthesized.templates["prod"]["Outputs"])


# ---- the issuer -------------------------------------------------------------------------------------


def test_cognito_has_a_resource_server_with_exactly_the_four_scopes(prod):
    pool = props_of(prod, "AWS::Cognito::UserPool")
    assert pool["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    assert pool["DeletionProtection"] == "ACTIVE"
    server = props_of(prod, "AWS::Cognito::UserPoolResourceServer")
    assert {s["ScopeName"] for s in server["Scopes"]} == set(SCOPES)
    # the app strips this prefix from token scopes (BILLOW_SCOPE_PREFIX)
    env = props_of(prod, "AWS::Serverless::Function", Handler="app.app")["Environment"]["Variables"]
    assert env["BILLOW_SCOPE_PREFIX"] == f"{server['Identifier']}/"


def _scopes(client: dict[str, Any]) -> set[str]:
    return {s if isinstance(s, str) else s["Fn::Join"][1][-1].lstrip("/") for s in client["AllowedOAuthScopes"]}


def test_each_app_client_gets_only_its_scopes_and_grant(prod):
    clients = {
        c["ClientName"]: c for c in (r["Properties"] for r in resources(prod, "AWS::Cognito::UserPoolClient").values())
    }
    assert set(clients) == {"console", "operator", "usage"}
    assert clients["console"]["AllowedOAuthFlows"] == ["code"]
    assert clients["console"].get("GenerateSecret") in (None, False)
    assert _scopes(clients["console"]) == {"openid", "email", "billing:read", "billing:write"}
    assert clients["operator"]["AllowedOAuthFlows"] == ["client_credentials"]
    assert clients["operator"]["GenerateSecret"] is True
    assert _scopes(clients["operator"]) == {"billing:admin", "billing:read"}
    assert _scopes(clients["usage"]) == {"billing:usage"}
    env = props_of(prod, "AWS::Serverless::Function", Handler="app.app")["Environment"]["Variables"]
    client_ids = {k for k, r in resources(prod, "AWS::Cognito::UserPoolClient").items()}
    assert {ref["Ref"] for ref in env["BILLOW_JWT_AUDIENCE"]["Fn::Join"][1]} == client_ids
    assert env["BILLOW_JWKS_URL"]["Fn::Join"][1][-1] == "/.well-known/jwks.json"


def test_an_existing_issuer_from_the_context_replaces_cognito(workers_prod):
    assert not resources(workers_prod, "AWS::Cognito::UserPool")
    for fn in resources(workers_prod, "AWS::Serverless::Function").values():
        env = fn["Properties"]["Environment"]["Variables"]
        assert env["BILLOW_JWT_ISSUER"] == EXISTING_ISSUER["issuer"]
        assert env["BILLOW_JWKS_URL"] == EXISTING_ISSUER["jwksUrl"]
        assert env["BILLOW_JWT_AUDIENCE"] == ",".join(EXISTING_ISSUER["audience"])


# ---- functions --------------------------------------------------------------------------------------


def test_each_function_deploys_the_zip_make_package_built_for_it(synthesized, package_dir):
    manifest = json.loads((package_dir / "manifest.json").read_text())["functions"]
    template = synthesized.templates["prod"]
    functions = resources(template, "AWS::Serverless::Function")
    assert set(functions) == set(manifest)
    files = synthesized.assets["prod"]["files"]
    by_key = {d["objectKey"]: a for a in files.values() for d in a["destinations"].values()}
    for logical_id, fn in functions.items():
        asset = by_key[fn["Properties"]["CodeUri"]["Key"]]
        assert asset["source"]["packaging"] == "file", "uploaded as is, not re-zipped"
        staged = synthesized.outdir / asset["source"]["path"]
        assert hashlib.sha256(staged.read_bytes()).hexdigest() == manifest[logical_id]["sha256"], logical_id
    # one asset per distinct zip: the API's is not a worker's (it has no PDF renderer when it renders none)
    keys = {fn["Properties"]["CodeUri"]["Key"] for fn in functions.values()}
    assert len(keys) == len({entry["sha256"] for entry in manifest.values()}) > 1


def test_every_function_of_the_package_is_deployed_with_its_own_role_and_no_chalice_default_role(prod, package_dir):
    declared = sam.functions(sam.read_template(package_dir), QUEUES)
    functions = resources(prod, "AWS::Serverless::Function")
    assert set(functions) == {f.logical_id for f in declared}
    assert "DefaultRole" not in prod["Resources"]
    roles = [fn["Properties"]["Role"]["Fn::GetAtt"][0] for fn in functions.values()]
    assert len(set(roles)) == len(roles)
    for fn in functions.values():
        assert fn["Properties"]["FunctionName"].startswith("billow-prod-")
        assert fn["Properties"]["LoggingConfig"]["LogGroup"]["Ref"] in prod["Resources"]


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_the_environment_is_the_chalice_stage_plus_what_the_stack_provides(synthesized, stage):
    template = synthesized.templates[stage]
    config = settings(stage)
    for function_id, fn in resources(template, "AWS::Serverless::Function").items():
        props = fn["Properties"]
        decl = sam.FunctionDecl(function_id, props["Handler"])
        chalice = config.function_config(decl.chalice_name)
        env = props["Environment"]["Variables"]
        assert {k: env[k] for k in chalice.environment_variables} == chalice.environment_variables
        consumer = any(e["Type"] == "SQS" for e in (props.get("Events") or {}).values())
        not_here = {"BILLOW_CURSOR_SECRET"} | (set() if consumer else {"BILLOW_MESSAGE_BUDGET_SECONDS"})
        assert set(env) == set(chalice.environment_variables) | (STACK_PROVIDED_ENV - not_here)
        retry = budgets.API_STRIPE if decl.is_api else budgets.WORKER_STRIPE
        assert env["BILLOW_STRIPE_MAX_ATTEMPTS"] == str(retry.attempts)
        assert env["BILLOW_STAGE"] == stage
        assert {k: env[k] for k in config.settings_env} == config.settings_env
        assert env["BILLOW_SELLER_NAME"] == "Nimbus Test Hosting SAS"
        assert env["BILLOW_SELLER_ADDRESS"] == "4 quai des Chartrons|33000 Bordeaux|France"
        assert env["BILLOW_CORS_ORIGINS"] == env["BILLOW_PAYPAL_RETURN_ORIGINS"] == ",".join(config.console_origins)
        assert env["BILLOW_CONSOLE_URL"] == config.console_origins[0]
        assert env["BILLOW_EMAIL_FROM"] == config.email_from
        assert not [v for v in env.values() if isinstance(v, str) and ("billow.example" in v or "localhost" in v)]
        assert props["MemorySize"] == chalice.lambda_memory_size
        if not any(e["Type"] == "SQS" for e in (props.get("Events") or {}).values()):
            assert props["Timeout"] == chalice.lambda_timeout
        assert f"stage={stage}" in props["Tags"]["aws-chalice"]


def _policy_statements(template: dict[str, Any], function_id: str) -> list[dict[str, Any]]:
    role = template["Resources"][function_id]["Properties"]["Role"]["Fn::GetAtt"][0]
    out = []
    for policy in resources(template, "AWS::IAM::Policy").values():
        if {"Ref": role} in policy["Properties"]["Roles"]:
            out += policy["Properties"]["PolicyDocument"]["Statement"]
    return out


def _actions(statements: list[dict[str, Any]]) -> set[str]:
    return {a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}


def test_no_policy_grants_a_wildcard_resource_or_action(synthesized, workers):
    for template in [*synthesized.templates.values(), *workers.templates.values()]:
        for policy in resources(template, "AWS::IAM::Policy").values():
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                assert statement["Resource"] != "*", statement
                assert "*" not in _actions([statement]) and not any(a.endswith(":*") for a in _actions([statement]))


def test_the_api_role_has_exactly_its_grants(prod):
    statements = _policy_statements(prod, "APIHandler")
    actions = _actions(statements)
    assert set(TABLE_WRITE) <= actions
    assert {"s3:GetObject", "s3:PutObject", "s3:ListBucket"} <= actions
    assert not any(a.startswith("s3:Delete") for a in actions)
    assert "dynamodb:Scan" not in actions
    sends = [s for s in statements if "sqs:SendMessage" in _actions([s])]
    # the card-validation queue (PUT payment-method) and the collections queue (an invoice issued by a
    # request on an automatic account requests its collection, docs/collections.md) and the webhook
    # deliveries queue (POST /v1/events/{id}/redeliver); (issue 21) the pdf-render queue (an invoice issued,
    # or GET …/pdf finding its PDF missing or stale: the API queues renders, never renders)
    assert sorted(s["Resource"]["Fn::GetAtt"][0] for s in sends) == sorted(
        logical_id(prod, "AWS::SQS::Queue", QueueName=f"{settings('prod').table_prefix}{name}")
        for name in ("card-validation", "collections", "webhook-deliveries", "pdf-render")
    )
    assert not any(a.startswith("sqs:Receive") for a in actions)
    assert {"ses:SendEmail", "secretsmanager:GetSecretValue", "kms:Encrypt"} <= actions
    assert "kms:Decrypt" not in actions  # the API stores endpoint secrets; only the deliverer reads them


# ---- queue consumers and the schedule (a stand-in app with the handlers other issues add) -----------


def _function(template: dict[str, Any], handler: str) -> tuple[str, dict[str, Any]]:
    (found,) = [
        (k, r["Properties"])
        for k, r in resources(template, "AWS::Serverless::Function").items()
        if r["Properties"]["Handler"] == handler
    ]
    return found


@pytest.mark.parametrize(
    ("handler", "queue", "concurrency"),
    [
        ("app.validate_card", "card-validation", 3),  # the app's own maximum_concurrency wins
        ("app.run_shard", "billing-run", consumer_settings("billing-run").max_concurrency),
        ("app.bill_account", "billing-account", consumer_settings("billing-account").max_concurrency),
    ],
)
def test_each_consumer_reports_batch_failures_is_capped_and_polls_this_stages_queue(
    workers_prod, handler, queue, concurrency
):
    function_id, props = _function(workers_prod, handler)
    ((_, event),) = props["Events"].items()
    queue_id = logical_id(workers_prod, "AWS::SQS::Queue", QueueName=f"{settings('prod').table_prefix}{queue}")
    assert event["Type"] == "SQS"
    assert event["Properties"]["Queue"] == {"Fn::GetAtt": [queue_id, "Arn"]}
    assert event["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert event["Properties"]["ScalingConfig"] == {"MaximumConcurrency": concurrency}
    assert props["Timeout"] == QUEUES[queue].consumer_timeout_seconds
    visibility = workers_prod["Resources"][queue_id]["Properties"]["VisibilityTimeout"]
    assert visibility >= 6 * props["Timeout"]
    consumes = [s for s in _policy_statements(workers_prod, function_id) if "sqs:ReceiveMessage" in _actions([s])]
    assert [s["Resource"] for s in consumes] == [{"Fn::GetAtt": [queue_id, "Arn"]}]


def test_each_kind_of_function_gets_its_grants(workers_prod):
    shard_id, _ = _function(workers_prod, "app.run_shard")
    shard = _actions(_policy_statements(workers_prod, shard_id))
    assert "dynamodb:Query" in shard and not set(TABLE_WRITE) & shard
    assert not any(a.startswith(("s3:", "ses:", "secretsmanager:")) for a in shard)
    daily_id, _ = _function(workers_prod, "app.daily_run")
    daily = _actions(_policy_statements(workers_prod, daily_id))
    assert not any(a.startswith(("dynamodb:", "s3:", "ses:", "secretsmanager:")) for a in daily)
    assert "sqs:SendMessage" in daily
    account_id, _ = _function(workers_prod, "app.bill_account")
    bill = _actions(_policy_statements(workers_prod, account_id))
    # (issue 21) the run queues its invoices' PDF renders: it no longer puts PDFs
    assert {"ses:SendEmail", "dynamodb:PutItem"} <= bill and not any(a.startswith("s3:") for a in bill)
    # (issue 19) + the outbox stream's consumer, the publisher of outbound events
    assert set(GRANTS) == {"api", "schedule", "stream:events"} | {f"sqs:{q}" for q in QUEUES}


def test_the_pdf_renderer_reads_the_tables_and_puts_pdfs_and_nothing_else(prod):
    """Issue 21: RenderPdfs, the pdf-render queue's consumer, is the one function that renders."""
    render_id, props = _function(prod, "functions.invoices.routes.render_pdfs")
    actions = _actions(_policy_statements(prod, render_id))
    assert {"s3:GetObject", "s3:PutObject", "dynamodb:GetItem", "dynamodb:BatchGetItem"} <= actions
    assert not set(TABLE_WRITE) & actions and not any(a.startswith("s3:Delete") for a in actions)
    assert not any(a.startswith(("ses:", "secretsmanager:", "kms:", "sqs:SendMessage")) for a in actions)
    assert props["Timeout"] == QUEUES["pdf-render"].consumer_timeout_seconds


def test_the_daily_run_fires_at_0005_utc_with_a_dlq_and_alarms(workers_prod):
    _, props = _function(workers_prod, "app.daily_run")
    ((_, event),) = props["Events"].items()
    assert event == {"Type": "Schedule", "Properties": {"Schedule": "cron(5 0 * * ? *)"}}
    dlq_name = f"{settings('prod').table_prefix}scheduled-dlq"
    dlq_id = logical_id(workers_prod, "AWS::SQS::Queue", QueueName=dlq_name)
    assert props["DeadLetterQueue"] == {"Type": "SQS", "TargetArn": {"Fn::GetAtt": [dlq_id, "Arn"]}}
    alarms = [a["Properties"] for a in resources(workers_prod, "AWS::CloudWatch::Alarm").values()]
    missing = [a for a in alarms if a.get("MetricName") == "Invocations"]
    assert len(missing) == 1 and missing[0]["ComparisonOperator"] == "LessThanThreshold"
    assert missing[0]["TreatMissingData"] == "breaching" and missing[0]["Period"] == 86400
    assert any(a.get("MetricName") == "Errors" and a["Dimensions"][0]["Value"] == props["FunctionName"] for a in alarms)
    assert any(
        a.get("Dimensions") == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [dlq_id, "QueueName"]}}] for a in alarms
    )


def test_a_trigger_infra_does_not_know_fails_the_synth_instead_of_deploying_unreviewed():
    template = {
        "Resources": {
            "OnUpload": {
                "Type": sam.SAM_FUNCTION,
                "Properties": {"Handler": "app.on_upload", "Events": {"E": {"Type": "S3", "Properties": {}}}},
            }
        }
    }
    with pytest.raises(sam.TemplateError, match="S3"):
        sam.functions(template, QUEUES)
    template["Resources"]["OnUpload"]["Properties"]["Events"] = {
        "E": {"Type": "SQS", "Properties": {"Queue": "arn:aws:sqs:us-east-1:1:billow-prod-unknown"}}
    }
    with pytest.raises(sam.TemplateError, match="does not declare"):
        sam.functions(template, QUEUES)


# ---- API Gateway and alarms -------------------------------------------------------------------------


def test_the_api_is_named_throttled_and_access_logged_per_stage(synthesized):
    for stage, template in synthesized.templates.items():
        config = settings(stage)
        api = props_of(template, "AWS::Serverless::Api")
        assert api["Name"] == f"billow-{stage}"
        assert api["StageName"] == config.api_gateway_stage
        (method,) = api["MethodSettings"]
        assert (method["ThrottlingRateLimit"], method["ThrottlingBurstLimit"]) == (
            config.throttle_rate,
            config.throttle_burst,
        )
        assert method["DataTraceEnabled"] is False
        log_format = json.loads(api["AccessLogSetting"]["Format"])
        assert "$context.requestId" in log_format.values()
        assert not any("header" in v or "authorizer" in v for v in log_format.values())


def test_alarms_cover_every_dlq_queue_backlog_function_and_api_5xx(synthesized):
    template = synthesized.templates["prod"]
    alarms = [a["Properties"] for a in resources(template, "AWS::CloudWatch::Alarm").values()]
    topic = logical_id(template, "AWS::SNS::Topic", TopicName="billow-prod-alarms")
    assert all(a["AlarmActions"] == [{"Ref": topic}] for a in alarms)
    by_metric: dict[str, int] = {}
    for alarm in alarms:
        by_metric[alarm["MetricName"]] = by_metric.get(alarm["MetricName"], 0) + 1
    functions = resources(template, "AWS::Serverless::Function").values()
    scheduled = [
        f for f in functions if any(e["Type"] == "Schedule" for e in (f["Properties"].get("Events") or {}).values())
    ]
    # a DLQ per queue, the scheduled DLQ, and the event publisher's on-failure queue (infra/events.py)
    assert by_metric["ApproximateNumberOfMessagesVisible"] == len(QUEUES) + (1 if scheduled else 0) + 1
    assert by_metric.get("Invocations", 0) == len(scheduled)
    assert by_metric["ApproximateAgeOfOldestMessage"] == len(QUEUES)
    assert by_metric["Errors"] == by_metric["Throttles"] == len(functions)
    (api5xx,) = [a for a in alarms if a["MetricName"] == "5XXError"]
    assert {"Name": "ApiName", "Value": "billow-prod"} in api5xx["Dimensions"]


def test_every_function_is_traced_and_every_mail_names_the_configuration_set(synthesized):
    from infra.monitoring import BUSINESS_ALARMS

    template = synthesized.templates["prod"]
    functions = resources(template, "AWS::Serverless::Function")
    assert functions and all(f["Properties"]["Tracing"] == "Active" for f in functions.values())
    assert all(f["Properties"]["Environment"]["Variables"]["BILLOW_TRACING"] == "1" for f in functions.values())
    (config_set,) = resources(template, "AWS::SES::ConfigurationSet").values()
    name = config_set["Properties"]["Name"]
    assert {
        f["Properties"]["Environment"]["Variables"]["BILLOW_SES_CONFIGURATION_SET"] for f in functions.values()
    } == {name}
    (destination,) = resources(template, "AWS::SES::ConfigurationSetEventDestination").values()
    spec = destination["Properties"]["EventDestination"]
    assert sorted(spec["MatchingEventTypes"]) == ["bounce", "complaint"] and "SnsDestination" in spec
    (subscription,) = [
        s for s in resources(template, "AWS::SNS::Subscription").values() if s["Properties"]["Protocol"] == "sqs"
    ]
    assert subscription["Properties"]["RawMessageDelivery"] is True
    assert resources(template, "AWS::CloudWatch::Dashboard")
    alarms = resources(template, "AWS::CloudWatch::Alarm").values()
    described = [a["Properties"].get("AlarmDescription", "") for a in alarms]
    assert all("Runbook: docs/operations.md#" in json.dumps(d) for d in described), described
    billow = {a["Properties"]["MetricName"] for a in alarms if a["Properties"].get("Namespace") == "billow"}
    assert billow == {a.metric for a in BUSINESS_ALARMS}
