"""Domain errors. Each carries its HTTP status and a stable problem `code`; routes never build errors.

The one mapping to problem+json lives in functions/core/problems.py. docs/errors.md lists every code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str


class BillowError(Exception):
    """Base of every error a caller may see; never raised itself."""

    status = 500
    code = "internal-error"
    title = "Internal error"

    def __init__(
        self,
        detail: str,
        *,
        errors: list[FieldError] | None = None,
        code: str | None = None,
        extensions: dict[str, Any] | None = None,
    ):
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or []
        # RFC 9457 extension members (e.g. a declined payment's id and the support path)
        self.extensions = extensions or {}
        if code is not None:
            self.code = code

    def __init_subclass__(cls, *, status: int | None = None, code: str = "", title: str = "", **kwargs: Any):
        # each kind of error declares its status, code and title on its class line; what it leaves out it inherits
        super().__init_subclass__(**kwargs)
        if status is not None:
            cls.status = status
        if code:
            cls.code = code
        if title:
            cls.title = title


class BadRequestError(BillowError, status=400, code="bad-request", title="Bad request"):
    """The request could not be read (malformed JSON, bad header, forged cursor)."""


class ValidationFailedError(BillowError, status=422, code="validation-failed", title="Validation failed"):
    """The request was read but its fields are not acceptable."""


class UnauthorizedError(BillowError, status=401, code="unauthorized", title="Unauthorized"):
    """No token, or a token that does not verify."""


class ForbiddenError(BillowError, status=403, code="forbidden", title="Forbidden"):
    """A valid token without the scope or the membership this route needs."""


class CapabilityUnavailableError(
    ForbiddenError, status=403, code="capability-unavailable", title="Capability unavailable"
):
    """The account's type or link state does not offer this capability."""


class NotFoundError(BillowError, status=404, code="not-found", title="Not found"):
    """The resource does not exist for this account."""


class MethodNotAllowedError(BillowError, status=405, code="method-not-allowed", title="Method not allowed"):
    """The path exists but not with this method."""


class ConflictError(BillowError, status=409, code="conflict", title="Conflict"):
    """The resource's state does not allow this change now."""


class PayloadTooLargeError(BillowError, status=413, code="payload-too-large", title="Payload too large"):
    """The request body is larger than the configured limit."""


class UnsupportedMediaTypeError(BillowError, status=415, code="unsupported-media-type", title="Unsupported media type"):
    """The body is not JSON."""


class ConcurrentUpdateError(ConflictError, status=409, code="concurrent-update", title="Concurrent update"):
    """Another writer changed the same record first; the caller may retry."""


class ServiceUnavailableError(BillowError, status=503, code="service-unavailable", title="Service unavailable"):
    """A service billow depends on (Stripe) did not answer in time; nothing was changed, retry later."""


class PaymentDeclinedError(BillowError, status=402, code="card-declined", title="Card declined"):
    """Stripe declined the card: nothing was charged, the balance is unchanged."""


def found(value: T | None, detail: str, *, code: str) -> T:
    """`value`, or 404 `code` when there is none: the "get by id or 404" of the services."""
    if value is None:
        raise NotFoundError(detail, code=code)
    return value
