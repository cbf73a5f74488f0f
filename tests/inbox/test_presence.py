"""Who is viewing a conversation, and the reply collision guard, through the real live socket."""

from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.utils import timezone

from inbox import presence
from inbox.actions import ActionRefused
from inbox.live import channel_group, user_group
from inbox.models import ConversationEvent, ConversationPresence, EventKind
from tests import factories
from tests.inbox.socket_helpers import TIMEOUT, connected, receive_until, session_cookie

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def colleague(department):
    user = factories.make_user("lee", first_name="Lee", last_name="Park")
    factories.add_member(user, department)
    return user


@pytest.fixture
def conversation(channel):
    return factories.make_conversation(channel, text="Where is my parcel?")


def presence_of(conversation, viewer_ids):
    """A matcher for the presence event of `conversation` listing exactly these viewers."""

    def wanted(message):
        return (
            message["type"] == "presence"
            and message["conversation_id"] == conversation.pk
            and sorted(v["id"] for v in message["viewers"]) == sorted(viewer_ids)
        )

    return wanted


async def marker(communicator, user) -> None:
    """Everything sent to `user` before this point has arrived once the marker has."""
    await get_channel_layer().group_send(
        user_group(user.pk), {"type": "live.event", "payload": {"type": "marker"}}
    )
    assert await communicator.receive_json_from(timeout=TIMEOUT) == {"type": "marker"}


def test_it_shows_two_agents_viewing_the_same_conversation_to_each_other(
    agent, colleague, conversation
):
    cookies = session_cookie(agent), session_cookie(colleague)

    async def scenario():
        kim, lee = [await connected(cookie) for cookie in cookies]
        await kim.send_json_to({"type": "view", "conversation_id": conversation.pk})
        await receive_until(kim, presence_of(conversation, [agent.pk]))
        await lee.send_json_to({"type": "view", "conversation_id": conversation.pk})
        for communicator in (kim, lee):
            both = presence_of(conversation, [agent.pk, colleague.pk])
            event = await receive_until(communicator, both)
            assert {"id": colleague.pk, "name": "Lee Park", "composing": False} in event["viewers"]
            assert {"id": agent.pk, "name": "kim", "composing": False} in event["viewers"]
        for communicator in (kim, lee):
            await communicator.disconnect()

    async_to_sync(scenario)()


def test_it_tells_an_outsider_nothing_about_a_conversation_they_may_not_see(
    agent, outsider, conversation
):
    agent_cookie, outsider_cookie = session_cookie(agent), session_cookie(outsider)

    async def scenario():
        kim = await connected(agent_cookie)
        await kim.send_json_to({"type": "view", "conversation_id": conversation.pk})
        await receive_until(kim, presence_of(conversation, [agent.pk]))

        sam = await connected(outsider_cookie)
        answers = []
        for message in (
            {"type": "view", "conversation_id": conversation.pk},
            {"type": "view", "conversation_id": conversation.pk + 1000},  # does not exist
            {"type": "take_over", "conversation_id": conversation.pk},
        ):
            await sam.send_json_to(message)
            answers.append(await sam.receive_json_from(timeout=TIMEOUT))
        # Forbidden and unknown read the same: nothing tells the outsider it exists.
        assert answers == [{"type": "error", "message": "No such conversation."}] * 3
        await marker(sam, outsider)  # and nothing else came before the marker
        await marker(kim, agent)  # the agent saw no presence change either
        for communicator in (kim, sam):
            await communicator.disconnect()

    async_to_sync(scenario)()
    assert not ConversationPresence.objects.filter(user=outsider).exists()
    assert not ConversationEvent.objects.filter(kind=EventKind.REPLY_TAKEN_OVER).exists()


def test_it_refuses_a_colleagues_reply_while_an_agent_is_writing_one(
    agent, colleague, conversation
):
    cookie = session_cookie(agent)

    async def scenario():
        kim = await connected(cookie)
        await kim.send_json_to({"type": "view", "conversation_id": conversation.pk})
        await kim.send_json_to({"type": "composing", "on": True})
        event = await receive_until(
            kim, lambda m: m["type"] == "presence" and m["viewers"][0]["composing"]
        )
        assert event["holder"] == agent.pk

        with pytest.raises(ActionRefused, match="kim is replying"):
            await database_sync_to_async(presence.check_reply_allowed)(
                user=colleague, conversation=conversation, take_over=False
            )
        # The writer themself is not in their own way.
        await database_sync_to_async(presence.check_reply_allowed)(
            user=agent, conversation=conversation, take_over=False
        )

        await kim.send_json_to({"type": "composing", "on": False})
        await receive_until(
            kim, lambda m: m["type"] == "presence" and not m["viewers"][0]["composing"]
        )
        await database_sync_to_async(presence.check_reply_allowed)(
            user=colleague, conversation=conversation, take_over=False
        )
        await kim.disconnect()

    async_to_sync(scenario)()


def test_a_colleague_who_starts_typing_later_does_not_take_the_reply_away(
    agent, colleague, conversation
):
    cookies = session_cookie(agent), session_cookie(colleague)

    async def scenario():
        kim, lee = [await connected(cookie) for cookie in cookies]
        # Two sockets are served concurrently: Lee starts only once Kim's start is recorded.
        await kim.send_json_to({"type": "view", "conversation_id": conversation.pk})
        await kim.send_json_to({"type": "composing", "on": True})
        await receive_until(lee, lambda m: m["type"] == "presence" and m["holder"] == agent.pk)
        await lee.send_json_to({"type": "view", "conversation_id": conversation.pk})
        await lee.send_json_to({"type": "composing", "on": True})
        event = await receive_until(
            kim,
            lambda m: (
                m["type"] == "presence"
                and len(m["viewers"]) == 2
                and all(v["composing"] for v in m["viewers"])
            ),
        )
        assert event["holder"] == agent.pk
        await database_sync_to_async(presence.check_reply_allowed)(
            user=agent, conversation=conversation, take_over=False
        )
        with pytest.raises(ActionRefused):
            await database_sync_to_async(presence.check_reply_allowed)(
                user=colleague, conversation=conversation, take_over=False
            )
        for communicator in (kim, lee):
            await communicator.disconnect()

    async_to_sync(scenario)()


def test_taking_over_lets_the_colleague_send_and_tells_the_previous_writer(
    agent, colleague, conversation
):
    cookies = session_cookie(agent), session_cookie(colleague)

    async def scenario():
        kim, lee = [await connected(cookie) for cookie in cookies]
        await kim.send_json_to({"type": "view", "conversation_id": conversation.pk})
        await kim.send_json_to({"type": "composing", "on": True})
        await lee.send_json_to({"type": "view", "conversation_id": conversation.pk})
        await receive_until(lee, lambda m: m["type"] == "presence" and m["holder"] == agent.pk)

        await lee.send_json_to({"type": "take_over", "conversation_id": conversation.pk})
        notice = await receive_until(kim, lambda m: m["type"] == "presence.taken_over")
        assert notice["conversation_id"] == conversation.pk
        assert notice["by"] == {"id": colleague.pk, "name": "Lee Park"}
        assert notice["message"] == "Lee Park took over the reply."
        event = await receive_until(
            lee, lambda m: m["type"] == "presence" and m["holder"] == colleague.pk
        )
        composing = {v["id"]: v["composing"] for v in event["viewers"]}
        assert composing == {agent.pk: False, colleague.pk: True}

        await database_sync_to_async(presence.check_reply_allowed)(
            user=colleague, conversation=conversation, take_over=False
        )
        with pytest.raises(ActionRefused, match="Lee Park is replying"):
            await database_sync_to_async(presence.check_reply_allowed)(
                user=agent, conversation=conversation, take_over=False
            )
        for communicator in (kim, lee):
            await communicator.disconnect()

    async_to_sync(scenario)()
    event = ConversationEvent.objects.get(kind=EventKind.REPLY_TAKEN_OVER)
    assert event.conversation_id == conversation.pk
    assert event.actor_id == colleague.pk
    assert event.data == {"from": agent.pk}


def test_sending_with_take_over_records_the_take_over(agent, colleague, conversation, live_events):
    ConversationPresence.objects.create(
        connection="kims-tab",
        user=agent,
        conversation=conversation,
        composing=True,
        composing_since=timezone.now(),
        seen_at=timezone.now(),
    )

    presence.check_reply_allowed(user=colleague, conversation=conversation, take_over=True)

    event = ConversationEvent.objects.get(kind=EventKind.REPLY_TAKEN_OVER)
    assert (event.actor_id, event.data) == (colleague.pk, {"from": agent.pk})
    assert (user_group(agent.pk), "presence.taken_over") in [
        (group, payload["type"]) for group, payload in live_events
    ]
    assert presence.reply_holder(conversation, other_than=colleague) is None


def test_it_removes_a_viewer_whose_socket_closes(agent, colleague, conversation):
    cookies = session_cookie(agent), session_cookie(colleague)

    async def scenario():
        kim, lee = [await connected(cookie) for cookie in cookies]
        for communicator in (kim, lee):
            await communicator.send_json_to({"type": "view", "conversation_id": conversation.pk})
        await receive_until(kim, presence_of(conversation, [agent.pk, colleague.pk]))
        await lee.disconnect()
        await receive_until(kim, presence_of(conversation, [agent.pk]))
        await kim.send_json_to({"type": "leave"})
        await receive_until(kim, presence_of(conversation, []))
        await kim.disconnect()

    async_to_sync(scenario)()
    assert not ConversationPresence.objects.exists()


def test_stale_presence_does_not_count_and_is_cleaned(agent, colleague, conversation, live_events):
    long_ago = timezone.now() - presence.FRESH_FOR - timedelta(seconds=1)
    ConversationPresence.objects.create(
        connection="a-tab-that-vanished",
        user=colleague,
        conversation=conversation,
        composing=True,
        composing_since=long_ago,
        seen_at=long_ago,
    )

    assert presence.viewers(conversation.pk) == []
    presence.check_reply_allowed(user=agent, conversation=conversation, take_over=False)

    presence.view(connection="kims-tab", user=agent, conversation_id=conversation.pk)
    assert presence.viewers(conversation.pk) == [presence.Viewer(agent.pk, "kim", False)]
    assert list(ConversationPresence.objects.values_list("connection", flat=True)) == ["kims-tab"]
    published = [payload for _, payload in live_events if payload["type"] == "presence"]
    assert published[-1]["viewers"] == [{"id": agent.pk, "name": "kim", "composing": False}]


def test_a_heartbeat_keeps_a_viewer_fresh_and_answers_pong(agent, conversation):
    cookie = session_cookie(agent)

    async def scenario():
        kim = await connected(cookie)
        await kim.send_json_to({"type": "view", "conversation_id": conversation.pk})
        await receive_until(kim, presence_of(conversation, [agent.pk]))
        long_ago = timezone.now() - presence.FRESH_FOR - timedelta(seconds=1)
        await database_sync_to_async(ConversationPresence.objects.update)(seen_at=long_ago)
        await kim.send_json_to({"type": "ping"})
        # The answer, and (a row that had gone stale counts again) everyone is told; the two
        # travel different ways, so in either order.
        received = [await kim.receive_json_from(timeout=TIMEOUT) for _ in range(2)]
        assert {"type": "pong"} in received
        assert any(presence_of(conversation, [agent.pk])(m) for m in received)
        row = await database_sync_to_async(ConversationPresence.objects.get)()
        assert row.seen_at > long_ago
        await kim.disconnect()

    async_to_sync(scenario)()


def test_it_answers_malformed_messages_with_an_error_and_keeps_the_socket(agent, conversation):
    cookie = session_cookie(agent)

    async def scenario():
        kim = await connected(cookie)
        for bad in (
            "not json",
            "[1, 2]",
            '{"type": "view", "conversation_id": "1"}',
            '{"type": "view", "conversation_id": true}',
            '{"type": "view", "conversation_id": 99999999999999999999999}',
            '{"type": "composing", "on": "yes"}',
            '{"type": "composing", "on": true}',  # viewing nothing yet
            '{"type": "launch"}',
        ):
            await kim.send_to(text_data=bad)
            answer = await kim.receive_json_from(timeout=TIMEOUT)
            assert answer["type"] == "error", bad
        await kim.send_to(bytes_data=b"\x00\x01")
        assert (await kim.receive_json_from(timeout=TIMEOUT))["type"] == "error"
        await kim.send_json_to({"type": "ping"})
        assert await kim.receive_json_from(timeout=TIMEOUT) == {"type": "pong"}
        await kim.disconnect()

    async_to_sync(scenario)()
    assert not ConversationPresence.objects.exists()


def test_groups_changed_lets_a_socket_hear_a_newly_visible_channel(
    agent, department, channel, fake_mastodon
):
    later = factories.make_mastodon_channel(fake_mastodon.url, name="Instagram later")
    cookie = session_cookie(agent)

    async def scenario():
        kim = await connected(cookie)

        # Giving the department a channel is enough: a signal tells the open sockets.
        await database_sync_to_async(department.channel_accounts.add)(later)
        changed = await kim.receive_json_from(timeout=TIMEOUT)
        assert changed == {"type": "groups.changed", "channels": 2}
        await get_channel_layer().group_send(
            channel_group(later.pk), {"type": "live.event", "payload": {"type": "hello later"}}
        )
        assert await kim.receive_json_from(timeout=TIMEOUT) == {"type": "hello later"}

        await database_sync_to_async(department.channel_accounts.remove)(later)
        changed = await kim.receive_json_from(timeout=TIMEOUT)
        assert changed == {"type": "groups.changed", "channels": 1}
        await get_channel_layer().group_send(
            channel_group(later.pk), {"type": "live.event", "payload": {"type": "not for kim"}}
        )
        await marker(kim, agent)  # the channel's event did not come before it
        await kim.disconnect()

    async_to_sync(scenario)()


def test_losing_access_drops_the_viewer_from_the_conversation(
    agent, colleague, department, conversation
):
    cookies = session_cookie(agent), session_cookie(colleague)

    async def scenario():
        kim, lee = [await connected(cookie) for cookie in cookies]
        for communicator in (kim, lee):
            await communicator.send_json_to({"type": "view", "conversation_id": conversation.pk})
        await receive_until(kim, presence_of(conversation, [agent.pk, colleague.pk]))

        await database_sync_to_async(colleague.memberships.all().delete)()
        await database_sync_to_async(presence.refresh_live_groups)([colleague.pk])
        await receive_until(kim, presence_of(conversation, [agent.pk]))
        for communicator in (kim, lee):
            await communicator.disconnect()

    async_to_sync(scenario)()
