"""Fault injection for the proof suite: every external call billow makes — AWS through botocore
(DynamoDB, SQS, SES v2, S3, whatever client made it: boto3 or PynamoDB) and Stripe through the
gateway's SDK client — is numbered while a path runs; a fault can then be injected at exactly one of
those calls.

- AWS: `before-call` / `after-call` handlers on every botocore client's event system (registered by
  wrapping `botocore.session.Session.create_client`; moto itself hooks `before-send`, so the real
  moto backend still answers every call we let through).
- Stripe: the SDK's own `RequestsClient`, subclassed, handed to `stripe_gateway.use_client` (the
  gateway's retry policy stays in play, as in production).

Two kinds of fault, the two an outage produces:
- `error`: the service answers an error and does nothing (AWS `InternalServerError` 500; Stripe 500
  `api_error`).
- `timeout`: the request reached the service and was done, but the answer was lost (botocore's
  `ReadTimeoutError` raised after the call; for Stripe the SDK's `APIConnectionError`, which is what
  its RequestsClient raises on a requests read timeout) — the nastier half: the caller cannot tell
  whether the work happened.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import botocore.session
import stripe
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ReadTimeoutError

KINDS = ("error", "timeout")
_ID = re.compile(r"/(?:cus|pm|pi|seti|ch|re|dp|evt|py)_[A-Za-z0-9]+")


class InjectedStripeError(stripe.APIError):
    """Only so a reader of a traceback sees the fault was ours."""


@dataclass
class Injector:
    armed: bool = False
    calls: list[str] = field(default_factory=list)  # "dynamodb.GetItem", "stripe.POST /v1/payment_intents"
    fault_at: int | None = None
    kind: str = "error"
    fired: str | None = None  # the call the fault hit
    _lost_reply: bool = False

    # --- the sequence ------------------------------------------------------------------------------

    def _next(self, label: str) -> bool:
        """Number this call; True when the fault goes here."""
        if not self.armed:
            return False
        index = len(self.calls)
        self.calls.append(label)
        if index == self.fault_at:
            self.fired = label
            return True
        return False

    @contextmanager
    def recording(self) -> Iterator[list[str]]:
        """Number the external calls of the block (no fault)."""
        self.calls, self.fault_at, self.fired, self.armed = [], None, None, True
        try:
            yield self.calls
        finally:
            self.armed = False

    @contextmanager
    def fault(self, index: int, kind: str) -> Iterator[Injector]:
        """Inject `kind` at call `index` of the block, once."""
        assert kind in KINDS
        self.calls, self.fault_at, self.kind, self.fired, self.armed = [], index, kind, None, True
        try:
            yield self
        finally:
            self.armed, self.fault_at = False, None

    # --- botocore ----------------------------------------------------------------------------------

    def before_call(self, model: Any, **_: Any) -> Any:
        label = f"{model.service_model.service_name}.{model.name}"
        if not self._next(label):
            return None
        if self.kind == "timeout":
            self._lost_reply = True  # let it run; after_call loses the answer
            return None
        http = AWSResponse("https://injected.invalid/", 500, {}, None)
        parsed = {
            "Error": {"Code": "InternalServerError", "Message": "injected fault"},
            "ResponseMetadata": {"HTTPStatusCode": 500},
        }
        return http, parsed

    def after_call(self, **_: Any) -> None:
        if self._lost_reply:
            self._lost_reply = False
            raise ReadTimeoutError(endpoint_url="https://injected.invalid/")

    def hook(self, client: Any) -> Any:
        client.meta.events.register("before-call", self.before_call, unique_id="billow-proof-faults-before")
        client.meta.events.register("after-call", self.after_call, unique_id="billow-proof-faults-after")
        return client

    # --- Stripe ------------------------------------------------------------------------------------

    def stripe_http(self, timeout: float = 10) -> stripe.RequestsClient:
        injector = self

        class FaultyRequestsClient(stripe.RequestsClient):
            def request(self, method, url, headers, post_data=None):  # type: ignore[no-untyped-def]
                path = _ID.sub("/{id}", url.split("://", 1)[-1].split("/", 1)[-1].split("?", 1)[0])
                if not injector._next(f"stripe.{method.upper()} /{path}"):
                    return super().request(method, url, headers, post_data)
                if injector.kind == "timeout":
                    super().request(method, url, headers, post_data)  # done at Stripe, the answer lost
                    raise stripe.APIConnectionError("read timed out (injected)")
                body = {"error": {"type": "api_error", "message": "injected fault"}}
                return json.dumps(body), 500, {}

        return FaultyRequestsClient(timeout=timeout)


@contextmanager
def installed(stripe_url: str, secret_key: str) -> Iterator[Injector]:
    """Hook every botocore client created from now on and the Stripe gateway's client; forget the
    clients billow cached so they are created again, hooked."""
    from functions.core import db, email, queues, stripe_gateway
    from functions.core.stripe_gateway import API_VERSION
    from functions.invoices import store as invoice_store

    injector = Injector()
    original = botocore.session.Session.create_client

    def create_client(self: Any, *args: Any, **kwargs: Any) -> Any:
        return injector.hook(original(self, *args, **kwargs))

    botocore.session.Session.create_client = create_client  # type: ignore[method-assign]
    resets = (db.reset_connections, email.reset_client, queues.reset_client, invoice_store.reset_client)
    for reset in resets:
        reset()
    stripe_gateway.use_client(
        stripe.StripeClient(
            secret_key,
            stripe_version=API_VERSION,
            base_addresses={"api": stripe_url},
            max_network_retries=0,
            http_client=injector.stripe_http(),
        )
    )
    try:
        yield injector
    finally:
        botocore.session.Session.create_client = original  # type: ignore[method-assign]
        stripe_gateway.use_client(None)
        for reset in resets:
            reset()
