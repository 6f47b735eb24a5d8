"""The deployed sign-in, once, in Chromium (DESIGN §8): console/cognito.js sends the browser to the hosted
UI's /oauth2/authorize with a PKCE S256 challenge, the user signs in, and back on the console the code
and the verifier are exchanged at /oauth2/token for an access token the API accepts — against the local
stand-in for Cognito's two endpoints (local/cognito_stand_in.py; moto has neither)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from local.cognito_stand_in import Client, CognitoStandIn, User
from local.tokens import load_private_key
from tests.browser.harness import screenshot

CLIENT_ID = "billow-console"  # the local stage's audience: Cognito's access tokens carry it as client_id
SCOPE = "openid billow/billing:read billow/billing:write"


def test_hosted_ui_code_and_pkce_round_trip_signs_in_with_a_token_the_api_accepts(page, console_site):
    key = load_private_key(console_site.stack.local_dir / "jwt-private.pem")  # the stack's issuer
    redirect = f"{console_site.fixture_url}/cognito.html"
    grace = User("grace@demo-robotics.example", "correct horse battery staple", "demo-customer")
    stand_in = CognitoStandIn(key, [Client(CLIENT_ID, (redirect,))], [grace]).start()
    cognito = {"domain": stand_in.url, "clientId": CLIENT_ID, "redirectUri": redirect, "scope": SCOPE}
    console_site.fixture_server.set_config(console_site.config | {"cognito": cognito})
    try:
        page.goto(redirect)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{stand_in.url}/oauth2/authorize?**")
        sent = {k: v[0] for k, v in parse_qs(urlsplit(page.url).query).items()}
        assert (sent["response_type"], sent["client_id"], sent["redirect_uri"]) == ("code", CLIENT_ID, redirect)
        assert sent["code_challenge_method"] == "S256" and len(sent["code_challenge"]) == 43
        assert sent["scope"] == SCOPE and len(sent["state"]) >= 32
        page.get_by_label("Username").fill(grace.username)
        page.get_by_label("Password").fill("not the password")
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("alert").filter(has_text="Incorrect username or password.").wait_for()
        page.get_by_label("Password").fill(grace.password)
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("status").filter(has_text="Signed in: Demo Robotics").wait_for()
        # the code left the address bar, the hash route came back; nothing stays in the browser's storage
        assert page.url == f"{redirect}#/overview"
        assert page.evaluate("() => [sessionStorage.length, localStorage.length]") == [0, 0]
        assert stand_in.state.codes == {}  # the code was spent
        screenshot(page, "signin-cognito")
    finally:
        console_site.fixture_server.set_config(console_site.config)
        stand_in.stop()


def test_a_return_whose_state_was_not_started_here_is_refused(page, console_site):
    cognito = {"domain": "http://127.0.0.1:9", "clientId": CLIENT_ID}  # never reached
    console_site.fixture_server.set_config(console_site.config | {"cognito": cognito})
    try:
        page.goto(f"{console_site.fixture_url}/cognito.html?code=forged&state=elsewhere")
        page.get_by_role("status").filter(has_text="Sign-in failed: state_mismatch").wait_for()
        assert "code=" not in page.url
    finally:
        console_site.fixture_server.set_config(console_site.config)
