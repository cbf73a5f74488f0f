"""The live-update websocket, through the real ASGI stack and the Redis channel layer."""

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.db import transaction
from django.test import Client

from channels_integrations.polling import poll_channel
from config.asgi import application
from inbox.consumers import CLOSE_UNAUTHENTICATED
from inbox.live import user_group

pytestmark = pytest.mark.django_db(transaction=True)


def session_cookie(user) -> bytes:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


def socket(
    cookie: bytes | None = None, origin: bytes = b"http://127.0.0.1"
) -> WebsocketCommunicator:
    headers = [(b"origin", origin), (b"host", b"127.0.0.1")]
    if cookie:
        headers.append((b"cookie", cookie))
    return WebsocketCommunicator(application, "/ws/live/", headers=headers)


def test_the_websocket_refuses_anonymous_connections():
    async def scenario():
        communicator = socket()
        await communicator.connect()
        # Closed at once with the code the page reads as "signed out"; no data before it.
        assert await communicator.receive_output(timeout=5) == {
            "type": "websocket.close",
            "code": CLOSE_UNAUTHENTICATED,
        }
        await communicator.disconnect()

    async_to_sync(scenario)()


def test_the_websocket_refuses_other_sites_pages(agent):
    cookie = session_cookie(agent)

    async def scenario():
        communicator = socket(cookie, origin=b"https://evil.example")
        connected, _ = await communicator.connect()
        assert not connected
        await communicator.disconnect()

    async_to_sync(scenario)()


async def events_of(communicator, types: set[str]) -> dict[str, dict]:
    """The next event of each of these types (others, like notifications, are passed over)."""
    found: dict[str, dict] = {}
    while set(found) != types:
        event = await communicator.receive_json_from(timeout=5)
        if event["type"] in types:
            found.setdefault(event["type"], event)
    return found


def test_a_new_mention_reaches_its_departments_agents_and_no_one_else(
    channel, fake_mastodon, agent, outsider, admin_user
):
    channel.cursor = {"min_id": "0"}
    channel.save()
    cookies = [session_cookie(user) for user in (agent, outsider, admin_user)]

    async def scenario():
        sockets = [socket(cookie) for cookie in cookies]
        for communicator in sockets:
            connected, _ = await communicator.connect()
            assert connected
            assert (await communicator.receive_json_from(timeout=5))["type"] == "hello"
        agent_socket, outsider_socket, admin_socket = sockets

        first = fake_mastodon.add_mention("Ist der Shop heute offen?", username="jonas")
        await database_sync_to_async(poll_channel)(channel.pk)

        for communicator in (agent_socket, admin_socket):
            # A new conversation arrives as its list row (nobody can have it open yet).
            event = (await events_of(communicator, {"conversation.changed"}))[
                "conversation.changed"
            ]
            assert "Ist der Shop heute offen?" in event["html"]

        fake_mastodon.add_mention(
            "Und morgen?", username="jonas", in_reply_to_id=first["status"]["id"]
        )
        await database_sync_to_async(poll_channel)(channel.pk)
        for communicator in (agent_socket, admin_socket):
            # A follow-up updates the row, the open conversation's header and its thread.
            by_type = await events_of(communicator, {"conversation.changed", "message.changed"})
            assert "Und morgen?" in by_type["conversation.changed"]["html"]
            assert by_type["conversation.changed"]["head_html"]
            assert "Und morgen?" in by_type["message.changed"]["html"]
        # The outsider's next message is a marker sent after the mention's events: nothing of
        # the mention came before it.
        await get_channel_layer().group_send(
            user_group(outsider.pk), {"type": "live.event", "payload": {"type": "marker"}}
        )
        assert await outsider_socket.receive_json_from(timeout=5) == {"type": "marker"}
        for communicator in sockets:
            await communicator.disconnect()

    async_to_sync(scenario)()


def test_rolled_back_work_sends_no_event(channel, fake_mastodon, live_events):
    channel.cursor = {"min_id": "0"}
    channel.save()
    fake_mastodon.add_mention("never committed")

    class Abort(Exception):
        pass

    with pytest.raises(Abort), transaction.atomic():
        poll_channel(channel.pk)
        raise Abort

    assert live_events == []
    poll_channel(channel.pk)
    assert [p["type"] for _, p in live_events].count("conversation.changed") == 1


def test_logging_out_closes_that_sessions_live_connection(agent):
    client = Client()
    client.force_login(agent)
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()

    async def scenario():
        communicator = socket(cookie)
        connected, _ = await communicator.connect()
        assert connected
        assert (await communicator.receive_json_from(timeout=5))["type"] == "hello"
        await database_sync_to_async(client.post)("/accounts/logout/")
        assert await communicator.receive_output(timeout=5) == {
            "type": "websocket.close",
            "code": CLOSE_UNAUTHENTICATED,
        }

    async_to_sync(scenario)()


def test_nothing_is_rendered_for_channels_no_browser_listens_to(
    channel, fake_mastodon, agent, monkeypatch
):
    from inbox import live
    from tests import factories

    unwatched = factories.make_mastodon_channel(fake_mastodon.url, name="Nobody's channel")
    cookie = session_cookie(agent)
    rendered: list[int] = []
    real = live._render_changes

    def spy(*args, **kwargs):
        events = real(*args, **kwargs)
        rendered.append(len(events))
        return events

    monkeypatch.setattr(live, "_render_changes", spy)

    async def scenario():
        communicator = socket(cookie)
        connected, _ = await communicator.connect()
        assert connected
        assert (await communicator.receive_json_from(timeout=5))["type"] == "hello"
        listening = await database_sync_to_async(live.channels_with_listeners)(
            {channel.pk, unwatched.pk}
        )
        assert listening == {channel.pk}  # the agent's department owns only `channel`
        await communicator.disconnect()
        assert await database_sync_to_async(live.channels_with_listeners)({channel.pk}) == set()

    async_to_sync(scenario)()

    for target in (channel, unwatched):
        target.cursor = {"min_id": "0"}
        target.save(update_fields=["cursor"])
    fake_mastodon.add_mention("Hallo, jemand da?")
    poll_channel(unwatched.pk)  # nobody connected: the page is ingested, nothing is rendered
    assert rendered == []  # not even read back
