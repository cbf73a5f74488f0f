"""Actions on items beyond replies (like, delete, hide): offered only where the platform allows,
sent through the outbox, and the item's state changes only when the platform confirms."""

import pytest
from django.test import Client

from channels_integrations import outbox
from inbox import actions
from inbox.models import (
    ConversationEvent,
    EventKind,
    Message,
    OutboundAction,
    OutboundKind,
    OutboundState,
    PlatformState,
)
from tests.channels_integrations.test_outbox import a_mention
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


def test_it_likes_a_mention_on_the_platform(channel, fake_mastodon, agent):
    conversation = a_mention(channel, fake_mastodon)
    message = conversation.messages.get()

    action = actions.queue_message_action(user=agent, message=message, kind=OutboundKind.LIKE)
    assert fake_mastodon.calls()[-1]["path"].endswith("/notifications")  # nothing sent yet
    outbox.deliver(action.pk)

    action.refresh_from_db()
    assert action.state == OutboundState.SENT
    assert fake_mastodon.calls()[-1]["path"] == f"/api/v1/statuses/{message.external_id}/favourite"
    assert ConversationEvent.objects.filter(kind=EventKind.ACTION_DONE).exists()


def test_it_refuses_what_the_platform_cannot_do(channel, fake_mastodon, agent):
    message = a_mention(channel, fake_mastodon).messages.get()
    with pytest.raises(actions.ActionRefused, match="does not support"):
        actions.queue_message_action(user=agent, message=message, kind=OutboundKind.HIDE)
    with pytest.raises(actions.ActionRefused, match="only your own"):
        actions.queue_message_action(user=agent, message=message, kind=OutboundKind.DELETE)
    assert not OutboundAction.objects.exists()


def test_it_deletes_our_own_reply_and_marks_it_deleted(channel, fake_mastodon, agent):
    conversation = a_mention(channel, fake_mastodon)
    reply = actions.queue_reply(user=agent, conversation=conversation, text="Oops, wrong thread")
    outbox.deliver(reply.pk)
    sent = Message.objects.get(pk=reply.message_id)
    assert sent.external_id

    delete = actions.queue_message_action(user=agent, message=sent, kind=OutboundKind.DELETE)
    outbox.deliver(delete.pk)

    sent.refresh_from_db()
    delete.refresh_from_db()
    assert delete.state == OutboundState.SENT
    assert sent.platform_state == PlatformState.DELETED
    assert sent.text == "Oops, wrong thread"  # kept for us
    deleted = [c for c in fake_mastodon.calls() if c["method"] == "DELETE"]
    assert [c["path"] for c in deleted] == [f"/api/v1/statuses/{sent.external_id}"]
    assert deleted[0]["status"] == 200


def test_an_item_gone_from_the_platform_is_marked_deleted_and_the_action_fails_with_why(
    channel, fake_mastodon, agent
):
    message = a_mention(channel, fake_mastodon).messages.get()
    action = actions.queue_message_action(user=agent, message=message, kind=OutboundKind.LIKE)
    fake_mastodon.fail_next(404)

    outbox.deliver(action.pk)

    action.refresh_from_db()
    message.refresh_from_db()
    assert action.state == OutboundState.FAILED
    assert "no longer on the platform" in action.last_error
    assert message.platform_state == PlatformState.DELETED


def test_the_same_action_twice_is_refused_while_the_first_is_on_its_way(
    channel, fake_mastodon, agent
):
    message = a_mention(channel, fake_mastodon).messages.get()
    actions.queue_message_action(user=agent, message=message, kind=OutboundKind.LIKE)
    with pytest.raises(actions.ActionRefused, match="already on its way"):
        actions.queue_message_action(user=agent, message=message, kind=OutboundKind.LIKE)


def test_the_thread_offers_only_supported_actions_and_outsiders_get_nothing(
    channel, fake_mastodon, agent, outsider
):
    conversation = a_mention(channel, fake_mastodon)
    message = conversation.messages.get()
    client = Client()
    client.login(username=agent.username, password=PASSWORD)

    page = client.get(f"/inbox/c/{conversation.pk}/").content.decode()
    assert f"/inbox/m/{message.pk}/like/" in page
    assert f"/inbox/m/{message.pk}/hide/" not in page
    assert f"/inbox/m/{message.pk}/delete/" not in page  # someone else's post

    refused = client.post(f"/inbox/m/{message.pk}/hide/", HTTP_HX_REQUEST="true")
    assert refused.status_code == 409 and b"does not support" in refused.content

    client.login(username=outsider.username, password=PASSWORD)
    assert client.post(f"/inbox/m/{message.pk}/like/").status_code == 404
    assert not OutboundAction.objects.exists()
