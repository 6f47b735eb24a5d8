"""`billow --stage dev|prod …`: the commands that act on a stack, pointed at a deployed one.

With the caller's AWS credentials (their profile, environment or SSO session, as the AWS CLI finds
them; nothing is stored here) and the outputs of the stage's CloudFormation stack (`Billow<Stage>`,
infra/stack.py `_operator_outputs`): the tables' prefix, the queues' and DLQs' URLs, the functions'
names. billow's own stores then read and write the deployed tables, exactly as the local commands do
against moto. `AWS_ENDPOINT_URL` (the AWS SDKs' own setting) points everything at another endpoint:
the tests use moto's server standing in for AWS.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import date
from typing import Any

DEPLOYED_STAGES = ("dev", "prod")


class DeployedStackError(RuntimeError):
    """The stage's stack cannot be read (no credentials, no stack, an output missing)."""


@dataclass(frozen=True)
class DeployedStack:
    stage: str
    stack_name: str
    outputs: dict[str, str]

    def output(self, key: str) -> str:
        if key not in self.outputs:
            raise DeployedStackError(f"stack {self.stack_name} has no output {key}: deploy the current infra/ first")
        return self.outputs[key]

    @property
    def table_prefix(self) -> str:
        return self.output("TablePrefix")

    def queue_url(self, queue: str, *, dlq: bool = False) -> str:
        key = "".join(part.title() for part in queue.split("-"))
        return self.output(f"{'DlqUrl' if dlq else 'QueueUrl'}{key}")


def stack_name(stage: str) -> str:
    """infra/stages.py StageSettings.stack_name, without importing the CDK."""
    return f"Billow{stage.capitalize()}"


def connect(stage: str) -> DeployedStack:
    """Read the stage's stack outputs and point this process's billow stores at its tables."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    name = stack_name(stage)
    try:
        described = boto3.client("cloudformation").describe_stacks(StackName=name)["Stacks"][0]
    except (BotoCoreError, ClientError) as exc:
        raise DeployedStackError(f"cannot read stack {name} with your AWS credentials: {exc}") from None
    outputs = {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}
    deployed = DeployedStack(stage, name, outputs)
    os.environ["BILLOW_STAGE"] = stage
    os.environ["BILLOW_TABLE_PREFIX"] = deployed.table_prefix
    from functions.core import db, email, queues
    from functions.core.settings import reset_settings

    reset_settings()
    db.retarget_tables()
    queues.reset_client()
    email.reset_client()
    return deployed


def manual_run_event(run_date: date) -> dict[str, Any]:
    """The payload of a manual daily run: a bare `{"date": "YYYY-MM-DD"}` (the function's handler puts it
    in a scheduled event's envelope itself, functions/billing_run/manual.py)."""
    return {"date": run_date.isoformat()}


def invoke_daily_run(deployed: DeployedStack, run_date: date) -> dict[str, Any]:
    """The daily-run function invoked (synchronously) for `run_date`, as its schedule does every day."""
    import boto3

    response = boto3.client("lambda").invoke(
        FunctionName=deployed.output("DailyRunFunction"),
        InvocationType="RequestResponse",
        Payload=json.dumps(manual_run_event(run_date)).encode(),
    )
    payload = response["Payload"].read()
    if response.get("FunctionError"):
        raise DeployedStackError(f"the daily run failed: {payload.decode(errors='replace')[:500]}")
    return dict(json.loads(payload or b"{}"))


def recent_events(limit: int, type_: str | None = None, account_id: str | None = None) -> list[dict[str, Any]]:
    """The deployed stage's newest `limit` outbound events, oldest first: read from its events table (the
    outbox every change writes in its own transaction, docs/events.md) through the table prefix of the
    stack's outputs — every event by the `by_created` index, or one account's by sequence. The table
    keeps 90 days (its TTL), as the bus's archive does; what each endpoint received is in the API's
    deliveries route. `type_` filters what is read (pages are read until `limit` events match)."""
    from functions.core import outbox

    found: list[dict[str, Any]] = []
    last_key: dict[str, Any] | None = None
    while len(found) < limit:
        page, last_key = outbox.query_page(account_id, 100, last_key)
        found += [e for e in page if type_ is None or e["type"] == type_]
        if last_key is None:
            break
    return list(reversed(found[:limit]))
