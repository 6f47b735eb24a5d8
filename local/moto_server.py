"""moto's server on loopback, serialised behind one lock.

moto 5.2 is not safe under concurrent requests: `transact_write_items` copies the tables it touches
and restores the copy on cancel without any lock, so two racing transactions can lose each other's
writes. Real DynamoDB serialises conflicting transactions itself; here a WSGI middleware holds one
`threading.Lock` for each whole request, including the iteration of its response body, so moto
only ever sees one request at a time. The HTTP server itself stays threaded (slow clients do not
block the accept loop), and every request still goes through the same lock.

Built like `moto.server.ThreadedMotoServer` (DomainDispatcherApplication over create_backend_app,
served by werkzeug's make_server with MotoRequestHandler), plus the lock, without the per-request
access log, and with local/moto_speed.py installed. Used by the local stack (local/run.py) and by
tests that want a real moto endpoint.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import BaseWSGIServer, make_server

from local import moto_speed

HOST = "127.0.0.1"


class SerializedApp:
    """WSGI middleware: one request at a time through `app`, the response read in full under the lock."""

    def __init__(self, app: Callable[..., Iterable[bytes]], lock: threading.Lock | None = None) -> None:
        self.app = app
        self.lock = lock or threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        if environ.get("PATH_INFO") == SENT_MAIL_PATH:
            with self.lock:
                body = json.dumps(sent_mail(parse_qs(environ.get("QUERY_STRING", "")))).encode()
            start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return [body]
        with self.lock:
            result = self.app(environ, start_response)
            try:
                body = b"".join(result)
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
        return [body]


# `billow emails` reads the mail SES accepted here, filtered, instead of moto's /moto-api/data.json (every
# model of every service: 13 MB after ~60 accounts, 30 s during which the lock stalled the API).
SENT_MAIL_PATH = "/billow-local/ses/sent"


def sent_mail(query: dict[str, list[str]]) -> list[dict[str, Any]]:
    """The e-mails SES accepted (moto's SES backend, this process), oldest first: only those to `to`
    (case-insensitive) when given, only the last `limit` when given. moto keeps the HTML part of a
    text + HTML message as its body."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    to = (query.get("to") or [""])[0].lower()
    limit = int((query.get("limit") or ["0"])[0] or 0)
    region = (query.get("region") or ["us-east-1"])[0]
    mails = []
    for m in ses_backends[DEFAULT_ACCOUNT_ID][region].sent_messages:
        destinations = getattr(m, "destinations", None) or {}
        if isinstance(destinations, dict):
            kinds = ("ToAddresses", "CcAddresses", "BccAddresses")
            addresses = [a for kind in kinds for a in destinations.get(kind, [])]
        else:
            addresses = list(destinations)
        if to and to not in (a.lower() for a in addresses):
            continue
        subject = getattr(m, "subject", None)
        body = getattr(m, "body", None) if subject is not None else getattr(m, "raw_data", None)
        mails.append({"id": m.id, "from": m.source, "to": addresses, "subject": subject, "body": body})
    return mails[-limit:] if limit > 0 else mails


class _QuietHandler(MotoRequestHandler):
    """moto's request handler without the one-line-per-request access log (errors are still logged)."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


def start(port: int = 0, host: str = HOST) -> tuple[BaseWSGIServer, str]:
    """Start moto's server (serialised) on host:port in a daemon thread; returns (server, endpoint URL).

    port 0 picks a free port. Each server has its own in-memory backends only as far as moto's
    backends are per process: two servers in one process share state.
    """
    moto_speed.install()  # moto made cheaper, its answers unchanged
    app = SerializedApp(DomainDispatcherApplication(create_backend_app))
    server = make_server(host, port, app, threaded=True, request_handler=_QuietHandler)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.1}, name=f"moto-{server.server_port}", daemon=True
    )
    server.billow_thread = thread  # type: ignore[attr-defined]
    thread.start()
    return server, f"http://{host}:{server.server_port}"


def stop(server: BaseWSGIServer, timeout: float = 5.0) -> None:
    """Stop a server started by start(): stop accepting, close the socket, join its thread."""
    server.shutdown()
    server.server_close()
    thread = getattr(server, "billow_thread", None)
    if thread is not None:
        thread.join(timeout)
