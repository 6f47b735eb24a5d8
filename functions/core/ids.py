"""Prefixed opaque ids (`acct_…`, `inv_…`): random, or derived from a stable seed for idempotent work."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from datetime import date

PREFIXES = ("acct", "dev", "item", "inv", "pay", "tkt", "evt", "ref", "entry", "we")
_BODY_LEN = 20
_ID_RE = re.compile(r"^(?P<prefix>[a-z]+)_(?P<body>[a-z2-7]{20})$")


# Outbound events (functions/core/outbox.py) are `evt_` + 26 characters; audit events (core/audit.py) are
# `evt_` + 20: the two can never be equal, and an id says which it is.
_EVENT_BODY_LEN = 26
_EVENT_ID_RE = re.compile(r"^evt_[a-z2-7]{26}$")


def _encode(raw: bytes, length: int = _BODY_LEN) -> str:
    return base64.b32encode(raw).decode("ascii").lower().rstrip("=")[:length]


def outbound_event_id() -> str:
    """A fresh outbound event id, `evt_` + 26 characters (130 bits): never an audit event's (20)."""
    return f"evt_{_encode(secrets.token_bytes(20), _EVENT_BODY_LEN)}"


def is_outbound_event_id(value: object) -> bool:
    return isinstance(value, str) and bool(_EVENT_ID_RE.match(value))


def new_id(prefix: str) -> str:
    """A fresh random id, e.g. acct_3k2…; 100 bits of randomness."""
    assert prefix in PREFIXES, prefix
    return f"{prefix}_{_encode(secrets.token_bytes(16))}"


def derived_id(prefix: str, *seed: str) -> str:
    """The same id for the same seed: a retried request or a re-run creates the same resource."""
    assert prefix in PREFIXES, prefix
    digest = hashlib.sha256("\x1f".join(seed).encode("utf-8")).digest()
    return f"{prefix}_{_encode(digest)}"


def is_id(value: object, prefix: str) -> bool:
    """True when `value` is well-formed for `prefix` (a malformed id can be answered 404 without a read)."""
    if not isinstance(value, str):
        return False
    match = _ID_RE.match(value)
    return bool(match and match.group("prefix") == prefix)


def recurring_invoice_id(account_id: str, billed_on: date, part: int = 1) -> str:
    """The Recurring invoice's id for (account, period); part n >= 2 of one split at the amount limit.
    Here in core because two domains derive it: the billing run that posts it and billing items, whose
    cancellation refunds against it (an earlier domain never imports a later one)."""
    if part > 1:
        return derived_id("inv", account_id, "recurring", billed_on.isoformat(), f"part-{part}")
    return derived_id("inv", account_id, "recurring", billed_on.isoformat())
