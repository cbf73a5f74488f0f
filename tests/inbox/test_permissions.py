"""The permission matrix (docs/permissions.md) through every door: pages, form posts, the
htmx fragments, and the live socket. Each forbidden action is refused, changes nothing, and the
refusal carries no trace of the conversation's data."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from django.urls import reverse

from inbox import access
from inbox.conversation_actions import assignable_users
from inbox.live import publish_changes_on_commit
from inbox.models import (
    Conversation,
    ConversationEvent,
    ConversationPresence,
    Message,
    Note,
    OutboundAction,
    OutboundKind,
    OutboundState,
    PersonNote,
)
from tests import factories
from tests.inbox.socket_helpers import TIMEOUT, connected, receive_until, session_cookie

SECRET = "Geheimnis-4711 about my invoice"
AUTHOR = "Wanda Secretperson"


@pytest.fixture
def brand(department):
    return factories.make_mastodon_channel(department=department, name="Brand DE")


@pytest.fixture
def conversation(brand):
    return factories.make_conversation(brand, text=SECRET, author=AUTHOR)


@pytest.fixture
def failed_reply(conversation, agent):
    message = Message.objects.create(
        conversation=conversation,
        channel_account=conversation.channel_account,
        direction="outbound",
        author=agent,
        text="Our answer",
        sent_at=conversation.last_message_at,
    )
    return OutboundAction.objects.create(
        conversation=conversation,
        message=message,
        kind=OutboundKind.REPLY,
        target_external_id="x",
        text="Our answer",
        state=OutboundState.FAILED,
        author=agent,
    )


def _writes(conversation, failed_reply, actor) -> list[tuple[str, str, dict]]:
    """Every form post that changes a conversation or its person: (label, url, data)."""
    message = conversation.messages.get(direction="inbound")
    person_id = conversation.contact.person_id
    return [
        ("assign", reverse("inbox:assign", args=[conversation.pk]), {"assignee": actor.pk}),
        ("status", reverse("inbox:status", args=[conversation.pk]), {"status": "resolved"}),
        ("priority", reverse("inbox:priority", args=[conversation.pk]), {"priority": "3"}),
        ("tags", reverse("inbox:tags", args=[conversation.pk]), {"add": "leaked"}),
        ("reply", reverse("inbox:reply", args=[conversation.pk]), {"text": "Hello from me"}),
        ("note", reverse("inbox:note", args=[conversation.pk]), {"text": "my note"}),
        ("like", reverse("inbox:message_action", args=[message.pk, "like"]), {}),
        ("retry", reverse("inbox:retry", args=[failed_reply.pk]), {}),
        ("person note", reverse("inbox:person_note", args=[person_id]), {"text": "a note"}),
        ("person tag", reverse("inbox:person_tag_add", args=[person_id]), {"name": "leaked"}),
        ("person flags", reverse("inbox:person_flags", args=[person_id]), {"vip": "on"}),
        ("person assign", reverse("inbox:person_assign_open", args=[person_id]), {}),
    ]


def _unchanged(conversation, failed_reply) -> None:
    fresh = Conversation.objects.get(pk=conversation.pk)
    assert fresh.status == "new" and fresh.priority == 1 and fresh.assignee_id is None
    assert not fresh.tags.exists()
    assert not ConversationEvent.objects.filter(conversation=conversation).exists()
    assert not Note.objects.exists() and not PersonNote.objects.exists()
    assert OutboundAction.objects.get().pk == failed_reply.pk  # no reply, like or retry queued
    assert OutboundAction.objects.get().state == OutboundState.FAILED
    assert fresh.contact is not None
    person = fresh.contact.person
    assert not person.vip and not person.tags.exists()


def test_an_observer_reads_the_conversation_without_any_control(client, observer, conversation):
    client.force_login(observer)
    page = client.get(reverse("inbox:conversation", args=[conversation.pk])).content.decode()
    assert SECRET in page and AUTHOR in page
    assert "can read its conversations but not change them" in page
    assert 'class="composer' not in page and 'class="conv-controls"' not in page
    assert "read-only" in page  # item actions arriving live are hidden too


def test_an_observer_is_refused_every_change_through_every_form(
    client, observer, conversation, failed_reply
):
    client.force_login(observer)
    for label, url, data in _writes(conversation, failed_reply, observer):
        response = client.post(url, data)
        assert response.status_code == 403, label
    response = client.post(
        reverse("inbox:bulk"), {"ids": str(conversation.pk), "action": "status", "value": "open"}
    )
    assert response.status_code == 403
    _unchanged(conversation, failed_reply)


def test_an_outsider_gets_not_found_and_no_trace_of_the_data(
    client, outsider, conversation, failed_reply
):
    client.force_login(outsider)
    assert client.get(reverse("inbox:conversation", args=[conversation.pk])).status_code == 404
    person_page = client.get(reverse("inbox:person", args=[conversation.contact.person_id]))
    assert person_page.status_code == 404
    for label, url, data in _writes(conversation, failed_reply, outsider):
        response = client.post(url, data)
        assert response.status_code == 404, label
        assert SECRET not in response.content.decode() and AUTHOR not in response.content.decode()
    response = client.post(
        reverse("inbox:bulk"), {"ids": str(conversation.pk), "action": "status", "value": "open"}
    )
    assert response.status_code == 403
    for query in ("queue=all&status=any", f"q={SECRET.split()[0]}", "partial=rows&status=any"):
        listed = client.get(reverse("inbox:list") + "?" + query).content.decode()
        assert SECRET not in listed and AUTHOR not in listed
    search = client.get(reverse("inbox:saved_reply_search", args=[conversation.pk]))
    assert search.status_code == 404
    _unchanged(conversation, failed_reply)


def test_agents_and_leads_may_do_what_observers_may_not(client, agent, lead, conversation):
    """The same doors open for the roles that act (the refusals above are about the role)."""
    client.force_login(agent)
    assert client.post(reverse("inbox:priority", args=[conversation.pk]), {"priority": "3"})
    assert Conversation.objects.get(pk=conversation.pk).priority == 3
    client.force_login(lead)
    client.post(reverse("inbox:note", args=[conversation.pk]), {"text": "lead note"})
    assert Note.objects.filter(author=lead).exists()


def test_routing_to_a_department_is_for_leads_and_admins(
    client, agent, lead, admin_user, conversation, department
):
    url = reverse("inbox:assign", args=[conversation.pk])
    client.force_login(agent)
    response = client.post(url, {"assignee": "", "department": department.pk})
    assert response.status_code == 409
    assert "Only team leads and admins" in response.content.decode()
    assert Conversation.objects.get(pk=conversation.pk).department_id is None
    client.force_login(lead)
    assert client.post(url, {"assignee": "", "department": department.pk}).status_code == 302
    assert Conversation.objects.get(pk=conversation.pk).department_id == department.pk


def test_assignment_stays_within_the_departments_and_never_goes_to_observers(
    client, agent, lead, observer, conversation, other_department, brand
):
    # A member of another department that also owns the channel: seen by them, but not one of
    # the agent's departments.
    other_department.channel_accounts.add(brand)
    stranger = factories.make_user("nia")
    factories.add_member(stranger, other_department)
    url = reverse("inbox:assign", args=[conversation.pk])
    client.force_login(agent)
    response = client.post(url, {"assignee": stranger.pk})
    assert response.status_code == 409 and "not in one of your departments" in response.text
    response = client.post(url, {"assignee": observer.pk})
    assert response.status_code == 409 and "may only read" in response.text
    assert Conversation.objects.get(pk=conversation.pk).assignee_id is None
    assert client.post(url, {"assignee": lead.pk}).status_code == 302
    assert Conversation.objects.get(pk=conversation.pk).assignee_id == lead.pk
    offered = set(assignable_users(conversation).values_list("pk", flat=True))
    assert observer.pk not in offered and agent.pk in offered and lead.pk in offered


def test_the_access_helper_and_the_querysets_agree_for_every_role(
    admin_user, lead, agent, observer, outsider, conversation
):
    for user, sees, acts in (
        (admin_user, True, True),
        (lead, True, True),
        (agent, True, True),
        (observer, True, False),
        (outsider, False, False),
    ):
        visible = Conversation.objects.visible_to(user).filter(pk=conversation.pk).exists()
        workable = Conversation.objects.workable_by(user).filter(pk=conversation.pk).exists()
        assert (visible, workable) == (sees, acts), user.username
        assert access.can_view_channel(user, conversation.channel_account_id) == sees
        assert access.can_act_on_channel(user, conversation.channel_account_id) == acts
    assert access.can_approve(lead, conversation) and access.can_approve(admin_user, conversation)
    assert not access.can_approve(agent, conversation)
    assert not access.can_approve(observer, conversation)


def test_channel_administration_is_for_admins_only(client, lead, agent, observer, brand):
    for user in (lead, agent, observer):
        client.force_login(user)
        assert client.get(reverse("channels:edit", args=[brand.pk])).status_code == 403
        assert client.post(reverse("channels:pause", args=[brand.pk])).status_code == 403
    brand.refresh_from_db()
    assert brand.status == "active"


# --- The live socket ------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_socket_lets_an_observer_watch_but_not_write_and_shows_outsiders_nothing(
    observer, outsider, conversation
):
    observer_cookie, outsider_cookie = session_cookie(observer), session_cookie(outsider)

    async def scenario() -> None:
        watching = await connected(observer_cookie)
        stranger = await connected(outsider_cookie)
        try:
            await watching.send_json_to({"type": "view", "conversation_id": conversation.pk})
            await receive_until(watching, lambda m: m["type"] == "presence")
            await watching.send_json_to({"type": "composing", "on": True})
            refused = await receive_until(watching, lambda m: m["type"] == "error")
            assert "not change" in refused["message"]
            await watching.send_json_to({"type": "take_over", "conversation_id": conversation.pk})
            refused = await receive_until(watching, lambda m: m["type"] == "error")
            assert "not change" in refused["message"]

            await stranger.send_json_to({"type": "view", "conversation_id": conversation.pk})
            refused = await receive_until(stranger, lambda m: m["type"] == "error")
            assert SECRET not in str(refused) and AUTHOR not in str(refused)

            # A change to the conversation reaches the observer, never the outsider.
            await database_sync_to_async(publish_changes_on_commit)(
                conversation_ids=[conversation.pk]
            )
            event = await receive_until(
                watching,
                lambda m: (
                    m.get("type") == "conversation.changed"
                    and m.get("conversation_id") == conversation.pk
                ),
            )
            assert SECRET in event["html"]  # the observer's list shows it
            await stranger.send_json_to({"type": "ping"})
            while True:
                message = await stranger.receive_json_from(timeout=TIMEOUT)
                assert SECRET not in str(message) and AUTHOR not in str(message)
                if message["type"] == "pong":
                    break
        finally:
            await watching.disconnect()
            await stranger.disconnect()

    async_to_sync(scenario)()
    assert not ConversationPresence.objects.filter(user=observer, composing=True).exists()
    assert not ConversationEvent.objects.filter(conversation=conversation).exists()
