"""Domain errors. Each carries its HTTP status and a stable problem `code`; routes never build errors.

The one mapping to problem+json lives in functions/core/http.py. docs/errors.md lists every code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


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


class BadRequestError(BillowError):
    """The request could not be read (malformed JSON, bad header, forged cursor)."""

    status = 400
    code = "bad-request"
    title = "Bad request"


class ValidationFailedError(BillowError):
    """The request was read but its fields are not acceptable."""

    status = 422
    code = "validation-failed"
    title = "Validation failed"


class UnauthorizedError(BillowError):
    """No token, or a token that does not verify."""

    status = 401
    code = "unauthorized"
    title = "Unauthorized"


class ForbiddenError(BillowError):
    """A valid token without the scope or the membership this route needs."""

    status = 403
    code = "forbidden"
    title = "Forbidden"


class CapabilityUnavailableError(ForbiddenError):
    """The account's type or link state does not offer this capability."""

    code = "capability-unavailable"
    title = "Capability unavailable"


class NotFoundError(BillowError):
    """The resource does not exist for this account."""

    status = 404
    code = "not-found"
    title = "Not found"


class MethodNotAllowedError(BillowError):
    """The path exists but not with this method."""

    status = 405
    code = "method-not-allowed"
    title = "Method not allowed"


class ConflictError(BillowError):
    """The resource's state does not allow this change now."""

    status = 409
    code = "conflict"
    title = "Conflict"


class PayloadTooLargeError(BillowError):
    """The request body is larger than the configured limit."""

    status = 413
    code = "payload-too-large"
    title = "Payload too large"


class UnsupportedMediaTypeError(BillowError):
    """The body is not JSON."""

    status = 415
    code = "unsupported-media-type"
    title = "Unsupported media type"


class ConcurrentUpdateError(ConflictError):
    """Another writer changed the same record first; the caller may retry."""

    code = "concurrent-update"
    title = "Concurrent update"


class ServiceUnavailableError(BillowError):
    """A service billow depends on (Stripe) did not answer in time; nothing was changed, retry later."""

    status = 503
    code = "service-unavailable"
    title = "Service unavailable"


class PaymentDeclinedError(BillowError):
    """Stripe declined the card: nothing was charged, the balance is unchanged."""

    status = 402
    code = "card-declined"
    title = "Card declined"
