"""Four-eyes approval end to end, in Chromium, on the real processes: a supervised agent's reply
waits in the lead's "Awaiting approval" queue (arriving live), reaches the platform only once the
lead approves it, and leaves the queue live.

Every step waits for what the people would see (Playwright's expect with a deadline) or for what
the platform received (tests.stack.wait_for); nothing sleeps.
"""

from __future__ import annotations

from typing import Any

import pytest

from inbox.models import Membership
from tests import factories
from tests.inbox.browser_helpers import (
    LIVE_TIMEOUT_MS,
    Workspace,
    chromium,  # noqa: F401 - a fixture, used by `workspace`
    make_colleague,
    workspace,  # noqa: F401 - a fixture
)
from tests.stack import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_supervised_reply_waits_for_the_lead_live_and_reaches_the_platform_once_approved(
    workspace: Workspace,  # noqa: F811
    fake_mastodon: Any,
    department: Any,
    lead: Any,
) -> None:
    from playwright.sync_api import expect

    trainee = make_colleague("tim", department, first_name="Tim")
    Membership.objects.filter(user=trainee).update(requires_approval=True)
    channel = factories.make_mastodon_channel(
        fake_mastodon.url, department=department, poll_interval_seconds=1
    )
    mention = fake_mastodon.add_mention("Wann öffnet ihr morgen?", username="erika")
    conversation = wait_for(
        lambda: channel.conversations.first(), timeout=20, what="the mention to be polled in"
    )
    assert conversation is not None  # wait_for returns only what is truthy
    pk = conversation.pk

    queue = workspace.sign_in(lead, "/inbox/?queue=approval")
    waiting = queue.locator("[data-count-for=approval]")
    expect(waiting).to_have_text("0")
    queue.evaluate("window.__noReload = true")

    writer = workspace.sign_in(trainee, f"/inbox/c/{pk}/")
    expect(writer.locator(".composer-reviewed")).to_be_visible()
    writer.locator(f"#reply-text-{pk}").fill("Ab 9 Uhr, Erika!")
    writer.locator("form.composer button[type=submit]").click()
    draft = writer.locator(".msg-outbound", has_text="Ab 9 Uhr, Erika!")
    expect(draft).to_contain_text("Awaiting approval", timeout=LIVE_TIMEOUT_MS)

    # The lead's queue counts it and lists it, without reloading.
    expect(waiting).to_have_text("1", timeout=LIVE_TIMEOUT_MS)
    row = queue.locator(f"#conversation-list > #conv-{pk}")
    expect(row).to_be_visible(timeout=LIVE_TIMEOUT_MS)
    expect(row.locator(".awaiting-approval")).to_be_visible()
    assert queue.evaluate("window.__noReload") is True
    assert fake_mastodon.received_statuses() == []  # nothing reached the platform

    row.locator("a.conv-link").click()
    queue.get_by_role("button", name="Approve and send").click()
    [status] = wait_for(
        fake_mastodon.received_statuses, timeout=10, what="the approved reply on the platform"
    )
    assert status["status"] == f"@{mention['account']['acct']} Ab 9 Uhr, Erika!"
    expect(waiting).to_have_text("0", timeout=LIVE_TIMEOUT_MS)
    expect(draft.locator(".delivery-sent")).to_be_visible(timeout=LIVE_TIMEOUT_MS)
