"""Standard Webhooks signatures (https://www.standardwebhooks.com), made with the `standardwebhooks`
package: `webhook-id` (the event id: the same on every retry, so receivers dedupe on it),
`webhook-timestamp` (Unix seconds, wall-clock: receivers refuse a timestamp more than 5 minutes away from
theirs, so it is never the moved calendar of core.clock) and `webhook-signature`: `v1,<base64
HMAC-SHA256 of "<id>.<timestamp>.<body>">`, one per valid secret, space-separated (two during a
rotation's 24 hours)."""

from __future__ import annotations

import base64
import secrets
import time
from collections.abc import Sequence
from datetime import UTC, datetime

from standardwebhooks.webhooks import Webhook

PREFIX = "whsec_"
SECRET_BYTES = 32


def new_secret() -> str:
    """A fresh signing secret, `whsec_<base64 of 32 random bytes>` (the format the package reads)."""
    return PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def headers(event_id: str, body: str, signing_secrets: Sequence[str], now: float | None = None) -> dict[str, str]:
    """The three Standard Webhooks headers for `body`, signed with every secret in `signing_secrets`."""
    if not signing_secrets:
        raise ValueError("an endpoint always has at least one secret")
    stamp = datetime.fromtimestamp(int(time.time() if now is None else now), tz=UTC)
    signatures = [Webhook(secret).sign(event_id, stamp, body) for secret in signing_secrets]
    return {
        "webhook-id": event_id,
        "webhook-timestamp": str(int(stamp.timestamp())),
        "webhook-signature": " ".join(signatures),
    }


def verify(secret: str, body: str | bytes, received: dict[str, str]) -> dict:
    """The JSON body when one of `received`'s signatures is `secret`'s and the timestamp is recent; raises
    standardwebhooks' WebhookVerificationError otherwise (what a receiver does: local/webhook_receiver.py)."""
    return Webhook(secret).verify(body, received)
