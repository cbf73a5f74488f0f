"""End to end, in Chromium, on the real processes: a mention created on the (fake) platform shows
up in an open inbox without a reload; the agent's reply reaches the platform in the thread."""

import os
import shutil
from pathlib import Path

import pytest
from django.db import connections
from django.utils import timezone

from tests import factories
from tests.stack import running_stack, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

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


@pytest.fixture
def chromium(monkeypatch):
    # Playwright's sync API keeps an event loop on this thread; the test's own ORM calls are
    # plain synchronous code between browser steps, which is what this switch is for.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    executable = shutil.which("chromium")
    if executable is None:
        message = "Debian's chromium is not installed (make test installs it)"
        if os.environ.get("INBOX_REQUIRE_BROWSER"):
            pytest.fail(message)  # under make test, the end-to-end test must run
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


def test_a_mention_appears_live_and_the_reply_reaches_the_platform(
    chromium, fake_mastodon, department, agent, tmp_path
):
    from playwright.sync_api import expect

    channel = factories.make_mastodon_channel(
        fake_mastodon.url, department=department, name="Mastodon @brand", poll_interval_seconds=1
    )
    ARTIFACTS.mkdir(exist_ok=True)
    with running_stack(tmp_path, log_path=ARTIFACTS / "e2e-stack.log") as base_url:
        page = chromium.new_page(viewport={"width": 1280, "height": 800})
        page.goto(base_url + "/inbox/")
        page.fill("#id_username", agent.username)
        page.fill("#id_password", factories.PASSWORD)
        page.click("button[type=submit]")
        expect(page.locator("#conversation-list")).to_be_visible()
        expect(page.locator("body")).to_have_attribute("data-live", "connected", timeout=15_000)
        page.evaluate("window.__noReload = true")

        mention = fake_mastodon.add_mention(
            "Hallo! Wo bleibt meine Bestellung 4711? <b>Danke</b>",
            username="erika",
            display_name="Erika Müller",
        )
        row = page.locator(".conv-row", has_text="Wo bleibt meine Bestellung 4711?")
        expect(row).to_be_visible(timeout=30_000)
        expect(row).to_contain_text("Erika Müller")
        expect(row).to_contain_text("<b>Danke</b>")  # platform text shown as text, never as HTML
        assert page.evaluate("window.__noReload") is True
        page.screenshot(path=str(ARTIFACTS / "inbox-live.png"))

        row.click()
        expect(page.locator(".conversation h2")).to_have_text("Erika Müller")
        page.fill("textarea[name=text]", "Danke Erika, wir prüfen das sofort.")
        page.click("button:has-text('Send reply')")
        outbound = page.locator(".msg-outbound", has_text="wir prüfen das sofort")
        expect(outbound).to_be_visible(timeout=10_000)
        expect(outbound.locator(".delivery-sent")).to_be_visible(timeout=30_000)
        # The open conversation's header follows live too: answered, so no due time any more.
        expect(page.locator(".conv-head .status-badge")).to_have_text("Open")
        expect(page.locator(".conv-head .due")).to_have_count(0)
        assert page.evaluate("window.__noReload") is True
        page.screenshot(path=str(ARTIFACTS / "conversation-replied.png"))

        [status] = wait_for(
            fake_mastodon.received_statuses, timeout=10, what="the reply on the platform"
        )
        assert status["in_reply_to_id"] == mention["status"]["id"]
        assert (
            status["status"] == f"@{mention['account']['acct']} Danke Erika, wir prüfen das sofort."
        )
        channel.refresh_from_db()
        assert channel.last_success_at is not None and channel.last_success_at <= timezone.now()
