"""Cold init + the first authenticated request, in one fresh process per sample (bench/cold_start.py runs it).

What a cold API Lambda does before its first answer: ``import app``, then one request through
``app.app(event, context)`` as the Lambda runtime calls it. The request is the console's first one:
``GET /v1/accounts/{account_id}/summary`` by the account's owner (a members record, billing:read), so it
pays what a first request pays: the token's verification (PyJWT and cryptography imported, the
issuer's JWKS fetched over HTTP), the route's module and its schemas, the DynamoDB client's creation
and its reads, the answer rendered, the Powertools Logger's request line.

Deterministic, and the same for every variant measured: the AWS side is moto's server on loopback
(local/moto_server.py, one process-wide instance in the bench process; ``AWS_ENDPOINT_URL`` points the
probe's botocore at it), the JWKS is served on loopback (local/jwks_server.py) with a key made for
the run. The account is created once, through the API of the source tree, before any sample; the
probe asserts its answer is 200 with that account's id, so a broken package cannot look fast.
Tracing stays off (sam.json does not set BILLOW_TRACING): the X-Ray SDK's import is its own figure in
``make bench``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OWNER = "bench-owner"
OPERATOR = "bench-operator"
CONTACT = {
    "name": "Bench",
    "email": "owner@example.com",
    "address": {"line1": "1", "city": "c", "postal_code": "1", "country": "US"},
}

# Runs in the measured process, after interpreter start-up: the event and the context are literals, so
# nothing is imported before the clock starts; the answer's status and account id are checked after it.
_PROBE = """
import sys, time
sys.path[:0] = [sys.argv[1]]
EVENT = {event!r}
class Context:
    aws_request_id = "bench-first-request"
    function_name = "billow-prod-APIHandler"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:billow-prod-APIHandler"
    def get_remaining_time_in_millis(self):
        return 29000
before = len(sys.modules)
start = time.perf_counter_ns()
import app
initialised = time.perf_counter_ns()
answer = app.app(EVENT, Context())
answered = time.perf_counter_ns()
ok = answer.get("statusCode") == 200 and {account_id!r} in answer.get("body", "")
modules = len(sys.modules) - before
sys.stdout.write(f"\\nBENCH {{initialised - start}} {{answered - initialised}} {{modules}} {{int(ok)}}\\n")
if not ok:
    sys.stderr.write(repr(answer)[:2000])
"""


@dataclass(frozen=True)
class Backend:
    env: dict[str, str]  # what the probe's environment adds to the Lambda's
    account_id: str
    token: str  # the owner's (billing:read)


def event(path: str, resource: str, params: dict[str, str], token: str) -> dict[str, object]:
    """An API Gateway (REST, proxy) event for GET `path`, as Chalice's local gateway builds them."""
    return {
        "resource": resource,
        "path": path,
        "httpMethod": "GET",
        "headers": {"authorization": f"Bearer {token}", "accept": "application/json", "host": "api.example"},
        "multiValueHeaders": {},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": params,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": resource,
            "httpMethod": "GET",
            "path": f"/api{path}",
            "requestId": "bench-first-request",
            "stage": "api",
            "identity": {"sourceIp": "127.0.0.1"},
        },
        "body": None,
        "isBase64Encoded": False,
    }


def probe_source(backend: Backend) -> str:
    path = f"/v1/accounts/{backend.account_id}/summary"
    request = event(path, "/v1/accounts/{account_id}/summary", {"account_id": backend.account_id}, backend.token)
    return _PROBE.format(event=request, account_id=backend.account_id)


def parse(stdout: str) -> tuple[int, int, int]:
    """(init ns, first request ns, modules) from the probe's BENCH line; fails when the answer was wrong."""
    line = next(line for line in reversed(stdout.splitlines()) if line.startswith("BENCH "))
    init_ns, request_ns, modules, ok = (int(x) for x in line.split()[1:])
    if not ok:
        raise RuntimeError("the first request did not answer 200 with the account's summary")
    return init_ns, request_ns, modules


@contextmanager
def backend(lambda_env: dict[str, str]) -> Iterator[Backend]:
    """moto's server and a JWKS on loopback, the tables and one account with its owner, for the probes."""
    from local import moto_server, tokens
    from local.jwks_server import serve_jwks

    key = tokens.generate_private_key()
    server, moto_url = moto_server.start()
    jwks, jwks_url = serve_jwks(tokens.jwks(key))
    try:
        extra = {
            "AWS_ENDPOINT_URL": moto_url,
            "BILLOW_JWKS_URL": jwks_url,
            "BILLOW_JWT_ISSUER": tokens.ISSUER,
            "BILLOW_JWT_AUDIENCE": tokens.AUDIENCE,
        }
        admin = tokens.mint(key, OPERATOR, ["billing:admin", "billing:read", "billing:write"])
        env = {**lambda_env, **extra, "BENCH_ADMIN_TOKEN": admin, "PYTHONPATH": str(ROOT)}
        env.pop("LAMBDA_TASK_ROOT", None)
        seeded = subprocess.run(
            [sys.executable, "-m", "bench.first_request"], env=env, cwd=ROOT, capture_output=True, text=True
        )
        if seeded.returncode != 0:
            raise RuntimeError(f"seeding the first request's account failed:\n{seeded.stderr[-3000:]}")
        account_id = seeded.stdout.split()[-1]
        yield Backend(extra, account_id, tokens.mint(key, OWNER, ["billing:read"]))
    finally:
        jwks.shutdown()
        moto_server.stop(server)


def seed() -> str:
    """(in a subprocess, the source tree's app, the probe's environment) the tables, an account, its owner."""
    import boto3
    from chalice.test import Client

    from functions.core import db

    db.create_tables(boto3.client("dynamodb"))
    from app import app

    headers = {"Authorization": f"Bearer {os.environ['BENCH_ADMIN_TOKEN']}", "Content-Type": "application/json"}
    body = {"type": "payg", "linked": True, "currency": "usd", "name": "Bench", "billing_contact": CONTACT}
    with Client(app) as client:
        created = client.http.post("/v1/accounts", headers=headers, body=json.dumps(body))
        assert created.status_code == 201, created.body
        account_id = json.loads(created.body)["id"]
        member = json.dumps({"sub": OWNER, "role": "owner"})
        granted = client.http.post(f"/v1/accounts/{account_id}/members", headers=headers, body=member)
        assert granted.status_code == 201, granted.body
    return account_id


if __name__ == "__main__":
    print(seed())
