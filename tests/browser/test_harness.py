"""The harness itself, on its own test page (tests/browser/fixtures/console/): the one-click sign-in URL
`make run` prints, then the overview's balance read from the API on another origin — CORS for real,
in Chromium — and the page watch that fails a test on errors it did not provoke."""

from __future__ import annotations

import re

import pytest
import requests

from tests.browser.harness import PageWatch, screenshot, sign_in


def test_one_click_sign_in_then_the_overview_shows_the_balance_the_api_gives(page, console_site):
    user = sign_in(page, console_site, "customer", base=console_site.fixture_url)
    summary = requests.get(
        f"{console_site.config['apiUrl']}/v1/accounts/{user['account']}/summary",
        headers={"Authorization": f"Bearer {user['token']}"},
        timeout=10,
    ).json()
    page.get_by_role("status").filter(has_text="Signed in").wait_for()  # set once the overview is drawn
    balance = page.locator("#balance")
    assert int(balance.get_attribute("data-minor")) == summary["balance"]["current"]
    assert balance.inner_text() == f"${summary['balance']['current'] / 100:,.2f}"
    assert page.locator("#account-name").inner_text() == "Demo Robotics"
    # an exposed header is readable by the page (Access-Control-Expose-Headers)
    assert re.fullmatch(r"[0-9a-f-]{36}", balance.get_attribute("data-request-id") or "")
    # the token came in the fragment and left the address bar
    assert page.url.endswith("#/overview") and user["token"] not in page.url
    screenshot(page, "harness-overview")


def test_the_printed_sign_in_url_is_the_console_s_with_the_demo_customer(console_site):
    info = console_site.stack.info["console"]
    assert info["signin_url"] == console_site.signin_url("customer")
    assert info["signin_url"] in console_site.stack.output()
    assert info["url"] in info["cors_origins"] and console_site.fixture_url in info["cors_origins"]
    served = requests.get(f"{info['url']}/config.json", timeout=10).json()
    assert served == console_site.config
    assert served["apiUrl"] == console_site.stack.api
    assert served["stripeUrl"] == console_site.stack.info["stripe"]["url"]
    assert served["publishableKey"].startswith("pk_test_") and served["cognito"] is None


def test_a_page_from_an_origin_the_stage_does_not_allow_cannot_read_the_api(page, console_site, page_watch):
    """An origin outside cors_origins: the browser blocks the response (no CORS header), which Chromium
    reports as a console error — declared here as the failure this test provokes."""
    page.goto(f"{console_site.stack.info['stripe']['url']}/js.stripe.com/v3/")  # an origin billow does not list
    outcome = page.evaluate(
        """async (url) => { try { await fetch(url); return "read"; } catch (e) { return "blocked"; } }""",
        f"{console_site.config['apiUrl']}/v1/health",
    )
    assert outcome == "blocked"
    assert any("CORS policy" in text for text in page_watch.console_errors)
    page_watch.console_errors.clear()  # provoked on purpose


def test_the_watch_reports_undeclared_errors_and_lets_declared_statuses_pass():
    watch = PageWatch(
        page_errors=["TypeError: x is undefined"],
        console_errors=[
            "Failed to load resource: the server responded with a status of 409 (Conflict)",
            "Failed to load resource: the server responded with a status of 500 (Internal Server Error)",
        ],
    )
    watch.expect_status(409)
    assert watch.unexpected() == [
        "uncaught page error: TypeError: x is undefined",
        "console error: Failed to load resource: the server responded with a status of 500 (Internal Server Error)",
    ]


@pytest.mark.parametrize("who", ["customer", "lite", "operator"])
def test_each_demo_user_signs_in_with_a_token_the_api_accepts(console_site, who):
    user = console_site.user(who)
    response = requests.get(
        f"{console_site.config['apiUrl']}/v1/accounts/{user['account']}/summary",
        headers={"Authorization": f"Bearer {user['token']}"},
        timeout=10,
    )
    assert response.status_code == 200, response.text


def test_axe_finds_no_serious_violation_on_the_test_page_and_the_labelled_card_element(page, console_site):
    from tests.browser.harness import axe_violations

    sign_in(page, console_site, "customer", base=console_site.fixture_url)
    page.get_by_role("status").filter(has_text="Signed in").wait_for()
    page.evaluate("location.hash = '#/card'")
    page.get_by_role("status").filter(has_text="Card ready").wait_for()
    assert axe_violations(page) == []
    # the check can fail: an unlabelled input is a critical violation
    page.evaluate("document.querySelector('main').append(Object.assign(document.createElement('input'), {id: 'bare'}))")
    assert any(v.startswith("label (critical)") for v in axe_violations(page))


def test_a_write_with_an_idempotency_key_passes_the_preflight_and_its_replay_is_readable(page, console_site):
    """Authorization + Content-Type: application/json + Idempotency-Key make Chromium send a real preflight;
    the replay's Idempotent-Replayed header is one the page may read (Access-Control-Expose-Headers)."""
    from tests.e2e.stack_flows import new_account

    info = console_site.stack.info
    admin = info["tokens"]["admin"]["token"]
    account_id = new_account(info["api_url"], {"Authorization": f"Bearer {admin}"}, "Browser CORS")
    page.goto(f"{console_site.fixture_url}/")
    post = """async ([url, token]) => {
        const call = () => fetch(url, {
            method: "POST",
            headers: {Authorization: `Bearer ${token}`, "Content-Type": "application/json",
                      "Idempotency-Key": "browser-cors-1"},
            body: JSON.stringify({description: "Consulting", amount: 1234}),
        });
        const first = await call();
        const again = await call();
        return [first.status, (await first.json()).id,
                again.status, again.headers.get("Idempotent-Replayed"), again.headers.get("X-Request-Id")];
    }"""
    first, invoice, again, replayed, request_id = page.evaluate(
        post, [f"{info['api_url']}/v1/accounts/{account_id}/charges", admin]
    )
    assert (first, again, replayed) == (201, 201, "true")
    assert invoice.startswith("inv_") and request_id


def test_the_printed_one_click_url_opens_the_console_s_overview(page, console_site):
    """The smoke test of `make run`'s promise: the URL the panel prints signs the demo customer in on
    console/ (served on its own origin) and the overview loads."""
    page.goto(console_site.stack.info["console"]["signin_url"])
    page.locator("#balance-current").wait_for()
    assert "#/overview" in page.url and console_site.user("customer")["token"] not in page.url
