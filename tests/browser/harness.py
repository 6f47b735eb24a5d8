"""What the console's browser tests share (fixtures in tests/browser/conftest.py): the Chromium binary,
the page watch (no uncaught page error; console errors only for the error statuses a test declared),
signing in, screenshots.

Chromium is Debian's `chromium` package (DESIGN §8; Playwright's own browser download is not
reachable): /usr/bin/chromium, or $BILLOW_CHROMIUM. When it is missing the tests FAIL with the one
command to run — they never skip — and `make test` installs it first when it may (root).
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "build" / "console"
FIXTURE_PAGES = Path(__file__).resolve().parent / "fixtures" / "console"
DEFAULT_CHROMIUM = "/usr/bin/chromium"
INSTALL = "sudo apt-get install -y chromium"
TIMEOUT_MS = 10_000  # one locator or navigation; the local stack answers in milliseconds


def chromium_path() -> str:
    """The Chromium binary Playwright drives (`executable_path`), or pytest.fail with how to get one."""
    named = os.environ.get("BILLOW_CHROMIUM", "").strip()
    if named:
        found = shutil.which(named) if not os.path.isabs(named) else named
        if found and os.access(found, os.X_OK):
            return found
        pytest.fail(f"BILLOW_CHROMIUM={named} is not an executable Chromium", pytrace=False)
    if os.access(DEFAULT_CHROMIUM, os.X_OK):
        return DEFAULT_CHROMIUM
    pytest.fail(
        f"the console's browser tests need Debian's Chromium ({DEFAULT_CHROMIUM}): run `{INSTALL}` "
        "(or set BILLOW_CHROMIUM to a Chromium binary); `make test` installs it itself when run as root",
        pytrace=False,
    )


# Chromium reports a fetch answered 4xx/5xx as a console error:
# "Failed to load resource: the server responded with a status of 409 (Conflict)"
_STATUS = re.compile(r"status of (\d{3})")


@dataclass
class PageWatch:
    """Everything a page reports that a test did not ask for. A test declares the error statuses it
    provokes (`watch.expect_status(409)`); at teardown any uncaught page error, or a console error
    that is not one of those statuses, fails the test."""

    page_errors: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    expected_statuses: set[int] = field(default_factory=set)

    def expect_status(self, *statuses: int) -> None:
        self.expected_statuses.update(statuses)

    def attach(self, page: Any) -> None:
        page.on("pageerror", lambda error: self.page_errors.append(f"{error.name}: {error.message}"))
        page.on("console", self._console)

    def _console(self, message: Any) -> None:
        if message.type == "error":
            self.console_errors.append(message.text)

    def unexpected(self) -> list[str]:
        found = [f"uncaught page error: {e}" for e in self.page_errors]
        for text in self.console_errors:
            status = _STATUS.search(text)
            if status is None or int(status.group(1)) not in self.expected_statuses:
                found.append(f"console error: {text}")
        return found


@dataclass(frozen=True)
class ConsoleSite:
    """Where the console is served for the tests, and the local stack behind it."""

    url: str  # the console's origin (console/ as `make run` serves it)
    fixture_url: str  # the harness's own test page (tests/browser/fixtures/console/)
    config: dict[str, Any]  # the config.json both serve
    stack: Any  # tests.e2e.conftest.LocalStack
    fixture_server: Any = None  # local.console_server.ConsoleServer of the test pages (set_config)

    def user(self, who: str) -> dict[str, Any]:
        """A demo user of config.json: "customer" (Demo Robotics, payg), "lite" (Lite Lab), "operator"."""
        for user in self.config["demoUsers"]:
            if user["id"] == who:
                return user
        raise KeyError(f"no demo user {who!r}; there are {[u['id'] for u in self.config['demoUsers']]}")

    def signin_url(self, who: str = "customer", base: str | None = None) -> str:
        """The one-click sign-in `make run` prints: the token in the fragment, never sent to a server."""
        user = self.user(who)
        return f"{base or self.url}/#/signin?{urlencode({'token': user['token'], 'account': user['account']})}"


def sign_in(page: Any, site: ConsoleSite, who: str = "customer", *, base: str | None = None) -> dict[str, Any]:
    """Open the one-click sign-in URL as `who` ("customer", "lite" or "operator"); returns the user."""
    page.goto(site.signin_url(who, base))
    return site.user(who)


def screenshot(page: Any, name: str) -> Path:
    """build/console/<name>.png (the whole page)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{re.sub(r'[^A-Za-z0-9_.-]+', '-', name)}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


# The card Element's own frame is Stripe's to make accessible (DESIGN §8); the local one is labelled
# (local/stripe_js_additions.js) and checked like the rest, so a page may pass its selector when it
# embeds Stripe's real iframe.
STRIPE_FRAMES = ("iframe[name^='__privateStripeFrame']",)


def axe_violations(page: Any, impacts: tuple[str, ...] = ("serious", "critical")) -> list[str]:
    """axe-core's violations of the given impacts on the page as it is now (Stripe's frames aside), one
    line each: rule, impact, the first offending elements."""
    from axe_playwright_python.sync_playwright import Axe

    context = {"exclude": [[selector] for selector in STRIPE_FRAMES]}
    results = Axe().run(page, context=context)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes'][:3]]}"
        for v in results.response["violations"]
        if v.get("impact") in impacts
    ]
