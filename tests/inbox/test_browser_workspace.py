"""The agent workspace end to end, in Chromium, on the real processes (web, worker, beat, Redis,
PostgreSQL): keyboard triage, saved replies, hiding a comment, live assignment, the reply
collision guard between two agents, and the layout on a phone and a laptop.

Every step waits for what the agent would see (Playwright's expect with a deadline) or for what
the platform received (tests.stack.wait_for); nothing sleeps.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from inbox.models import Conversation, ConversationStatus, Message, PlatformState
from tests import factories
from tests.inbox.browser_helpers import (
    ARTIFACTS,
    LAPTOP,
    LIVE_TIMEOUT_MS,
    PHONE,
    Workspace,
    chromium,  # noqa: F401 - a fixture, used by `workspace`
    fake_facebook,  # noqa: F401 - a fixture
    make_colleague,
    make_facebook_channel,
    workspace,  # noqa: F401 - a fixture
)
from tests.inbox.composer_factories import make_saved_reply
from tests.stack import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CURSOR = re.compile(r"\bcursor\b")


def status_of(conversation_id: int | str) -> str:
    return str(Conversation.objects.get(pk=conversation_id).status)


def polled_in(channel: Any, external_id: str) -> Message:
    """The item the running stack's poller brought in from the (fake) platform: real ids, so
    replies and moderation reach the platform. (Polled by the stack, not here: this thread
    runs Playwright's event loop, where the poll's live publishing cannot run.)"""
    message = wait_for(
        lambda: Message.objects.filter(channel_account=channel, external_id=external_id).first(),
        timeout=20,
        what=f"{external_id} to be polled in",
    )
    assert message is not None  # wait_for returns only what is truthy
    return message


def test_an_agent_triages_a_queue_with_the_keyboard(
    workspace: Workspace,  # noqa: F811
    fake_mastodon: Any,
    department: Any,
    agent: Any,
) -> None:
    from playwright.sync_api import expect

    channel = factories.make_mastodon_channel(fake_mastodon.url, department=department)
    for number, author in enumerate(["Ada", "Ben", "Cleo", "Dan"], start=1):
        factories.make_conversation(channel, text=f"Frage Nummer {number}", author=author)

    page = workspace.sign_in(agent)
    rows = page.locator("#conversation-list > .conv-row")
    expect(rows).to_have_count(4)
    ids = [rows.nth(i).get_attribute("data-id") or "" for i in range(4)]
    row = {conversation_id: page.locator(f"#conv-{conversation_id}") for conversation_id in ids}

    page.keyboard.press("j")
    expect(row[ids[0]]).to_have_class(CURSOR)
    page.keyboard.press("j")
    expect(row[ids[1]]).to_have_class(CURSOR)
    expect(row[ids[0]]).not_to_have_class(CURSOR)
    page.keyboard.press("k")
    expect(row[ids[0]]).to_have_class(CURSOR)

    pane = page.locator("#conversation-pane")
    page.keyboard.press("Enter")
    expect(pane.locator(f".conversation[data-conversation-id='{ids[0]}']")).to_be_visible()

    # e: resolve the open one and go on with the next in the list.
    page.keyboard.press("e")
    expect(pane.locator(f".conversation[data-conversation-id='{ids[1]}']")).to_be_visible()
    wait_for(
        lambda: status_of(ids[0]) == ConversationStatus.RESOLVED,
        timeout=10,
        what="the first conversation to be resolved",
    )
    assert status_of(ids[1]) != ConversationStatus.RESOLVED
    expect(row[ids[1]]).to_have_class(CURSOR)

    shortcuts = page.locator("#shortcuts")
    page.keyboard.press("?")
    expect(shortcuts).to_be_visible()
    expect(shortcuts).to_contain_text("Resolve and move to the next")
    page.keyboard.press("Escape")
    expect(shortcuts).to_be_hidden()

    search = page.locator("#list-search")
    page.keyboard.press("/")
    expect(search).to_be_focused()
    page.keyboard.press("Escape")  # leaves the field, so the next key is a shortcut again
    expect(search).not_to_be_focused()

    page.keyboard.press("r")
    expect(pane.locator(f"#reply-text-{ids[1]}")).to_be_focused()
    page.keyboard.press("Escape")

    bulk_bar = page.locator("#bulk-bar")
    expect(bulk_bar).to_be_hidden()
    page.keyboard.press("x")
    expect(row[ids[1]].locator(".row-select")).to_be_checked()
    expect(bulk_bar).to_be_visible()
    page.keyboard.press("j")
    page.keyboard.press("x")
    selected = page.locator("#conversation-list .row-select:checked")
    expect(selected).to_have_count(2)
    chosen = [selected.nth(i).get_attribute("value") or "" for i in range(2)]
    assert ids[1] in chosen and ids[0] not in chosen
    expect(page.locator("#selection-count")).to_have_text("2 selected")

    bulk_bar.locator("#bulk-action").select_option("status")
    bulk_bar.locator("select[data-bulk-for=status]").select_option("resolved")
    bulk_bar.get_by_role("button", name="Apply to selection").click()
    expect(page.locator("#bulk-result")).to_contain_text("Set 2 conversations to resolved")
    wait_for(
        lambda: all(status_of(pk) == ConversationStatus.RESOLVED for pk in chosen),
        timeout=10,
        what="both selected conversations to be resolved",
    )
    untouched = [pk for pk in ids if pk not in chosen and pk != ids[0]]
    assert [status_of(pk) for pk in untouched] == [ConversationStatus.NEW]


def test_a_saved_reply_fills_its_placeholders_and_reaches_the_platform(
    workspace: Workspace,  # noqa: F811
    fake_mastodon: Any,
    department: Any,
    agent: Any,
) -> None:
    from playwright.sync_api import expect

    agent.first_name = "Kim"
    agent.save()
    # The channel speaks formal German by default: the "Sie" variant is the one to pick.
    channel = factories.make_mastodon_channel(
        fake_mastodon.url,
        department=department,
        name="Mastodon @brand",
        default_tone="sie",
        default_language="de",
        poll_interval_seconds=1,
    )
    make_saved_reply(
        "danke",
        title="Danke für den Hinweis",
        variants=[
            ("de", "du", "Hey {author}, danke dir! {agent}"),
            (
                "de",
                "sie",
                "Guten Tag {author}, vielen Dank für Ihre Nachricht! Viele Grüße, {agent}",
            ),
            ("en", "", "Hi {author}, thanks a lot! {agent}"),
        ],
    )
    mention = fake_mastodon.add_mention(
        "Wo bleibt meine Bestellung 4711?", username="erika", display_name="Erika Müller"
    )
    conversation = polled_in(channel, mention["status"]["id"]).conversation
    expected = "Guten Tag Erika Müller, vielen Dank für Ihre Nachricht! Viele Grüße, Kim"

    page = workspace.sign_in(agent, f"/inbox/c/{conversation.pk}/")
    textarea = page.locator(f"#reply-text-{conversation.pk}")
    textarea.click()
    page.keyboard.type("/dank")
    option = page.locator(f"#saved-replies-{conversation.pk} .saved-reply-option")
    expect(option).to_have_count(1)
    expect(option).to_contain_text("/danke")
    expect(option).to_contain_text("Guten Tag Erika Müller")
    page.keyboard.press("Enter")
    expect(textarea).to_have_value(expected)
    expect(page.locator(f"#saved-replies-{conversation.pk}")).to_be_hidden()

    page.keyboard.press("Control+Enter")
    outbound = page.locator(".msg-outbound", has_text="vielen Dank für Ihre Nachricht")
    expect(outbound).to_be_visible(timeout=10_000)
    expect(outbound.locator(".delivery-sent")).to_contain_text("Sent", timeout=LIVE_TIMEOUT_MS)
    expect(textarea).to_have_value("")

    [status] = wait_for(
        fake_mastodon.received_statuses, timeout=10, what="the reply on the platform"
    )
    assert status["in_reply_to_id"] == mention["status"]["id"]
    assert status["status"] == f"@{mention['account']['acct']} {expected}"


def test_hiding_a_comment_hides_it_on_the_platform_and_shows_the_badge(
    workspace: Workspace,  # noqa: F811
    fake_facebook: Any,  # noqa: F811
    department: Any,
    agent: Any,
) -> None:
    from playwright.sync_api import expect

    post = fake_facebook.add_post("Unsere Herbstkollektion ist da!")
    spam = fake_facebook.add_comment(
        post["id"], "Gratis Follower!!! <b>klick hier</b>", author_name="Spam Bot"
    )
    channel = make_facebook_channel(fake_facebook.url, department=department)
    message = polled_in(channel, spam["id"])
    assert message.platform_state == PlatformState.VISIBLE

    page = workspace.sign_in(agent, f"/inbox/c/{message.conversation_id}/")
    item = page.locator(f"#msg-{message.pk}")
    expect(item).to_contain_text("<b>klick hier</b>")  # platform text shown as text
    expect(item.locator(".state-badge")).to_have_count(0)
    page.evaluate("window.__noReload = true")

    item.locator(".msg-actions .action-hide").click()
    expect(item.locator(".state-badge.state-hidden")).to_have_text(
        "Hidden", timeout=LIVE_TIMEOUT_MS
    )
    expect(item.locator(".msg-actions .action-hide")).to_have_count(0)
    expect(item.locator(".msg-actions .action-unhide")).to_be_visible()
    assert page.evaluate("window.__noReload") is True

    assert fake_facebook.comment(spam["id"])["is_hidden"] is True
    assert [(a["action"], a["target"]) for a in fake_facebook.actions()] == [("hide", spam["id"])]
    message.refresh_from_db()
    assert message.platform_state == PlatformState.HIDDEN


def test_a_colleague_sees_a_conversation_assigned_to_them_arrive_live(
    workspace: Workspace,  # noqa: F811
    fake_mastodon: Any,
    department: Any,
    agent: Any,
) -> None:
    from playwright.sync_api import expect

    colleague = make_colleague("lee", department, first_name="Lee")
    channel = factories.make_mastodon_channel(fake_mastodon.url, department=department)
    conversation = factories.make_conversation(
        channel, text="Kann mir jemand helfen?", author="Erika Müller"
    )

    page_b = workspace.sign_in(colleague, "/inbox/?queue=mine")
    mine_b = page_b.locator("[data-count-for=mine]")
    expect(mine_b).to_have_text("0")
    expect(page_b.locator("#conversation-list > .conv-row")).to_have_count(0)
    badge_b = page_b.locator("#notification-count")
    expect(badge_b).to_have_attribute("data-count", "0")
    page_b.evaluate("window.__noReload = true")

    page_a = workspace.sign_in(agent, f"/inbox/c/{conversation.pk}/")
    page_a.locator(".conv-controls select[name=assignee][data-shortcut=assign]").select_option(
        str(colleague.pk)
    )
    expect(page_a.locator(f"#conv-head-{conversation.pk} .assignment")).to_contain_text("Lee")

    row_b = page_b.locator(f"#conversation-list > #conv-{conversation.pk}")
    expect(row_b).to_be_visible(timeout=LIVE_TIMEOUT_MS)
    expect(row_b).to_contain_text("Kann mir jemand helfen?")
    expect(mine_b).to_have_text("1", timeout=LIVE_TIMEOUT_MS)
    expect(badge_b).to_have_attribute("data-count", "1", timeout=LIVE_TIMEOUT_MS)
    expect(badge_b).to_have_text("1")
    assert page_b.evaluate("window.__noReload") is True
    conversation.refresh_from_db()
    assert conversation.assignee_id == colleague.pk


def test_a_second_agent_cannot_send_over_a_reply_in_progress_without_taking_over(
    workspace: Workspace,  # noqa: F811
    fake_mastodon: Any,
    department: Any,
    agent: Any,
) -> None:
    from playwright.sync_api import expect

    agent.first_name = "Kim"
    agent.save()
    colleague = make_colleague("lee", department, first_name="Lee")
    channel = factories.make_mastodon_channel(
        fake_mastodon.url, department=department, poll_interval_seconds=1
    )
    mention = fake_mastodon.add_mention("Hilfe, mein Konto ist gesperrt", username="erika")
    conversation = polled_in(channel, mention["status"]["id"]).conversation
    path = f"/inbox/c/{conversation.pk}/"
    pk = conversation.pk

    page_a = workspace.sign_in(agent, path)
    page_b = workspace.sign_in(colleague, path)
    expect(page_a.locator(f"#presence-{pk}")).to_contain_text("Lee", timeout=LIVE_TIMEOUT_MS)
    expect(page_b.locator(f"#presence-{pk}")).to_contain_text("Kim", timeout=LIVE_TIMEOUT_MS)

    page_a.locator(f"#reply-text-{pk}").fill("Hallo Erika, ich schaue sofort nach.")
    expect(page_b.locator(f"#presence-{pk}")).to_contain_text(
        "Kim is replying", timeout=LIVE_TIMEOUT_MS
    )
    guard_b = page_b.locator("form.composer .presence-guard")
    expect(guard_b).to_contain_text("Kim is replying")
    send_b = page_b.locator("form.composer button[type=submit]")
    page_b.locator(f"#reply-text-{pk}").fill("Ich übernehme das, Erika.")
    expect(send_b).to_be_disabled()

    guard_b.get_by_role("button", name="Take over").click()
    expect(send_b).to_be_enabled()
    expect(guard_b).to_have_count(0)
    # Kim is told, and Kim's own send now waits for Lee.
    expect(page_a.locator("form.composer .presence-guard")).to_contain_text(
        "Lee took over the reply", timeout=LIVE_TIMEOUT_MS
    )
    expect(page_a.locator("form.composer button[type=submit]")).to_be_disabled()

    send_b.click()
    outbound = page_b.locator(".msg-outbound", has_text="Ich übernehme das, Erika.")
    expect(outbound.locator(".delivery-sent")).to_be_visible(timeout=LIVE_TIMEOUT_MS)
    [status] = wait_for(
        fake_mastodon.received_statuses, timeout=10, what="Lee's reply on the platform"
    )
    assert status["status"] == f"@{mention['account']['acct']} Ich übernehme das, Erika."


def test_the_workspace_degrades_to_one_column_on_a_phone_and_shows_four_on_a_laptop(
    workspace: Workspace,  # noqa: F811
    fake_mastodon: Any,
    department: Any,
    agent: Any,
) -> None:
    from playwright.sync_api import expect

    channel = factories.make_mastodon_channel(fake_mastodon.url, department=department)
    conversation = factories.make_conversation(channel, text="Ist der Laden morgen offen?")
    factories.make_conversation(channel, text="Danke für die schnelle Hilfe")

    page = workspace.sign_in(agent, viewport=PHONE)
    nav = page.locator("#nav-pane")
    list_pane = page.locator("#list-pane")
    opened = page.locator(f".conversation[data-conversation-id='{conversation.pk}']")
    expect(list_pane).to_be_visible()
    expect(page.locator(f"#conv-{conversation.pk}")).to_be_in_viewport()
    assert fits_horizontally(page), "the list scrolls sideways on a phone"
    assert width_share(list_pane) >= 0.9, "the list does not get the phone's width"
    page.screenshot(path=str(ARTIFACTS / "workspace-phone-list.png"))

    page.locator(f"#conv-{conversation.pk} .conv-link").click()
    expect(opened).to_be_visible()
    expect(opened.locator("h2")).to_be_in_viewport()
    expect(list_pane).to_be_hidden()
    expect(nav).to_be_hidden()
    assert fits_horizontally(page), "the conversation scrolls sideways on a phone"
    # One column: the thread and the composer get the phone's width (the person panel goes
    # below them), or the text wraps a word per line.
    assert width_share(opened.locator(".conversation-body")) >= 0.9
    assert width_share(opened.locator("form.composer textarea")) >= 0.8
    page.screenshot(path=str(ARTIFACTS / "workspace-phone-conversation.png"))

    # Back (the phone's way out of a conversation) shows the list again.
    page.go_back()
    expect(list_pane).to_be_visible()
    expect(opened).to_have_count(0)

    page.set_viewport_size(LAPTOP)
    page.locator(f"#conv-{conversation.pk} .conv-link").click()
    person = page.locator("#person-panel")
    expect(person.get_by_role("heading", name="Identities")).to_be_visible()
    for pane in (nav, list_pane, opened, person):
        expect(pane).to_be_visible()
        expect(pane).to_be_in_viewport()
    boxes = [pane.bounding_box() for pane in (nav, list_pane, opened, person)]
    assert all(box is not None for box in boxes)
    lefts = [box["x"] for box in boxes if box]
    rights = [box["x"] + box["width"] for box in boxes if box]
    # Side by side, in this order, none covering the next, all on the screen.
    assert lefts == sorted(lefts)
    assert all(right <= next_left + 1 for right, next_left in zip(rights, lefts[1:], strict=False))
    assert rights[-1] <= LAPTOP["width"]
    page.screenshot(path=str(ARTIFACTS / "workspace-laptop.png"))
    # The socket stayed up through Back and the resize; the top bar must say so.
    expect(page.locator("body")).to_have_attribute("data-live", "connected")
    expect(page.locator("#live-indicator")).to_contain_text("Live")


def fits_horizontally(page: Any) -> bool:
    return bool(
        page.evaluate(
            "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
        )
    )


def width_share(locator: Any) -> float:
    """How much of the viewport's width an element takes (0 when it is not rendered)."""
    box = locator.bounding_box()
    width = locator.page.viewport_size["width"]
    return 0.0 if box is None else float(box["width"]) / width
