"""SSRF guard for outbound webhooks (DESIGN §7): which URLs may be registered and which addresses the
deliverer may connect to.

The check is made on the DNS answers, never on the URL text: a name is accepted only when every address
it resolves to is public. It runs at registration and again at each delivery, and the deliverer connects
to the address checked here (functions/events/webhook_http.py pins it), so a name that changes its answer
between the check and the connection (DNS rebinding) reaches nothing new.

Refused: loopback, private (RFC 1918, ULA fc00::/7), link-local (169.254/16 — the metadata address
169.254.169.254 —, fe80::/10), carrier-grade NAT, multicast, reserved, unspecified, and the IPv6 forms
that carry an IPv4 address (::ffff:a.b.c.d, 64:ff9b::/96 NAT64, 6to4, Teredo), checked as that IPv4
address. Deployed stages accept `https://` only; the local stage and the tests also accept
`http://127.0.0.1[:port]` (the local receiver), and only that loopback address.

Resolution goes through a resolver the caller may replace (tests inject one: no real DNS).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from functions.core.settings import get_settings

Resolver = Callable[[str, int], list[str]]
MAX_URL_LENGTH = 2048
LOCAL_RECEIVER_HOST = "127.0.0.1"
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_CGNAT = ipaddress.ip_network("100.64.0.0/10")


class UnsafeUrl(Exception):
    """A URL or address webhooks may not reach; `code` is the problem code the route answers."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


def system_resolver(host: str, port: int) -> list[str]:
    """Every address the system's resolver answers for `host` (A and AAAA)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeUrl("webhook-url-unresolvable", f"{host} does not resolve") from exc
    return sorted({str(info[4][0]) for info in infos})


_resolver: Resolver = system_resolver
# Stages where `http://127.0.0.1` (the local receiver) is accepted: the laptop stack and the tests.
LOCAL_STAGES = frozenset({"local", "test"})


def use_resolver(resolver: Resolver | None) -> None:
    """Resolve names with `resolver` (tests: a dict lookup, no real DNS); None = the system's."""
    global _resolver
    _resolver = resolver or system_resolver


def local_allowed() -> bool:
    return get_settings().stage in LOCAL_STAGES


def check_here(url: str) -> Target:
    """`check` for this stage with the resolver in use: what registration and each delivery call."""
    return check(url, allow_local=local_allowed(), resolve=_resolver)


@dataclass(frozen=True)
class Target:
    """Where a delivery goes: the URL's parts and the address that was checked (connect to it)."""

    scheme: str
    host: str  # the name, for the Host header, SNI and certificate check
    port: int
    path: str  # path + query
    address: str  # the checked IP address


def _embedded_v4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    return None


def is_public(address: str) -> bool:
    """True when `address` is a public unicast address (IPv6 forms of IPv4 judged as their IPv4)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_v4(ip)
        if embedded is not None:
            return is_public(str(embedded))
    elif ip in _CGNAT:
        return False
    private = ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast
    return ip.is_global and not (private or ip.is_reserved or ip.is_unspecified)


def parse(url: str, *, allow_local: bool) -> tuple[str, str, int, str]:
    """(scheme, host, port, path) of an acceptable URL text; the addresses are checked by `check`."""
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeUrl("webhook-url-invalid", f"the URL is longer than {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeUrl("webhook-url-invalid", "the URL cannot be parsed") from exc
    host = (parts.hostname or "").rstrip(".").lower()
    if not host or parts.username is not None or parts.password is not None or parts.fragment:
        raise UnsafeUrl("webhook-url-invalid", "the URL needs a host, and no user, password or fragment")
    local = allow_local and parts.scheme == "http" and host == LOCAL_RECEIVER_HOST
    if parts.scheme != "https" and not local:
        extra = " (or http://127.0.0.1 on the local stage)" if allow_local else ""
        raise UnsafeUrl("webhook-url-not-https", f"webhook URLs must use https://{extra}")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts.scheme, host, port or (443 if parts.scheme == "https" else 80), path


def check(url: str, *, allow_local: bool, resolve: Resolver = system_resolver) -> Target:
    """The URL's target with a checked address; raises UnsafeUrl when it may not be reached.

    A name is refused when ANY of its answers is not public (an attacker's name can answer a public and
    a private address; the connection would pick either)."""
    scheme, host, port, path = parse(url, allow_local=allow_local)
    if allow_local and scheme == "http":
        return Target(scheme, host, port, path, LOCAL_RECEIVER_HOST)
    try:
        literal = ipaddress.ip_address(host.strip("[]"))
        answers = [str(literal)]
    except ValueError:
        answers = resolve(host, port)
    if not answers:
        raise UnsafeUrl("webhook-url-unresolvable", f"{host} does not resolve")
    refused = [a for a in answers if not is_public(a)]
    if refused:
        raise UnsafeUrl(
            "webhook-url-private-address",
            f"{host} resolves to {refused[0]}, which is not a public address: webhooks only reach public addresses",
        )
    return Target(scheme, host, port, path, answers[0])
