"""Shared pieces of the browser tests: Debian's Chromium through Playwright, the product running
as real processes (tests.stack.running_stack), a fake Facebook Page on loopback, and agents who
sign in through the login form in browser contexts of their own.

Import the fixtures into a test module (`from tests.inbox.browser_helpers import chromium, ...`);
pytest finds fixtures by the names a module holds.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from django.db import connections

from channels_integrations.facebook.demo import demo_channel
from channels_integrations.facebook.fake import DEMO_TOKEN, FakeFacebook
from channels_integrations.fake_server import FakeServer
from channels_integrations.models import ChannelAccount, Platform
from inbox.models import Department
from tests import factories
from tests.stack import running_stack

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, ViewportSize

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]
LAPTOP: ViewportSize = {"width": 1280, "height": 800}
PHONE: ViewportSize = {"width": 390, "height": 844}
# Generous on purpose: a worker under load (CI) is slow, and expect() returns as soon as it holds.
LIVE_TIMEOUT_MS = 30_000
CONNECT_TIMEOUT_MS = 15_000


@pytest.fixture
def chromium(monkeypatch: pytest.MonkeyPatch) -> Iterator[Browser]:
    """Debian's Chromium driven by Playwright; skipped if it is missing (failed under make test)."""
    # Playwright's sync API keeps an event loop on this thread; the test's own ORM calls are
    # plain synchronous code between browser steps, which is what this switch is for.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    executable = shutil.which("chromium")
    if executable is None:
        message = "Debian's chromium is not installed (make test installs it)"
        if os.environ.get("INBOX_REQUIRE_BROWSER"):
            pytest.fail(message)  # under make test, the end-to-end tests must run
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
            # The test body ran in Playwright's greenlet, which has its own database connection
            # (Django keys connections by context); close it, or the test database cannot be
            # dropped at the end of the session.
            connections.close_all()


class Workspace:
    """The running product and the browser pages opened on it during one test."""

    def __init__(self, browser: Browser, base_url: str) -> None:
        self.browser = browser
        self.base_url = base_url
        self.pages: list[Page] = []

    def sign_in(
        self, user: Any, path: str = "/inbox/", *, viewport: ViewportSize | None = None
    ) -> Page:
        """A new browser context (its own cookies) where `user` signed in through the form and
        the live socket is connected, showing `path`."""
        from playwright.sync_api import expect

        context = self.browser.new_context(viewport=viewport or LAPTOP)
        page = context.new_page()
        self.pages.append(page)
        page.goto(self.base_url + path)
        page.fill("#id_username", user.get_username())
        page.fill("#id_password", factories.PASSWORD)
        page.click("button[type=submit]")
        expect(page).to_have_url(re.compile(re.escape(path.split("?")[0])))
        self.wait_connected(page)
        return page

    def wait_connected(self, page: Page) -> None:
        """Acting before the socket joined its groups would miss the live events under test."""
        from playwright.sync_api import expect

        expect(page.locator("body")).to_have_attribute(
            "data-live", "connected", timeout=CONNECT_TIMEOUT_MS
        )

    def screenshot_all(self, name: str) -> None:
        ARTIFACTS.mkdir(exist_ok=True)
        for number, page in enumerate(self.pages, start=1):
            if page.is_closed():
                continue
            # A page that cannot be captured must not hide the test's own failure.
            with suppress(Exception):
                page.screenshot(path=str(ARTIFACTS / f"{name}-{number}.png"), full_page=True)


@pytest.fixture
def workspace(
    chromium: Browser, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Workspace]:
    """The product as separate processes (web, worker, beat) on the test database; on failure
    every page the test opened is saved to test-artifacts/<test name>-failed-<n>.png."""
    ARTIFACTS.mkdir(exist_ok=True)
    name = request.node.name
    failed_before = request.session.testsfailed
    with running_stack(tmp_path, log_path=ARTIFACTS / f"{name}-stack.log") as base_url:
        session = Workspace(chromium, base_url)
        yield session
        # The call phase is reported before fixtures are torn down: a higher count means this
        # test failed, and the pages still show where.
        if request.session.testsfailed > failed_before:
            session.screenshot_all(f"{name}-failed")
        for page in session.pages:
            if not page.is_closed():
                page.context.close()


class ServedFacebook(FakeFacebook):
    """A fake Facebook Page that knows the base URL it is served on."""

    url = ""


@pytest.fixture
def fake_facebook() -> Iterator[ServedFacebook]:
    """A fake Facebook Page on a free loopback port; `fake_facebook.url` is its base URL."""
    fake = ServedFacebook(tokens={DEMO_TOKEN})
    server = FakeServer(fake.wsgi_app)
    server.start()
    fake.url = server.url
    try:
        yield fake
    finally:
        server.stop()


def make_facebook_channel(
    base_url: str, *, department: Department, poll_interval_seconds: int = 1
) -> ChannelAccount:
    """A Facebook Page channel aimed at a FakeFacebook at `base_url`, owned by `department`,
    polled every second by the running stack."""
    settings, credentials = demo_channel(base_url)
    channel = ChannelAccount(
        platform=Platform.FACEBOOK,
        name="Facebook: Brand",
        settings=settings,
        poll_interval_seconds=poll_interval_seconds,
    )
    channel.set_credentials(credentials)
    channel.save()
    department.channel_accounts.add(channel)
    return channel


def make_colleague(username: str, department: Department, *, first_name: str = "") -> Any:
    """Another agent in `department`, with a first name to recognise them by."""
    user = factories.make_user(username, first_name=first_name or username.title())
    factories.add_member(user, department)
    return user
