"""Facebook through the real poll engine and outbox: one channel's throttling leaves the others
alone, moderation reaches the Page, a reply that timed out is found instead of posted twice, and
our reply seen again by polling is not stored twice."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone

from channels_integrations import outbox
from channels_integrations.facebook.demo import demo_channel
from channels_integrations.models import ChannelAccount, ChannelStatus
from channels_integrations.polling import poll_channel
from inbox import actions
from inbox.models import (
    ConversationEvent,
    Direction,
    EventKind,
    Message,
    OutboundKind,
    OutboundState,
    PlatformState,
)
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def page(fake_facebook: Any, department: Any) -> ChannelAccount:
    settings, credentials = demo_channel(fake_facebook.url)
    channel = ChannelAccount(platform="facebook", name="Brand page", settings=settings)
    channel.set_credentials(credentials)
    channel.save()
    department.channel_accounts.add(channel)
    return channel


def poll_now(channel: ChannelAccount) -> None:
    ChannelAccount.objects.filter(pk=channel.pk).update(
        next_poll_at=timezone.now(), rate_limited_until=None
    )
    poll_channel(channel.pk)
    channel.refresh_from_db()


def a_comment(fake: Any, channel: ChannelAccount, text: str) -> Message:
    post = fake.add_post("Unsere neue Winterkollektion ist da!")
    comment = fake.add_comment(post["id"], text)
    poll_now(channel)
    return Message.objects.get(channel_account=channel, external_id=comment["id"])


def test_a_throttled_page_waits_while_another_channel_goes_on(
    fake_facebook, page, channel, fake_mastodon
):
    fake_facebook.fail_next_rate_limited(80001, regain_minutes=7)
    poll_now(page)
    fake_mastodon.add_mention("Hallo?")
    channel.cursor = {"min_id": "0"}
    channel.save(update_fields=["cursor"])
    poll_channel(channel.pk)

    assert page.status == ChannelStatus.ACTIVE
    assert page.rate_limited_until is not None
    waited = (page.rate_limited_until - timezone.now()).total_seconds()
    assert 6 * 60 < waited <= 7 * 60 + 5
    assert Message.objects.filter(channel_account=channel).count() == 1


def test_hide_and_unhide_reach_the_page(fake_facebook, page, agent):
    message = a_comment(fake_facebook, page, "Ihr seid alle Betrüger")

    hide = actions.queue_message_action(user=agent, message=message, kind=OutboundKind.HIDE)
    outbox.deliver(hide.pk)
    message.refresh_from_db()
    assert message.platform_state == PlatformState.HIDDEN
    assert fake_facebook.comment(message.external_id)["is_hidden"] is True

    unhide = actions.queue_message_action(user=agent, message=message, kind=OutboundKind.UNHIDE)
    outbox.deliver(unhide.pk)
    message.refresh_from_db()
    assert message.platform_state == PlatformState.VISIBLE
    assert fake_facebook.comment(message.external_id)["is_hidden"] is False


def test_a_permanent_refusal_fails_the_action_with_the_platforms_reason(fake_facebook, page, agent):
    message = a_comment(fake_facebook, page, "Frage zur Lieferung")
    fake_facebook.fail_next_graph_error(10, message="(#10) Permission denied to hide this")
    action = actions.queue_message_action(user=agent, message=message, kind=OutboundKind.HIDE)
    outbox.deliver(action.pk)
    action.refresh_from_db()
    assert action.state == OutboundState.FAILED
    assert "Permission denied to hide this" in action.last_error


def test_a_reply_that_timed_out_is_found_on_the_page_not_posted_twice(
    fake_facebook, page, agent, settings
):
    message = a_comment(fake_facebook, page, "Gibt es das auch in Blau?")
    action = actions.queue_reply(user=agent, conversation=message.conversation, text="Ja, ab Mai!")
    settings.PLATFORM_READ_TIMEOUT = 0.5
    fake_facebook.accept_then_stall(2, method="POST")

    outbox.deliver(action.pk)
    action.refresh_from_db()
    assert action.state == OutboundState.QUEUED and action.outcome_unknown
    factories.make_due(action)
    outbox.deliver(action.pk)

    action.refresh_from_db()
    ours = [c for c in fake_facebook.comments() if c["message"] == "Ja, ab Mai!"]
    assert len(ours) == 1
    assert action.state == OutboundState.SENT and action.result_external_id == ours[0]["id"]
    assert ConversationEvent.objects.filter(kind=EventKind.REPLY_RECONCILED).exists()


def test_our_reply_seen_by_the_next_poll_is_not_stored_twice(fake_facebook, page, agent):
    message = a_comment(fake_facebook, page, "Wann öffnet der Laden?")
    action = actions.queue_reply(user=agent, conversation=message.conversation, text="Um 9 Uhr.")
    outbox.deliver(action.pk)
    poll_now(page)

    action.refresh_from_db()
    outbound = Message.objects.filter(
        conversation=message.conversation, direction=Direction.OUTBOUND
    )
    assert [m.external_id for m in outbound] == [action.result_external_id]
    assert Message.objects.filter(conversation=message.conversation).count() == 2


def test_a_reply_written_on_facebook_itself_shows_as_ours(fake_facebook, page):
    message = a_comment(fake_facebook, page, "Habt ihr Gutscheine?")
    fake_facebook.add_page_comment(message.external_id, "Ja, im Laden!")
    poll_now(page)
    ours = Message.objects.get(conversation=message.conversation, direction=Direction.OUTBOUND)
    assert ours.text == "Ja, im Laden!" and ours.author is None


def test_a_private_reply_goes_to_the_commenter_by_message_from_the_composer(
    fake_facebook, page, agent, client
):
    from tests.factories import PASSWORD

    message = a_comment(fake_facebook, page, "Meine Adresse hat sich geändert")
    client.login(username=agent.username, password=PASSWORD)
    page_html = client.get(f"/inbox/c/{message.conversation_id}/").content.decode()
    assert 'name="mode" value="private"' in page_html  # the composer offers it here

    client.post(
        f"/inbox/c/{message.conversation_id}/reply/",
        {"text": "Schreib uns bitte deine neue Adresse.", "private": "1"},
    )
    action = message.conversation.outbound_actions.get()
    assert action.kind == OutboundKind.PRIVATE_REPLY
    outbox.deliver(action.pk)

    action.refresh_from_db()
    assert action.state == OutboundState.SENT
    [sent] = [a for a in fake_facebook.actions() if "private" in str(a).lower()]
    assert message.external_id in str(sent)
