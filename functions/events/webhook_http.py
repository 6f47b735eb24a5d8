"""One webhook POST to a checked address (functions/events/ssrf.py `Target`), with no second DNS lookup.

urllib3 connects to `target.address`; the Host header, the TLS SNI (`server_hostname`) and the
certificate check (`assert_hostname`) use the name. Redirects are not followed (a 3xx is a failed
attempt: following one would reach an address nobody checked), at most `MAX_BODY_BYTES` of the answer are
read and thrown away (never stored), and the whole attempt is bounded by `timeout` seconds (connect and
each read; the body read stops at the deadline too). The outcome is an `Attempt`, never an exception."""

from __future__ import annotations

import time
from dataclasses import dataclass

import certifi
import urllib3
from urllib3.exceptions import HTTPError

from functions.events.ssrf import Target

MAX_BODY_BYTES = 4096
USER_AGENT = "billow-webhooks/1"


@dataclass(frozen=True)
class Attempt:
    ok: bool
    status_code: int | None  # None: no answer (timeout, refused, TLS)
    duration_ms: int
    error: str | None  # http-<code> | redirect | timeout | connection-failed | unsafe-address | …


def _pool(target: Target, timeout: float) -> urllib3.HTTPConnectionPool:
    limits = urllib3.Timeout(connect=timeout, read=timeout)
    if target.scheme == "https":
        return urllib3.HTTPSConnectionPool(
            target.address,
            target.port,
            timeout=limits,
            retries=False,
            maxsize=1,
            server_hostname=target.host,
            assert_hostname=target.host,
            cert_reqs="CERT_REQUIRED",
            ca_certs=certifi.where(),
        )
    return urllib3.HTTPConnectionPool(target.address, target.port, timeout=limits, retries=False, maxsize=1)


def _drain(response: urllib3.BaseHTTPResponse, deadline: float) -> None:
    """Read at most MAX_BODY_BYTES of the answer (a huge or endless body costs nothing more)."""
    read = 0
    while read < MAX_BODY_BYTES and time.monotonic() < deadline:
        chunk = response.read(min(1024, MAX_BODY_BYTES - read))
        if not chunk:
            break
        read += len(chunk)


def post(target: Target, body: bytes, headers: dict[str, str], timeout: float = 10.0) -> Attempt:
    """POST `body` to `target`; 2xx = delivered, anything else (or no answer in `timeout` s) = failed."""
    started = time.monotonic()
    host = target.host if target.port in (80, 443) else f"{target.host}:{target.port}"
    sent = {**headers, "Host": host, "Content-Type": "application/json", "User-Agent": USER_AGENT}
    pool = _pool(target, timeout)
    try:
        response = pool.urlopen(
            "POST", target.path, body=body, headers=sent, redirect=False, retries=False, preload_content=False
        )
        try:
            _drain(response, started + timeout)
        finally:
            response.release_conn()
            response.close()
    except HTTPError as exc:
        timed_out = "timed out" in str(exc).lower() or "timeout" in type(exc).__name__.lower()
        return Attempt(False, None, _ms(started), "timeout" if timed_out else "connection-failed")
    finally:
        pool.close()
    code = response.status
    if 200 <= code < 300:
        return Attempt(True, code, _ms(started), None)
    return Attempt(False, code, _ms(started), "redirect" if 300 <= code < 400 else f"http-{code}")


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
