"""Hostile inputs by hand (issue 10, deliverable 5), in-process: huge and malformed numbers, control
and bidirectional characters, lone surrogates, deep JSON, 1 MB and 10 MB bodies, bodies that are not
JSON, duplicate keys, forged or foreign cursors, other accounts' ids and path-traversal-ish ids.

Each is refused with a 4xx problem+json and its exact code, never a 5xx; a refused request writes
nothing (no DynamoDB write, no message, no e-mail, no S3 object, no call to the Stripe port) and shows
no data of the other account. The accounts' balances, ledgers, invoices and items are compared with
their state before the first hostile request at the end of the module. Ordinary text (emoji,
right-to-left scripts) is accepted and kept exactly.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

import app  # noqa: F401 - registers the route table (its modules: load_all() below)
from functions.core import clock, cursor, ledger_store, route_loader
from functions.core.http import ROUTES
from tests.integration.payments_helpers import WEBHOOK_SECRET
from tests.proof.world import RATE_METRIC, SAMPLE_BODIES, World, observed

route_loader.load_all()  # imports every route module: ROUTES then holds every route

pytestmark = pytest.mark.xdist_group("proof-hostile")

PROBLEM = "application/problem+json"
PROBLEM_KEYS = {"type", "title", "status", "detail", "code", "errors"}
NESTING = 10_000

# A money field's value, as raw JSON text -> (status, code).
NUMBERS = {
    "10**30": (str(10**30), 422, "validation-failed"),
    "2**63": (str(2**63), 422, "validation-failed"),
    "-1": ("-1", 422, "validation-failed"),
    "0": ("0", 422, "validation-failed"),
    "1e400": ("1e400", 422, "validation-failed"),
    "-1e400": ("-1e400", 422, "validation-failed"),
    "NaN": ("NaN", 400, "malformed-json"),
    "Infinity": ("Infinity", 400, "malformed-json"),
    "-Infinity": ("-Infinity", 400, "malformed-json"),
    '"NaN"': ('"NaN"', 422, "validation-failed"),
    '"100"': ('"100"', 422, "validation-failed"),
    "12.5": ("12.5", 422, "validation-failed"),
    "100.0": ("100.0", 422, "validation-failed"),
    "1e2": ("1e2", 422, "validation-failed"),
    "true": ("true", 422, "validation-failed"),
    "null": ("null", 422, "validation-failed"),
    "[100]": ("[100]", 422, "validation-failed"),
}
# (route, money field) pairs: every integer money field of every money route. Amounts are > 0; fees
# may be 0 (a free item), so "0" is hostile only for amounts.
MONEY_FIELDS = [
    ("POST /v1/accounts/{account_id}/charges", "amount"),
    ("POST /v1/accounts/{account_id}/credits", "amount"),
    ("POST /v1/accounts/{account_id}/payments", "amount"),
    ("POST /v1/accounts/{account_id}/refunds", "amount"),
    ("POST /v1/accounts/{account_id}/billing-items", "recurring_fee"),
    ("POST /v1/accounts/{account_id}/billing-items", "setup_fee"),
]
NUMBER_CASES = [
    pytest.param(operation, field, number, id=f"{operation} {field}={number}")
    for operation, field in MONEY_FIELDS
    for number in NUMBERS
    if not (number == "0" and field.endswith("_fee"))
]
# A text field's value, as raw JSON text -> (status, code).
TEXTS = {
    "RTL override": (json.dumps("\u202epaid 0.00\u202c"), 422, "validation-failed"),
    "bidi isolate": (json.dumps("a\u2067b\u2069"), 422, "validation-failed"),
    "NUL": (json.dumps("a\u0000b"), 422, "validation-failed"),
    "terminal escape": (json.dumps("\u001b[31mred"), 422, "validation-failed"),
    "C1 control": (json.dumps("a\u009bb"), 422, "validation-failed"),
    "lone high surrogate": ('"a\\ud800b"', 400, "malformed-json"),
    "lone low surrogate": ('"\\udc00"', 400, "malformed-json"),
    "10k characters": (json.dumps("x" * 10_000), 422, "validation-failed"),
    "10k emoji": (json.dumps("\U0001f4b8" * 10_000), 422, "validation-failed"),
    "empty": ('""', 422, "validation-failed"),
    "whitespace only": ('"   "', 422, "validation-failed"),
}
# (route, text field): a free-text field of routes an operator and a customer use.
TEXT_FIELDS = [
    ("POST /v1/accounts/{account_id}/charges", "description"),
    ("POST /v1/accounts/{account_id}/support-tickets", "subject"),
    ("POST /v1/accounts", "name"),
]
# Ordinary text that must be accepted and kept exactly.
GOOD_TEXTS = {
    "emoji": "Cloud \U0001f4b8 \U0001f9fe \U0001f468\u200d\U0001f4bb",
    "hebrew": "\u05d7\u05e9\u05d1\u05d5\u05df \u05de\u05e1",
    "arabic": "\u0641\u0627\u062a\u0648\u0631\u0629 \u0634\u0647\u0631\u064a\u0629",
    "combining": "Cafe\u0301 cre\u0300me",
    "tabs and newlines": "line 1\n\tline 2\r\n",
}


def spec_of(operation: str):
    return next(s for s in ROUTES if s.operation == operation)


def path_of(operation: str, w: World, **params: str) -> str:
    defaults = {"account_id": w.a.id, "item_id": w.a.items["linked"], "invoice_id": w.a.invoices[0]}
    defaults |= {"service": "compute", "metric": RATE_METRIC}  # the rate card's routes (issue 17)
    defaults |= {"endpoint_id": w.webhooks["endpoint"], "event_id": w.webhooks["event"]}  # webhooks (issue 19)
    return operation.split(" ", 1)[1].format(**{**defaults, **params})


def raw_body(operation: str, w: World, field: str, literal: str) -> str:
    """The route's valid sample body with one field's value replaced by a raw JSON literal."""
    body = SAMPLE_BODIES[spec_of(operation).body](w)
    body[field] = "__HOSTILE__"
    text = json.dumps(body)
    assert text.count('"__HOSTILE__"') == 1
    return text.replace('"__HOSTILE__"', literal)


def send(w: World, operation: str, raw: str | bytes | None = None, token: str | None = None, **kwargs: Any):
    """One request with the operator's token (every scope: only the input can be wrong) and a fresh
    idempotency key; returns (status, body, headers, effects)."""
    method = operation.split(" ", 1)[0]
    path = kwargs.pop("path", None) or path_of(operation, w)
    headers = {"Idempotency-Key": str(uuid.uuid4()), **kwargs.pop("headers", {})}
    with observed(w) as effects:
        status, body, response_headers = w.call(
            method, path, token=token or w.operator, headers=headers, raw=raw, **kwargs
        )
    return status, body, response_headers, effects


def assert_refused(result, status: int, code: str, w: World | None = None, carried: str = "") -> dict:
    got_status, body, headers, effects = result
    assert (got_status, body.get("code") if isinstance(body, dict) else body) == (status, code)
    assert headers["Content-Type"] == PROBLEM
    assert set(body) == PROBLEM_KEYS and body["type"] == code and body["status"] == status
    assert not effects, f"a refused request had effects: {effects}"
    if w is not None:  # nothing of account B beyond what the request itself carried
        text = json.dumps(body)
        shown = {s for s in w.b.owned_ids() | {w.b.name, w.b.email} if s in text and s not in carried}
        assert not shown, f"the refusal shows account B's {shown}"
    return body


@pytest.fixture(scope="module")
def before(world):
    """The accounts' state before the first hostile request of the module."""
    return world.state(world.a.id), world.state(world.b.id)


# --- numbers ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("operation", "field", "number"), NUMBER_CASES)
def test_a_hostile_number_in_a_money_field_is_refused(world, before, operation, field, number):
    literal, status, code = NUMBERS[number]
    body = assert_refused(send(world, operation, raw_body(operation, world, field, literal)), status, code)
    if code == "validation-failed":
        assert [e["field"] for e in body["errors"]] == [field]


def test_hostile_usage_quantities_are_rejected_record_by_record_and_nothing_is_counted(world, before):
    """Usage validates records one by one (one bad record never rejects the batch): each hostile
    quantity is a rejected record, none is stored. v4: a record naming any price is rejected
    `price-not-accepted`, whatever the price."""
    arabic_12 = "\u0661\u0662"  # Arabic-Indic digits: Decimal reads them as 12
    quantities = [10**30, -1, "1e400", "NaN", "Infinity", 1.5, True, "1" * 40, "0x10", arabic_12, "3\n"]
    unit_amounts = ["-1", "1e3", "NaN", "1.5\n", arabic_12, "", 0.5]
    base = SAMPLE_BODIES[spec_of("POST /v1/usage").body](world)["records"][0]
    records = [base | {"quantity": q} for q in quantities] + [base | {"unit_amount_decimal": u} for u in unit_amounts]
    records = [r | {"id": f"hostile-{n}-{uuid.uuid4()}"} for n, r in enumerate(records)]
    status, body, _, effects = send(world, "POST /v1/usage", json.dumps({"records": records}))
    assert status == 200, body
    assert [r["status"] for r in body["results"]] == ["rejected"] * len(records), body["results"]
    assert (body["accepted"], body["duplicates"], body["rejected"]) == (0, 0, len(records))
    assert [r["reason"] for r in body["results"][len(quantities) :]] == ["price-not-accepted"] * len(unit_amounts)
    assert not effects


# --- text -------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", list(TEXTS))
@pytest.mark.parametrize(("operation", "field"), TEXT_FIELDS, ids=[f"{op} {f}" for op, f in TEXT_FIELDS])
def test_hostile_text_is_refused(world, before, operation, field, text):
    literal, status, code = TEXTS[text]
    body = assert_refused(send(world, operation, raw_body(operation, world, field, literal)), status, code)
    if code == "validation-failed":
        assert [e["field"] for e in body["errors"]] == [field]


def test_control_characters_are_refused_in_nested_fields_and_keys(world, before):
    operation = "POST /v1/accounts"
    body = SAMPLE_BODIES[spec_of(operation).body](world)
    nested = json.loads(json.dumps(body))
    nested["billing_contact"]["address"]["city"] = "Spring\u0000field"
    problem = assert_refused(send(world, operation, json.dumps(nested)), 422, "validation-failed")
    assert problem["errors"][0]["field"] == "billing_contact.address.city"
    keyed = json.dumps(body)[:-1] + ', "na\\u0000me": "x"}'
    assert_refused(send(world, operation, keyed), 422, "validation-failed")


def test_invalid_utf8_is_refused(world, before):
    raw = b'{"description": "\xff\xfe\xfd", "amount": 100}'
    assert_refused(send(world, "POST /v1/accounts/{account_id}/charges", raw), 400, "malformed-json")


@pytest.mark.parametrize("name", list(GOOD_TEXTS))
def test_ordinary_unicode_is_accepted_and_kept_exactly(world, name):
    """Not every unusual string is hostile: emoji, right-to-left scripts and combining marks are accepted
    and come back byte for byte (on an account of their own); tabs and newlines too, but a name or an
    invoice line is one line: there they collapse into one space (issue 14 hole 6)."""
    text = GOOD_TEXTS[name]
    kept = "line 1 line 2" if name == "tabs and newlines" else text.strip()
    account = world.api.create_account(name=text.strip() or "x")
    assert account["name"] == kept
    status, invoice, _ = world.call(
        "POST",
        f"/v1/accounts/{account['id']}/charges",
        {"description": text, "amount": 250},
        token=world.operator,
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    assert status == 201, invoice
    status, again, _ = world.call("GET", f"/v1/accounts/{account['id']}/invoices/{invoice['id']}", token=world.operator)
    assert status == 200 and again["lines"][0]["description"] == kept


# Line breaks and other controls in every single-line field (issue 14 hole 6): accepted, collapsed into
# one space, never a 5xx, never stored or echoed with the break. name -> (operation, field)
INJECTION = "Help\r\nBcc: attacker@evil.example\n\u2028X-Injected:\tyes"
FLAT = "Help Bcc: attacker@evil.example X-Injected: yes"
SINGLE_LINE_CASES = {
    "account name": ("POST /v1/accounts", "name"),
    "contact name": ("POST /v1/accounts", "billing_contact.name"),
    "contact address line1": ("POST /v1/accounts", "billing_contact.address.line1"),
    "contact address city": ("POST /v1/accounts", "billing_contact.address.city"),
    "device name": ("POST /v1/accounts/{account_id}/devices", "name"),
    "device kind": ("POST /v1/accounts/{account_id}/devices", "kind"),
    "charge description": ("POST /v1/accounts/{account_id}/charges", "description"),
    "credit reason": ("POST /v1/accounts/{account_id}/credits", "reason"),
    "item description": ("POST /v1/accounts/{account_id}/billing-items", "description"),
    "item category": ("POST /v1/accounts/{account_id}/billing-items", "category"),
    "cancellation reason": ("POST /v1/accounts/{account_id}/billing-items/{item_id}/cancellation", "reason"),
    "ticket subject": ("POST /v1/accounts/{account_id}/support-tickets", "subject"),
}


def _set(body: dict, dotted: str, value: str) -> dict:
    *parents, last = dotted.split(".")
    node = body
    for part in parents:
        node = node[part]
    node[last] = value
    return body


@pytest.mark.parametrize("case", list(SINGLE_LINE_CASES))
def test_line_breaks_in_a_single_line_field_collapse_and_never_reach_a_header(world, case):
    """On an account of its own (A and B stay unchanged): the request succeeds, what it stored and
    answers holds the text on one line, and the ticket's e-mail Subject too."""
    from functions.payments import store as payment_store

    operation, field = SINGLE_LINE_CASES[case]
    own = world.api.create_account(name=f"single line {case}", type="subscription")["id"]  # no card needed
    item = None
    if "{item_id}" in operation:
        item = world.api.call(
            "POST",
            f"/v1/accounts/{own}/billing-items",
            {"description": "Block storage", "category": "storage", "recurring_fee": 800},
            token=world.operator,
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )[1]["item"]["id"]
    body = json.loads(json.dumps(SAMPLE_BODIES[spec_of(operation).body](world)))
    body.pop("payment_id", None)  # account A's: the ticket is about nothing in particular
    _set(body, field, INJECTION)
    path = operation.split(" ", 1)[1].format(account_id=own, item_id=item)
    status, answer, _ = world.call(
        "POST", path, body, token=world.operator, headers={"Idempotency-Key": str(uuid.uuid4())}
    )
    assert status in (200, 201), answer
    shown = json.dumps(answer, ensure_ascii=False)
    assert not any(c in shown for c in ("\\r", "\\n", "\\t", "\u2028")), shown
    if field != "subject":  # every other field is echoed in the answer
        assert FLAT in shown, shown
    else:
        assert payment_store.get_ticket(own, answer["ticket_id"])["subject"] == FLAT
        mails = [m for m in observed_mail() if answer["ticket_id"] in m.subject]
        assert [m.subject for m in mails] == [f"[billow ticket {answer['ticket_id']}] {FLAT}"]


def observed_mail() -> list[Any]:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    return list(ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages)


# --- shape and size ----------------------------------------------------------------------------

CHARGES = "POST /v1/accounts/{account_id}/charges"


SHAPES: dict[str, tuple[Any, int]] = {
    f"{NESTING} nested arrays": (lambda w: raw_body(CHARGES, w, "amount", "[" * NESTING + "]" * NESTING), 400),
    f"{NESTING} nested objects": (
        lambda w: raw_body(CHARGES, w, "amount", '{"a":' * NESTING + "1" + "}" * NESTING),
        400,
    ),
    "500 nested arrays": (lambda w: raw_body(CHARGES, w, "amount", "[" * 500 + "]" * 500), 400),
    "1 MB body": (lambda w: raw_body(CHARGES, w, "description", json.dumps("x" * (1 << 20))), 413),
    "10 MB body": (lambda w: raw_body(CHARGES, w, "description", json.dumps("x" * (10 << 20))), 413),
    "not JSON": (lambda w: "amount=100&description=x", 400),
    "a JSON array": (lambda w: "[1, 2]", 400),
    "a JSON string": (lambda w: '"hello"', 400),
    "null": (lambda w: "null", 400),
    "empty body": (lambda w: "", 400),
    "truncated": (lambda w: '{"description": "x", "amount": 1', 400),
    "trailing garbage": (lambda w: '{"description": "x", "amount": 100} {}', 400),
    "duplicate keys": (lambda w: '{"description": "x", "amount": 99999999, "amount": 100}', 400),
    "duplicate nested keys": (lambda w: raw_body(CHARGES, w, "currency", '{"a": 1, "a": 2}'), 400),
}
SHAPE_CODES = {400: "malformed-json", 413: "payload-too-large"}


@pytest.mark.parametrize("shape", list(SHAPES))
def test_a_body_of_a_hostile_shape_or_size_is_refused(world, before, shape):
    make, status = SHAPES[shape]
    assert_refused(send(world, CHARGES, make(world)), status, SHAPE_CODES[status])


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml", "multipart/form-data"]
)
def test_a_body_that_is_not_json_by_its_content_type_is_415(world, before, content_type):
    raw = raw_body(CHARGES, world, "amount", "100")
    result = send(world, CHARGES, raw, headers={"Content-Type": content_type})
    assert_refused(result, 415, "unsupported-media-type")


# --- cursors ----------------------------------------------------------------------------------


def _cursor(w: World, account_id: str, path: str, token: str) -> str:
    status, page, _ = w.call("GET", f"/v1/accounts/{account_id}/{path}", token=token)
    assert status == 200 and page["next_cursor"], page
    return page["next_cursor"]


def _flip(text: str, at: int) -> str:
    return text[:at] + ("A" if text[at] != "A" else "B") + text[at + 1 :]


def test_forged_tampered_and_foreign_cursors_are_refused(world, before, monkeypatch):
    w = world
    a_invoices = _cursor(w, w.a.id, "invoices?limit=1", w.a.owner_token)
    b_invoices = _cursor(w, w.b.id, "invoices?limit=1", w.b.owner_token)
    a_devices = _cursor(w, w.a.id, "devices?limit=1", w.a.owner_token)
    payload, signature = a_invoices.split(".")
    # a cursor the server itself signed, but a day and more ago
    monkeypatch.setattr(clock, "epoch_seconds", lambda: int(clock.now().timestamp()) - 2 * cursor.CURSOR_TTL_SECONDS)
    key = json.loads(cursor._unb64(payload))["k"]
    expired = cursor.encode(w.a.id, "invoices", {"type": None, "status": None, "from": None, "to": None}, key)
    monkeypatch.undo()
    cases = {
        "forged": "eyJhIjoiYWNjdCJ9.c2lnbmF0dXJl",
        "garbage": "not-a-cursor",
        "unicode": "\u202e\U0001f4b8",
        "payload tampered": f"{_flip(payload, 10)}.{signature}",
        "signature tampered": f"{payload}.{_flip(signature, 5)}",
        "unsigned": payload,
        "account B's": b_invoices,
        "another list's": a_devices,
        "expired": expired,
    }
    for name, value in cases.items():
        refused = _list_with(w, "invoices", value)
        assert refused[0] == 400, (name, refused[1])
        assert_refused(refused, 400, "invalid-cursor", w, carried=value)
    # same list, other filters: the filter digest is signed too
    assert_refused(_list_with(w, "invoices", a_invoices, "&status=open"), 400, "invalid-cursor", w)
    # the genuine cursor still works: the refusals above are about the cursor, not the list
    status, page, _, _ = _list_with(w, "invoices", a_invoices)
    assert status == 200 and page["data"]
    assert_refused(_list_with(w, "invoices", "x" * 3000), 422, "validation-failed", w)


def _list_with(w: World, path: str, value: str, extra: str = ""):
    from urllib.parse import quote

    with observed(w) as effects:
        status, body, headers = w.call(
            "GET", f"/v1/accounts/{w.a.id}/{path}?limit=1&cursor={quote(value)}{extra}", token=w.a.owner_token
        )
    return status, body, headers, effects


# --- other accounts' ids and path-traversal-ish ids --------------------------------------------


def _b_ids(w: World) -> dict[str, str]:
    return {
        "invoice": w.b.invoices[0],
        "item": w.b.items["linked"],
        "payment": w.b.payments[0],
        "device": w.b.devices[0],
    }


# (operation, path params or body built from B's ids) -> the exact code; sent under account A's path.
FOREIGN = [
    ("GET /v1/accounts/{account_id}/invoices/{invoice_id}", {"invoice_id": "invoice"}, None, "invoice-not-found"),
    ("GET /v1/accounts/{account_id}/invoices/{invoice_id}/csv", {"invoice_id": "invoice"}, None, "invoice-not-found"),
    ("GET /v1/accounts/{account_id}/invoices/{invoice_id}/pdf", {"invoice_id": "invoice"}, None, "invoice-not-found"),
    ("GET /v1/accounts/{account_id}/billing-items/{item_id}", {"item_id": "item"}, None, "item-not-found"),
    ("GET /v1/accounts/{account_id}/payments/{payment_id}", {"payment_id": "payment"}, None, "payment-not-found"),
    (
        "POST /v1/accounts/{account_id}/billing-items/{item_id}/cancellation",
        {"item_id": "item"},
        None,
        "item-not-found",
    ),
    (
        "DELETE /v1/accounts/{account_id}/billing-items/{item_id}/cancellation",
        {"item_id": "item"},
        None,
        "item-not-found",
    ),
    ("DELETE /v1/accounts/{account_id}/billing-items/{item_id}/device", {"item_id": "item"}, None, "item-not-found"),
    ("PUT /v1/accounts/{account_id}/billing-items/{item_id}/device", {}, {"device_id": "device"}, "device-not-found"),
    ("POST /v1/accounts/{account_id}/billing-items", {}, {"device_id": "device"}, "device-not-found"),
    ("POST /v1/accounts/{account_id}/refunds", {}, {"invoice_id": "invoice"}, "invoice-not-found"),
    ("POST /v1/accounts/{account_id}/refunds", {}, {"invoice_id": None, "payment_id": "payment"}, "payment-not-found"),
    ("POST /v1/accounts/{account_id}/payments", {}, {"invoice_id": "invoice"}, "invoice-not-found"),
    ("POST /v1/accounts/{account_id}/support-tickets", {}, {"payment_id": "payment"}, "payment-not-found"),
    (
        "POST /v1/accounts/{account_id}/support-tickets",
        {},
        {"payment_id": None, "invoice_id": "invoice"},
        "invoice-not-found",
    ),
]


# Each as an operator (who may act on any account) and, on routes a customer may call, as A's owner.
FOREIGN_CASES = [
    pytest.param(caller, *case, id=f"{case[0]} {case[1] or case[2]} as {caller}")
    for case in FOREIGN
    for caller in ("operator", "owner of A")
    if caller == "operator" or spec_of(case[0]).scope in ("billing:read", "billing:write")
]


@pytest.mark.parametrize(("caller", "operation", "params", "fields", "code"), FOREIGN_CASES)
def test_an_id_of_account_b_under_account_a_is_not_found_and_shows_nothing_of_b(
    world, before, caller, operation, params, fields, code
):
    """Even an operator, who may act on any account, cannot reach B's objects through A's path."""
    w = world
    spec = spec_of(operation)
    b = _b_ids(w)
    path = path_of(operation, w, **{name: b[kind] for name, kind in params.items()})
    raw = None
    if spec.body is not None:
        body = SAMPLE_BODIES[spec.body](w)
        body.update({name: b[kind] if kind else None for name, kind in (fields or {}).items()})
        raw = json.dumps({k: v for k, v in body.items() if v is not None})
    token = w.operator if caller == "operator" else w.a.owner_token
    result = send(w, operation, raw, token=token, path=path)
    assert_refused(result, 404, code, w, carried=path + (raw or ""))


def test_bulk_with_account_b_items_changes_nothing(world, before):
    """Bulk answers per item: B's item under A's path is item-not-found, and nothing is changed."""
    w = world
    b_item = w.b.items["linked"]
    raw = json.dumps({"action": "dissociate", "item_ids": [b_item]})
    status, body, _, _ = send(w, "POST /v1/accounts/{account_id}/billing-items/bulk", raw)
    assert status == 200 and body == {"results": [{"item_id": b_item, "ok": False, "error": "item-not-found"}]}


TRAVERSAL = [
    "..%2F..%2F{b}%2Finvoices%2F{b_invoice}",
    "..",
    "%2E%2E",
    "inv_%00",
    "inv_%0d%0aSet-Cookie:%20x=y",
    "%E2%80%AEinv",
    "*",
    "inv_" + "a" * 5000,
    "{b_invoice}%23",
    "{b_invoice}%3F",
]


@pytest.mark.parametrize("raw_id", TRAVERSAL, ids=[t[:40] for t in TRAVERSAL])
def test_a_path_traversal_ish_invoice_id_is_not_found(world, before, raw_id):
    w = world
    invoice_id = raw_id.format(b=w.b.id, b_invoice=w.b.invoices[0])
    path = f"/v1/accounts/{w.a.id}/invoices/{invoice_id}"
    for token in (w.operator, w.a.owner_token):
        result = send(w, "GET /v1/accounts/{account_id}/invoices/{invoice_id}", token=token, path=path)
        assert_refused(result, 404, "invoice-not-found", w, carried=path.replace("%2F", "/"))


def test_an_account_id_traversal_is_not_found_for_an_operator_and_forbidden_for_a_member(world, before):
    w = world
    path = f"/v1/accounts/..%2F{w.b.id}/summary"
    assert_refused(send(w, "GET /v1/accounts/{account_id}/summary", path=path), 404, "account-not-found", w, path)
    result = send(w, "GET /v1/accounts/{account_id}/summary", token=w.a.owner_token, path=path)
    assert_refused(result, 403, "not-a-member", w, path)


# --- query strings ------------------------------------------------------------------------------

QUERIES = {
    "limit=" + str(10**30): "query.limit",
    "limit=-1": "query.limit",
    "limit=0": "query.limit",
    "limit=NaN": "query.limit",
    "limit=1e2": "query.limit",
    "limit=1.5": "query.limit",
    "limit=%EF%BC%91": "query.limit",  # a fullwidth digit one
    "limit=%D9%A1": "query.limit",  # an Arabic-Indic digit one
    "limit=5%00": "query.limit",
    "from=2026-13-45": "query.from",
    "to=0000-00-00": "query.to",
    "to=0.0": "query.to",  # pydantic alone reads it as a Unix time (1970-01-01): found by the fuzz
    "from=2026-01-01T00:00:00": "query.from",
    "from=2026-1-1": "query.from",
    "status=closed%00": "query.status",
    "type=" + "x" * 5000: "query.type",
    "bogus=1": "query.bogus",
}


@pytest.mark.parametrize("query", list(QUERIES), ids=[q[:40] for q in QUERIES])
def test_a_hostile_query_parameter_is_refused(world, before, query):
    path = f"/v1/accounts/{world.a.id}/invoices?{query}"
    result = send(world, "GET /v1/accounts/{account_id}/invoices", path=path)
    body = assert_refused(result, 422, "validation-failed", world, path)
    assert [e["field"] for e in body["errors"]] == [QUERIES[query]]


KEYS = {
    "empty": ("", "idempotency-key-missing"),
    "blank": ("   ", "idempotency-key-missing"),
    "256 characters": ("k" * 256, "idempotency-key-invalid"),
    "NUL": ("a\u0000b", "idempotency-key-invalid"),
    "newline": ("a\nb", "idempotency-key-invalid"),
    "DEL": ("\x7f", "idempotency-key-invalid"),
    "RTL override": ("\u202e", "idempotency-key-invalid"),
}


@pytest.mark.parametrize("key", list(KEYS))
def test_a_hostile_idempotency_key_is_refused(world, before, key):
    value, code = KEYS[key]
    raw = raw_body(CHARGES, world, "amount", "100")
    assert_refused(send(world, CHARGES, raw, headers={"Idempotency-Key": value}), 400, code)


# --- non-ASCII headers and query values (issue 14 hole 5) ---------------------------------------

# Every list that takes a cursor, and every other query parameter of those lists.
PAGED = [s.operation for s in ROUTES if s.query is not None and "cursor" in s.query.model_fields]
QUERY_FIELDS = [
    pytest.param(s.operation, f.alias or name, id=f"{s.operation} {f.alias or name}")
    for s in ROUTES
    if s.query is not None
    for name, f in s.query.model_fields.items()
    if name not in ("cursor",)
]
NON_ASCII_VALUES = {
    "e acute": "\u00e9",
    "emoji": "\U0001f4b8",
    "RTL override": "\u202e",
    "replacement character": "\ufffd",
    "fullwidth": "\uff41\uff42\uff43",
}
NON_ASCII_CURSORS = {
    "signature e acute": "YWJj.\u00e9",  # `?cursor=YWJj.%C3%A9`: a 500 before (hmac.compare_digest on str)
    "signature emoji": "YWJj.\U0001f4b8",
    "payload and signature": "\u00e9.\u00e9",
    "NEL": "YWJj.\u0085",
}


@pytest.mark.parametrize("value", list(NON_ASCII_CURSORS))
@pytest.mark.parametrize("operation", PAGED)
def test_a_non_ascii_cursor_is_invalid_cursor_not_a_500(world, before, operation, value):
    from urllib.parse import quote

    path = path_of(operation, world) + f"?cursor={quote(NON_ASCII_CURSORS[value])}"
    assert_refused(send(world, operation, path=path), 400, "invalid-cursor", world, path)


def test_a_genuine_cursor_with_a_non_ascii_signature_is_invalid_cursor(world, before):
    genuine = _cursor(world, world.a.id, "invoices?limit=1", world.a.owner_token)
    for forged in (genuine[:-1] + "\u00e9", genuine + "\u00e9", genuine.replace(".", ".\u00e9", 1)):
        assert_refused(_list_with(world, "invoices", forged), 400, "invalid-cursor", world, forged)


@pytest.mark.parametrize("value", list(NON_ASCII_VALUES))
@pytest.mark.parametrize(("operation", "name"), QUERY_FIELDS)
def test_a_non_ascii_query_value_is_never_a_5xx(world, before, operation, name, value):
    """Every query parameter of every list, with non-ASCII text: refused 4xx problem+json (or, for a
    free filter such as device_id, a list of nothing) and never a 5xx."""
    from urllib.parse import quote

    path = path_of(operation, world) + f"?{name}={quote(NON_ASCII_VALUES[value])}"
    status, body, headers, effects = send(world, operation, path=path)
    assert status < 500 and not effects, (status, body)
    if status >= 400:
        assert headers["Content-Type"] == PROBLEM and set(body) == PROBLEM_KEYS and body["status"] == status
    elif operation.endswith("invoices.csv"):
        assert status == 200 and body.splitlines()[1:] == [], body
    else:
        assert status == 200 and body["data"] == [], body


WEBHOOK = "POST /v1/webhooks/stripe"
# Stripe-Signature headers a client may send: non-ASCII, digits str.isdigit() accepts and int() may
# not, a timestamp too long for int() -> 400 invalid-signature, never a 500.
BAD_SIGNATURES = {
    "v1 e acute": "t={now},v1=\u00e9",  # a 500 before (hmac.compare_digest on str)
    "v1 emoji": "t={now},v1=\U0001f4b8",
    "v1 latin-1 bytes": "t={now},v1=\u00c3\u00a9",
    "v1 hex then e acute": "t={now},v1=" + "0" * 63 + "\u00e9",
    "t superscript two": "t=\u00b2,v1=00",
    "t arabic-indic digits": "t=\u0661\u0662,v1=00",
    "t fullwidth digits": "t=\uff11\uff12,v1=00",
    "t 5000 digits": "t=" + "9" * 5000 + ",v1=00",
    "t e acute": "t=\u00e9,v1=00",
    "key e acute": "\u00e9=1,v1=00",
}


@pytest.mark.parametrize("signature", list(BAD_SIGNATURES))
def test_a_non_ascii_or_odd_stripe_signature_is_invalid_signature_not_a_500(world, before, monkeypatch, signature):
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET)
    header = BAD_SIGNATURES[signature].format(now=int(clock.now().timestamp()))
    event = {"id": "evt_hostile", "type": "payment_intent.succeeded", "data": {"object": {"id": "pi_x"}}}
    result = send(world, WEBHOOK, json.dumps(event), headers={"Stripe-Signature": header})
    assert_refused(result, 400, "invalid-signature")


BAD_AUTHORIZATIONS = {
    "token e acute": "Bearer \u00e9",
    "token emoji": "Bearer \U0001f4b8.\U0001f4b8.\U0001f4b8",
    "scheme e acute": "B\u00e9arer abc",
    "latin-1 bytes": "Bearer \u00c3\u00a9\u00c3\u00a9.\u00c3\u00a9.\u00c3\u00a9",
    "NEL": "Bearer a\u0085b",
}


@pytest.mark.parametrize("authorization", list(BAD_AUTHORIZATIONS))
def test_a_non_ascii_authorization_header_is_401_not_a_500(world, before, authorization):
    value = BAD_AUTHORIZATIONS[authorization]
    result = send(world, "GET /v1/accounts/{account_id}/summary", headers={"Authorization": value})
    assert_refused(result, 401, "invalid-token")


def test_a_valid_token_with_non_ascii_appended_is_401(world, before):
    for tail in ("\u00e9", ".\u00e9", "\U0001f4b8"):
        value = f"Bearer {world.operator}{tail}"
        result = send(world, "GET /v1/accounts/{account_id}/summary", headers={"Authorization": value})
        assert_refused(result, 401, "invalid-token")


@pytest.mark.parametrize("content_type", ["\u00e9", "application/json\u00e9", "text/\U0001f4b8", "\u00c3\u00a9/json"])
def test_a_non_ascii_content_type_is_415(world, before, content_type):
    raw = raw_body(CHARGES, world, "amount", "100")
    result = send(world, CHARGES, raw, headers={"Content-Type": content_type})
    assert_refused(result, 415, "unsupported-media-type")


@pytest.mark.parametrize("key", ["cl\u00e9-1", "\U0001f4b8", "\u00c3\u00a9", "a\u0085b", "\uff4b"])
def test_a_non_ascii_idempotency_key_is_refused(world, before, key):
    raw = raw_body(CHARGES, world, "amount", "100")
    assert_refused(send(world, CHARGES, raw, headers={"Idempotency-Key": key}), 400, "idempotency-key-invalid")


def test_after_every_hostile_request_the_accounts_are_unchanged(world, before):
    """Last in the module: balances, ledger entries, invoices and items of A and B as before."""
    assert (world.state(world.a.id), world.state(world.b.id)) == before
    assert ledger_store.get_balance(world.a.id) == before[0][0]
