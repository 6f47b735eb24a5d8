"""Pagination cursors: an HMAC-signed token over (account, route, filters, last key, expiry).

A forged, foreign (other account, route or filters) or expired cursor is 400 `invalid-cursor`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

from functions.core import clock
from functions.core.errors import BadRequestError
from functions.core.secrets import CURSOR_SECRET, get_secret
from functions.core.text import same_secret

CURSOR_TTL_SECONDS = 24 * 3600


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(payload: bytes) -> str:
    secret = get_secret(CURSOR_SECRET).encode("utf-8")
    return _b64(hmac.new(secret, payload, hashlib.sha256).digest())


def _filters_digest(filters: dict[str, Any]) -> str:
    canonical = json.dumps(filters, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


def encode(account_id: str, route: str, filters: dict[str, Any], last_key: dict[str, Any] | None) -> str | None:
    """The cursor for the page after `last_key`; None when there is no next page."""
    if not last_key:
        return None
    body = {
        "a": account_id,
        "r": route,
        "f": _filters_digest(filters),
        "k": last_key,
        "e": clock.epoch_seconds() + CURSOR_TTL_SECONDS,
    }
    payload = json.dumps(body, separators=(",", ":"), sort_keys=True).encode("utf-8")
    return f"{_b64(payload)}.{_sign(payload)}"


def decode(cursor: str | None, account_id: str, route: str, filters: dict[str, Any]) -> dict[str, Any] | None:
    """The last key a cursor carries, after checking its signature, owner, route, filters and expiry."""
    if cursor is None:
        return None
    invalid = BadRequestError("the cursor is not valid for this list; start again without it", code="invalid-cursor")
    try:
        encoded, signature = cursor.split(".", 1)
        payload = _unb64(encoded)
    except (ValueError, TypeError):
        raise invalid from None
    if not same_secret(signature, _sign(payload)):  # any text: `?cursor=YWJj.%C3%A9` is 400, not a 500
        raise invalid
    try:
        body = json.loads(payload)
    except ValueError:
        raise invalid from None
    if body.get("a") != account_id or body.get("r") != route or body.get("f") != _filters_digest(filters):
        raise invalid
    if not isinstance(body.get("e"), int) or body["e"] < clock.epoch_seconds():
        raise BadRequestError("the cursor has expired; start again without it", code="invalid-cursor")
    key = body.get("k")
    if not isinstance(key, dict):
        raise invalid
    return key
