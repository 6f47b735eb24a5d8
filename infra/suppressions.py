"""checkov findings billow accepts, each with its reason, attached to the exact resources they concern.

A suppression is written into the resource's CloudFormation Metadata (`checkov.skip`, with the reason as
its comment), so it is visible in the template, scoped to one resource, and reported by checkov as
skipped with that comment. tests/infra/test_lint.py fails on any skip without a reason and on any
failed check. Nothing is skipped globally.
"""

from __future__ import annotations

from typing import Any

from constructs import IConstruct

REASONS: dict[str, str] = {
    # Lambda
    "CKV_AWS_117": "No VPC: billow reaches only AWS APIs and Stripe over TLS; a VPC would add NAT gateways "
    "(~$32/month each) and cold-start cost for no data-path isolation gain.",
    "CKV_AWS_116": "Synchronous (API Gateway) and SQS-polled functions cannot use a Lambda DLQ: SQS consumers "
    "fail over to their source queue's redrive DLQ; the scheduled function has its own DLQ.",
    "CKV_AWS_115": "No reserved concurrency: new accounts have 10 concurrent executions and reserving any fails "
    "the deploy; queue consumers are capped by their event source mapping's MaximumConcurrency instead.",
    "CKV_AWS_173": "The environment holds names and ARNs only (secrets are read from Secrets Manager at run "
    "time); Lambda encrypts it at rest with an AWS-managed key.",
    # API Gateway
    "CKV_AWS_120": "No API cache: every response depends on the caller's token and account membership.",
    "CKV_AWS_73": "No X-Ray on the stage: the access log and the structured Lambda logs carry the request id; "
    "tracing would add cost for no current consumer.",
    # Logs, topics, secrets, storage
    "CKV_AWS_158": "CloudWatch Logs are encrypted at rest with service keys; billow never logs tokens, card data "
    "or billing contacts (DESIGN §2 Logs), and a CMK would cost $1/month plus a key policy per stage.",
    "CKV_AWS_26": "Alarm notifications carry alarm names and states only; CloudWatch cannot publish to a topic "
    "encrypted with the AWS-managed SNS key, and a CMK would cost $1/month for no sensitive data.",
    "CKV_AWS_149": "The secret uses the AWS-managed Secrets Manager key: one reader (billow's roles, granted by "
    "ARN) and no cross-account use, so a CMK would add $1/month and a key policy for nothing.",
    "CKV_AWS_18": "No server access logs: they need a second bucket; invoice PDFs are read through the API "
    "(access-logged) and 5-minute presigned URLs, the console's static files through CloudFront only (OAC); "
    "enable CloudTrail S3 data events if an audit needs more.",
    # CloudFront (the console, infra/console.py)
    "CKV_AWS_68": "No WAF on the console's distribution: it serves public static files only (every call with "
    "data goes to the API, throttled per stage); a web ACL costs $5/month plus per request.",
    "CKV_AWS_86": "No CloudFront access logs for the console's static files: they need a log bucket and hold "
    "no billing data; the API's access log records every call that does.",
    "CKV_AWS_174": "CloudFront's own domain (no custom domain set) uses its default certificate, which keeps "
    "TLS 1.0 for old clients; a stage with consoleHosting.domainName gets TLSv1.2_2021.",
    "CKV_AWS_119": "DynamoDB tables are encrypted with the AWS-managed key (aws/dynamodb), which keeps "
    "point-in-time recovery and exports working without a key policy; a CMK adds $1/month per stage.",
    "CKV_AWS_27": "The queues are encrypted at rest with SSE-SQS (SqsManagedSseEnabled), which this check does "
    "not recognise (it wants a KMS key); messages hold ids and dates, never card data, and SSE-SQS needs no "
    "KMS permissions or requests.",
}


def skip(resource: IConstruct | Any, *check_ids: str) -> None:
    """Record checkov skips (with their reasons from REASONS) on a CfnResource or an L2's default child."""
    cfn = getattr(getattr(resource, "node", None), "default_child", None) or resource
    existing = (cfn.get_metadata("checkov") or {}).get("skip", [])
    known = {entry["id"] for entry in existing}
    for check_id in check_ids:
        if check_id not in REASONS:
            raise KeyError(f"no reason recorded for skipping {check_id}: add one to infra/suppressions.py")
        if check_id not in known:
            existing.append({"id": check_id, "comment": REASONS[check_id]})
    cfn.add_metadata("checkov", {"skip": existing})
