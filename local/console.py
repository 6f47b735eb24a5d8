"""The console's part of `make run` (DESIGN §8): its static server, the API's CORS origins following the
port it bound, console/config.json, and the one-click local sign-in URL the panel prints.

The sign-in URL carries the token in the fragment (`#/signin?token=…&account=…`): a fragment is never
sent to a server, so the token reaches only the page, which keeps it in memory (docs/console.md).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from local.console_server import CONSOLE_DIR, ConsoleServer, console_config, write_config

LOCAL_ORIGINS = ("http://127.0.0.1:3000", "http://localhost:3000")
# PayPal may send the customer back to the API's own pages (curl users) as before.
API_RETURN_ORIGINS = ("http://127.0.0.1:8000", "http://localhost:8000")


def console_dir() -> Path:
    return Path(os.environ.get("BILLOW_CONSOLE_DIR") or CONSOLE_DIR)


def config_path() -> Path:
    """Where config.json is written: console/config.json, or $BILLOW_CONSOLE_CONFIG (the tests' stacks
    write theirs in their temp dir, so two stacks never share one file)."""
    return Path(os.environ.get("BILLOW_CONSOLE_CONFIG") or console_dir() / "config.json")


def origins_of(url: str) -> tuple[str, ...]:
    """The console's origins: as bound (127.0.0.1) and by name (localhost), which a browser treats apart."""
    port = url.rsplit(":", 1)[1]
    return (f"http://127.0.0.1:{port}", f"http://localhost:{port}")


def start_server(port: int) -> ConsoleServer:
    """Start the static server, then point the API's settings at its origin (before app.py is imported:
    settings are read once). BILLOW_CORS_ORIGINS, when set, names more origins (the browser tests' pages)."""
    server = ConsoleServer(console_dir(), port).start()
    bound = origins_of(server.url)
    extra = tuple(o.strip() for o in os.environ.get("BILLOW_CORS_ORIGINS", "").split(",") if o.strip())
    origins = tuple(dict.fromkeys((*LOCAL_ORIGINS, *bound, *extra)))
    os.environ["BILLOW_CORS_ORIGINS"] = ",".join(origins)
    os.environ["BILLOW_PAYPAL_RETURN_ORIGINS"] = ",".join(dict.fromkeys((*API_RETURN_ORIGINS, *origins)))
    os.environ["BILLOW_CONSOLE_URL"] = server.url  # the links e-mails carry
    return server


def signin_url(console_url: str, token: str, account_id: str) -> str:
    return f"{console_url}/#/signin?{urlencode({'token': token, 'account': account_id})}"


def publish(server: ConsoleServer, info: dict[str, Any]) -> dict[str, Any]:
    """Serve and write config.json for the running stack; returns what the stack file records."""
    tokens, accounts = info["tokens"], info["accounts"]
    users = [
        {"id": "customer", "label": "Grace Hopper — Demo Robotics (payg)", "account": accounts["demo"]},
        {"id": "lite", "label": "Grace Hopper — Lite Lab (lite)", "account": accounts["lite"]},
        {"id": "operator", "label": "Billing operator — Demo Robotics", "account": accounts["demo"]},
    ]
    by_user = {"customer": "customer", "lite": "customer", "operator": "admin"}
    demo_users = [user | {"token": tokens[by_user[user["id"]]]["token"]} for user in users]
    config = console_config(
        info["api_url"], info["stripe"]["url"], info["stripe"]["publishable_key"], demo_users=demo_users
    )
    server.set_config(config)
    path = write_config(config, config_path())
    return {
        "url": server.url,
        "dir": str(server.root),
        "config_path": str(path),
        "cors_origins": os.environ["BILLOW_CORS_ORIGINS"].split(","),
        "signin_url": signin_url(server.url, tokens["customer"]["token"], accounts["demo"]),
    }
