"""Browser tests: Playwright driving Debian's chromium against a real uvicorn on a loopback port.

The app (create_app, demo mode, offline assistant) serves the committed demo database of
tests/e2e/conftest.py. Without /usr/bin/chromium the tests skip locally with the reason, and fail
under CI (CI set), where .ci/run installs it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import served_db  # noqa: F401 - the shared committed demo database fixture
from tests.live_server import LiveServer

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def _require_browser() -> None:
    missing = []
    if not CHROMIUM.exists():
        missing.append(f"{CHROMIUM} (apt-get install chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("the playwright package (pip install -e '.[test]')")
    if missing:
        reason = "browser tests need " + " and ".join(missing)
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)


@pytest.fixture(scope="session", autouse=True)
def _browser_available() -> None:
    """Skip (or, under CI, fail) before any database is seeded when the browser is missing."""
    _require_browser()


@pytest.fixture(scope="module")
def live_server(served_db) -> Iterator[LiveServer]:  # noqa: F811
    """The whole app (MCP, REST, chat) in demo mode on a free loopback port, answering offline."""
    _require_browser()
    from mcp_server.app import create_app

    # The default settings name no model key: the chat answers offline.
    with LiveServer(create_app(served_db.engine, demo_mode=True)) as server:
        yield server


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Debian chromium under Playwright (never a downloaded browser).

    Module-scoped: Playwright's sync API keeps an event loop running while it is open, which would
    break the async tests that run after this module.
    """
    _require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture()
def page(browser, live_server) -> Iterator[Any]:
    """A fresh browser context on the chat page; console errors (CSP violations included) fail the test."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.goto(f"{live_server.url}/chat")
    yield page
    context.close()
    assert not problems, f"the page logged errors: {problems}"
