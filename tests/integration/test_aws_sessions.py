"""functions/core/aws_sessions.py: PynamoDB's connections share one botocore session and one DynamoDB
client per thread (a request that touches many tables builds one client), new ones after
db.reset_connections(), and a client whose credentials came back empty is never handed out again."""

from __future__ import annotations

import threading

import botocore.session
import pytest

from functions.accounts.store import AccountsModel
from functions.billing_items.store import ItemModel
from functions.core import db
from functions.core.audit import AuditModel


def _client(model) -> object:
    return model._get_connection().connection.client


@pytest.fixture
def built(monkeypatch):
    """Every client botocore builds, by service name."""
    made: list[str] = []
    original = botocore.session.Session.create_client

    def create_client(self, service_name, *args, **kwargs):
        made.append(service_name)
        return original(self, service_name, *args, **kwargs)

    monkeypatch.setattr(botocore.session.Session, "create_client", create_client)
    db.reset_connections()
    return made


def test_every_model_and_the_transaction_connection_share_one_client_in_a_thread(aws, built):
    first = _client(AccountsModel)
    assert _client(ItemModel) is first and _client(AuditModel) is first
    assert db.connection().client is first
    with pytest.raises(AccountsModel.DoesNotExist):  # the shared client works for every table
        AccountsModel.get("acct_missing", "profile")
    assert list(ItemModel.query("acct_missing")) == []
    assert built == ["dynamodb"]


def test_a_request_touching_many_tables_builds_one_dynamodb_client(api, built):
    account = api.create_account()  # accounts, outbox events, idempotency, audit
    assert account["id"]
    assert built.count("dynamodb") == 1, built


def test_another_thread_builds_its_own_client_and_a_reset_new_ones(aws, built):
    """A connection keeps its client for every thread (PynamoDB's own way); a connection first made in
    another thread gets that thread's client, which botocore built from that thread's session."""
    mine = _client(AccountsModel)
    theirs: list[object] = []
    thread = threading.Thread(target=lambda: theirs.extend([_client(ItemModel), _client(AuditModel)]))
    thread.start()
    thread.join()
    assert theirs[0] is not mine and theirs[1] is theirs[0]
    assert _client(ItemModel) is theirs[0], "the connection's client, whichever thread asks"
    db.reset_connections()
    again = _client(AccountsModel)
    assert again is not mine and _client(ItemModel) is again
    assert built == ["dynamodb"] * 3


def test_a_client_whose_credentials_came_back_empty_is_built_again(aws, built):
    poisoned = _client(AccountsModel)
    poisoned._request_signer._credentials = None  # botocore caches empty credentials (PynamoDB's own check)
    fresh = _client(ItemModel)
    assert fresh is not poisoned and fresh._request_signer._credentials
    assert _client(AccountsModel) is fresh, "PynamoDB's check asks again, and gets the rebuilt one"
    assert built == ["dynamodb"] * 2


def test_the_shared_session_refuses_a_models_own_keys():
    """Keys set on the session every table of the thread shares would reach the other tables' clients."""
    from functions.core import aws_sessions

    with pytest.raises(NotImplementedError, match="its own session"):
        aws_sessions.pynamodb_session().set_credentials("AKIAEXAMPLE", "secret")
