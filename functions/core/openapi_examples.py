"""Examples for the OpenAPI document, made from the schemas themselves: every request body, response and
parameter gets one, with realistic values chosen by field name (money in minor units beside its currency,
prefixed ids, dates), so a route added later has its examples without anyone writing them.
tests/unit/test_openapi_examples.py validates each against its schema.

A field's own `examples` (pydantic `Field(examples=[...])`) wins over the rules below.
"""

from __future__ import annotations

import re
from typing import Any

_ID_PREFIXES = {
    "account": "acct",
    "device": "dev",
    "item": "item",
    "invoice": "inv",
    "payment": "pay",
    "ticket": "tkt",
    "event": "evt",
    "refund": "ref",
    "entry": "entry",
}
_BODY = "3k2m7qz4wd5e6hxr2nap"  # 20 base32 characters, as functions/core/ids.py makes them
_PATTERNS = {
    "^seti_": "seti_1PqR8sLkdIwHu7ixQ2bT",
    "^pm_": "pm_1PqR9aLkdIwHu7ixVisa42",
    "^(current|": "2026-03",
}
_STRINGS = {
    "currency": "eur",
    "locale": "fr",
    "setup_intent_id": "seti_1PqR8sLkdIwHu7ixQ2bT",
    "payment_method_id": "pm_1PqR9aLkdIwHu7ixVisa42",
    "failure_code": "card-declined",
    "decline_code": "insufficient_funds",
    "at": "2026-03-01T09:30:00Z",
    "email": "billing@acme-robotics.example",
    "name": "Acme Robotics SAS",
    "line1": "12 Harbour Street",
    "line2": "Building B",
    "city": "Lyon",
    "state": "Auvergne-Rhône-Alpes",
    "postal_code": "69002",
    "country": "FR",
    "description": "Edge gateway EG-200 — monthly subscription",
    "reason": "goodwill gesture for the March outage",
    "subject": "Question about invoice 1042-000017",
    "message": "Hello, could you explain the setup fee on my last invoice?",
    "reference": "VIR-2026-03-0417",
    "sub": "8f14e45f-ceea-467f-a0e6-2b1c3d4e5f60",
    "brand": "visa",
    "last4": "4242",
    "service": "compute",
    "metric": "vcpu_hours",
    "unit_amount_decimal": "0.0125",
    "client_secret": "seti_1PqR8sLkdIwHu7ixQ2bT_secret_Rz9kX",
    "publishable_key": "pk_test_51PqR8sLkdIwHu7ix",
    "kind": "gateway",
    "category": "connectivity",
    "title": "Validation failed",
    "detail": "some fields are not acceptable",
    "field": "amount",
    "code": "validation-failed",
    "type": "validation-failed",
    "status": "ok",
    "number": "1042-000017",
    "return_url": "https://console.billow.example/payments/return",
    "url": "https://billow-invoices.s3.eu-west-3.amazonaws.com/inv_3k2m7qz4wd5e6hxr2nap.pdf?X-Amz-Signature=abc",
    "next_cursor": "eyJrIjoiaW52XzNrMm03cXo0In0.c2ln",
    "cursor": "eyJrIjoiaW52XzNrMm03cXo0In0.c2ln",
}
_INTEGERS = {"quantity": 3, "net_days": 30, "billing_day": 1, "number": 1042, "limit": 25, "exp_month": 12}
_USUALLY_NULL = {"failure", "next_action", "client_secret", "failure_code", "decline_code", "pending"}
_MONEY = re.compile(r"refund|amount|total|balance|fee|price|current|credit|estimate|subtotal|due|paid|_minor$|billable")


def _prefix(name: str, owner: str) -> str | None:
    if name == "id":
        stem = re.sub(r"([a-z])([A-Z])", r"\1_\2", owner).lower()
        return next((p for word, p in _ID_PREFIXES.items() if stem.endswith(word) or stem.startswith(word)), None)
    if name.endswith("_id") or name.endswith("_ids"):
        return _ID_PREFIXES.get(name.rsplit("_", 1)[0])
    return None


def _string(schema: dict[str, Any], name: str, owner: str) -> str:
    pattern = schema.get("pattern", "")
    for start, value in _PATTERNS.items():
        if pattern.startswith(start):
            return value
    fmt = schema.get("format")
    if fmt == "date":
        return "2026-03-01"
    if fmt == "date-time":
        return "2026-03-01T09:30:00Z"
    if fmt in ("uri", "url"):
        return "https://console.billow.example/"
    prefix = _prefix(name, owner)
    if name in _STRINGS and prefix is None:
        return _STRINGS[name][: schema.get("maxLength", len(_STRINGS[name]))]
    if prefix:
        return f"{prefix}_{_BODY}"
    if name.endswith("_at"):
        return "2026-03-01T09:30:12Z"
    if name.endswith("_on") or name in ("start", "end", "from", "to", "day", "date"):
        return "2026-03-01"
    value = _STRINGS.get(name) or _STRINGS.get(name.rsplit("_", 1)[-1]) or name.replace("_", " ") or "text"
    return value[: schema.get("maxLength", len(value))]


def _number(schema: dict[str, Any], name: str) -> int | float:
    if name in _INTEGERS:
        value: int | float = _INTEGERS[name]
    elif "percent" in name or "threshold" in name:
        value = 80
    elif "year" in name:
        value = 2028
    elif _MONEY.search(name):
        value = 12900
    else:
        value = 1
    low = schema.get("minimum", schema.get("exclusiveMinimum", value - 1) + 1)
    high = schema.get("maximum", schema.get("exclusiveMaximum", value + 1) - 1)
    value = min(max(value, low), high)
    return value if schema.get("type") == "integer" else float(value)


def example(
    schema: dict[str, Any], components: dict[str, Any], name: str = "", owner: str = "", *, answer: bool = False
) -> Any:
    """A value valid against `schema` (refs resolved in `components`), realistic for a field `name` of
    the schema `owner`. An `answer` (a response) has every field, as billow serializes them, null where
    a field is usually null; a request leaves out the optional fields that default to null."""
    if "$ref" in schema:
        ref = schema["$ref"].rsplit("/", 1)[-1]
        return example(components[ref], components, name, ref, answer=answer)
    for key in ("examples",):
        if schema.get(key):
            return schema[key][0]
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        preferred = _STRINGS.get(name)
        return preferred if preferred in schema["enum"] else schema.get("default", schema["enum"][0])
    for key in ("anyOf", "oneOf"):
        if key in schema:
            if name in _USUALLY_NULL and any(b.get("type") == "null" for b in schema[key]):
                return None
            branches = [b for b in schema[key] if b.get("type") != "null"] or schema[key]
            return example(branches[0], components, name, owner, answer=answer)
    if "allOf" in schema:
        return example(schema["allOf"][0], components, name, owner, answer=answer)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object" or "properties" in schema:
        return _object(schema, components, owner, answer)
    if kind == "array":
        item = example(schema.get("items", {}), components, singular_field(name), owner, answer=answer)
        if "threshold" in name:
            return [50, 80, 100][: max(1, schema.get("maxItems", 3))]
        return [item] * max(1, schema.get("minItems", 1))
    if kind in ("integer", "number"):
        return _number(schema, name)
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    return _string(schema, name, owner)


def singular_field(name: str) -> str:
    return name[:-1] if name.endswith("s") else name


def _object(schema: dict[str, Any], components: dict[str, Any], owner: str, answer: bool) -> dict[str, Any]:
    properties = schema.get("properties", {})
    if not properties and isinstance(schema.get("additionalProperties"), dict):
        return {"compute": example(schema["additionalProperties"], components, "", owner, answer=answer)}
    required = set(schema.get("required", []))
    out = {}
    for key, prop in properties.items():
        if key in required or prop.get("default", "") is not None:
            out[key] = example(prop, components, key, owner, answer=answer)
        elif answer:  # serialized, though usually null: a value when it is an id or an amount, else null
            out[key] = example(prop, components, key, owner, answer=answer) if _keep(key) else None
    if not out and properties:  # a PATCH of optional fields: change one of them
        key = next(iter(properties))
        out[key] = example(properties[key], components, key, owner, answer=answer)
    return out


def _keep(name: str) -> bool:
    return name.endswith("_id") or name in _STRINGS or bool(_MONEY.search(name))
