"""What the Chalice app declares, read from the sam.json that `make package` writes next to the zips.

The stack is derived from this, not from a list kept by hand: every AWS::Serverless::Function is
a function to deploy; its SQS events name the queue it consumes (matched to functions/core/resources.py
by name, whatever prefix was baked in at packaging time), its Schedule events the daily run. A handler
added to the app appears here after the next `make package`, and the stack patches and grants it.
`declared_handlers` reads the same facts from the live Chalice app, so a test can prove the sam.json is
not stale.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SAM_FUNCTION = "AWS::Serverless::Function"
API_HANDLER = "APIHandler"
API_HANDLER_STRING = "app.app"
# Functions Chalice declares without a trigger (`lambda_function`) whose trigger the stack adds: a DynamoDB
# stream of a spec'd table (Chalice's on_dynamodb_record needs the stream's ARN at import time, which only
# the stack knows). The publisher of outbound events reads the outbox's stream (functions/events/).
STREAM_FUNCTIONS = {"publish_events": "events"}


class TemplateError(ValueError):
    """sam.json declares something the stack does not know how to deploy safely."""


@dataclass(frozen=True)
class SqsTrigger:
    event: str  # the SAM event's key, e.g. ValidateCardSqsEventSource
    queue: str  # the queue spec's name, e.g. card-validation
    batch_size: int
    max_concurrency: int | None


@dataclass(frozen=True)
class ScheduleTrigger:
    event: str
    expression: str  # e.g. cron(5 0 * * ? *)


@dataclass(frozen=True)
class FunctionDecl:
    logical_id: str
    handler: str  # app.app for the REST API, app.<function> otherwise
    sqs: tuple[SqsTrigger, ...] = ()
    schedules: tuple[ScheduleTrigger, ...] = ()
    stream: str | None = None  # the table whose stream triggers it (STREAM_FUNCTIONS)

    @property
    def chalice_name(self) -> str:
        """The name Chalice's config uses for this function (lambda_functions.<name>)."""
        return "api_handler" if self.is_api else self.handler.rsplit(".", 1)[1]

    @property
    def is_api(self) -> bool:
        return self.handler == API_HANDLER_STRING

    @property
    def role(self) -> str:
        """What the function is for: 'api', 'sqs:<queue>' or 'schedule' (the key of its grants)."""
        if self.is_api:
            return "api"
        if self.sqs:
            return f"sqs:{self.sqs[0].queue}"
        if self.stream:
            return f"stream:{self.stream}"
        return "schedule"


MANIFEST = "manifest.json"


def read_template(package_dir: Path) -> dict[str, Any]:
    path = package_dir / "sam.json"
    if not path.is_file() or not (package_dir / MANIFEST).is_file():
        raise FileNotFoundError(f"{package_dir} has no sam.json and {MANIFEST}: run `make package` first")
    return dict(json.loads(path.read_text()))


def read_template_file(path: Path) -> dict[str, Any]:
    return dict(json.loads(path.read_text()))


def function_ids(template: dict[str, Any]) -> list[str]:
    return sorted(k for k, r in template.get("Resources", {}).items() if r.get("Type") == SAM_FUNCTION)


def function_zips(package_dir: Path, template: dict[str, Any]) -> dict[str, Path]:
    """logical id -> the zip `make package` built for that function (manifest.json); every function of
    sam.json must have one, and the zip must be there (a package from another build is refused)."""
    manifest = json.loads((package_dir / MANIFEST).read_text())
    listed = manifest.get("functions", {})
    declared = function_ids(template)
    if sorted(listed) != declared:
        raise TemplateError(
            f"{package_dir}: {MANIFEST} lists {sorted(listed)}, sam.json {declared}: run `make package`"
        )
    out = {logical_id: package_dir / listed[logical_id]["zip"] for logical_id in declared}
    missing = [str(p) for p in out.values() if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"missing function zips {missing}: run `make package`")
    return out


def _queue_name_of(ref: Any) -> str:
    """The queue's name from the ARN Chalice wrote: a plain ARN, or Fn::Sub of one (queue given by name)."""
    arn = ref.get("Fn::Sub") if isinstance(ref, dict) else ref
    if not isinstance(arn, str):
        raise TemplateError(f"cannot read a queue name from {ref!r}")
    return arn.rsplit(":", 1)[-1]


def queue_spec_for(name: str, queue_names: Iterable[str]) -> str:
    """The queue spec a physical name refers to: 'billow-local-card-validation' -> 'card-validation'."""
    matches = [q for q in queue_names if name == q or name.endswith(f"-{q}")]
    if not matches:
        raise TemplateError(f"the app consumes queue {name!r}, which functions/core/resources.py does not declare")
    return max(matches, key=len)


def functions(template: dict[str, Any], queue_names: Iterable[str]) -> list[FunctionDecl]:
    """Every function of the template with its triggers; refuses triggers the stack cannot deploy."""
    queue_names = tuple(queue_names)
    out = []
    for logical_id, resource in template.get("Resources", {}).items():
        if resource.get("Type") != SAM_FUNCTION:
            continue
        props = resource.get("Properties", {})
        sqs, schedules = [], []
        for event_name, event in (props.get("Events") or {}).items():
            kind, eprops = event.get("Type"), event.get("Properties", {})
            if kind == "SQS":
                sqs.append(
                    SqsTrigger(
                        event=event_name,
                        queue=queue_spec_for(_queue_name_of(eprops["Queue"]), queue_names),
                        batch_size=int(eprops.get("BatchSize", 10)),
                        max_concurrency=(eprops.get("ScalingConfig") or {}).get("MaximumConcurrency"),
                    )
                )
            elif kind == "Schedule":
                schedules.append(ScheduleTrigger(event=event_name, expression=str(eprops["Schedule"])))
            else:
                raise TemplateError(
                    f"{logical_id}: event type {kind!r} has no grants or patches in infra/ yet; add them "
                    "(infra/grants.py, infra/app_functions.py) before deploying it"
                )
        handler = str(props["Handler"])
        stream = STREAM_FUNCTIONS.get(handler.rsplit(".", 1)[-1]) if not sqs and not schedules else None
        decl = FunctionDecl(logical_id, handler, tuple(sqs), tuple(schedules), stream)
        if len(sqs) > 1 or (sqs and schedules):
            raise TemplateError(
                f"{logical_id}: one function, one trigger (found {len(sqs)} queues, {len(schedules)} schedules)"
            )
        if not decl.is_api and not sqs and not schedules and not stream:
            raise TemplateError(f"{logical_id}: a function with no trigger; infra/ does not know what it may access")
        out.append(decl)
    return sorted(out, key=lambda f: f.logical_id)


def app_declarations(app: Any, queue_names: Iterable[str]) -> set[tuple[Any, ...]]:
    """What the live Chalice app registers, in the terms of `template_declarations`."""
    queue_names = tuple(queue_names)
    out: set[tuple[Any, ...]] = {(API_HANDLER_STRING, "api")} if app.routes else set()
    for fn in app.pure_lambda_functions:
        name = fn.handler_string.rsplit(".", 1)[-1]
        out.add(
            (fn.handler_string, "stream", STREAM_FUNCTIONS[name])
            if name in STREAM_FUNCTIONS
            else (fn.handler_string, "function")
        )
    for source in app.event_sources:
        kind = type(source).__name__
        if kind == "SQSEventConfig":
            name = source.queue or str(source.queue_arn).rsplit(":", 1)[-1]
            out.add((source.handler_string, "sqs", queue_spec_for(name, queue_names), source.batch_size))
        elif kind == "ScheduledEventConfig":
            expression = source.schedule_expression
            text = expression if isinstance(expression, str) else expression.to_string()
            out.add((source.handler_string, "schedule", text))
        else:
            out.add((source.handler_string, kind))
    return out


def template_declarations(template: dict[str, Any], queue_names: Iterable[str]) -> set[tuple[Any, ...]]:
    """The handlers of sam.json and their triggers; equal to `app_declarations` when sam.json is current."""
    out: set[tuple[Any, ...]] = set()
    for fn in functions(template, queue_names):
        if fn.is_api:
            out.add((fn.handler, "api"))
        out |= {(fn.handler, "sqs", t.queue, t.batch_size) for t in fn.sqs}
        out |= {(fn.handler, "schedule", t.expression) for t in fn.schedules}
        if fn.stream:
            out.add((fn.handler, "stream", fn.stream))
    return out
