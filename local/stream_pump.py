"""The local stream pump: what Lambda's DynamoDB Streams event source does in AWS, for the outbox.

It reads the stream of moto's `events` table shard by shard from the oldest record (TRIM_HORIZON),
builds the event Lambda would send (the same record shape: eventName, dynamodb.NewImage,
SequenceNumber, eventSourceARN…), calls the publisher handler in-process and, as Lambda does with
`ReportBatchItemFailures`, moves past what succeeded; a reported failure (or a raise) is retried from
that record on the next poll. `drain()` for tests, `start()`/`stop()` for the launcher.

With moto in the same process (`in_process_moto`, local/run.py) the pump first looks at the stream
in moto's memory, every 0.05 s: while the shard is the one its last poll read to the end (same object,
same length, same last record), it sends nothing; an idle stack's GetShardIterator + GetRecords a
second were pure cost. Any change, or a look that fails, means a real poll.

botocore ≥ 1.40 sends DynamoDB Streams calls to an account-based endpoint moto does not route; the client
is pointed at moto's server (AWS_ENDPOINT_URL) or, in-process, at the classic streams endpoint.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from local.queue_pump import READY_POLL_SECONDS, LambdaContext

SHARDS_EVERY = 30.0  # seconds between two listings of the stream's shards


def streams_client(region: str = "us-east-1") -> Any:
    import boto3

    endpoint = os.environ.get("AWS_ENDPOINT_URL") or f"https://streams.dynamodb.{region}.amazonaws.com"
    return boto3.client("dynamodbstreams", region_name=region, endpoint_url=endpoint)


class StreamPump:
    def __init__(
        self,
        app: Any,
        *,
        handler_name: str = "publish_events",
        table: str | None = None,
        region: str = "us-east-1",
        log: Callable[[str], None] = lambda m: print(m, file=sys.stderr),
        in_process_moto: bool = False,
    ) -> None:
        import boto3

        from functions.core.tables import table_name

        self.app, self.handler_name, self.region, self.log = app, handler_name, region, log
        self.table = table or table_name("events")
        dynamodb = boto3.client("dynamodb", region_name=region)
        self.stream_arn = dynamodb.describe_table(TableName=self.table)["Table"]["LatestStreamArn"]
        self.in_process_moto = in_process_moto
        self._quiet: tuple[Any, ...] | None = None  # the stream as the last poll that found nothing saw it
        self.caught_up = True  # the last pump_once found no record past the last one handled
        self.streams = streams_client(region)
        self._shards: list[str] = []
        self._shards_read_at = 0.0
        self._last: dict[str, str] = {}  # per shard: the sequence number of the last record handled
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.published = 0
        self.failed_batches = 0

    def _shard_ids(self) -> list[str]:
        """The stream's shards, listed again every SHARDS_EVERY seconds, not on every poll: each call waits
        on moto's lock (a new shard is read from its oldest record: `_after`)."""
        if self._shards and time.monotonic() - self._shards_read_at < SHARDS_EVERY:
            return self._shards
        self._shards_read_at = time.monotonic()
        shards = self.streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]["Shards"]
        self._shards = [shard["ShardId"] for shard in shards]
        return self._shards

    def _after(self, shard_id: str) -> str | None:
        """An iterator just after the last record handled (from the start when none was)."""
        where = {"ShardIteratorType": "TRIM_HORIZON"}
        if shard_id in self._last:
            where = {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": self._last[shard_id]}
        return self.streams.get_shard_iterator(StreamArn=self.stream_arn, ShardId=shard_id, **where)["ShardIterator"]

    def _event(self, records: list[dict[str, Any]]) -> dict[str, Any]:
        return {"Records": [{**r, "eventSourceARN": self.stream_arn, "awsRegion": self.region} for r in records]}

    def pump_once(self) -> int:
        """One GetRecords per shard, from a fresh iterator just after the last record handled, the handler
        called on what came; returns the records handled.

        Never a NextShardIterator: plain moto restores a copy of the table (its stream shard included) when
        a transaction is cancelled, and an iterator of the replaced shard object still reads what the
        cancelled transaction appended before it failed — a record of an event that was never written —
        then, past its sequence number, skips the real record that the next transaction appends under the
        same number. local/moto_transactions.py (installed by local/moto_server.py) now cuts the shard in
        place instead, which closes the last window (a cancel between GetShardIterator and GetRecords
        still replaced the shard the fresh iterator held: the 10-charge e2e test lost an event that way);
        the fresh iterator stays, so the pump is right on plain moto too."""
        handled = 0
        self.caught_up = True
        for shard_id in list(self._shard_ids()):
            answer = self.streams.get_records(ShardIterator=self._after(shard_id), Limit=100)
            records = answer.get("Records", [])
            if not records:
                continue
            self.caught_up = False
            done = self._handle(records)
            handled += done
            if done:
                self._last[shard_id] = records[done - 1]["dynamodb"]["SequenceNumber"]
            if done < len(records):  # start again at the first record not handled, as Lambda does
                break
        return handled

    def _handle(self, records: list[dict[str, Any]]) -> int:
        """How many records, from the first, the handler got through."""
        handler = self.app.handler_map[self.handler_name]
        try:
            answer = handler(self._event(records), LambdaContext(self.handler_name))
        except Exception as exc:
            self.log(f"stream pump: {self.handler_name} raised {type(exc).__name__}; the batch will be retried")
            self.failed_batches += 1
            return 0
        failures = [f["itemIdentifier"] for f in (answer or {}).get("batchItemFailures", [])]
        if not failures:
            self.published += len(records)
            return len(records)
        self.failed_batches += 1
        first = next(n for n, r in enumerate(records) if r["dynamodb"]["SequenceNumber"] in failures)
        self.published += first
        return first

    def drain(self, max_rounds: int = 50) -> None:
        for _ in range(max_rounds):
            if not self.pump_once():
                return

    def _look(self) -> tuple[Any, ...] | None:
        """The stream's shard in moto's memory (this process): the object, its length, its last record."""
        if not self.in_process_moto:
            return None
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.dynamodb.models import dynamodb_backends

        try:
            shard = dynamodb_backends[DEFAULT_ACCOUNT_ID][self.region].tables[self.table].stream_shard
            items = shard.items
            return (shard, len(items), items[-1] if items else None)
        except Exception:
            return None

    def _unchanged(self, look: tuple[Any, ...] | None) -> bool:
        quiet = self._quiet
        if look is None or quiet is None:
            return False
        shard, length, last = look
        return shard is quiet[0] and length == quiet[1] and last is quiet[2]

    def start(self, interval: float = 0.3, idle: float = 1.0) -> StreamPump:
        def loop() -> None:
            while not self._stop.is_set():
                handled = 0
                look = self._look()
                if self._unchanged(look):
                    self._stop.wait(READY_POLL_SECONDS)
                    continue
                try:
                    handled = self.pump_once()
                    self._quiet = look if self.caught_up else None
                except Exception as exc:
                    self._quiet = None
                    if self._stop.is_set():
                        return
                    self.log(f"stream pump: {type(exc).__name__}: {exc}")
                # the short wait only when the stream was read to its end: a failing batch is retried after `idle`
                self._stop.wait(interval if handled else READY_POLL_SECONDS if self._quiet is not None else idle)

        self._thread = threading.Thread(target=loop, name="pump-events-stream", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
