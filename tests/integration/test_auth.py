"""Every denial of DESIGN §2 Auth answers 401 or 403 problem+json and reveals no account data."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import jwt
import pytest

from local import tokens
from tests.integration.auth_helpers import (
    MALFORMED_HEADERS,
    alg_none_token,
    hs256_with_public_key,
    signed_by_another_key,
)


@pytest.fixture
def account(api):
    acct = api.create_account()
    return acct["id"], api.member_token(acct["id"], sub="alice")


def _summary(api, account_id, token=None, raw_header=None):
    headers = {"Authorization": raw_header} if raw_header else None
    return api.call("GET", f"/v1/accounts/{account_id}/summary", token=token, headers=headers)


def _assert_denied(status, body, headers, expected):
    assert status == expected
    assert headers["Content-Type"] == "application/problem+json"
    assert body["status"] == expected and body["code"] and body["type"] == body["code"]
    assert "balance" not in body and "account_id" not in body


def test_a_member_with_the_read_scope_gets_the_summary(api, account):
    account_id, token = account
    status, body, _ = _summary(api, account_id, token)
    assert status == 200 and body["account_id"] == account_id


def test_no_token_is_401(api, account):
    status, body, headers = _summary(api, account[0])
    _assert_denied(status, body, headers, 401)
    assert body["code"] == "missing-token"
    assert headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("header", MALFORMED_HEADERS)
def test_malformed_authorization_is_401(api, account, header):
    _assert_denied(*_summary(api, account[0], raw_header=header), 401)


def test_alg_none_is_401(api, account):
    _assert_denied(*_summary(api, account[0], alg_none_token("alice", ["billing:read"])), 401)


def test_hs256_signed_with_the_public_key_is_401(api, account, signing_key):
    forged = hs256_with_public_key(signing_key, "alice", ["billing:read"])
    _assert_denied(*_summary(api, account[0], forged), 401)


def test_a_token_signed_by_another_key_with_the_issuers_kid_is_401(api, account):
    forged = signed_by_another_key("alice", ["billing:read"])
    status, body, headers = _summary(api, account[0], forged)
    _assert_denied(status, body, headers, 401)
    assert "signature" in body["detail"]


def test_an_expired_token_is_401(api, account, mint):
    expired = mint("alice", "billing:read", ttl=-120)
    status, body, headers = _summary(api, account[0], expired)
    _assert_denied(status, body, headers, 401)
    assert "expired" in body["detail"]


def test_a_token_from_another_issuer_is_401(api, account, mint):
    _assert_denied(*_summary(api, account[0], mint("alice", "billing:read", issuer="https://evil.example")), 401)


def test_a_token_for_another_audience_is_401(api, account, mint):
    _assert_denied(*_summary(api, account[0], mint("alice", "billing:read", audience="another-app")), 401)


def test_a_cognito_access_token_with_client_id_instead_of_aud_is_accepted(api, account, mint):
    token = mint("alice", "billing:read", audience=None, extra={"client_id": tokens.AUDIENCE})
    status, body, _ = _summary(api, account[0], token)
    assert status == 200 and body["account_id"] == account[0]


@pytest.mark.parametrize("token_use", ["id", "refresh", "", "ACCESS", None, 1, ["access"]])
def test_a_token_whose_token_use_is_not_access_is_401(api, account, mint, token_use):
    """Issue 14 hole 8: a Cognito ID token (token_use "id") of the same pool is not an API token."""
    token = mint("alice", "billing:read", extra={"token_use": token_use})
    status, body, headers = _summary(api, account[0], token)
    _assert_denied(status, body, headers, 401)
    assert body["code"] == "invalid-token" and "access token" in body["detail"]
    # the same token as an access token, or without the claim at all (other issuers), is accepted
    assert _summary(api, account[0], mint("alice", "billing:read"))[0] == 200
    assert _summary(api, account[0], mint("alice", "billing:read", extra={"token_use": "access"}))[0] == 200


@contextmanager
def _stage(name: str) -> Iterator[None]:
    """BILLOW_STAGE set to `name` for the block; settings computed now (the test client applies its own
    stage's variables while a request runs: settings first read there would keep them)."""
    from functions.core.settings import get_settings, reset_settings

    before = os.environ.get("BILLOW_STAGE")
    os.environ["BILLOW_STAGE"] = name
    reset_settings()
    get_settings()
    try:
        yield
    finally:
        if before is None:
            del os.environ["BILLOW_STAGE"]
        else:
            os.environ["BILLOW_STAGE"] = before
        reset_settings()
        get_settings()


def _unprefixed(sub: str, *scopes: str, mint) -> str:
    return mint(sub, extra={"scope": " ".join(scopes)})


@pytest.mark.parametrize("stage", ["prod", "dev", "staging"])
def test_in_a_deployed_stage_a_scope_without_the_prefix_is_not_granted(api, account, mint, stage):
    """Issue 14 hole 8: in a deployed stage only `billow/billing:read` grants billing:read; a bare
    `billing:read` (another resource server's scope of the same name) grants nothing."""
    account_id = account[0]
    with _stage(stage):
        status, body, headers = _summary(api, account_id, _unprefixed("alice", "billing:read", mint=mint))
        _assert_denied(status, body, headers, 403)
        assert body["code"] == "insufficient-scope"
        admin = _unprefixed("ops", "billing:admin", "billing:read", mint=mint)
        _assert_denied(*_summary(api, account_id, admin), 403)
        mixed = mint("alice", extra={"scope": "billing:read other/billing:read billow/billing:usage"})
        _assert_denied(*_summary(api, account_id, mixed), 403)
        assert _summary(api, account_id, mint("alice", "billing:read"))[0] == 200  # prefixed: granted


@pytest.mark.parametrize("stage", ["local", "test"])
def test_locally_a_scope_without_the_prefix_is_still_granted(api, account, mint, stage):
    with _stage(stage):
        status, body, _ = _summary(api, account[0], _unprefixed("alice", "billing:read", mint=mint))
    assert status == 200 and body["account_id"] == account[0]


def test_a_token_without_the_route_scope_is_403(api, account, mint):
    status, body, headers = _summary(api, account[0], mint("alice", "billing:usage"))
    _assert_denied(status, body, headers, 403)
    assert body["code"] == "insufficient-scope"


def test_a_caller_who_is_not_a_member_is_403(api, account, mint):
    status, body, headers = _summary(api, account[0], mint("mallory", "billing:read"))
    _assert_denied(status, body, headers, 403)
    assert body["code"] == "not-a-member"


def test_a_member_of_another_account_is_403(api, account, mint):
    other = api.create_account(name="Other Corp")
    token = api.member_token(other["id"], sub="bob")
    _assert_denied(*_summary(api, account[0], token), 403)


def test_an_unknown_or_malformed_account_id_is_403_not_a_leak(api, mint):
    token = mint("alice", "billing:read")
    for account_id in ("acct_aaaaaaaaaaaaaaaaaaaa", "nonsense"):
        _assert_denied(*_summary(api, account_id, token), 403)


def test_a_revoked_member_is_403_on_the_next_request(api, account):
    account_id, token = account
    assert _summary(api, account_id, token)[0] == 200
    status, body, _ = api.call("DELETE", f"/v1/accounts/{account_id}/members", {"sub": "alice"}, token=api.admin)
    assert status == 200 and body["sub"] == "alice"
    _assert_denied(*_summary(api, account_id, token), 403)


def test_operator_routes_need_the_admin_scope(api, account, mint):
    owner = mint("alice", "billing:read", "billing:write")
    status, body, headers = api.call(
        "POST", f"/v1/accounts/{account[0]}/devices", {"name": "x", "kind": "vm"}, token=owner
    )
    _assert_denied(status, body, headers, 403)


def test_a_jwks_key_is_fetched_once_and_cached(api, account, monkeypatch):
    account_id, token = account
    calls = []
    original = jwt.PyJWKClient.fetch_data

    def counting(self):
        calls.append(1)
        return original(self)

    monkeypatch.setattr(jwt.PyJWKClient, "fetch_data", counting)
    for _ in range(5):
        assert _summary(api, account_id, token)[0] == 200
    assert len(calls) <= 1
