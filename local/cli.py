"""`billow`: commands for the local stack (started with `make run`).

Each command is one function registered on `app`; shared helpers (the signing key, the running API,
failing with an actionable message) live at the top so later commands (bill, emails, audit, dlq)
reuse them. Results go to stdout, progress and errors to stderr, so `TOKEN=$(billow token)` works.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table

from local import stack, tokens

app = typer.Typer(
    name="billow",
    help="Tools for billow's local stack (start it with `make run`).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

err = Console(stderr=True, soft_wrap=True, highlight=False)
# Tables keep full ids when piped (rich would otherwise fit them to 80 columns).
out = Console(highlight=False, width=None if sys.stdout.isatty() else 160)

KNOWN_SCOPES = ("billing:read", "billing:write", "billing:admin", "billing:usage")
CLI_OPERATOR_SUB = "billow-cli"


STATE: dict[str, Any] = {"stage": "local"}
STAGES = ("local", "dev", "prod")


@app.callback()
def main(
    stage: Annotated[
        str,
        typer.Option(
            "--stage",
            help="The stack to act on: local (`make run`), or a deployed dev|prod stack with your AWS "
            "credentials and its CloudFormation outputs (docs/operations.md).",
        ),
    ] = "local",
) -> None:
    """Tools for billow's local stack (start it with `make run`) and its deployed stages (--stage)."""
    if stage not in STAGES:
        fail(f"--stage must be one of {', '.join(STAGES)}, not {stage!r}", code=2)
    STATE["stage"] = stage


# --- shared helpers --------------------------------------------------------------------------------


def fail(message: str, code: int = 1) -> NoReturn:
    err.print(f"[red]error:[/] {message}")
    raise typer.Exit(code)


def admin_client() -> stack.ApiClient:
    """An operator (billing:admin) client for the running local API, or an actionable failure."""
    try:
        key = stack.load_key()
        url = stack.api_url()
    except stack.StackError as exc:
        fail(str(exc))
    return stack.ApiClient(url, tokens.mint(key, CLI_OPERATOR_SUB, stack.ADMIN_SCOPES, ttl=300))


def explain_api_error(exc: stack.ApiError, what: str) -> NoReturn:
    if exc.status == 401:
        fail(
            f"{what}: the API refused the CLI's token ({exc}). Was the running stack started with another "
            f"key? It signs with {stack.key_path()} (set BILLOW_LOCAL_DIR to the stack's directory)."
        )
    fail(f"{what}: {exc}")


# --- commands ---------------------------------------------------------------------------------------


@app.command()
def token(
    account: Annotated[
        list[str] | None,
        typer.Option("--account", "-a", help="Grant the subject owner membership on this account (repeatable)."),
    ] = None,
    scope: Annotated[
        list[str] | None,
        typer.Option("--scope", "-s", help="A scope to put in the token (repeatable); replaces the default ones."),
    ] = None,
    admin: Annotated[bool, typer.Option("--admin", help="Add billing:admin (operator routes on any account).")] = False,
    ttl: Annotated[int, typer.Option("--ttl", min=1, help="Lifetime in seconds.")] = stack.TOKEN_TTL,
    sub: Annotated[
        str, typer.Option("--sub", help="The token's subject (the caller's identity).")
    ] = stack.CUSTOMER_SUB,
) -> None:
    """Print a token for the local stack, signed with the local key (.local/jwt-private.pem).

    Default scopes: billing:read billing:write (--scope replaces them, --admin adds billing:admin).

    With --account, the subject is also granted owner membership on each account, through the running API.
    """
    scopes = list(dict.fromkeys(scope)) if scope else list(stack.READ_WRITE)
    unknown = [s for s in scopes if s not in KNOWN_SCOPES]
    if unknown:
        fail(f"unknown scope {', '.join(unknown)}; use one of {', '.join(KNOWN_SCOPES)}", code=2)
    if admin and "billing:admin" not in scopes:
        scopes.append("billing:admin")
    if not sub.strip():
        fail("--sub must not be empty", code=2)
    try:
        key = stack.load_key()
    except stack.StackError as exc:
        fail(str(exc))
    if account:
        client = admin_client()
        for account_id in dict.fromkeys(account):
            try:
                member = client.grant(account_id, sub, "owner")
            except stack.ApiError as exc:
                explain_api_error(exc, f"granting {sub} on {account_id}")
            except stack.StackError as exc:
                fail(str(exc))
            err.print(f"granted [bold]{member['sub']}[/] {member['role']} on {member['account_id']}")
    typer.echo(tokens.mint(key, sub, scopes, ttl=ttl))


def use_stack() -> Any:
    """Point billow's stores at the stack --stage names: the deployed stack's outputs (returned), or the
    running local stack's moto server (None)."""
    if STATE["stage"] == "local":
        use_running_stack_aws()
        return None
    from local import deployed

    try:
        return deployed.connect(STATE["stage"])
    except deployed.DeployedStackError as exc:
        fail(str(exc))


def queue_urls(sqs: Any, deployed_stack: Any, name: str) -> tuple[str, str]:
    """(queue URL, DLQ URL) of a queue of the stack: from a deployed stack's outputs, else by name."""
    if deployed_stack is not None:
        return deployed_stack.queue_url(name), deployed_stack.queue_url(name, dlq=True)
    from functions.core.resources import dlq_name, queue_name

    return (
        sqs.get_queue_url(QueueName=queue_name(name))["QueueUrl"],
        sqs.get_queue_url(QueueName=dlq_name(name))["QueueUrl"],
    )


def use_running_stack_aws() -> None:
    """Point this process's AWS SDKs (and billow's stores) at the running stack's moto server."""
    info = stack.read_stack_info()
    if info is None or not info.get("moto_url"):
        fail(f"the local stack is not running (no {stack.stack_file()}): start it with `make run`")
    stack.apply_aws_env(str(info["moto_url"]))
    os.environ["BILLOW_TABLE_PREFIX"] = stack.stage_table_prefix()
    if info.get("today_moved_to") and not os.environ.get("BILLOW_TODAY"):
        # the stack runs on a moved calendar (BILLOW_TODAY): this process follows it
        from functions.core import clock

        os.environ["BILLOW_TODAY"] = str(info["today_moved_to"])
        clock.reset()


@app.command()
def audit(
    account: Annotated[
        list[str] | None, typer.Option("--account", "-a", help="Audit only this account (repeatable).")
    ] = None,
) -> None:
    """Check the ledger invariant on every account (or the given ones) of the running stack:
    Σ entries = balance.current = Σ open balance_due - unapplied_credit, and that no invoice or payment
    is refunded beyond its total. Exit 1 on any difference."""
    use_stack()
    from functions.core import ledger
    from functions.core.errors import NotFoundError
    from functions.payments.refunds import audit_refunds

    account_ids = list(dict.fromkeys(account)) if account else ledger.audited_account_ids()
    table = Table("account", "Σ entries", "balance.current", "Σ open due", "unapplied", "result")
    failures = 0
    for account_id in sorted(account_ids):
        try:
            result = ledger.audit_account(account_id)
        except NotFoundError:
            fail(f"no ledger for account {account_id}")
        problems = result.problems + audit_refunds(account_id)
        failures += bool(problems)
        table.add_row(
            account_id,
            str(result.entries_total),
            str(result.balance_current),
            str(result.open_balance_due),
            str(result.unapplied_credit),
            "[green]ok[/]" if not problems else "[red]" + "; ".join(problems) + "[/]",
        )
    out.print(table)
    out.print(f"{len(account_ids)} accounts audited, {failures} with differences")
    if failures:
        raise typer.Exit(1)


def sent_emails(moto_url: str, to: str | None = None) -> list[dict[str, Any]]:
    """The e-mails SES accepted in the running stack's moto, oldest first, only those to `to` when given:
    read from the local moto server's narrow endpoint (local/moto_server.py `sent_mail`), not from
    moto's whole state. moto keeps the HTML part of a text + HTML message as its body."""
    import requests

    from local.moto_server import SENT_MAIL_PATH

    params = {"to": to} if to else {}
    response = requests.get(f"{moto_url}{SENT_MAIL_PATH}", params=params, timeout=30)
    response.raise_for_status()
    return list(response.json())


@app.command()
def emails(
    to: Annotated[str | None, typer.Option("--to", help="Only e-mails sent to this address.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (with the bodies) instead of a table.")] = False,
) -> None:
    """E-mails the local stack sent (SES in moto), oldest first."""
    if STATE["stage"] != "local":
        fail('a deployed stage\'s e-mails are in SES, not kept by billow: see docs/operations.md, "E-mails"', code=2)
    info = stack.read_stack_info()
    if info is None or not info.get("moto_url"):
        fail(f"the local stack is not running (no {stack.stack_file()}): start it with `make run`")
    try:
        mails = sent_emails(str(info["moto_url"]), to)
    except Exception as exc:
        fail(f"cannot read the e-mails from moto at {info['moto_url']} ({type(exc).__name__}): is the stack running?")
    if to:
        mails = [m for m in mails if to.lower() in (a.lower() for a in m["to"])]
    if as_json:
        typer.echo(json.dumps(mails, indent=2, ensure_ascii=False))
        return
    table = Table("#", "to", "subject", "message id")
    for n, m in enumerate(mails, 1):
        table.add_row(str(n), ", ".join(m["to"]), m["subject"] or "(raw)", m["id"])
    out.print(table)
    out.print(f"{len(mails)} e-mail{'s' if len(mails) != 1 else ''}{f' to {to}' if to else ''}")


@app.command()
def events(
    type_: Annotated[str | None, typer.Option("--type", help="Only events of this type, e.g. invoice.issued.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (with each event) instead of a table.")] = False,
    account: Annotated[str | None, typer.Option("--account", help="Only this account's events.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="--stage dev|prod: the newest N events.")] = 50,
) -> None:
    """Outbound events, oldest first. Locally: what the webhook receiver got (make run registers it for
    every type), each with its signature checked against the endpoint's secret. --stage dev|prod: the
    newest events of the stage's events table (the outbox), read with your AWS credentials."""
    if STATE["stage"] != "local":
        from local import deployed

        use_stack()
        got = deployed.recent_events(limit, type_, account)
        _print_events(got, type_, as_json, signed=False)
        return
    got = [e for e in _received_events() if (not type_ or e.get("type") == type_)]
    got = [e for e in got if not account or e.get("account_id") == account]
    _print_events(got, type_, as_json, signed=True)
    if not as_json and any(not e["signature_valid"] for e in got):
        raise typer.Exit(1)


def _received_events() -> list[dict[str, Any]]:
    import requests

    info = stack.read_stack_info()
    hooks = (info or {}).get("webhooks") or {}
    if not hooks.get("events_url"):
        fail(f"the local stack is not running (no {stack.stack_file()}): start it with `make run`")
    try:
        return requests.get(hooks["events_url"], timeout=10).json()
    except (requests.RequestException, ValueError) as exc:
        fail(f"the webhook receiver at {hooks['events_url']} did not answer ({type(exc).__name__}): is the stack up?")


def _print_events(got: list[dict[str, Any]], type_: str | None, as_json: bool, *, signed: bool) -> None:
    if as_json:
        typer.echo(json.dumps(got, indent=2, ensure_ascii=False))
        return
    table = Table("#", "received" if signed else "created", "type", "account", "seq", "event id", "signature")
    for n, e in enumerate(got, 1):
        signature = "-" if not signed else "[green]valid[/]" if e["signature_valid"] else "[red]INVALID[/]"
        when = e["received_at"] if signed else e["created_at"]
        table.add_row(
            str(n), when, e["type"] or "?", e["account_id"] or "-", str(e["sequence"]), e["id"] or "?", signature
        )
    out.print(table)
    invalid = sum(1 for e in got if signed and not e["signature_valid"])
    out.print(
        f"{len(got)} event{'s' if len(got) != 1 else ''}{f' of type {type_}' if type_ else ''}"
        f"{f', {invalid} with an invalid signature' if invalid else ''}"
    )


def _queue_depth(sqs: Any, url: str) -> int:
    attrs = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])


@app.command()
def bill(
    date_: Annotated[str, typer.Option("--date", help="The run date, YYYY-MM-DD (accounts due on or before it).")],
    timeout: Annotated[int, typer.Option("--timeout", min=1, help="Seconds to wait for the queues.")] = 300,
) -> None:
    """Run the daily billing schedule for DATE against the running stack, wait until its queues are
    drained (the stack's queue pump runs the workers), and print what happened."""
    import time
    from datetime import date

    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    try:
        run_date = date.fromisoformat(date_)
    except ValueError:
        fail(f"--date must be YYYY-MM-DD, not {date_!r}", code=2)
    deployed_stack = use_stack()
    import boto3

    from functions.core.resources import BILLING_ACCOUNT, BILLING_RUN
    from functions.core.settings import get_settings

    sqs = boto3.client("sqs", region_name=get_settings().region)
    pairs = {q: queue_urls(sqs, deployed_stack, q) for q in (BILLING_RUN, BILLING_ACCOUNT)}
    urls = {q: pair[0] for q, pair in pairs.items()}
    dlqs = {q: pair[1] for q, pair in pairs.items()}
    dlq_before = sum(_queue_depth(sqs, u) for u in dlqs.values())
    counts_before = billing_run_counts(run_date)
    shards = start_run(deployed_stack, run_date)
    started = time.monotonic()
    with Progress(
        TextColumn("[bold]billing {task.fields[day]}[/]"),
        BarColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=err,
        transient=False,
    ) as progress:
        task = progress.add_task("", total=None, day=run_date.isoformat())
        quiet = 0
        while quiet < 3:
            depths = {q: _queue_depth(sqs, u) for q, u in urls.items()}
            progress.update(
                task,
                description=f"shards queued {depths[BILLING_RUN]}/{shards} · accounts queued {depths[BILLING_ACCOUNT]}",
            )
            quiet = quiet + 1 if not any(depths.values()) else 0
            if time.monotonic() - started > timeout:
                where = "is `make run` (and its queue pump) running?" if deployed_stack is None else "see the DLQs"
                fail(f"the queues were not drained after {timeout}s: {where}")
            time.sleep(0.5)
        progress.update(task, total=1, completed=1, description="queues drained")
    counts = billing_run_counts(run_date)
    failed = sum(_queue_depth(sqs, u) for u in dlqs.values()) - dlq_before
    table = Table(
        "periods billed",
        "invoiced",
        "charged",
        "declined",
        "needs action",
        "no card",
        "below minimum",
        "nothing due",
        "failed (DLQ)",
    )
    keys = ("invoiced", "succeeded", "declined", "requires_action", "no_card", "below_minimum", "nothing_due")
    new = {k: counts.get(k, 0) - counts_before.get(k, 0) for k in keys}
    table.add_row("by this command", *(str(new[k]) for k in keys), str(max(failed, 0)))
    table.add_row(f"by every run of {run_date.isoformat()}", *(str(counts.get(k, 0)) for k in keys), "")
    out.print(table)
    if failed > 0:
        raise typer.Exit(1)


def start_run(deployed_stack: Any, run_date: Any) -> int:
    """Start the run of `run_date`: a deployed stage's daily-run function invoked with `{"date": …}`
    (local/deployed.py), the local stack's fan-out called in-process. Returns the shards sent."""
    if deployed_stack is None:
        from functions.billing_run import service as billing_run

        return billing_run.fan_out(run_date)
    from local import deployed

    try:
        return int(deployed.invoke_daily_run(deployed_stack, run_date).get("shards", 0))
    except deployed.DeployedStackError as exc:
        fail(str(exc))


def billing_run_counts(run_date: Any) -> dict[str, int]:
    """What the run of `run_date` billed, one count per period it invoiced and by that period's charge
    outcome, read from the billing-runs table (an offline Scan: this is a local tool, never a request
    path). A late run bills several periods, each dated on its own recurring date: a period counts for
    the run whose date its record carries (`run_date`), not for the run of its recurring date."""
    import boto3

    from functions.core.settings import get_settings
    from functions.core.tables import table_name

    table = boto3.resource("dynamodb", region_name=get_settings().region).Table(table_name("billing_runs"))
    counts: dict[str, int] = {}
    kwargs: dict[str, Any] = {}
    while True:
        page = table.scan(**kwargs)
        for item in page["Items"]:
            billed_by = item.get("run_date") or str(item["sk"]).removeprefix("RUN#")  # records kept before run_date
            if billed_by == run_date.isoformat():
                counts["invoiced"] = counts.get("invoiced", 0) + 1
                key = str(item.get("charge") or "pending")
                counts[key] = counts.get(key, 0) + 1
        if "LastEvaluatedKey" not in page:
            return counts
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


@app.command()
def dlq(
    action: Annotated[str, typer.Argument(help="list | redrive")],
    queue: Annotated[str | None, typer.Option("--queue", help="Only this queue (default: all).")] = None,
) -> None:
    """List the dead-letter queues' messages, or move them back to their queues (redrive)."""
    if action not in ("list", "redrive"):
        fail("use `billow dlq list` or `billow dlq redrive`", code=2)
    deployed_stack = use_stack()
    import boto3

    from functions.core.resources import QUEUES
    from functions.core.settings import get_settings

    sqs = boto3.client("sqs", region_name=get_settings().region)
    names = [queue] if queue else list(QUEUES)
    unknown = [n for n in names if n not in QUEUES]
    if unknown:
        fail(f"unknown queue {unknown[0]}; use one of {', '.join(QUEUES)}", code=2)
    table = Table("queue", "dead letters", "moved back" if action == "redrive" else "first message ids")
    for name in names:
        source_url, dlq_url = queue_urls(sqs, deployed_stack, name)
        depth = _queue_depth(sqs, dlq_url)
        if action == "list":
            messages = sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10, VisibilityTimeout=0).get(
                "Messages", []
            )
            table.add_row(name, str(depth), ", ".join(m["MessageId"][:8] for m in messages))
            continue
        moved = 0
        while True:
            messages = sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10).get("Messages", [])
            if not messages:
                break
            for m in messages:
                sqs.send_message(QueueUrl=source_url, MessageBody=m["Body"])
                sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=m["ReceiptHandle"])
                moved += 1
        table.add_row(name, str(depth), str(moved))
    out.print(table)


if __name__ == "__main__":
    app()
