"""A request's body and query string read into its route's pydantic models: RFC 8259 JSON only, no
duplicate keys, no control characters, no card numbers on the routes that refuse them; every refusal
a problem with the fields it names."""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import BaseModel, ValidationError

from functions.core.card_data import holds_card_number
from functions.core.errors import BadRequestError, FieldError, PayloadTooLargeError, ValidationFailedError
from functions.core.settings import get_settings


def field_errors(exc: ValidationError) -> list[FieldError]:
    out = []
    for error in exc.errors(include_url=False):
        loc = ".".join(str(part) for part in error.get("loc", ())) or "body"
        message = "unknown field" if error.get("type") == "extra_forbidden" else error.get("msg", "invalid")
        out.append(FieldError(field=loc, message=message))
    return out


def parse_body(model: type[BaseModel], raw: bytes) -> BaseModel:
    """The body as `model`, or the problem that says why not (413, 400 `malformed-json`, 422)."""
    if len(raw) > get_settings().max_body_bytes:
        raise PayloadTooLargeError(f"the body must be at most {get_settings().max_body_bytes} bytes")
    _refuse_control_characters(_require_plain_json(raw))
    try:
        return model.model_validate_json(raw, strict=True)
    except ValidationError as exc:
        if any(e.get("type") == "json_invalid" for e in exc.errors()):
            raise BadRequestError("the body is not valid JSON", code="malformed-json") from None
        if any(e.get("type") == "model_type" and not e.get("loc") for e in exc.errors()):
            raise BadRequestError("the body must be a JSON object", code="malformed-json") from None
        raise ValidationFailedError("some fields are not acceptable", errors=field_errors(exc)) from None


def refuse_card_data(raw: bytes) -> None:
    """Card and payment routes never read a card number (PCI scope stays with Stripe.js), whatever the
    body: refused before it is parsed, and the body is never logged."""
    if holds_card_number(raw.decode("utf-8", errors="replace")):
        raise BadRequestError(
            "card numbers are never sent to billow: collect the card with Stripe.js and send its ids",
            code="card-data-not-accepted",
        )


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError("duplicate key")
    return dict(pairs)


def _require_plain_json(raw: bytes) -> Any:
    """RFC 8259 JSON only: no NaN/Infinity, no absurd nesting (pydantic's parser alone accepts NaN), and
    no duplicate keys (which value counts would depend on the parser: ambiguous where money is)."""
    try:
        return json.loads(raw, parse_constant=_reject_constant, object_pairs_hook=_unique_keys)
    except (ValueError, RecursionError):
        raise BadRequestError("the body is not valid JSON", code="malformed-json") from None


# C0 controls but tab, newline and carriage return; DEL and C1 controls; the bidirectional embedding,
# override and isolate controls, which reorder what a PDF, e-mail or console shows (an invoice line
# could display another amount than it holds). Right-to-left scripts and emoji are ordinary text.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _refuse_control_characters(body: Any) -> None:
    """422 `validation-failed` naming the first field whose text (or key) holds a control character.
    Iterative: a body nested as deep as the JSON parser allows must not exhaust the stack here."""
    pending: list[tuple[str, Any]] = [("", body)]
    while pending:
        path, value = pending.pop()
        items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
        for key, child in items:
            where = f"{path}.{key}" if path else str(key)
            if any(isinstance(text, str) and _CONTROL.search(text) for text in (key, child)):
                message = "control and bidirectional-override characters are not accepted"
                raise ValidationFailedError(
                    "some fields are not acceptable", errors=[FieldError(field=where, message=message)]
                )
            pending.append((where, child))


def parse_query(model: type[BaseModel] | None, params: dict[str, str] | None) -> BaseModel | None:
    """The query string as `model` (None for a route without one, which refuses any parameter)."""
    if model is None:
        if params:
            raise ValidationFailedError(
                "this route takes no query parameters",
                errors=[FieldError(field=f"query.{k}", message="unknown parameter") for k in params],
            )
        return None
    try:
        return model.model_validate(dict(params or {}))
    except ValidationError as exc:
        errors = [FieldError(field=f"query.{e.field}", message=e.message) for e in field_errors(exc)]
        raise ValidationFailedError("some query parameters are not acceptable", errors=errors) from None
