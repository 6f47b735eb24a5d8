"""The monthly run's entry points: the daily schedule and the two queue consumers (no HTTP routes)."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint, Cron

from functions.billing_run import manual, schemas, service
from functions.core import clock, queues
from functions.core.middleware import deployed_worker
from functions.core.resources import queue_name
from functions.payments.service import expire_pending_changes

bp = Blueprint(__name__)


@deployed_worker
@bp.schedule(Cron(5, 0, "*", "*", "?", "*"), name="daily_run")
def daily_run(event: Any) -> dict[str, Any]:
    """00:05 UTC: one message per shard for today's run; and the card changes still pending 24 h after
    their PUT fail (`validation-timed-out`, payments' daily sweep). An operator's manual run (`billow
    --stage S bill --date D`, a Lambda Invoke with `{"date": "YYYY-MM-DD"}`) runs date D instead."""
    raw = event.to_dict() if hasattr(event, "to_dict") else dict(event or {})
    run_date = service.manual_run_date(raw) or clock.today()
    return {
        "run_date": run_date.isoformat(),
        "shards": service.fan_out(run_date),
        "card_changes_expired": expire_pending_changes(),
    }


daily_run = manual.AcceptingABareDate(daily_run)  # Lambda's handler also takes a bare {"date"} (manual.py)


@deployed_worker
@bp.on_sqs_message(queue=queue_name(service.RUN_QUEUE), batch_size=1, name="bill_shard", maximum_concurrency=2)
def bill_shard(event: Any) -> dict[str, Any]:
    def handle(body: dict[str, Any]) -> None:
        message = schemas.ShardMessage.model_validate(body)
        service.dispatch_shard(message.shard, message.run_date)

    return queues.process_batch(service.RUN_QUEUE, event, handle)


@deployed_worker
@bp.on_sqs_message(queue=queue_name(service.ACCOUNT_QUEUE), batch_size=10, name="bill_account", maximum_concurrency=10)
def bill_account(event: Any) -> dict[str, Any]:
    def handle(body: dict[str, Any]) -> None:
        message = schemas.AccountMessage.model_validate(body)
        service.handle_account_message(message.model_dump(mode="json"))

    return queues.process_batch(service.ACCOUNT_QUEUE, event, handle)
