"""Moderation end to end, in Chromium, on the real processes: an insult posted on the fake
Facebook Page is polled in, hidden on the platform by a rule, and appears live in the
moderator's queue; criticism posted beside it stays visible and out of the queue; the moderator
approves the insult after all and the platform shows it again.

Every step waits for what the moderator would see (Playwright's expect with a deadline) or for
what the platform received (tests.stack.wait_for); nothing sleeps.
"""

from __future__ import annotations

from typing import Any

import pytest

from moderation.models import ModerationCase, ModerationRule
from tests.inbox.browser_helpers import (
    LIVE_TIMEOUT_MS,
    Workspace,
    chromium,  # noqa: F401 - a fixture, used by `workspace`
    fake_facebook,  # noqa: F401 - a fixture
    make_facebook_channel,
    workspace,  # noqa: F401 - a fixture
)
from tests.stack import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

INSULT = "Ihr seid doch alle komplette Vollidioten, du Idiot!"
CRITICISM = "Seit drei Wochen warte ich auf meine Erstattung. Das ist inakzeptabel."


def test_an_insult_is_hidden_on_arrival_shown_live_in_the_queue_and_approved_back(
    workspace: Workspace,  # noqa: F811
    fake_facebook: Any,  # noqa: F811
    department: Any,
    lead: Any,
) -> None:
    from playwright.sync_api import expect

    ModerationRule.objects.create(
        name="Hide insults",
        conditions={"toxicity_min": 0.8, "toxicity_categories": ["insult"]},
        actions={"hide": True, "queue": True},
    )
    make_facebook_channel(fake_facebook.url, department=department)

    queue = workspace.sign_in(lead, "/moderation/")
    expect(queue.locator(".mod-case")).to_have_count(0)

    post = fake_facebook.add_post("Unser Winterschlussverkauf startet heute!")
    insult = fake_facebook.add_comment(post["id"], INSULT, author_name="Troll Toni")
    fake_facebook.add_comment(post["id"], CRITICISM, author_name="Erika Muster")

    # The rule's hide reached the platform, without anyone clicking.
    wait_for(
        lambda: [a for a in fake_facebook.actions() if a.get("action") == "hide"],
        timeout=30,
        what="the automatic hide on the fake Facebook",
    )
    # The queue shows the insult live, with its reason; the criticism is not there.
    row = queue.locator(".mod-case", has_text="Vollidioten")
    expect(row).to_be_visible(timeout=LIVE_TIMEOUT_MS)
    expect(row).to_contain_text("Hide insults")
    expect(queue.locator(".mod-case", has_text="Erstattung")).to_have_count(0)
    case = ModerationCase.objects.get(message__external_id=insult["id"])
    assert case.auto_action == "hide"

    row.get_by_role("button", name="Approve").click()
    wait_for(
        lambda: [a for a in fake_facebook.actions() if a.get("action") == "unhide"],
        timeout=30,
        what="the unhide on the fake Facebook",
    )
    expect(queue.locator(f"#case-{case.pk}")).to_have_count(0, timeout=LIVE_TIMEOUT_MS)
    case.refresh_from_db()
    assert case.state == "approved"
    assert case.decided_by_id == lead.pk
