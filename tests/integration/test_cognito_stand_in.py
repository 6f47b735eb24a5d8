"""The local Cognito stand-in (local/cognito_stand_in.py) over HTTP: what its token endpoint refuses as
Cognito does (a wrong PKCE verifier, a code used twice, another redirect_uri), what its authorize
endpoint never redirects to, and a token billow's auth accepts. The browser round trip is
tests/browser/test_cognito_signin.py."""

from __future__ import annotations

import secrets
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from functions.core.auth import authenticate
from local.cognito_stand_in import Client, CognitoStandIn, User, s256

REDIRECT = "http://127.0.0.1:3000/"
USER = User("grace@demo-robotics.example", "pw-for-tests", "cognito-user")


@pytest.fixture
def stand_in(signing_key):
    server = CognitoStandIn(signing_key, [Client("billow-console", (REDIRECT,))], [USER]).start()
    yield server
    server.stop()


def authorize(stand_in, verifier: str, **override: str) -> requests.Response:
    params = {
        "response_type": "code",
        "client_id": "billow-console",
        "redirect_uri": REDIRECT,
        "code_challenge": s256(verifier),
        "code_challenge_method": "S256",
        "scope": "openid billow/billing:read",
        "state": "st4te",
    } | override
    return requests.post(
        f"{stand_in.url}/login",
        data=params | {"username": USER.username, "password": USER.password},
        allow_redirects=False,
        timeout=5,
    )


def code_of(response: requests.Response) -> str:
    assert response.status_code == 302, response.text
    query = parse_qs(urlsplit(response.headers["Location"]).query)
    assert query["state"] == ["st4te"]
    return query["code"][0]


def token(stand_in, code: str, verifier: str, redirect: str = REDIRECT) -> requests.Response:
    form = {"grant_type": "authorization_code", "client_id": "billow-console", "code": code}
    form |= {"redirect_uri": redirect, "code_verifier": verifier}
    return requests.post(f"{stand_in.url}/oauth2/token", data=form, headers={"Origin": REDIRECT[:-1]}, timeout=5)


def test_the_right_verifier_gets_a_cognito_shaped_token_the_api_accepts(stand_in):
    verifier = secrets.token_urlsafe(48)
    answer = token(stand_in, code_of(authorize(stand_in, verifier)), verifier)
    assert answer.status_code == 200 and answer.headers["Access-Control-Allow-Origin"] == REDIRECT[:-1]
    body = answer.json()
    assert (body["token_type"], body["expires_in"]) == ("Bearer", 3600)
    identity = authenticate(f"Bearer {body['access_token']}")
    assert identity.sub == USER.sub and identity.has("billing:read") and not identity.has("billing:write")


def test_a_wrong_verifier_a_reused_code_or_another_redirect_is_invalid_grant(stand_in):
    verifier = secrets.token_urlsafe(48)
    code = code_of(authorize(stand_in, verifier))
    assert token(stand_in, code, secrets.token_urlsafe(48)).json()["error"] == "invalid_grant"
    assert token(stand_in, code, verifier).json()["error"] == "invalid_grant"  # spent by the failed try
    code = code_of(authorize(stand_in, verifier))
    refused = token(stand_in, code, verifier, redirect="http://127.0.0.1:3000/elsewhere")
    assert (refused.status_code, refused.json()["error"]) == (400, "invalid_grant")


@pytest.mark.parametrize(
    "override",
    [
        {"redirect_uri": "https://attacker.example/"},
        {"code_challenge_method": "plain"},
        {"client_id": "someone-else"},
        {"scope": "billow/billing:admin"},
    ],
)
def test_authorize_refuses_without_redirecting(stand_in, override):
    response = requests.get(
        f"{stand_in.url}/oauth2/authorize",
        params={"response_type": "code", "client_id": "billow-console", "redirect_uri": REDIRECT}
        | {"code_challenge": s256("v" * 43), "code_challenge_method": "S256", "state": "s"}
        | override,
        allow_redirects=False,
        timeout=5,
    )
    assert response.status_code == 400 and "Location" not in response.headers
