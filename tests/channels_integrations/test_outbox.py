"""Replies: stored first, sent by the worker exactly once, failures shown with their reason."""

import threading
from datetime import timedelta

import pytest
from django.db import close_old_connections, connection
from django.utils import timezone

from channels_integrations import outbox
from channels_integrations.models import ChannelStatus
from channels_integrations.polling import poll_channel
from inbox import actions
from inbox.access import AccessDenied
from inbox.models import (
    ConversationEvent,
    Direction,
    EventKind,
    Message,
    OutboundAction,
    OutboundState,
)
from tests import factories


def a_mention(channel, fake, text="Wo ist meine Bestellung?", **kwargs):
    channel.cursor = {"min_id": "0"}
    channel.save(update_fields=["cursor"])
    notification = fake.add_mention(text, **kwargs)
    poll_channel(channel.pk)
    return Message.objects.get(external_id=notification["status"]["id"]).conversation


@pytest.mark.django_db
def test_a_reply_is_stored_as_sending_and_nothing_reaches_the_platform_before_the_worker(
    channel, fake_mastodon, agent, django_capture_on_commit_callbacks
):
    conversation = a_mention(channel, fake_mastodon)
    with django_capture_on_commit_callbacks() as callbacks:
        action = actions.queue_reply(user=agent, conversation=conversation, text="Wir kümmern uns!")
    assert action.state == OutboundState.QUEUED
    message = action.message
    assert message.direction == Direction.OUTBOUND and message.external_id is None
    assert fake_mastodon.received_statuses() == []
    assert len(callbacks) == 2  # the live update and the delivery task, both after commit


@pytest.mark.django_db
def test_the_worker_sends_the_reply_once_and_records_the_platform_id(
    channel, fake_mastodon, agent, live_events, django_capture_on_commit_callbacks
):
    conversation = a_mention(channel, fake_mastodon, username="erika")
    target = conversation.messages.get()
    action = actions.queue_reply(user=agent, conversation=conversation, text="Wir kümmern uns!")

    with django_capture_on_commit_callbacks(execute=True):
        outbox.deliver(action.pk)
        outbox.deliver(action.pk)  # a redelivered task finds nothing to claim

    action.refresh_from_db()
    [status] = fake_mastodon.received_statuses()
    assert status["in_reply_to_id"] == target.external_id
    assert status["idempotency_key"] == str(action.idempotency_key)
    assert action.state == OutboundState.SENT and action.attempts == 1
    assert action.result_external_id == status["id"]
    action.message.refresh_from_db()
    assert action.message.external_id == status["id"]
    conversation.refresh_from_db()
    assert conversation.first_response_at is not None
    assert ConversationEvent.objects.filter(
        conversation=conversation, kind=EventKind.REPLY_SENT
    ).exists()
    sent_html = [p["html"] for _, p in live_events if p.get("message_id") == action.message_id]
    assert "✓ Sent" in sent_html[-1]


@pytest.mark.django_db(transaction=True)
def test_concurrent_workers_claim_an_action_exactly_once(channel, fake_mastodon, agent):
    conversation = a_mention(channel, fake_mastodon)
    action = actions.queue_reply(user=agent, conversation=conversation, text="Once only")
    barrier = threading.Barrier(4)
    claims = []
    errors = []

    def worker():
        try:
            barrier.wait(10)
            claims.append(actions.claim_outbound_action(action.pk))
        except Exception as exc:
            errors.append(exc)
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert errors == [] and len(claims) == 4
    assert sum(claim is not None for claim in claims) == 1


@pytest.mark.django_db
def test_a_refused_reply_fails_with_the_reason_and_retry_sends_it(channel, fake_mastodon, agent):
    conversation = a_mention(channel, fake_mastodon)
    action = actions.queue_reply(user=agent, conversation=conversation, text="Hallo")
    fake_mastodon.fail_next(
        422, body={"error": "Validation failed: Text character limit of 500 exceeded"}
    )

    outbox.deliver(action.pk)
    action.refresh_from_db()
    assert action.state == OutboundState.FAILED
    assert "character limit" in action.last_error
    assert fake_mastodon.received_statuses() == []

    actions.retry_outbound_action(user=agent, action=action)
    outbox.deliver(action.pk)
    action.refresh_from_db()
    assert action.state == OutboundState.SENT and action.attempts == 2
    assert len(fake_mastodon.received_statuses()) == 1


@pytest.mark.django_db
def test_an_ambiguous_timeout_is_retried_with_the_same_key_and_posts_once(
    channel, fake_mastodon, agent, settings
):
    conversation = a_mention(channel, fake_mastodon)
    action = actions.queue_reply(user=agent, conversation=conversation, text="Nur einmal bitte")
    settings.PLATFORM_READ_TIMEOUT = 0.3
    fake_mastodon.set_delay(1.0)  # the platform creates the status but answers too late

    retry_at = outbox.deliver(action.pk)
    action.refresh_from_db()
    assert retry_at is not None
    assert action.state == OutboundState.QUEUED and "did not answer in time" in action.last_error

    fake_mastodon.set_delay(0)
    # A task that comes before the back-off is over (another one named the row) does nothing.
    outbox.deliver(action.pk)
    action.refresh_from_db()
    assert action.state == OutboundState.QUEUED and action.attempts == 1
    factories.make_due(action)
    outbox.deliver(action.pk)
    action.refresh_from_db()
    assert action.state == OutboundState.SENT
    assert len(fake_mastodon.received_statuses()) == 1
    assert action.result_external_id == fake_mastodon.received_statuses()[0]["id"]


@pytest.mark.django_db
def test_an_expired_token_holds_the_reply_and_flags_the_channel(channel, fake_mastodon, agent):
    conversation = a_mention(channel, fake_mastodon)
    action = actions.queue_reply(user=agent, conversation=conversation, text="Hallo")
    fake_mastodon.revoke_token("demo-token")

    outbox.deliver(action.pk)
    outbox.deliver(action.pk)  # held: no second call with the refused token
    action.refresh_from_db()
    channel.refresh_from_db()
    assert action.state == OutboundState.QUEUED
    assert "re-authorized" in action.last_error
    assert channel.status == ChannelStatus.NEEDS_REAUTH
    assert [c["status"] for c in fake_mastodon.calls() if c["method"] == "POST"] == [401]


@pytest.mark.django_db
def test_a_reply_over_the_platform_limit_is_refused_before_it_is_stored(
    channel, fake_mastodon, agent
):
    conversation = a_mention(channel, fake_mastodon)
    with pytest.raises(actions.ActionRefused, match="allows 500"):
        actions.queue_reply(user=agent, conversation=conversation, text="x" * 501)
    assert not OutboundAction.objects.exists()


@pytest.mark.django_db
def test_an_outsider_cannot_reply(channel, fake_mastodon, outsider):
    conversation = a_mention(channel, fake_mastodon)
    with pytest.raises(AccessDenied):
        actions.queue_reply(user=outsider, conversation=conversation, text="Hallo")
    assert not OutboundAction.objects.exists()


@pytest.mark.django_db
def test_a_delivery_whose_worker_died_is_requeued_and_sent_once(
    channel, fake_mastodon, agent, django_capture_on_commit_callbacks
):
    conversation = a_mention(channel, fake_mastodon)
    action = actions.queue_reply(user=agent, conversation=conversation, text="Hallo")
    claimed = actions.claim_outbound_action(action.pk)  # the worker that claimed it was killed
    assert claimed is not None
    OutboundAction.objects.filter(pk=action.pk).update(
        claimed_at=timezone.now() - timedelta(minutes=10)
    )

    with django_capture_on_commit_callbacks() as callbacks:
        requeued = actions.requeue_stalled_actions(older_than=timedelta(minutes=5))
    assert requeued == [action.pk] and len(callbacks) >= 1
    assert actions.requeue_stalled_actions(older_than=timedelta(minutes=5)) == []

    outbox.deliver(action.pk)
    action.refresh_from_db()
    assert action.state == OutboundState.SENT and action.attempts == 2
    assert len(fake_mastodon.received_statuses()) == 1


@pytest.mark.django_db
def test_a_rate_limited_delivery_waits_for_the_reset(channel, fake_mastodon, agent):
    conversation = a_mention(channel, fake_mastodon)
    action = actions.queue_reply(user=agent, conversation=conversation, text="Hallo")
    fake_mastodon.fail_next(
        429,
        body={"error": "Too many requests"},
        headers={"X-RateLimit-Reset": "2099-01-01T00:00:00Z"},
    )
    retry_at = outbox.deliver(action.pk)
    action.refresh_from_db()
    assert retry_at is not None and retry_at.year == 2099
    assert action.state == OutboundState.QUEUED and action.next_attempt_at == retry_at
    assert fake_mastodon.received_statuses() == []


@pytest.mark.django_db
def test_a_stalled_workers_late_failure_does_not_overwrite_the_newer_attempts_success(
    channel, fake_mastodon, agent
):
    conversation = a_mention(channel, fake_mastodon)
    action = actions.queue_reply(user=agent, conversation=conversation, text="Hallo")
    stalled_claim = actions.claim_outbound_action(action.pk)
    assert stalled_claim is not None
    OutboundAction.objects.filter(pk=action.pk).update(
        claimed_at=timezone.now() - timedelta(minutes=10)
    )
    stalled_claim.refresh_from_db()
    actions.requeue_stalled_actions(older_than=timedelta(minutes=5))
    outbox.deliver(action.pk)  # the second worker sends it

    actions.mark_outbound_failed(stalled_claim, reason="timed out")  # the first one wakes up

    action.refresh_from_db()
    assert action.state == OutboundState.SENT and action.last_error == ""


@pytest.mark.django_db
def test_a_person_can_retry_a_reply_that_may_have_been_posted(channel, fake_mastodon, agent):
    conversation = a_mention(channel, fake_mastodon)
    action = actions.queue_reply(user=agent, conversation=conversation, text="Noch einmal")
    # Past Mastodon's idempotency hour, after an attempt whose outcome nobody knows.
    OutboundAction.objects.filter(pk=action.pk).update(
        outcome_unknown=True, created_at=timezone.now() - timedelta(hours=2)
    )
    outbox.deliver(action.pk)
    action.refresh_from_db()
    assert action.state == OutboundState.FAILED and "may have been posted" in action.last_error
    assert fake_mastodon.received_statuses() == []

    actions.retry_outbound_action(user=agent, action=action)  # they checked: it is not there
    outbox.deliver(action.pk)

    action.refresh_from_db()
    assert action.state == OutboundState.SENT
    assert len(fake_mastodon.received_statuses()) == 1


@pytest.mark.django_db
def test_a_reply_a_poll_already_stored_as_a_platform_post_is_merged_when_sent(
    channel, fake_mastodon, agent
):
    conversation = a_mention(channel, fake_mastodon)
    action = actions.queue_reply(user=agent, conversation=conversation, text="Gern geschehen")
    claimed = actions.claim_outbound_action(action.pk)
    # A poll saw our reply first, with its text changed by the platform, and kept it as posted
    # on the platform directly.
    Message.objects.create(
        conversation=conversation,
        channel_account=channel,
        external_id="999",
        direction=Direction.OUTBOUND,
        text="Gern geschehen https://t.co/x",
        sent_at=timezone.now(),
    )

    actions.mark_outbound_sent(claimed, external_id="999")

    [ours] = Message.objects.filter(external_id="999")
    assert ours.pk == action.message_id and ours.author_id == agent.pk
