"""The console in Chromium against the local stack (DESIGN §8).

One local stack per session (tests/e2e/conftest.py's `start_local_stack`, the way `make run` starts it:
console/ served on its own origin, config.json written in the stack's temp dir), and the harness's test
page (tests/browser/fixtures/console/) on a second origin the stack's CORS allows. The browser tests
run on one pytest-xdist worker (tests/conftest.py groups them), so the session starts both once.

Fixtures: `console_site` (URLs, config.json, demo users, the stack), `chromium` (the browser),
`page` (a fresh context and page, watched), `page_watch` (declare the error statuses a test provokes).
A test FAILS on an uncaught page error or a console error it did not declare; a failing test leaves
build/console/FAILED-<test>.png.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from local.console_server import CONSOLE_DIR, ConsoleServer
from tests.browser.harness import FIXTURE_PAGES, TIMEOUT_MS, ConsoleSite, PageWatch, chromium_path, screenshot
from tests.e2e.conftest import start_local_stack

WATCH = pytest.StashKey[PageWatch]()
PAGE = pytest.StashKey[Any]()


@pytest.fixture(scope="session")
def console_site(tmp_path_factory) -> Iterator[ConsoleSite]:
    pages = ConsoleServer(FIXTURE_PAGES, port=0, fallback=CONSOLE_DIR).start()  # + console/'s modules
    origins = f"{pages.url},http://localhost:{pages.port}"
    try:
        with start_local_stack(tmp_path_factory, BILLOW_CORS_ORIGINS=origins) as stack:
            config = json.loads(Path(stack.info["console"]["config_path"]).read_text())
            pages.set_config(config)
            yield ConsoleSite(
                url=stack.info["console"]["url"],
                fixture_url=pages.url,
                config=config,
                stack=stack,
                fixture_server=pages,
            )
    finally:
        pages.stop()


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    executable = chromium_path()  # fails (never skips) with the command to run when it is missing
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    browser = playwright.chromium.launch(executable_path=executable, headless=True)
    try:
        yield browser
    finally:
        browser.close()
        playwright.stop()


@pytest.fixture
def page_watch(request) -> PageWatch:
    watch = PageWatch()
    request.node.stash[WATCH] = watch
    return watch


@pytest.fixture
def page(request, chromium, page_watch) -> Iterator[Any]:
    """A new browser context (desktop size, English) and page; a test may resize it (375 px)."""
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    context.set_default_timeout(TIMEOUT_MS)
    new_page = context.new_page()
    page_watch.attach(new_page)
    request.node.stash[PAGE] = new_page
    try:
        yield new_page
    finally:
        context.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """After the test body: fail it on what its page reported unasked; screenshot a failure."""
    try:
        result = yield
    except BaseException:
        _failure_screenshot(item)
        raise
    watch = item.stash.get(WATCH, None)
    unexpected = watch.unexpected() if watch is not None else []
    if unexpected:
        _failure_screenshot(item)
        raise AssertionError("the page reported what the test did not provoke:\n" + "\n".join(unexpected))
    return result


def _failure_screenshot(item: pytest.Item) -> None:
    page = item.stash.get(PAGE, None)
    if page is not None and not page.is_closed():
        with contextlib.suppress(Exception):  # the failure itself matters more than its picture
            screenshot(page, f"FAILED-{item.name}")
