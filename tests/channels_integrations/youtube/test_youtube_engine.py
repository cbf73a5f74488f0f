"""YouTube through the real poll engine and outbox on PostgreSQL: the quota ledger, token refresh,
moderation that cannot be undone, and a reply that timed out after YouTube took it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from channels_integrations import outbox
from channels_integrations.models import ChannelAccount, ChannelStatus
from channels_integrations.polling import poll_channel
from channels_integrations.youtube.client import next_quota_reset
from channels_integrations.youtube.connector import YouTubeConnector
from channels_integrations.youtube.demo import demo_channel
from inbox import actions
from inbox.models import (
    ConversationEvent,
    EventKind,
    Message,
    OutboundKind,
    OutboundState,
    PlatformState,
)
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def youtube_channel(fake_youtube: Any, department: Any) -> ChannelAccount:
    settings, credentials = demo_channel(fake_youtube.url)
    channel = ChannelAccount(platform="youtube", name="YouTube Brand", settings=settings)
    channel.set_credentials(credentials)
    channel.save()
    department.channel_accounts.add(channel)
    return channel


def poll_again(channel: ChannelAccount) -> None:
    ChannelAccount.objects.filter(pk=channel.pk).update(
        next_poll_at=timezone.now(), rate_limited_until=None
    )
    poll_channel(channel.pk)
    channel.refresh_from_db()


def test_polls_spend_quota_in_the_channels_ledger_on_the_pacific_day(fake_youtube, youtube_channel):
    fake_youtube.add_comment("Tolles Video!")
    poll_again(youtube_channel)

    assert Message.objects.filter(channel_account=youtube_channel).count() == 1
    assert youtube_channel.quota_used >= 1
    assert youtube_channel.quota_day == YouTubeConnector.quota_day(timezone.now())
    assert youtube_channel.quota_used == fake_youtube.quota_used()


def test_a_channel_near_its_quota_polls_less_often(fake_youtube, youtube_channel):
    today = YouTubeConnector.quota_day(timezone.now())
    ChannelAccount.objects.filter(pk=youtube_channel.pk).update(quota_day=today, quota_used=8500)
    poll_again(youtube_channel)
    assert youtube_channel.next_poll_at > timezone.now() + timedelta(minutes=30)


def test_quota_exceeded_pauses_only_this_channel_until_midnight_pacific(
    fake_youtube, youtube_channel
):
    fake_youtube.fail_next_quota_exceeded()
    poll_again(youtube_channel)

    assert youtube_channel.status == ChannelStatus.ACTIVE
    reset = next_quota_reset(timezone.now())
    assert youtube_channel.rate_limited_until is not None
    assert abs((youtube_channel.rate_limited_until - reset).total_seconds()) < 5
    assert "quota" in youtube_channel.last_error.lower()


def test_an_expired_token_is_refreshed_and_the_new_one_kept(fake_youtube, youtube_channel):
    fake_youtube.revoke_token("demo-token")
    fake_youtube.add_comment("Hello?")
    poll_again(youtube_channel)

    assert youtube_channel.status == ChannelStatus.ACTIVE, youtube_channel.last_error
    new_token = youtube_channel.get_credentials()["access_token"]
    assert new_token != "demo-token" and new_token in fake_youtube.issued_tokens()
    assert Message.objects.filter(channel_account=youtube_channel).count() == 1


def test_a_dead_refresh_token_marks_the_channel_needs_reauth(fake_youtube, youtube_channel):
    fake_youtube.revoke_token("demo-token")
    fake_youtube.revoke_refresh_token(youtube_channel.get_credentials()["refresh_token"])
    poll_again(youtube_channel)
    assert youtube_channel.status == ChannelStatus.NEEDS_REAUTH


def test_hiding_holds_the_comment_and_rejecting_cannot_be_undone(
    fake_youtube, youtube_channel, agent
):
    thread = fake_youtube.add_comment("Spam spam spam")
    poll_again(youtube_channel)
    message = Message.objects.get(external_id=thread["id"])

    hide = actions.queue_message_action(user=agent, message=message, kind=OutboundKind.HIDE)
    outbox.deliver(hide.pk)
    message.refresh_from_db()
    assert message.platform_state == PlatformState.HIDDEN
    assert fake_youtube.comment(thread["id"])["snippet"]["moderationStatus"] == "heldForReview"

    reject = actions.queue_message_action(user=agent, message=message, kind=OutboundKind.DELETE)
    outbox.deliver(reject.pk)
    message.refresh_from_db()
    assert message.platform_state == PlatformState.DELETED
    assert message.text == "Spam spam spam"  # kept for the evidence
    with pytest.raises(actions.ActionRefused, match="cannot restore"):
        actions.queue_message_action(user=agent, message=message, kind=OutboundKind.UNHIDE)


def test_a_reply_that_timed_out_after_youtube_took_it_is_found_not_posted_twice(
    fake_youtube, youtube_channel, agent, settings, clock
):
    clock.now = timezone.now()  # YouTube stamps our reply with the time it took it
    thread = fake_youtube.add_comment("Wann kommt Teil 2?")
    poll_again(youtube_channel)
    conversation = Message.objects.get(external_id=thread["id"]).conversation
    action = actions.queue_reply(user=agent, conversation=conversation, text="Nächste Woche!")

    settings.PLATFORM_READ_TIMEOUT = 0.5
    fake_youtube.accept_then_stall(2, path_prefix="/comments", method="POST")
    outbox.deliver(action.pk)
    action.refresh_from_db()
    assert action.state == OutboundState.QUEUED and action.outcome_unknown

    factories.make_due(action)
    outbox.deliver(action.pk)

    action.refresh_from_db()
    [reply] = fake_youtube.replies_by()
    assert action.state == OutboundState.SENT
    assert action.result_external_id == reply["id"]
    assert ConversationEvent.objects.filter(kind=EventKind.REPLY_RECONCILED).exists()
