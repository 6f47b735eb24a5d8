"""An AWS service failing (a 5xx or throttling answer, a timeout) is answered 503 service-unavailable;
any other AWS error (a request billow built wrong) stays a bug: 500 internal-error."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError
from pynamodb.exceptions import GetError, TransactWriteError

from functions.core.db import aws_error_code
from functions.core.problems import aws_outage


def _client_error(code: str, status: int) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "x"}, "ResponseMetadata": {"HTTPStatusCode": status}}, "Op")


@pytest.mark.parametrize(
    "exc",
    [
        _client_error("InternalServerError", 500),
        _client_error("ProvisionedThroughputExceededException", 400),
        _client_error("ThrottlingException", 400),
        _client_error("SomethingNew", 503),
        ReadTimeoutError(endpoint_url="https://dynamodb"),
        EndpointConnectionError(endpoint_url="https://ses"),
        GetError("Failed to get item", _client_error("InternalServerError", 500)),
        TransactWriteError("Failed", ReadTimeoutError(endpoint_url="https://dynamodb")),
    ],
)
def test_outages(exc):
    assert aws_outage(exc)


@pytest.mark.parametrize(
    "exc",
    [
        _client_error("ValidationException", 400),
        _client_error("ResourceNotFoundException", 400),
        GetError("Failed to get item", _client_error("ValidationException", 400)),
        KeyError("x"),
    ],
)
def test_bugs(exc):
    assert not aws_outage(exc)


def test_an_error_raised_while_handling_an_outage_is_a_bug():
    try:
        try:
            raise ReadTimeoutError(endpoint_url="https://dynamodb")
        except ReadTimeoutError:
            raise AttributeError("a bug in the handler")  # noqa: B904  (implicit __context__: the timeout)
    except AttributeError as exc:
        assert not aws_outage(exc)


def test_the_error_code_of_a_timeout_is_none_not_a_crash():
    assert aws_error_code(TransactWriteError("Failed", ReadTimeoutError(endpoint_url="https://dynamodb"))) is None
    assert aws_error_code(GetError("x", _client_error("ConditionalCheckFailedException", 400))) == (
        "ConditionalCheckFailedException"
    )
