"""Idempotency-Key records (DESIGN §2 Idempotency).

Scope = (account, method + route template, key). The record keeps the caller's sub, a hash of the
concrete path (with its ids, not the route template: functions/core/http.py `concrete_path`) and the
canonical body, and the response. Single-transaction work writes the completed record
*inside* its transaction (`IdempotencyContext.completed`); work that spans Stripe calls or several
transactions writes it `in_progress` with a lease first (`IdempotencyContext.started`) and completes
it in its last transaction. Records expire after the configured TTL (7 days by default).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from pynamodb.attributes import UnicodeAttribute
from pynamodb.models import Model

from functions.core import clock
from functions.core.db import IntegerAttribute, meta
from functions.core.errors import BadRequestError, BillowError, ConflictError, ValidationFailedError
from functions.core.ids import derived_id
from functions.core.settings import get_settings
from functions.core.uow import IDEMPOTENCY_LABEL, Op

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
COMPLETED = "completed"
IN_PROGRESS = "in_progress"


class IdempotencyModel(Model):
    Meta = meta("idempotency")
    pk = UnicodeAttribute(hash_key=True)  # <account>|<METHOD route template>|<key>
    sub = UnicodeAttribute()
    request_hash = UnicodeAttribute()
    status = UnicodeAttribute()  # in_progress | completed
    response_status = IntegerAttribute(null=True)
    response_body = UnicodeAttribute(null=True)  # JSON
    lease_until = IntegerAttribute(default=0)
    created_at = UnicodeAttribute()
    expires_at = IntegerAttribute()  # TTL


class IdempotencyRaceError(BillowError):
    """Another request with the same key committed first; the caller re-reads and replays."""

    status = 409
    code = "idempotency-in-progress"
    title = "Request in progress"


def in_progress_error() -> ConflictError:
    return ConflictError(
        "a request with this Idempotency-Key is still being processed; retry in a few seconds",
        code="idempotency-in-progress",
    )


def reuse_error() -> ValidationFailedError:
    return ValidationFailedError(
        "this Idempotency-Key was already used with a different request; use a new key for a new request",
        code="idempotency-key-reuse",
    )


def canonical_hash(path: str, body: Any) -> str:
    """The request's identity within its scope: the concrete path (`…/item_B/cancellation`) and body."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{path}\n{canonical}".encode()).hexdigest()


def check_key(key: str | None) -> str:
    if key is None or not key.strip():
        raise BadRequestError(
            f"this request moves money or creates records: send an {HEADER} header (e.g. a UUID)",
            code="idempotency-key-missing",
        )
    # visible ASCII, as a structured-field string (the IETF Idempotency-Key draft): a non-ASCII header
    # arrives as UTF-8 through one proxy and Latin-1 through another, so it would not even be one key
    if len(key) > MAX_KEY_LENGTH or not (key.isascii() and key.isprintable()):
        raise BadRequestError(
            f"the {HEADER} must be 1 to {MAX_KEY_LENGTH} printable ASCII characters", code="idempotency-key-invalid"
        )
    return key


@dataclass(frozen=True)
class Replay:
    status: int
    body: Any


@dataclass
class IdempotencyContext:
    """What a guarded service needs: the scope, a seed for derived ids, and the record ops.

    Services never set its state: `resumed` follows from the stored record — found in progress by
    `lookup` (a previous attempt's lease ran out: resume that work), or written in progress by this
    request's own committed `started()` — so the op that completes it is conditional on that state."""

    account_id: str
    operation: str  # METHOD + route template
    key: str
    sub: str
    request_hash: str
    status: int  # the success status the route answers with
    stored_body: Any = field(default=None)
    found: str | None = None  # the record's status when `lookup` read it (in_progress: resume)
    written: str | None = None  # the record's status this request committed

    @property
    def resumed(self) -> bool:
        """The record is in progress: a previous attempt's (its lease ran out) or this request's."""
        return IN_PROGRESS in (self.found, self.written)

    @property
    def pk(self) -> str:
        return f"{self.account_id}|{self.operation}|{self.key}"

    def derive(self, prefix: str, *extra: str) -> str:
        """The id of the resource this request creates: the same for every retry of it."""
        return derived_id(prefix, self.pk, *extra)

    def _model(self, status: str, body: Any, lease_until: int, response_status: int | None) -> IdempotencyModel:
        settings = get_settings()
        return IdempotencyModel(
            self.pk,
            sub=self.sub,
            request_hash=self.request_hash,
            status=status,
            response_status=response_status,
            response_body=json.dumps(body, sort_keys=True) if status == COMPLETED else None,
            lease_until=lease_until,
            created_at=clock.iso(clock.now()),
            expires_at=clock.epoch_seconds() + settings.idempotency_ttl_seconds,
        )

    def completed(self, body: Any, status: int | None = None) -> Op:
        """The op that stores the response (with `status`, e.g. a problem's, default the route's), for
        the transaction that does the work — or the last one of multi-step work."""
        self.stored_body = body
        model = self._model(COMPLETED, body, 0, status or self.status)
        condition = IdempotencyModel.pk.does_not_exist()
        if self.resumed:
            condition = IdempotencyModel.status == IN_PROGRESS
        return _put(model, condition, self, COMPLETED)

    def started(self) -> Op:
        """The op that claims the key with a lease, for the first transaction of multi-step work (and
        that renews the lease of a resumed request)."""
        lease = clock.epoch_seconds() + get_settings().idempotency_lease_seconds
        model = self._model(IN_PROGRESS, None, lease, None)
        condition = IdempotencyModel.pk.does_not_exist()
        if self.found == IN_PROGRESS:
            condition = (IdempotencyModel.status == IN_PROGRESS) & (
                IdempotencyModel.lease_until < clock.epoch_seconds()
            )
        elif self.written == IN_PROGRESS:
            condition = IdempotencyModel.status == IN_PROGRESS
        return _put(model, condition, self, IN_PROGRESS)


def _put(model: IdempotencyModel, condition: Any, ctx: IdempotencyContext, status: str) -> Op:
    """The record's put: when its condition fails, a duplicate request won (functions/core/uow.py);
    once committed, `ctx` knows the record's new state."""

    def committed() -> None:
        ctx.written = status

    return Op(
        "put",
        model,
        condition=condition,
        on_conflict=lambda: IdempotencyRaceError("raced"),
        label=IDEMPOTENCY_LABEL,
        on_commit=committed,
    )


def lookup(ctx: IdempotencyContext) -> Replay | None:
    """Replay, refuse, or let the request run (None); an expired lease's record is noted as found in
    progress (`ctx.resumed`)."""
    try:
        record = IdempotencyModel.get(ctx.pk, consistent_read=True)
    except IdempotencyModel.DoesNotExist:
        return None
    if record.request_hash != ctx.request_hash or record.sub != ctx.sub:
        raise reuse_error()
    if record.status == COMPLETED:
        return Replay(status=record.response_status or 200, body=json.loads(record.response_body or "null"))
    if record.lease_until >= clock.epoch_seconds():
        raise in_progress_error()
    ctx.found = IN_PROGRESS
    return None
