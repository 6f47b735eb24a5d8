"""A local stand-in for Cognito's hosted UI endpoints (moto has neither): `GET /oauth2/authorize` and
`POST /oauth2/token`, for the authorization-code grant with PKCE that console/cognito.js drives
(https://docs.aws.amazon.com/cognito/latest/developerguide/authorization-endpoint.html and
token-endpoint.html). Local only (127.0.0.1), never deployed; tests/browser/test_cognito_signin.py uses it.

What it copies from Cognito:
- authorize: `response_type=code`, a known `client_id`, a `redirect_uri` among the client's callback
  URLs (else an error page: Cognito never redirects to an unknown URL), `code_challenge_method=S256`
  with a `code_challenge` (a public client must use PKCE here), scopes the client allows; then a sign-in
  form (username, password), and on success a redirect to `redirect_uri?code=…&state=…`.
- token: `grant_type=authorization_code`, the code once, within 5 minutes, for the same client and
  redirect_uri, and `BASE64URL(SHA256(code_verifier)) == code_challenge` — else 400 `invalid_grant`
  (`invalid_client`, `unsupported_grant_type`, `invalid_request` as Cognito names them). The answer is
  `{access_token, id_token, token_type: "Bearer", expires_in}`; the access token is shaped like
  Cognito's (`client_id` and no `aud`, `token_use: access`, `scope` with the resource server's prefix,
  `username`) and signed with the local issuer's key (local/tokens.py), so the API accepts it.
- CORS on the token endpoint for the console's origin (a browser app posts there directly).
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from cryptography.hazmat.primitives.asymmetric import rsa

from local import tokens

HOST = "127.0.0.1"
CODE_SECONDS = 300
TOKEN_SECONDS = 3600


@dataclass(frozen=True)
class Client:
    client_id: str
    callback_urls: tuple[str, ...]
    scopes: tuple[str, ...] = ("openid", "email", "billow/billing:read", "billow/billing:write")


@dataclass(frozen=True)
class User:
    username: str
    password: str
    sub: str


@dataclass
class _Code:
    client_id: str
    redirect_uri: str
    challenge: str
    scopes: tuple[str, ...]
    user: User
    expires: float


@dataclass
class StandInState:
    key: rsa.RSAPrivateKey
    clients: dict[str, Client]
    users: dict[str, User]
    codes: dict[str, _Code] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


def s256(verifier: str) -> str:
    """RFC 7636's S256 challenge of a verifier."""
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=").decode()


class _Refused(Exception):
    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status, self.error, self.description = status, error, description


def _authorize_request(state: StandInState, query: dict[str, str]) -> tuple[Client, tuple[str, ...]]:
    client = state.clients.get(query.get("client_id", ""))
    if client is None:
        raise _Refused(400, "invalid_client", "unknown client_id")
    if query.get("redirect_uri") not in client.callback_urls:
        raise _Refused(400, "redirect_mismatch", "redirect_uri is not one of the client's callback URLs")
    if query.get("response_type") != "code":
        raise _Refused(400, "unsupported_response_type", "response_type must be code")
    if query.get("code_challenge_method") != "S256" or len(query.get("code_challenge", "")) < 43:
        raise _Refused(400, "invalid_request", "a public client must send code_challenge with S256")
    scopes = tuple(query.get("scope", "").split()) or client.scopes
    if set(scopes) - set(client.scopes):
        raise _Refused(400, "invalid_scope", f"scopes not allowed: {sorted(set(scopes) - set(client.scopes))}")
    return client, scopes


def _token(state: StandInState, form: dict[str, str]) -> dict[str, Any]:
    if form.get("grant_type") != "authorization_code":
        raise _Refused(400, "unsupported_grant_type", "only authorization_code")
    if form.get("client_id") not in state.clients:
        raise _Refused(400, "invalid_client", "unknown client_id")
    with state.lock:
        code = state.codes.pop(form.get("code", ""), None)  # once only, whatever happens next
    if code is None or code.expires < time.time():
        raise _Refused(400, "invalid_grant", "the code is unknown, used or expired")
    if (code.client_id, code.redirect_uri) != (form.get("client_id"), form.get("redirect_uri")):
        raise _Refused(400, "invalid_grant", "client_id or redirect_uri differ from the authorization's")
    if not secrets.compare_digest(s256(form.get("code_verifier", "")), code.challenge):
        raise _Refused(400, "invalid_grant", "code_verifier does not match the code_challenge")
    resource_scopes = [s.removeprefix(tokens.SCOPE_PREFIX) for s in code.scopes if s.startswith(tokens.SCOPE_PREFIX)]
    extra = {"client_id": code.client_id, "username": code.user.username, "auth_time": int(time.time())}
    access = tokens.mint(state.key, code.user.sub, resource_scopes, ttl=TOKEN_SECONDS, audience=None, extra=extra)
    identity = {"aud": code.client_id, "token_use": "id", "cognito:username": code.user.username, "scope": None}
    id_token = tokens.mint(state.key, code.user.sub, [], ttl=TOKEN_SECONDS, audience=None, extra=identity)
    return {"access_token": access, "id_token": id_token, "token_type": "Bearer", "expires_in": TOKEN_SECONDS}


def _form_page(query: dict[str, str], message: str = "", username: str = "") -> str:
    hidden = "".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">' for k, v in sorted(query.items())
    )
    alert = f'<p role="alert">{html.escape(message)}</p>' if message else ""
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sign in (local Cognito)</title>'
        '<meta name="viewport" content="width=device-width, initial-scale=1"></head><body><main>'
        "<h1>Sign in</h1>"
        f'{alert}<form method="post" action="/login">{hidden}'
        f'<p><label for="username">Username</label> <input id="username" name="username" autocomplete="username" '
        f'value="{html.escape(username)}"></p>'
        '<p><label for="password">Password</label> <input id="password" name="password" type="password" '
        'autocomplete="current-password"></p><p><button type="submit">Sign in</button></p></form></main></body></html>'
    )


def _handler(state: StandInState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlsplit(self.path)
            if url.path == "/favicon.ico":  # asked for by the browser on the sign-in page
                return self._send(204, "text/plain", b"")
            if url.path != "/oauth2/authorize":
                return self._send(404, "text/plain", b"not found")
            query = dict(parse_qsl(url.query))
            try:
                _authorize_request(state, query)
            except _Refused as refused:  # shown, never redirected: the redirect_uri may be anyone's
                return self._send(refused.status, "text/plain", f"{refused.error}: {refused.description}".encode())
            return self._send(200, "text/html; charset=utf-8", _form_page(query).encode())

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            form = dict(parse_qsl(self.rfile.read(length).decode("utf-8", "replace")))
            path = urlsplit(self.path).path
            if path == "/login":
                return self._login(form)
            if path != "/oauth2/token":
                return self._send(404, "text/plain", b"not found")
            try:
                body, status = _token(state, form), 200
            except _Refused as refused:
                body, status = {"error": refused.error, "error_description": refused.description}, refused.status
            return self._send(status, "application/json", json.dumps(body).encode(), cors=True)

        def do_OPTIONS(self) -> None:
            self._send(204, "text/plain", b"", cors=True)

        def _login(self, form: dict[str, str]) -> None:
            username, password = form.pop("username", ""), form.pop("password", "")
            try:
                client, scopes = _authorize_request(state, form)
            except _Refused as refused:
                return self._send(refused.status, "text/plain", f"{refused.error}: {refused.description}".encode())
            user = state.users.get(username)
            if user is None or not secrets.compare_digest(user.password, password):
                page = _form_page(form, "Incorrect username or password.", username)
                return self._send(200, "text/html; charset=utf-8", page.encode())
            code = secrets.token_urlsafe(24)
            with state.lock:
                state.codes[code] = _Code(
                    client.client_id,
                    form["redirect_uri"],
                    form["code_challenge"],
                    scopes,
                    user,
                    time.time() + CODE_SECONDS,
                )
            query = {"code": code} | ({"state": form["state"]} if form.get("state") else {})
            separator = "&" if "?" in form["redirect_uri"] else "?"
            self.send_response(302)
            self.send_header("Location", f"{form['redirect_uri']}{separator}{urlencode(query)}")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def _send(self, status: int, content_type: str, body: bytes, cors: bool = False) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            origin = self.headers.get("Origin")
            if cors and origin:
                self.send_header("Access-Control-Allow-Origin", origin)
                self.send_header("Access-Control-Allow-Headers", "Content-Type, Authorization")
                self.send_header("Access-Control-Allow-Methods", "POST, OPTIONS")
                self.send_header("Vary", "Origin")
            self.end_headers()
            if body:
                self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


class CognitoStandIn:
    """The two endpoints on 127.0.0.1 in a daemon thread: `url` is what config.cognito.domain names."""

    def __init__(self, key: rsa.RSAPrivateKey, clients: list[Client], users: list[User], port: int = 0) -> None:
        self.state = StandInState(key, {c.client_id: c for c in clients}, {u.username: u for u in users})
        self.server = ThreadingHTTPServer((HOST, port), _handler(self.state))
        self.server.daemon_threads = True
        self.url = f"http://{HOST}:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, name="cognito", daemon=True)

    def start(self) -> CognitoStandIn:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(5)
