"""`make run`: the local stack in the foreground, everything bound to 127.0.0.1.

  moto's server    :$BILLOW_MOTO_PORT (5000)  serialised behind one lock (local/moto_server.py);
                                             tables, queues + DLQs, invoice bucket, SES sender created
  JWKS             :$BILLOW_JWKS_PORT (8421)  the local issuer's public key (.local/jwt-private.pem)
  Stripe           :$BILLOW_STRIPE_PORT (8420) localstripe behind the shim (local/stripe_shim.py), in
                                             memory; billow's webhook endpoint registered with it
  API              :$BILLOW_API_PORT  (8000)  `chalice local --stage local`, in-process (local/api_server.py
                                             says why), with AWS_ENDPOINT_URL pointing at moto
  console          :$BILLOW_CONSOLE_PORT (3000) console/ (local/console_server.py; the next free port when
                                             taken, and the API's CORS origins follow it)
  queue pump                                 every `on_sqs_message` handler fed from its queue in moto
                                             (local/queue_pump.py), as Lambda's event source mappings do
  stream pump                                the outbox table's stream fed to the publisher, which puts
                                             each event on moto's EventBridge bus (local/stream_pump.py)

Then it seeds demo data through the API (a card on file too, through the real card flow), prints
URLs, ids, tokens and example curl lines, and writes them to .local/stack.json (or
$BILLOW_LOCAL_DIR/stack.json). Ctrl-C or SIGTERM stops everything it started and exits 0; the stack
file is removed.

Everything runs in this one process (servers in daemon threads), so there are no subprocesses to
reap: stopping shuts each server down and closes its socket, so the ports are free on exit. Pieces
added later (a subprocess, a pump thread) register their own stop with `Running.started`.
"""

from __future__ import annotations

import logging
import os
import secrets
import signal
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from local import console as console_app
from local import moto_server, stack, tokens
from local.jwks_server import serve_jwks
from local.queue_pump import QueuePump, moto_has_visible
from local.stream_pump import StreamPump
from local.stripe_shim import StripeServer
from local.webhook_receiver import WebhookReceiver

console = Console(soft_wrap=True, highlight=False)


class Running:
    """What was started, in order, so that stop() undoes exactly that, last first."""

    def __init__(self) -> None:
        self._stops: list[tuple[str, Callable[[], None]]] = []

    def started(self, name: str, stop: Callable[[], None]) -> None:
        self._stops.append((name, stop))

    def stop(self) -> None:
        while self._stops:
            name, stop = self._stops.pop()
            try:
                stop()
            except Exception as exc:  # keep stopping the rest
                console.print(f"[yellow]stopping {name}: {exc}[/]")


def _bind_error(what: str, port: int, env: str, exc: OSError) -> stack.StackError:
    return stack.StackError(
        f"cannot listen on {stack.HOST}:{port} for {what} ({exc.strerror}); set {env} to another port"
    )


def _moved_today() -> str | None:
    """The day BILLOW_TODAY moved the stack's calendar to (None: the real date); the CLI follows it."""
    from functions.core import clock

    moved = clock.moved_today()
    return moved.isoformat() if moved else None


def start(ports: stack.Ports, running: Running) -> dict[str, Any]:
    """Start every piece, create the resources, seed, and return the stack info (also written to disk)."""
    key = stack.load_or_create_key()

    try:
        moto, moto_url = moto_server.start(ports.moto)
    except OSError as exc:
        raise _bind_error("moto", ports.moto, stack.PORT_ENV["moto"], exc) from None
    running.started("moto", lambda: moto_server.stop(moto))
    stack.apply_aws_env(moto_url)

    try:
        jwks, jwks_url = serve_jwks(tokens.jwks(key), ports.jwks)
    except OSError as exc:
        raise _bind_error("the JWKS", ports.jwks, stack.PORT_ENV["jwks"], exc) from None
    running.started("jwks", lambda: (jwks.shutdown(), jwks.server_close()))
    os.environ["BILLOW_JWKS_URL"] = jwks_url
    stack.wait_for(jwks_url, timeout=10)

    try:
        stripe = StripeServer(ports.stripe, stack.HOST).start()
    except OSError as exc:
        raise _bind_error("the Stripe side", ports.stripe, stack.PORT_ENV["stripe"], exc) from None
    running.started("stripe", stripe.stop)
    webhook_secret = f"whsec_{secrets.token_hex(24)}"
    os.environ.update(stack.stripe_env(stripe.url, webhook_secret))

    try:
        console_server = console_app.start_server(ports.console)  # sets the API's CORS origins: before app.py
    except OSError as exc:
        raise _bind_error("the console", ports.console, stack.PORT_ENV["console"], exc) from None
    running.started("console", console_server.stop)

    from local import api_server

    # Applies the stage's env vars (table prefix, issuer, audience) to os.environ and imports app.py.
    app_obj, config = api_server.load_stage(stack.STAGE)
    resources = stack.create_aws_resources(moto_url)

    try:
        api = api_server.create_server(app_obj, config, stack.HOST, ports.api)
    except OSError as exc:
        raise _bind_error("the API", ports.api, stack.PORT_ENV["api"], exc) from None
    thread = threading.Thread(target=api.server.serve_forever, kwargs={"poll_interval": 0.1}, name="api", daemon=True)
    thread.start()
    running.started("api", lambda: (api.shutdown(), api.server.server_close(), thread.join(5)))
    api_url = f"http://{stack.HOST}:{api.server.server_address[1]}"
    stack.wait_for(f"{api_url}/v1/health", timeout=30)
    webhook_url = stack.register_webhook(stripe.url, api_url, webhook_secret)

    import boto3

    sqs = boto3.client("sqs", endpoint_url=moto_url, region_name="us-east-1")
    pump_log = lambda line: console.print(f"[yellow]{line}[/]")  # noqa: E731
    pump = QueuePump(app_obj, sqs, log=pump_log, ready=moto_has_visible()).start()  # moto: this process
    running.started("queue pump", pump.stop)
    # the outbox's stream to the publisher (EventBridge), as Lambda's DynamoDB event source does
    stream_pump = StreamPump(app_obj, log=pump_log, in_process_moto=True).start()
    running.started("stream pump", stream_pump.stop)

    ttl = stack.TOKEN_TTL
    admin_token = tokens.mint(key, stack.OPERATOR_SUB, stack.ADMIN_SCOPES, ttl=ttl)
    try:
        receiver = WebhookReceiver(stack.HOST, ports.receiver).start()
    except OSError as exc:
        raise _bind_error("the webhook receiver", ports.receiver, stack.PORT_ENV["receiver"], exc) from None
    running.started("webhook receiver", receiver.stop)
    endpoint = stack.register_receiver(stack.ApiClient(api_url, admin_token), receiver.url)
    receiver.secrets.append(endpoint["secret"])
    customer_token = tokens.mint(key, stack.CUSTOMER_SUB, stack.READ_WRITE, ttl=ttl)
    outsider_token = tokens.mint(key, stack.OUTSIDER_SUB, stack.READ_WRITE, ttl=ttl)
    demo = stack.seed_demo(stack.ApiClient(api_url, admin_token))
    card = stack.seed_card_on_file(
        stack.ApiClient(api_url, customer_token), demo.demo_account, stripe.url, stack.DEMO_CARD_CONTACT
    )
    stack.seed_billing_items(stack.ApiClient(api_url, admin_token), demo)
    meter = stack.ApiClient(api_url, tokens.mint(key, "demo-meter", ["billing:usage"], ttl=ttl))
    from functions.core import clock  # the stack's clock (BILLOW_TODAY moves it), as the API reads it

    stack.seed_usage_and_budget(stack.ApiClient(api_url, admin_token), meter, demo, clock.iso(clock.now()))

    expires = datetime.fromtimestamp(time.time() + ttl, UTC).isoformat(timespec="seconds")
    info: dict[str, Any] = {
        "pid": os.getpid(),
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "stage": stack.STAGE,
        "today_moved_to": _moved_today(),
        "api_url": api_url,
        "moto_url": moto_url,
        "jwks_url": jwks_url,
        "stripe": {
            "url": stripe.url,
            "publishable_key": stack.STRIPE_PUBLISHABLE_KEY,
            "secret_key": stack.STRIPE_SECRET_KEY,
            "webhook_url": webhook_url,
        },
        "demo_card": {k: card[k] for k in ("brand", "last4", "exp_month", "exp_year", "status")},
        "openapi_url": f"{api_url}/v1/openapi.json",
        "key_path": str(stack.key_path()),
        "accounts": {"demo": demo.demo_account, "lite": demo.lite_account},
        "devices": demo.devices,
        "members": demo.members,
        "tokens": {
            "customer": {"sub": stack.CUSTOMER_SUB, "scopes": stack.READ_WRITE, "token": customer_token},
            "admin": {"sub": stack.OPERATOR_SUB, "scopes": stack.ADMIN_SCOPES, "token": admin_token},
            "outsider": {"sub": stack.OUTSIDER_SUB, "scopes": stack.READ_WRITE, "token": outsider_token},
            "expires_at": expires,
        },
        "resources": resources,
        "webhooks": {
            "receiver_url": receiver.url,
            "events_url": f"http://{stack.HOST}:{receiver.port}/events",
            "endpoint_id": endpoint["id"],
        },
    }
    info["curl"] = curl_examples(info)
    info["console"] = console_app.publish(console_server, info)
    stack.write_stack_info(info)
    return info


def curl_examples(info: dict[str, Any]) -> list[dict[str, str]]:
    api, demo, lite = info["api_url"], info["accounts"]["demo"], info["accounts"]["lite"]
    return [
        {
            "what": "the demo account's summary (200)",
            "cmd": f'curl -s {api}/v1/accounts/{demo}/summary -H "Authorization: Bearer $CUSTOMER_TOKEN"',
        },
        {"what": "the same without a token (401)", "cmd": f"curl -s -i {api}/v1/accounts/{demo}/summary"},
        {
            "what": "the lite account as a user who is not a member (403)",
            "cmd": f'curl -s -i {api}/v1/accounts/{lite}/summary -H "Authorization: Bearer $OUTSIDER_TOKEN"',
        },
        {
            "what": "an operator call: the demo account's devices",
            "cmd": f'curl -s {api}/v1/accounts/{demo}/devices -H "Authorization: Bearer $ADMIN_TOKEN"',
        },
        {"what": "the OpenAPI document", "cmd": f"curl -s {api}/v1/openapi.json"},
        {
            "what": "the demo account's card on file",
            "cmd": f'curl -s {api}/v1/accounts/{demo}/payment-method -H "Authorization: Bearer $CUSTOMER_TOKEN"',
        },
        {
            "what": "change it: a SetupIntent for Stripe.js (confirming it: docs/payments.md)",
            "cmd": f"curl -s -X POST {api}/v1/accounts/{demo}/payment-method/setup "
            '-H "Authorization: Bearer $CUSTOMER_TOKEN"',
        },
        {"what": "the e-mails the stack sent", "cmd": "billow emails"},
        {"what": "the outbound events the local webhook receiver got (signatures checked)", "cmd": "billow events"},
    ]


def print_banner(info: dict[str, Any]) -> None:
    urls = Table.grid(padding=(0, 2))
    urls.add_row("API", info["api_url"])
    if info.get("console"):
        urls.add_row("console", info["console"]["url"])
    urls.add_row("OpenAPI", info["openapi_url"])
    urls.add_row("moto (AWS)", info["moto_url"])
    urls.add_row("JWKS", info["jwks_url"])
    urls.add_row("Stripe (localstripe)", f"{info['stripe']['url']}  ({info['stripe']['publishable_key']})")
    urls.add_row("demo (payg, linked, usd)", f"{info['accounts']['demo']}  devices: {', '.join(info['devices'])}")
    card = info["demo_card"]
    urls.add_row(
        "demo card", f"{card['brand']} ····{card['last4']} {card['exp_month']:02d}/{card['exp_year']} {card['status']}"
    )
    urls.add_row("lite", info["accounts"]["lite"])
    urls.add_row("customer sub", f"{stack.CUSTOMER_SUB} (owner of both)")
    hooks = info["webhooks"]
    urls.add_row("webhook receiver", f"{hooks['receiver_url']}  (endpoint {hooks['endpoint_id']}, every type)")
    urls.add_row("stack file", str(stack.stack_file()))
    if info.get("today_moved_to"):
        urls.add_row("calendar", f"moved to {info['today_moved_to']} (BILLOW_TODAY)")
    console.print(Panel(urls, title="billow local stack", title_align="left", border_style="green", expand=False))
    t = info["tokens"]
    console.print(f"[bold]Tokens[/] (valid until {t['expires_at']}; more with `billow token --help`). Paste these:")
    console.print(f"export BILLOW_API={info['api_url']}")
    console.print(f"export CUSTOMER_TOKEN={t['customer']['token']}")
    console.print(f"export ADMIN_TOKEN={t['admin']['token']}")
    console.print(f"export OUTSIDER_TOKEN={t['outsider']['token']}")
    console.print()
    console.print("[bold]Try[/]:")
    for example in info["curl"]:
        console.print(f"[dim]# {example['what']}[/]")
        console.print(example["cmd"])
    console.print()
    if info.get("console"):
        console.print(f"[bold]Console[/]: {info['console']['url']}  — sign in as the demo customer in one click:")
        console.print(info["console"]["signin_url"])
        console.print()
    console.print("[green]Ready.[/] Ctrl-C stops everything.")


class Stop(BaseException):
    """Raised in the main thread by SIGINT/SIGTERM. Not KeyboardInterrupt: CPython remembers a
    KeyboardInterrupt that crossed certain C frames (PyRun_*) and then exits with SIGINT (130) even
    after we caught it and stopped cleanly; our own exception type keeps the exit code ours."""


def _terminate(signum: int, frame: Any) -> None:
    raise Stop(signal.Signals(signum).name)


def main() -> int:
    logging.basicConfig(stream=sys.stdout, level=logging.INFO, format="%(message)s")  # as `chalice local` does
    for noisy in ("botocore", "boto3", "pynamodb"):  # credential and endpoint discovery, on every client
        logging.getLogger(noisy).setLevel(logging.WARNING)
    logging.getLogger("urllib3.connectionpool").setLevel(logging.ERROR)  # "pool is full" under parallel requests
    logging.getLogger("fontTools").setLevel(logging.WARNING)  # each PDF's subsetting: every glyph name, at INFO
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGINT, _terminate)
    running = Running()
    code = 0
    try:
        ports = stack.Ports.from_env()
        info = start(ports, running)
        print_banner(info)
        while True:
            time.sleep(3600)
    except (Stop, KeyboardInterrupt) as exc:
        console.print(f"\nstopping the local stack ({exc or 'interrupted'})")
    except stack.StackError as exc:
        console.print(f"[red]error:[/] {exc}")
        code = 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        running.stop()
        stack.remove_stack_info(os.getpid())
    return code


def exit_now(code: int) -> None:
    """Exit once everything is stopped, skipping interpreter finalization: with moto's backends and
    the app loaded it garbage-collects for up to a few seconds, which Ctrl-C should not wait for.
    Every server was shut down and its socket closed by main(); only output is left to flush."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    exit_now(main())
