"""Real-browser tests of the web app: Playwright driving the system's Chromium (Debian's ``chromium`` package;
scripts/bootstrap.sh installs it) against an embedded stack of their own.

Without a Chromium they skip, saying so; in CI (``CI`` set) they fail instead. ``SMMU_SCREENSHOTS=<dir>`` makes
them save screenshots of the main pages there (docs/img holds the committed ones)."""

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.e2e.conftest import Target, _start_embedded

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
SCREENSHOTS = os.environ.get("SMMU_SCREENSHOTS")


def _chromium() -> str:
    for name in CHROMIUM_NAMES:
        if path := shutil.which(name):
            return path
    reason = "no Chromium on this machine (scripts/bootstrap.sh installs Debian's chromium with apt-get)"
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; CI must run the browser tests")
    pytest.skip(reason)


@pytest.fixture(scope="package")
def stack(tmp_path_factory) -> Iterator[Target]:
    yield from _start_embedded(tmp_path_factory)


@pytest.fixture(scope="package")
def browser() -> Iterator:
    executable = _chromium()
    from playwright.sync_api import expect, sync_playwright

    # Assertions wait for the page; on a loaded machine an upload takes longer than Playwright's default 5 s.
    expect.set_options(timeout=60_000)

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=executable,
            # The player test starts a muted video without a click.
            args=["--autoplay-policy=no-user-gesture-required"],
        )
        yield chromium
        chromium.close()


class Page:
    """One browser tab on the app, with what a test checks on every page: no request leaves 127.0.0.1, no
    Content-Security-Policy violation, no uncaught error."""

    def __init__(self, page, stack: Target) -> None:
        self.page = page
        self.stack = stack
        self.external: list[str] = []
        self.errors: list[str] = []
        page.on("request", self._request)
        page.on("pageerror", lambda error: self.errors.append(f"uncaught: {error}"))
        page.on("console", self._console)

    def _request(self, request) -> None:
        host = urlsplit(request.url).hostname
        if request.url.startswith(("http:", "https:")) and host not in ("127.0.0.1", "localhost"):
            self.external.append(request.url)

    def _console(self, message) -> None:
        if message.type == "error" and "Content Security Policy" in message.text:
            self.errors.append(message.text)

    def sign_in(self) -> None:
        self.page.goto(self.stack.api_url + "/")
        self.page.fill("#api-key", self.stack.api_key)
        self.page.click("#sign-in button[type=submit]")
        self.page.wait_for_selector("#drop-zone")

    def screenshot(self, name: str, *, full_page: bool = False) -> None:
        if SCREENSHOTS:
            Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
            self.page.screenshot(path=str(Path(SCREENSHOTS) / f"{name}.png"), full_page=full_page)

    def job_row(self, filename: str):
        return self.page.locator("#job-rows tr", has=self.page.locator("td.filename", has_text=filename))


@pytest.fixture
def app(browser, stack) -> Iterator[Page]:
    # A fresh profile per test: its own sessionStorage and localStorage.
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    context.set_default_timeout(30_000)
    page = Page(context.new_page(), stack)
    yield page
    context.close()
    assert not page.external, f"requests left 127.0.0.1: {page.external}"
    assert not page.errors, f"errors in the page: {page.errors}"
