"""End to end, in Chromium, on the real processes: a mention created on the (fake) platform shows
up in an open inbox without a reload; the agent's reply reaches the platform in the thread."""

import pytest
from django.utils import timezone

from tests import factories
from tests.inbox.browser_helpers import ARTIFACTS, chromium
from tests.stack import running_stack, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# The Chromium fixture (Debian's browser, skipped or failed by INBOX_REQUIRE_BROWSER) is shared.
__all__ = ["chromium"]


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
