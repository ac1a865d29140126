"""Fixtures for browser tests: headless Chromium (Debian's, never downloaded) driven by Playwright.

Every test in this folder is marked ``browser``. The browser is found at ``CHROMIUM_PATH``
(default ``/usr/bin/chromium``); when it is missing or will not start, the tests are skipped,
unless ``REQUIRE_BROWSER=1`` (CI), where they fail with the reason.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Error, Page, sync_playwright

HERE = Path(__file__).resolve().parent
ARTIFACTS_DIR = HERE.parent.parent / "test-artifacts" / "browser"
DEFAULT_CHROMIUM_PATH = "/usr/bin/chromium"
# The machine has no network: without these, Chromium's background connections fail noisily.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def pytest_collection_modifyitems(config, items):
    browser_mark = pytest.mark.browser
    for item in items:
        if HERE in Path(item.path).parents:
            item.add_marker(browser_mark)


def _unavailable(reason: str):
    """Skip, or fail where a browser is required (CI sets REQUIRE_BROWSER=1)."""
    if os.environ.get("REQUIRE_BROWSER") == "1":
        pytest.fail(f"REQUIRE_BROWSER=1 but the browser tests cannot run: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    """One headless Chromium for the tests of this folder, closed after the last of them.

    While Playwright's sync API is started, its event loop counts as running in this thread,
    and Django refuses ORM calls (SynchronousOnlyOperation) unless DJANGO_ALLOW_ASYNC_UNSAFE
    is set. It is set here, before any test of this folder touches the database, and removed
    again with Playwright: set for the whole session it would leak into subprocesses of other
    tests (``manage.py check --deploy`` reports it as async.E001).
    """
    chromium_path = os.environ.get("CHROMIUM_PATH") or DEFAULT_CHROMIUM_PATH
    path = Path(chromium_path)
    if not (path.is_file() and os.access(path, os.X_OK)):
        _unavailable(
            f"Chromium not found at {chromium_path}; "
            "install Debian's chromium package (make test does this when it can)"
        )
    with pytest.MonkeyPatch.context() as mp, sync_playwright() as pw:
        mp.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        try:
            browser = pw.chromium.launch(executable_path=str(path), headless=True, args=CHROMIUM_ARGS, timeout=30_000)
        except Error as exc:
            first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
            _unavailable(f"Chromium at {chromium_path} failed to launch: {first_line}")
        try:
            yield browser
        finally:
            browser.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the item, so fixtures can tell whether the test failed."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture
def page(request, browser: Browser, live_server, transactional_db) -> Iterator[Page]:
    """A fresh browser context (no cookies) on the live server; screenshots it if the test fails."""
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 800})
    page = context.new_page()
    try:
        yield page
    finally:
        report = getattr(request.node, "rep_call", None)
        if report is not None and report.failed:
            ARTIFACTS_DIR.mkdir(parents=True, exist_ok=True)
            name = re.sub(r"[^\w.-]+", "_", request.node.name)
            with contextlib.suppress(Error):  # the page may be gone; the failure itself matters more
                page.screenshot(path=ARTIFACTS_DIR / f"FAILED-{name}.png", full_page=True)
        context.close()


@pytest.fixture
def screenshot(page: Page) -> Callable[[int, str], Path]:
    """``screenshot(1, "signup")`` saves the whole page as test-artifacts/browser/01-signup.png."""
    ARTIFACTS_DIR.mkdir(parents=True, exist_ok=True)

    def _screenshot(step: int, name: str) -> Path:
        path = ARTIFACTS_DIR / f"{step:02d}-{name}.png"
        page.screenshot(path=path, full_page=True)
        return path

    return _screenshot
