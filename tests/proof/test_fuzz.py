"""Fuzzing (issue 10, deliverable 5): schemathesis against `/v1/openapi.json` of the running local
stack, over real HTTP. Every operation of the document (which must be every registered route) gets
EXAMPLES generated requests with an operator token of every scope and EXAMPLES without a token:
schema-valid and schema-violating data (schemathesis' positive and negative modes), path parameters
half the time the seeded accounts' real ids (so requests reach the handlers, not only the guard).

Every response: no 5xx; every 4xx is problem+json with a `code`; schemathesis checks the body and
content type against the documented responses, and that schema-violating data is refused. The
figures (requests, by status, by operation) are printed and written to build/proof/fuzz.json.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import time
import uuid
import zlib
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
)

import app  # noqa: F401 - registers the route table (its modules: load_all() below)
from functions.core import route_loader
from functions.core.auth import SCOPES
from functions.core.http import ROUTES
from local import tokens
from tests.e2e.conftest import REPO, LocalStack

route_loader.load_all()  # imports every route module: ROUTES then holds every route

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("proof-fuzz")]

# generated requests per operation and per auth mode (35 operations x 2 x 25); more in a soak:
# BILLOW_FUZZ_EXAMPLES=200 BILLOW_FUZZ_SEED=$RANDOM .venv/bin/pytest -n 0 tests/proof/test_fuzz.py
EXAMPLES = int(os.environ.get("BILLOW_FUZZ_EXAMPLES", "25"))
WEBHOOK_EXAMPLES = 40  # unsigned or badly signed bodies sent to the Stripe webhook
SEED = int(os.environ.get("BILLOW_FUZZ_SEED", "20261127"))  # the same requests every run unless changed
AUTH_MODES = ("operator", "no token")
PROBLEM = "application/problem+json"
REPORT = REPO / "build" / "proof" / "fuzz.json"
_PARAM = re.compile(r"{(\w+)}")


@dataclass
class Target:
    stack: LocalStack
    schema: Any
    tokens: dict[str, str | None]
    ids: dict[str, list[str]]  # path parameter -> real ids of the seeded accounts
    session: requests.Session
    requests: Counter = field(default_factory=Counter)  # (operation, auth, status) -> count
    seconds: Counter = field(default_factory=Counter)  # auth -> time spent waiting for the API
    codes: Counter = field(default_factory=Counter)  # problem code of every 4xx -> count
    problems: list[str] = field(default_factory=list)


def _seeded_ids(stack: LocalStack, admin: str) -> dict[str, list[str]]:
    demo, lite = stack.info["accounts"]["demo"], stack.info["accounts"]["lite"]

    def get(path: str) -> Any:
        r = stack.get(path, admin)
        assert r.status_code == 200, r.text
        return r.json()

    # one card payment on the demo account (its card on file), so payment ids are real too
    paid = requests.post(
        f"{stack.api}/v1/accounts/{demo}/payments",
        json={"amount": 1_000},
        headers={"Authorization": f"Bearer {admin}", "Idempotency-Key": str(uuid.uuid4())},
        timeout=30,
    )
    assert paid.status_code == 201, paid.text
    ticket = requests.post(
        f"{stack.api}/v1/accounts/{demo}/support-tickets",
        json={"subject": "Fuzz", "message": "A question about my invoice"},
        headers={"Authorization": f"Bearer {admin}"},
        timeout=30,
    )
    assert ticket.status_code == 201, ticket.text
    return {
        "account_id": [demo, demo, demo, lite],  # the ids below are the demo account's; lite has none
        "item_id": [i["id"] for i in get(f"/v1/accounts/{demo}/billing-items?view=all&limit=100")["data"]],
        "invoice_id": [i["id"] for i in get(f"/v1/accounts/{demo}/invoices?limit=100")["data"]],
        "payment_id": [p["id"] for p in get(f"/v1/accounts/{demo}/payments?limit=100")["data"]],
        "ticket_id": [ticket.json()["ticket_id"]],
        "device_id": list(stack.info["devices"]),
        # the rate card's routes: the demo card's services and metrics (local/stack.py DEMO_RATES)
        "service": ["compute", "object-storage", "bandwidth", "cdn"],
        "metric": ["vcpu-hours", "gb-month", "egress-gb", "gb"],
        # the webhook routes (issue 19): the receiver make run registered
        "endpoint_id": [stack.info["webhooks"]["endpoint_id"]],
        "DELETE endpoint_id": [_endpoint(stack, admin) for _ in range(3)],
        "event_id": ["evt_" + "f" * 20],  # none is known here: the redelivery's not-found path
    }


def _endpoint(stack: LocalStack, admin: str) -> str:
    """A webhook endpoint of the fuzz's own (to the local receiver), for DELETE to remove."""
    created = requests.post(
        f"{stack.api}/v1/webhook-endpoints",
        json={"url": stack.info["webhooks"]["receiver_url"], "event_types": ["invoice.issued"]},
        headers={"Authorization": f"Bearer {admin}", "Idempotency-Key": str(uuid.uuid4())},
        timeout=30,
    )
    assert created.status_code == 201, created.text
    return created.json()["id"]


@pytest.fixture(scope="module")
def target(local_stack: LocalStack) -> Target:
    key = tokens.load_private_key(local_stack.local_dir / "jwt-private.pem")
    operator = tokens.mint(key, "fuzz-operator", list(SCOPES))  # the stack's issuer; every scope, usage too
    # the document as the stack serves it; from_dict, not from_url: schemathesis leaves out the operation
    # a document was loaded from, and GET /v1/openapi.json is fuzzed like every other route
    served = local_stack.get("/v1/openapi.json")
    assert served.status_code == 200, served.text
    schema = schemathesis.openapi.from_dict(served.json())
    ids = _seeded_ids(local_stack, local_stack.info["tokens"]["admin"]["token"])
    assert all(ids.values()), ids
    return Target(local_stack, schema, {"operator": operator, "no token": None}, ids, requests.Session())


def test_the_document_has_every_registered_route_and_schemathesis_reads_them_all(target: Target):
    document = target.stack.get("/v1/openapi.json").json()
    in_document = {f"{m.upper()} {p}" for p, ops in document["paths"].items() for m in ops}
    assert in_document == {s.operation for s in ROUTES}
    loaded = [result.ok().label for result in target.schema.get_all_operations()]
    assert sorted(loaded) == sorted(in_document)


def _has_inputs(operation: Any) -> bool:
    return any((operation.path_parameters, operation.query, operation.headers, operation.body))


def _strategy(target: Target, operation: Any, path: str) -> st.SearchStrategy:
    """Positive and negative cases; path parameters mostly the seeded real ids (to reach the handlers),
    sometimes generated (to hit the guard and the not-found paths)."""
    names = _PARAM.findall(path)
    # an id a DELETE removes has its own pool ("DELETE <name>"), so the other methods still reach the handlers
    pools = {n: target.ids.get(f"{operation.method.upper()} {n}") or target.ids[n] for n in names}
    real = st.fixed_dictionaries({n: st.sampled_from(pool) for n, pool in pools.items()})

    def with_real(mode: GenerationMode) -> st.SearchStrategy:
        return real.flatmap(lambda p: operation.as_strategy(mode, path_parameters=p))

    generated = [operation.as_strategy(GenerationMode.POSITIVE)]
    if not _has_inputs(operation):
        return generated[0]
    generated.append(operation.as_strategy(GenerationMode.NEGATIVE))
    if not names:
        return st.one_of(generated)
    # seven in nine cases with the real ids (drawn uniformly, unlike one_of which favours its first option)
    mix = [with_real(GenerationMode.POSITIVE)] * 4 + [with_real(GenerationMode.NEGATIVE)] * 3 + generated
    return st.sampled_from(mix).flatmap(lambda strategy: strategy)


def _problem(response: Any) -> str | None:
    """Why a 4xx is not a proper problem+json, or None."""
    content_type = response.headers.get("content-type", [""])[0]
    if not content_type.startswith(PROBLEM):
        return f"Content-Type {content_type!r}"
    try:
        body = json.loads(response.content)
    except ValueError:
        return "a body that is not JSON"
    if not isinstance(body, dict) or not isinstance(body.get("code"), str) or not body["code"]:
        return f"no code: {str(body)[:200]}"
    if body.get("status") != response.status_code or body.get("type") != body["code"]:
        return f"status/type do not match: {str(body)[:200]}"
    return None


def judge(case: Any, response: Any, with_token: bool) -> tuple[list[str], str | None]:
    """What is wrong with one response (a 5xx, a 4xx that is not problem+json, a body or content type
    the document does not allow, schema-violating data accepted), and the 4xx's problem code."""
    status = response.status_code
    if status >= 500:
        return [f"server error {status}: {response.content[:300]!r}"], None
    faults, code = [], None
    if 400 <= status < 500:
        if why := _problem(response):
            faults.append(f"not problem+json ({why})")
        else:
            code = json.loads(response.content)["code"]
    checks = [response_schema_conformance, content_type_conformance]
    if with_token:  # without a token every request is refused (401) before its data is read
        checks.append(negative_data_rejection)
    try:
        case.validate_response(response, checks=checks)
    except (FailureGroup, AssertionError) as exc:  # one entry per failed check (a BaseExceptionGroup)
        faults.append(str(exc)[:600])
    return faults, code


def _fuzz(target: Target, label: str, auth: str) -> int:
    method, path = label.split(" ", 1)
    operation = target.schema[path][method]
    token = target.tokens[auth]
    sent = [0]

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )
    @given(case=_strategy(target, operation, path))
    def run(case: Any) -> None:
        headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        case.headers = headers
        started = time.perf_counter()
        response = case.call(base_url=target.stack.api, session=target.session, timeout=30)
        target.seconds[auth] += time.perf_counter() - started
        sent[0] += 1
        status = response.status_code
        target.requests[(label, auth, status)] += 1
        where = f"{label} [{auth}] {case.method} {case.formatted_path} -> {status}"
        faults, code = judge(case, response, with_token=token is not None)
        target.problems += [f"{where}: {fault}" for fault in faults]
        if code:
            target.codes[code] += 1

    seed(SEED + zlib.crc32(f"{label} {auth}".encode()))(run)()
    return sent[0]


def test_every_operation_with_and_without_a_token_answers_no_5xx_and_only_problem_json_errors(target: Target):
    labels = sorted(result.ok().label for result in target.schema.get_all_operations())
    assert labels == sorted(s.operation for s in ROUTES)
    fuzzed = {(label, auth): _fuzz(target, label, auth) for label in labels for auth in AUTH_MODES}
    _report(target)
    assert not target.problems, f"{len(target.problems)} problems:\n" + "\n".join(target.problems[:40])
    # every operation was fuzzed under both modes, EXAMPLES times unless it takes no input at all
    for (label, auth), sent in fuzzed.items():
        method, path = label.split(" ", 1)
        least = EXAMPLES if _has_inputs(target.schema[path][method]) else 1
        assert sent >= least, (label, auth, sent)
    assert all(status < 500 for (_, _, status) in target.requests)
    # the real ids made requests reach the handlers: successes with a token on most operations
    reached = {label for (label, auth, status) in target.requests if auth == "operator" and status < 300}
    assert len(reached) >= len(labels) * 2 // 3, sorted(set(labels) - reached)
    # without a token, no operation that needs one ever succeeded
    secured = {s.operation for s in ROUTES if s.scope is not None}
    leaked = {label for (label, auth, status) in target.requests if auth == "no token" and status < 300}
    assert not leaked & secured, leaked & secured


def _report(target: Target) -> None:
    by_status = Counter()
    per_operation: dict[str, dict[str, int]] = {}
    for (label, auth, status), n in sorted(target.requests.items()):
        by_status[str(status)] += n
        per_operation.setdefault(f"{label} [{auth}]", Counter())[str(status)] += n
    report = {
        "examples_per_operation_and_auth": EXAMPLES,
        "operations": len({label for label, _, _ in target.requests}),
        "requests": sum(target.requests.values()),
        "by_status": dict(sorted(by_status.items())),
        "problems": len(target.problems),
        "codes": dict(target.codes.most_common()),
        "seconds_waiting_for_the_api": {k: round(v, 1) for k, v in target.seconds.items()},
        "per_operation": {k: dict(v) for k, v in per_operation.items()},
    }
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(json.dumps(report, indent=2) + "\n")
    print(f"fuzz: {report['requests']} requests, by status {report['by_status']}, problems {report['problems']}")


# --- by hand, over the real HTTP server (what the in-process test client cannot show) -----------


def _raw_get(target: Target, path: str, token: str) -> tuple[int, dict[str, str], bytes]:
    """A GET with the path sent exactly as written (requests would resolve dot segments first)."""
    host, port = target.stack.api.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        connection.request("GET", path, headers={"Authorization": f"Bearer {token}"})
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def test_dot_segments_and_encoded_slashes_never_reach_another_account(target: Target):
    """An owner of the demo account only (not of lite) sends paths that climb from demo into lite."""
    stack = target.stack
    demo, lite = stack.info["accounts"]["demo"], stack.info["accounts"]["lite"]
    granted = requests.post(
        f"{stack.api}/v1/accounts/{demo}/members",
        json={"sub": "fuzz-demo-owner", "role": "owner"},
        headers={"Authorization": f"Bearer {target.tokens['operator']}"},
        timeout=30,
    )
    assert granted.status_code == 201, granted.text
    key = tokens.load_private_key(stack.local_dir / "jwt-private.pem")
    owner = tokens.mint(key, "fuzz-demo-owner", ["billing:read", "billing:write"])
    assert _raw_get(target, f"/v1/accounts/{demo}/summary", owner)[0] == 200
    for path, want in (
        (f"/v1/accounts/{demo}/../{lite}/summary", (404, "route-not-found")),
        (f"/v1/accounts/{demo}/invoices/../../{lite}/summary", (404, "route-not-found")),
        (f"/v1/accounts/{demo}/invoices/..%2F..%2F{lite}%2Fsummary", (404, "invoice-not-found")),
        (f"/v1/accounts/{demo}%2F..%2F{lite}/summary", (403, "not-a-member")),
        (f"/v1/accounts/{lite}/summary", (403, "not-a-member")),
    ):
        status, headers, body = _raw_get(target, path, owner)
        assert headers["content-type"] == PROBLEM, (path, status, body)
        assert (status, json.loads(body)["code"]) == want, (path, body)
        assert b"Lite Lab" not in body and b"balance" not in body, (path, body)


@settings(max_examples=WEBHOOK_EXAMPLES, deadline=None, database=None, phases=[Phase.generate], print_blob=False)
@given(
    body=st.one_of(st.binary(max_size=2_000), st.text(max_size=500).map(str.encode)),
    signature=st.one_of(
        st.none(),
        # what a header can carry (requests refuses a value that starts with whitespace: HTTP drops it anyway)
        st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=200).map(str.lstrip),
        # and what a client may still send: Latin-1 text (requests sends str headers as Latin-1)
        st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_categories=("Cc",)), max_size=200).map(
            str.lstrip
        ),
        st.from_regex(r"t=[0-9]{1,12},v1=[0-9a-f]{0,63}[\u00a0-\u00ff]", fullmatch=True),
        st.from_regex(r"t=[0-9]{1,12},v1=[0-9a-f]{0,64}", fullmatch=True),
    ),
)
def _webhook_garbage(target: Target, body: bytes, signature: str | None) -> None:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["Stripe-Signature"] = signature
    r = target.session.post(f"{target.stack.api}/v1/webhooks/stripe", data=body, headers=headers, timeout=30)
    target.requests[("POST /v1/webhooks/stripe (garbage)", "no token", r.status_code)] += 1
    assert r.status_code == 400 and r.headers["Content-Type"].startswith(PROBLEM), (r.status_code, r.text)
    assert r.json()["code"] == "invalid-signature"


def test_the_stripe_webhook_refuses_any_unsigned_body(target: Target):
    _webhook_garbage(target)


@pytest.mark.parametrize(
    ("size", "status", "code"), [(1 << 20, 413, "payload-too-large"), (10 << 20, 413, "payload-too-large")]
)
def test_a_huge_body_over_http_is_413_problem_json(target: Target, size: int, status: int, code: str):
    demo = target.stack.info["accounts"]["demo"]
    body = json.dumps({"description": "x" * size, "amount": 100})
    r = target.session.post(
        f"{target.stack.api}/v1/accounts/{demo}/charges",
        data=body,
        headers={
            "Authorization": f"Bearer {target.tokens['operator']}",
            "Idempotency-Key": str(uuid.uuid4()),
            "Content-Type": "application/json",
        },
        timeout=60,
    )
    assert (r.status_code, r.headers["Content-Type"], r.json()["code"]) == (status, PROBLEM, code)


# --- non-ASCII headers and query values, CR/LF text, unknown methods (issue 14 holes 5-7) ---------


def _raw(
    target: Target, method: str, path: str, headers: dict[str, str | bytes] | None = None, body: bytes | None = None
) -> tuple[int, dict[str, str], bytes]:
    """One request with the path and header bytes exactly as given (UTF-8 header values included)."""
    host, port = target.stack.api.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        connection.putrequest(method, path, skip_accept_encoding=True)
        for name, value in (headers or {}).items():
            connection.putheader(name, value)
        if body is not None:
            connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body)
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def _assert_problem(result: tuple[int, dict[str, str], bytes], status: int, code: str) -> dict[str, Any]:
    got, headers, body = result
    assert headers.get("content-type") == PROBLEM, (got, headers, body[:300])
    problem = json.loads(body)
    assert (got, problem["status"], problem["code"], problem["type"]) == (status, status, code, code), problem
    return problem


UNKNOWN_METHODS = ["TRACE", "PROPFIND", "CONNECT", "MKCOL", "SEARCH", "BREW"]


@pytest.mark.parametrize("method", UNKNOWN_METHODS)
def test_an_unknown_http_method_is_405_problem_json_not_a_501_page(target: Target, method: str):
    demo = target.stack.info["accounts"]["demo"]
    token = f"Bearer {target.tokens['operator']}"
    for path in ("/v1/health", f"/v1/accounts/{demo}/summary", f"/v1/accounts/{demo}/payments", "/v1/nowhere"):
        result = _raw(target, method, path, {"Authorization": token}, b'{"amount": 100}')
        _assert_problem(result, 405, "method-not-allowed")
    # OPTIONS is a method of every path since billow answers CORS preflights itself (issue 18)
    assert _raw(target, method, "/v1/health")[1]["allow"] == "GET, OPTIONS"


def test_non_ascii_header_bytes_are_4xx_problem_json(target: Target):
    """UTF-8 bytes in the headers billow reads, sent as a client would send them over the wire."""
    demo = target.stack.info["accounts"]["demo"]
    now = int(time.time())
    webhook = {"Content-Type": "application/json"}
    for signature in (f"t={now},v1=\u00e9", f"t={now},v1=\U0001f4b8", "t=\u00b2,v1=00", "t=" + "9" * 5000 + ",v1=0"):
        headers = {**webhook, "Stripe-Signature": signature.encode("utf-8")}
        _assert_problem(
            _raw(target, "POST", "/v1/webhooks/stripe", headers, b'{"id": "evt_x"}'), 400, "invalid-signature"
        )
    for authorization in (
        "Bearer \u00e9",
        "Bearer \U0001f4b8.\u00e9.\u00e9",
        f"Bearer {target.tokens['operator']}\u00e9",
    ):
        headers = {"Authorization": authorization.encode("utf-8")}
        _assert_problem(_raw(target, "GET", f"/v1/accounts/{demo}/summary", headers), 401, "invalid-token")
    for key in ("cl\u00e9", "\U0001f4b8"):
        headers = {
            "Authorization": f"Bearer {target.tokens['operator']}",
            "Content-Type": "application/json",
            "Idempotency-Key": key.encode("utf-8"),
        }
        body = b'{"description": "x", "amount": 100}'
        result = _raw(target, "POST", f"/v1/accounts/{demo}/charges", headers, body)
        _assert_problem(result, 400, "idempotency-key-invalid")


@pytest.mark.parametrize(
    "query", ["cursor=YWJj.%C3%A9", "cursor=YWJj.%F0%9F%92%B8", "cursor=%C3%A9.%C3%A9", "cursor=YWJj.%FF"]
)
def test_a_non_ascii_cursor_over_http_is_400_invalid_cursor(target: Target, query: str):
    demo = target.stack.info["accounts"]["demo"]
    token = {"Authorization": f"Bearer {target.tokens['operator']}"}
    for path in ("invoices", "payments", "billing-items", "devices", "events", "invoices.csv"):
        _assert_problem(_raw(target, "GET", f"/v1/accounts/{demo}/{path}?{query}", token), 400, "invalid-cursor")


def test_non_ascii_query_values_over_http_are_never_5xx(target: Target):
    demo = target.stack.info["accounts"]["demo"]
    token = {"Authorization": f"Bearer {target.tokens['operator']}"}
    for value in ("%C3%A9", "%F0%9F%92%B8", "%E2%80%AE", "%FF%FE", "%EF%BC%91"):
        for query in ("limit", "type", "status", "from", "to", "view", "device_id", "category"):
            path = "billing-items" if query in ("view", "device_id", "category") else "invoices"
            status, headers, body = _raw(target, "GET", f"/v1/accounts/{demo}/{path}?{query}={value}", token)
            assert status < 500, (query, value, status, body[:300])
            if status >= 400:
                assert headers["content-type"] == PROBLEM, (query, value, body[:300])


def test_cr_lf_in_a_single_line_field_over_http_is_collapsed_never_5xx(target: Target):
    """A support ticket subject with CR/LF (an e-mail header injection attempt) is stored on one line."""
    demo = target.stack.info["accounts"]["demo"]
    body = {"subject": "Help\r\nBcc: attacker@evil.example\r\n\r\nX: y", "message": "line 1\r\nline 2"}
    r = target.session.post(
        f"{target.stack.api}/v1/accounts/{demo}/support-tickets",
        json=body,
        headers={"Authorization": f"Bearer {target.tokens['operator']}"},
        timeout=30,
    )
    assert r.status_code == 201, r.text
    r = target.session.post(
        f"{target.stack.api}/v1/accounts/{demo}/devices",
        json={"name": "gw\r\nBcc: x", "kind": "gateway\u2028x"},
        headers={"Authorization": f"Bearer {target.tokens['operator']}"},
        timeout=30,
    )
    assert r.status_code == 201, r.text
    assert (r.json()["name"], r.json()["kind"]) == ("gw Bcc: x", "gateway x")


def _fake(case: Any, status: int, content_type: str, body: bytes) -> schemathesis.Response:
    request = requests.Request(case.method, f"http://127.0.0.1{case.formatted_path}").prepare()
    return schemathesis.Response(
        status_code=status,
        headers={"content-type": [content_type]},
        content=body,
        request=request,
        elapsed=0.0,
        verify=True,
    )


def test_the_judge_catches_what_the_fuzz_looks_for(target: Target):
    """The fuzz can fail: a 5xx, a 4xx that is not problem+json and a body off the document are caught
    (fabricated responses, judged exactly as the fuzz judges the real ones)."""
    case = target.schema["/v1/accounts/{account_id}/summary"]["GET"].Case(path_parameters={"account_id": "acct_x"})
    problem = json.dumps({"type": "x", "title": "t", "status": 404, "detail": "d", "code": "x", "errors": []})
    assert judge(case, _fake(case, 404, PROBLEM, problem.encode()), True) == ([], "x")
    assert judge(case, _fake(case, 500, PROBLEM, b"{}"), True)[0]
    assert judge(case, _fake(case, 404, "application/json", problem.encode()), True)[0]
    assert judge(case, _fake(case, 403, PROBLEM, b'{"message": "Forbidden"}'), True)[0]
    assert judge(case, _fake(case, 200, "application/json", b'{"account_id": 5}'), True)[0]
