"""moto made cheaper to run, its answers unchanged: what every in-process moto of the test suite and the
local stack's moto server install (`install()`), measured in docs/performance.md.

Profiles of the suite (py-spy over the proof simulation, the fuzz and a local stack) showed about half
of an in-process test's time inside moto, and most of that not in DynamoDB's logic but around it:

- **Transactions** copied every table they named, so their cost grew with the table:
  local/moto_transactions.py rolls them back from a journal instead.
- **Answers of DynamoDB's data operations** (GetItem, Query, TransactWriteItems…) went through moto
  5.2's generic serializer, which walks botocore's output shape for every attribute of every item
  (18 % of the simulation). For the JSON protocol the result moto builds is already the wire format,
  so its JSON text is the answer: the same status, headers and body. A result that is not plain JSON
  (bytes, datetimes), an error, or any other operation goes through moto's serializer as before. With
  BILLOW_MOTO_CHECK=1 every answer is built both ways and a difference raises (the check this module
  was proven with: tests/integration/test_moto_speed.py runs a flow so).
- **SigV4 signing of DynamoDB and SQS requests moto answers in this process** (24 % of the faults'
  and the ledger's tests): under `mock_aws` botocore's request never leaves the process (moto's
  stubber answers it from `before-send`), and moto verifies no signature: it reads only the access
  key id of the Authorization header, to pick the account, and with none it picks its default
  account, the one mock_aws's own fake key maps to. Such a request is now sent unsigned, as
  `Config(signature_version=UNSIGNED)` sends it (botocore's `before-sign` handlers still run);
  DynamoDB's and SQS's only (S3 reads the signed headers: an unsigned CreateBucket is refused).
  Presigned URLs are signed as before, and so is every request that goes over HTTP (to the local
  stack's moto server, or anywhere not an AWS host) or is made while no `mock_aws` is active
  (`_install_unsigned_in_process`).
- **Per-request lookups that never change**: the names of a response class's methods
  (`inspect.getmembers` on every request) and, in the server, the list of moto's service folders
  (`os.listdir` + `isdir` of ~200 entries on every request: 12 % of a local stack's start) are read once.
"""

from __future__ import annotations

import functools
import json
import os
import threading
from typing import Any
from urllib.parse import urlsplit

from local import moto_transactions

# DynamoDB's data operations (JSON 1.0): their results hold only strings, numbers, lists and maps
FAST_OPERATIONS = frozenset(
    {
        "GetItem",
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "Query",
        "Scan",
        "BatchGetItem",
        "BatchWriteItem",
        "TransactGetItems",
        "TransactWriteItems",
    }
)
CONTENT_TYPE = "application/x-amz-json-1.0"

_installed = False


class MotoAnswerDiffers(AssertionError):
    """BILLOW_MOTO_CHECK=1: the fast answer is not moto's own."""


def _fast_answer(handler: Any, action_result: Any) -> tuple[int, dict[str, str], str] | None:
    """(status, headers, body) of a data operation's result as JSON text, or None when moto's own
    serializer must build it."""
    from moto.core.responses import ActionResult
    from moto.dynamodb.responses import DynamoResult

    if type(action_result) not in (ActionResult, DynamoResult) or not isinstance(action_result.result, dict):
        return None
    action = handler._get_action()
    if action not in FAST_OPERATIONS:
        return None
    members = _output_members(action)
    result = {k: _doubles(v) if k == "ConsumedCapacity" else v for k, v in action_result.result.items() if k in members}
    try:
        body = json.dumps(_without_nones(result), separators=(",", ":"))
    except TypeError:
        return None  # bytes, datetimes…: moto's serializer knows their wire format
    headers = {"Content-Type": CONTENT_TYPE}
    headers.update(handler.response_headers)
    return 200, headers, body


@functools.cache
def _output_members(action: str) -> frozenset[str]:
    """The members of the operation's output shape: moto's serializer leaves out any other key (moto
    adds some, e.g. ConsumedCapacityUnits)."""
    from moto.core.responses import get_service_model

    return frozenset(get_service_model("dynamodb").operation_model(action).output_shape.members)


DOUBLES = frozenset({"CapacityUnits", "ReadCapacityUnits", "WriteCapacityUnits"})


def _doubles(value: Any) -> Any:
    """ConsumedCapacity's units are doubles in DynamoDB's model: moto's serializer writes `1.0` where moto
    built an int (BatchGetItem counts its keys), and boto3 then returns a float."""
    if isinstance(value, list):
        return [_doubles(v) for v in value]
    if isinstance(value, dict):
        return {k: float(v) if k in DOUBLES and isinstance(v, int) else _doubles(v) for k, v in value.items()}
    return value


def _without_nones(value: Any) -> Any:
    """moto's serializer leaves out members whose value is None."""
    if isinstance(value, dict):
        return {k: _without_nones(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nones(v) for v in value]
    return value


def _typed(text: str) -> Any:
    """JSON read with each number's kind kept: 1 and 1.0 (equal in Python) differ to boto3's callers."""
    return json.loads(text, parse_int=lambda n: ("int", int(n)), parse_float=lambda n: ("float", float(n)))


def _check(fast: tuple[int, dict[str, str], str], own: Any) -> None:
    status, headers, body = own
    same = fast[0] == status and fast[1] == headers and _typed(fast[2]) == _typed(body)
    if not same:
        raise MotoAnswerDiffers(f"fast {fast!r}\nmoto {(status, headers, body)!r}")


def _install_fast_dynamodb_answers() -> None:
    from moto.dynamodb.responses import DynamoHandler

    original = DynamoHandler.serialized

    def serialized(self: Any, action_result: Any) -> Any:
        fast = _fast_answer(self, action_result)
        if fast is None:
            return original(self, action_result)
        if os.environ.get("BILLOW_MOTO_CHECK") == "1":
            _check(fast, original(self, action_result))
        return fast

    serialized.__doc__ = original.__doc__
    DynamoHandler.serialized = serialized


_signing = threading.local()  # set while RequestSigner.sign signs a request moto answers in this process


# The services whose unsigned requests moto answers as it answers signed ones (S3 does not: it reads
# the signed headers, e.g. x-amz-content-sha256, and refuses an unsigned CreateBucket).
UNSIGNED_SERVICES = frozenset({"dynamodb", "sqs"})


def _install_unsigned_in_process() -> None:
    import botocore
    from botocore.signers import RequestSigner
    from moto.core.models import botocore_stubber

    sign, choose_signer = RequestSigner.sign, RequestSigner._choose_signer

    def answered_in_process(signer: Any, request: Any, signing_type: str) -> bool:
        return (
            botocore_stubber.enabled
            and signing_type == "standard"
            and signer.signing_name in UNSIGNED_SERVICES
            and (urlsplit(request.url).hostname or "").endswith(".amazonaws.com")
        )

    def unsigned_in_process(self: Any, operation_name: str, request: Any, *args: Any, **kwargs: Any) -> Any:
        signing_type = args[1] if len(args) > 1 else kwargs.get("signing_type", "standard")  # after region_name
        _signing.unsigned = answered_in_process(self, request, signing_type)
        try:
            return sign(self, operation_name, request, *args, **kwargs)
        finally:
            _signing.unsigned = False

    def chosen(self: Any, operation_name: str, signing_type: str, context: Any) -> Any:
        version = choose_signer(self, operation_name, signing_type, context)
        return botocore.UNSIGNED if getattr(_signing, "unsigned", False) else version

    unsigned_in_process.__doc__, chosen.__doc__ = sign.__doc__, choose_signer.__doc__
    RequestSigner.sign, RequestSigner._choose_signer = unsigned_in_process, chosen


def _install_lookups_read_once() -> None:
    import moto.backends
    import moto.core.responses

    method_names = moto.core.responses.method_names_from_class
    moto.core.responses.method_names_from_class = functools.lru_cache(maxsize=None)(method_names)
    folders = tuple(moto.backends.list_of_moto_modules())  # moto's own folders: fixed once installed
    moto.backends.list_of_moto_modules = lambda: iter(folders)


def install() -> None:
    """Everything above, in this process (idempotent)."""
    global _installed
    if _installed:
        return
    moto_transactions.install()
    _install_fast_dynamodb_answers()
    _install_unsigned_in_process()
    _install_lookups_read_once()
    _installed = True
