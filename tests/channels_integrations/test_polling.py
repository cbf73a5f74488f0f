"""The poll of one channel: ingest, cursor, idempotency and the error paths, on PostgreSQL."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from channels_integrations.models import ChannelAccount, ChannelStatus, SkippedItem
from channels_integrations.polling import poll_channel
from inbox import ingest
from inbox.models import Contact, Conversation, ConversationEvent, Message
from tests import factories

pytestmark = pytest.mark.django_db


def start_cursor(channel: ChannelAccount) -> None:
    """Past the first poll: the channel pages forward from the beginning of the fake's history."""
    channel.cursor = {"min_id": "0"}
    channel.save(update_fields=["cursor"])


def test_it_ingests_new_mentions_and_moves_the_cursor(
    channel, fake_mastodon, live_events, django_capture_on_commit_callbacks
):
    start_cursor(channel)
    first = fake_mastodon.add_mention("Wann liefert ihr nach Österreich?", username="lena")
    last = fake_mastodon.add_mention("Thanks for the quick help!", username="tom")

    with django_capture_on_commit_callbacks(execute=True):
        outcome = poll_channel(channel.pk)

    channel.refresh_from_db()
    assert outcome.new_messages == 2 and outcome.caught_up
    assert channel.cursor == {"min_id": last["id"]}
    assert channel.status == ChannelStatus.ACTIVE and channel.last_error == ""
    assert channel.next_poll_at > timezone.now() + timedelta(
        seconds=channel.poll_interval_seconds - 5
    )
    texts = set(Message.objects.values_list("text", flat=True))
    assert texts == {
        "@brand Wann liefert ihr nach Österreich?",
        "@brand Thanks for the quick help!",
    }
    assert Conversation.objects.count() == 2
    handles = {c.contact.handle for c in Conversation.objects.select_related("contact")}
    assert handles == {first["account"]["acct"], last["account"]["acct"]}
    # Two new conversations: list rows only (nobody can have them open yet).
    assert [payload["type"] for _, payload in live_events] == ["conversation.changed"] * 2
    assert all(payload["head_html"] == "" for _, payload in live_events)


def test_the_first_poll_of_a_new_channel_takes_only_the_newest_page(channel, fake_mastodon):
    for n in range(45):
        fake_mastodon.add_mention(f"old {n}")
    poll_channel(channel.pk)
    assert Message.objects.count() == 40
    fake_mastodon.add_mention("new")
    channel.refresh_from_db()
    channel.next_poll_at = timezone.now()
    channel.save()
    poll_channel(channel.pk)
    assert Message.objects.filter(text="@brand new").exists()
    assert Message.objects.count() == 41


def test_ingesting_the_same_page_twice_adds_nothing(channel, fake_mastodon):
    start_cursor(channel)
    fake_mastodon.add_mention("one")
    fake_mastodon.add_mention("two")
    from channels_integrations.registry import connector_for

    connector = connector_for(channel)
    page = connector.fetch_page({"min_id": "0"})
    ingest.ingest_page(channel_account_id=channel.pk, expected_cursor={"min_id": "0"}, page=page)
    counts = (
        Message.objects.count(),
        Conversation.objects.count(),
        Contact.objects.count(),
        ConversationEvent.objects.count(),
    )

    channel.cursor = {"min_id": "0"}  # as if the cursor had not been saved
    channel.save(update_fields=["cursor"])
    result = ingest.ingest_page(
        channel_account_id=channel.pk, expected_cursor={"min_id": "0"}, page=page
    )

    assert result.new_messages == 0
    assert (
        Message.objects.count(),
        Conversation.objects.count(),
        Contact.objects.count(),
        ConversationEvent.objects.count(),
    ) == counts


def test_a_failure_during_ingest_leaves_the_cursor_and_the_next_poll_picks_the_items_up(
    channel, fake_mastodon, monkeypatch
):
    start_cursor(channel)
    for n in range(3):
        fake_mastodon.add_mention(f"item {n}")
    real = ingest._PageIngest._update_conversations

    def crash_after_the_messages_were_written(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(
        ingest._PageIngest, "_update_conversations", crash_after_the_messages_were_written
    )
    outcome = poll_channel(channel.pk)

    channel.refresh_from_db()
    assert "internal error" in outcome.error
    assert channel.cursor == {"min_id": "0"}
    assert Message.objects.count() == 0  # the messages already written were rolled back too

    monkeypatch.setattr(ingest._PageIngest, "_update_conversations", real)
    channel.next_poll_at = timezone.now()
    channel.save()
    outcome = poll_channel(channel.pk)
    assert outcome.new_messages == 3
    assert sorted(Message.objects.values_list("text", flat=True)) == [
        "@brand item 0",
        "@brand item 1",
        "@brand item 2",
    ]


def test_it_fetches_pages_until_caught_up_bounded_per_run(channel, fake_mastodon, settings):
    settings.POLL_MAX_PAGES_PER_RUN = 2
    start_cursor(channel)
    for n in range(100):
        fake_mastodon.add_mention(f"burst {n}")

    first = poll_channel(channel.pk)
    channel.refresh_from_db()
    assert (first.pages, first.new_messages, first.caught_up) == (2, 80, False)
    assert channel.next_poll_at <= timezone.now()  # due again at once to finish the backlog

    second = poll_channel(channel.pk)
    assert second.new_messages == 20 and second.caught_up
    assert Message.objects.count() == 100


def test_a_follow_up_joins_the_conversation_it_answers(channel, fake_mastodon):
    start_cursor(channel)
    first = fake_mastodon.add_mention("Meine Rechnung fehlt", username="erika")
    fake_mastodon.add_mention("Nummer 4711", username="erika", in_reply_to_id=first["status"]["id"])
    fake_mastodon.add_mention("Other topic", username="erika")
    poll_channel(channel.pk)
    assert Conversation.objects.count() == 2
    thread = Conversation.objects.get(thread_key=first["status"]["id"])
    assert list(thread.messages.values_list("text", flat=True)) == [
        "@brand Meine Rechnung fehlt",
        "@brand Nummer 4711",
    ]
    assert Contact.objects.count() == 1


def test_a_malformed_item_is_recorded_and_the_rest_of_the_page_is_ingested(channel, fake_mastodon):
    start_cursor(channel)
    fake_mastodon.add_mention("good one")
    broken = fake_mastodon.add_raw_notification({"type": "mention", "status": None})
    fake_mastodon.add_mention("good two")
    outcome = poll_channel(channel.pk)
    assert outcome.new_messages == 2 and outcome.skipped == 1
    skipped = SkippedItem.objects.get()
    assert skipped.external_id == broken["id"] and "without a status" in skipped.reason
    channel.refresh_from_db()
    assert "1 skipped" in channel.last_poll_result


def test_429_sets_rate_limited_until_from_the_headers(channel, fake_mastodon):
    reset = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=4)
    fake_mastodon.fail_next(
        429,
        body={"error": "Too many requests"},
        headers={
            "X-RateLimit-Limit": "300",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": reset.strftime("%Y-%m-%dT%H:%M:%S.000000Z"),
        },
    )
    poll_channel(channel.pk)
    channel.refresh_from_db()
    assert channel.rate_limited_until == reset
    assert channel.next_poll_at == reset
    assert channel.status == ChannelStatus.ACTIVE

    calls_before = len(fake_mastodon.calls())
    poll_channel(channel.pk)  # handed out early by mistake: must not call the platform
    assert len(fake_mastodon.calls()) == calls_before


def test_401_marks_the_channel_needs_reauth_and_the_other_channels_go_on(
    channel, fake_mastodon, department
):
    healthy = factories.make_mastodon_channel(
        fake_mastodon.url, department=department, token="other-token"
    )
    fake_mastodon.revoke_token("demo-token")
    fake_mastodon.add_mention("still arriving")

    poll_channel(channel.pk)
    poll_channel(healthy.pk)

    channel.refresh_from_db()
    healthy.refresh_from_db()
    assert channel.status == ChannelStatus.NEEDS_REAUTH
    assert "access token is invalid" in channel.last_error
    assert healthy.status == ChannelStatus.ACTIVE
    assert Message.objects.filter(channel_account=healthy).count() == 1

    from channels_integrations.actions import claim_due_channels

    ChannelAccount.objects.update(next_poll_at=timezone.now() - timedelta(seconds=1))
    assert claim_due_channels() == [healthy.pk]


@pytest.mark.parametrize("fault", ["503", "timeout"])
def test_server_errors_and_timeouts_back_off_exponentially(channel, fake_mastodon, settings, fault):
    settings.PLATFORM_READ_TIMEOUT = 0.3
    channel.poll_interval_seconds = 10
    channel.save()
    if fault == "timeout":
        fake_mastodon.set_delay(1.0)
    else:
        fake_mastodon.fail_next(503, body={"error": "Remote data could not be fetched"}, times=10)

    delays = []
    for _ in range(3):
        before = timezone.now()
        poll_channel(channel.pk)
        channel.refresh_from_db()
        delays.append((channel.next_poll_at - before).total_seconds())

    assert channel.status == ChannelStatus.FAILING
    assert channel.consecutive_failures == 3
    # 10 s x 2^n with up to 20 % jitter below: 20, 40, 80
    assert 16 <= delays[0] <= 21 and 32 <= delays[1] <= 41 and 64 <= delays[2] <= 81
    fake_mastodon.set_delay(0)
    fake_mastodon.reset()
    poll_channel(channel.pk)
    channel.refresh_from_db()
    assert channel.status == ChannelStatus.ACTIVE and channel.consecutive_failures == 0


def test_a_pause_made_during_a_poll_survives_the_polls_outcome(channel):
    from channels_integrations import actions

    ChannelAccount.objects.filter(pk=channel.pk).update(status=ChannelStatus.PAUSED)
    actions.record_poll_success(channel.pk, caught_up=True, summary="0 new")
    actions.record_poll_failure(channel.pk, error="boom")
    actions.record_poll_needs_reauth(channel.pk, error="401")
    channel.refresh_from_db()
    assert channel.status == ChannelStatus.PAUSED
    assert channel.last_error == "401"  # the outcome is still recorded for the person


def test_a_broken_item_seen_twice_is_recorded_once(channel, fake_mastodon):
    fake_mastodon.add_raw_notification({"type": "mention", "status": None})
    from channels_integrations.registry import connector_for

    page = connector_for(channel).fetch_page({"min_id": "0"})
    for _ in range(2):
        ChannelAccount.objects.filter(pk=channel.pk).update(cursor={"min_id": "0"})
        ingest.ingest_page(
            channel_account_id=channel.pk, expected_cursor={"min_id": "0"}, page=page
        )
    assert SkippedItem.objects.count() == 1


def test_admins_are_told_once_when_a_channel_needs_reauthorization(
    channel, fake_mastodon, admin_user, mailoutbox, django_capture_on_commit_callbacks
):
    admin_user.email = "alex@example.org"
    admin_user.save()
    start_cursor(channel)
    fake_mastodon.revoke_token("demo-token")

    with django_capture_on_commit_callbacks(execute=True):
        poll_channel(channel.pk)
        ChannelAccount.objects.filter(pk=channel.pk).update(status=ChannelStatus.ACTIVE)
        poll_channel(channel.pk)  # re-activated by mistake: refused again, told again
        poll_channel(channel.pk)  # already waiting for a person: nobody is told twice

    channel.refresh_from_db()
    assert channel.status == ChannelStatus.NEEDS_REAUTH
    assert channel.last_error_at is not None
    assert len(mailoutbox) == 2
    assert mailoutbox[0].to == ["alex@example.org"]
    assert "needs re-authorization" in mailoutbox[0].subject
    assert "demo-token" not in mailoutbox[0].body
