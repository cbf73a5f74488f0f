"""Conversations through the API: who sees what, the list's filters and keyset pagination, and
writes that go through the same actions as the pages (a reply reaches the platform through the
outbox worker)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from channels_integrations import outbox
from channels_integrations.polling import poll_channel
from inbox.models import (
    ConversationEvent,
    ConversationStatus,
    EventKind,
    Message,
    Note,
    OutboundAction,
    OutboundState,
    Priority,
    Tag,
)
from tests import factories

LIST = "/api/v1/conversations/"


def ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


def a_mention(channel, fake, text="Wo ist meine Bestellung?"):
    channel.cursor = {"min_id": "0"}
    channel.save(update_fields=["cursor"])
    notification = fake.add_mention(text)
    poll_channel(channel.pk)
    return Message.objects.get(external_id=notification["status"]["id"]).conversation


@pytest.fixture
def hidden_channel(other_department):
    """A channel only `other_department` owns (the outsider's)."""
    return factories.make_mastodon_channel(department=other_department, name="Sales desk")


@pytest.mark.django_db
def test_each_persona_lists_exactly_the_conversations_it_may_see(
    api_for, channel, hidden_channel, admin_user, lead, agent, observer, outsider
):
    ours = factories.make_conversation(channel)
    theirs = factories.make_conversation(hidden_channel)

    assert set(ids(api_for(admin_user).get(LIST, {"queue": "all"}))) == {ours.pk, theirs.pk}
    for persona in (lead, agent, observer):
        department_queue = f"department-{channel.departments.get().pk}"
        assert ids(api_for(persona).get(LIST, {"queue": department_queue})) == [ours.pk]
    assert ids(api_for(outsider).get(LIST, {"queue": "all"})) == [theirs.pk]


@pytest.mark.django_db
def test_a_conversation_the_user_may_not_see_is_a_404_everywhere(api_for, channel, outsider):
    conversation = factories.make_conversation(channel)
    client = api_for(outsider)
    base = f"{LIST}{conversation.pk}/"
    assert client.get(base).status_code == 404
    assert client.get(base + "messages/").status_code == 404
    assert client.post(base + "reply/", {"text": "Hi"}, format="json").status_code == 404
    assert client.post(base + "note/", {"text": "Hi"}, format="json").status_code == 404
    assert client.post(base + "status/", {"status": "resolved"}, format="json").status_code == 404
    assert OutboundAction.objects.count() == 0


@pytest.mark.django_db
def test_the_list_takes_the_uis_filters(api_for, channel, agent, lead):
    resolved = factories.make_conversation(channel, status=ConversationStatus.RESOLVED)
    mine = factories.make_conversation(channel, assignee=agent, priority=Priority.URGENT)
    other = factories.make_conversation(channel, text="Rechnung fehlt")
    client = api_for(agent)

    assert set(ids(client.get(LIST, {"queue": "mine"}))) == {mine.pk}
    assert ids(client.get(LIST, {"status": "resolved", "assignee": "none"})) == [resolved.pk]
    assert ids(client.get(LIST, {"priority": "3", "status": "any"})) == [mine.pk]
    assert ids(client.get(LIST, {"q": "Rechnung", "status": "any"})) == [other.pk]
    bad = client.get(LIST, {"status": "nonsense"})
    assert bad.status_code == 400 and "status" in bad.json()["errors"]
    assert client.get(LIST, {"assignee": "9" * 20}).status_code == 400
    # Filters that only leads' queues offer are not a way around visibility.
    assert client.get(LIST, {"channel": "999999"}).status_code == 400


@pytest.mark.django_db
def test_pagination_neither_repeats_nor_skips_while_new_conversations_arrive(
    api_for, channel, agent
):
    start = timezone.now() - timedelta(days=1)
    existing = [
        factories.make_conversation(channel, when=start + timedelta(minutes=i)) for i in range(7)
    ]
    client = api_for(agent)
    seen: list[int] = []
    cursor = ""
    for page_number in range(10):
        params = {"queue": "all", "status": "any", "page_size": 3, "sort": "newest"}
        if cursor:
            params["cursor"] = cursor
        response = client.get(LIST, params)
        seen += ids(response)
        # New work arrives between pages: it sorts before the cursor, so it is not on a later
        # page, and it pushes nothing already listed onto the next one.
        factories.make_conversation(channel, when=timezone.now() + timedelta(minutes=page_number))
        cursor = response.json()["next_cursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen))
    assert seen == [c.pk for c in reversed(existing)]


@pytest.mark.django_db
def test_page_size_and_cursor_are_checked(api_for, channel, agent):
    client = api_for(agent)
    assert client.get(LIST, {"page_size": 101}).status_code == 400
    assert client.get(LIST, {"page_size": 0}).status_code == 400
    assert client.get(LIST, {"cursor": "garbage"}).status_code == 400


@pytest.mark.django_db
def test_the_messages_are_paginated_oldest_first(api_for, channel, agent):
    conversation = factories.make_conversation(channel)
    first = conversation.messages.get()
    later = [
        Message.objects.create(
            conversation=conversation,
            channel_account=channel,
            external_id=f"later{i}",
            direction="inbound",
            contact=conversation.contact,
            text=f"more {i}",
            sent_at=first.sent_at + timedelta(seconds=i + 1),
        )
        for i in range(3)
    ]
    client = api_for(agent)
    url = f"{LIST}{conversation.pk}/messages/"
    page = client.get(url, {"page_size": 2}).json()
    rest = client.get(url, {"page_size": 2, "cursor": page["next_cursor"]}).json()
    listed = [m["id"] for m in page["results"] + rest["results"]]
    assert listed == [first.pk, *(m.pk for m in later)]
    assert rest["next_cursor"] == ""
    assert "raw" not in page["results"][0]


@pytest.mark.django_db
def test_a_reply_goes_through_the_outbox_and_the_worker_delivers_it(
    api_for, channel, fake_mastodon, agent, live_events, django_capture_on_commit_callbacks
):
    conversation = a_mention(channel, fake_mastodon)
    target = conversation.messages.get()

    with django_capture_on_commit_callbacks(execute=False):
        response = api_for(agent).post(
            f"{LIST}{conversation.pk}/reply/", {"text": "Wir kümmern uns!"}, format="json"
        )

    assert response.status_code == 202, response.content
    action = OutboundAction.objects.get(pk=response.json()["id"])
    assert action.state == OutboundState.QUEUED and action.author == agent
    assert fake_mastodon.received_statuses() == []  # nothing leaves from the web request
    with django_capture_on_commit_callbacks(execute=True):
        outbox.deliver(action.pk)
    [status] = fake_mastodon.received_statuses()
    assert status["in_reply_to_id"] == target.external_id
    assert "Wir kümmern uns!" in status["status"]
    action.refresh_from_db()
    assert action.state == OutboundState.SENT


@pytest.mark.django_db
def test_an_observer_reads_but_every_write_is_a_403(api_for, channel, observer):
    conversation = factories.make_conversation(channel)
    client = api_for(observer)
    base = f"{LIST}{conversation.pk}/"
    assert client.get(base).status_code == 200
    writes = {
        "reply/": {"text": "Hallo"},
        "note/": {"text": "intern"},
        "assign/": {"assignee": observer.pk},
        "status/": {"status": "resolved"},
        "priority/": {"priority": 3},
        "tags/": {"add": ["vip"]},
    }
    for path, body in writes.items():
        response = client.post(base + path, body, format="json")
        assert response.status_code == 403, path
        assert response.json()["code"] == "read_only"
    message = conversation.messages.get()
    assert client.post(f"/api/v1/messages/{message.pk}/hide/").status_code == 403
    assert OutboundAction.objects.count() == 0 and Note.objects.count() == 0
    conversation.refresh_from_db()
    assert conversation.status == ConversationStatus.NEW


@pytest.mark.django_db
def test_an_agent_changes_status_priority_tags_and_notes(api_for, channel, agent, live_events):
    conversation = factories.make_conversation(channel)
    client = api_for(agent)
    base = f"{LIST}{conversation.pk}/"

    assert (
        client.post(base + "status/", {"status": "pending"}, format="json").json()["status"]
        == "pending"
    )
    assert client.post(base + "priority/", {"priority": 2}, format="json").json()["priority"] == 2
    tagged = client.post(base + "tags/", {"add": ["Rechnung", "VIP"]}, format="json").json()
    assert sorted(t["name"] for t in tagged["tags"]) == ["Rechnung", "VIP"]
    vip = next(t["id"] for t in tagged["tags"] if t["name"] == "VIP")
    assert [t["name"] for t in client.post(base + "tags/", {"remove": [vip]}, format="json")
            .json()["tags"]] == ["Rechnung"]  # fmt: skip
    assert [t["name"] for t in client.post(base + "tags/", {"set": ["Lob"]}, format="json")
            .json()["tags"]] == ["Lob"]  # fmt: skip
    note = client.post(base + "note/", {"text": "Kunde anrufen"}, format="json")
    assert note.status_code == 201 and note.json()["text"] == "Kunde anrufen"
    assert [n["text"] for n in client.get(base + "notes/").json()["results"]] == ["Kunde anrufen"]
    kinds = set(ConversationEvent.objects.filter(conversation=conversation).values_list(
        "kind", flat=True))  # fmt: skip
    assert {EventKind.STATUS_CHANGED, EventKind.PRIORITY_CHANGED, EventKind.TAGS_CHANGED} <= kinds


@pytest.mark.django_db
def test_snoozing_needs_a_time_in_the_future(api_for, channel, agent):
    conversation = factories.make_conversation(channel)
    response = api_for(agent).post(
        f"{LIST}{conversation.pk}/status/", {"status": "snoozed"}, format="json"
    )
    assert response.status_code == 409
    assert "snooze" in response.json()["detail"]


@pytest.mark.django_db
def test_assignment_follows_the_uis_rules(
    api_for, channel, department, agent, lead, outsider, live_events
):
    conversation = factories.make_conversation(channel)
    base = f"{LIST}{conversation.pk}/assign/"

    taken = api_for(agent).post(base, {"assignee": agent.pk}, format="json")
    assert taken.status_code == 200 and taken.json()["assignee"]["id"] == agent.pk
    # An outsider cannot work on the channel: refused with the reason, nothing changes.
    refused = api_for(agent).post(base, {"assignee": outsider.pk}, format="json")
    assert refused.status_code == 409 and "sam" in refused.json()["detail"]
    # Routing to a department is for leads.
    assert (
        api_for(agent)
        .post(base, {"assignee": None, "department": department.pk}, format="json")
        .status_code
        == 409
    )
    routed = api_for(lead).post(base, {"assignee": lead.pk, "department": department.pk},
                                format="json")  # fmt: skip
    assert routed.status_code == 200
    assert routed.json()["department_id"] == department.pk
    conversation.refresh_from_db()
    assert conversation.assignee == lead


@pytest.mark.django_db
def test_a_reply_to_a_message_of_another_conversation_is_refused(api_for, channel, agent):
    conversation = factories.make_conversation(channel)
    elsewhere = factories.make_conversation(channel).messages.get()
    response = api_for(agent).post(
        f"{LIST}{conversation.pk}/reply/",
        {"text": "Hallo", "in_reply_to": elsewhere.pk},
        format="json",
    )
    assert response.status_code == 400
    assert "in_reply_to" in response.json()["errors"]


@pytest.mark.django_db
def test_the_list_reads_a_fixed_number_of_queries_whatever_the_page_size(
    api_for, channel, agent, lead, django_assert_max_num_queries
):
    client = api_for(agent)
    tags = [Tag.objects.create(name=name, color="#336699") for name in ("Rechnung", "Lob")]
    for _ in range(3):
        factories.make_conversation(channel, assignee=lead).tags.set(tags)
    client.get(LIST, {"page_size": 3})  # warm: the token's last use is written once a minute
    with django_assert_max_num_queries(12) as few:
        assert len(ids(client.get(LIST, {"page_size": 3}))) == 3
    for _ in range(12):
        factories.make_conversation(channel, assignee=lead).tags.set(tags)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert len(ids(client.get(LIST, {"page_size": 15}))) == 15


@pytest.mark.django_db
@pytest.mark.parametrize("sort", ["waiting", "sla"])
def test_ascending_orders_page_through_rows_without_a_value_too(api_for, channel, agent, sort):
    soon = timezone.now() + timedelta(hours=1)
    rows = [
        factories.make_conversation(channel, sla_due_at=soon if i % 2 else None, waiting_since=None)
        for i in range(5)
    ]
    client = api_for(agent)
    seen, cursor = [], ""
    while True:
        params = {"queue": "all", "status": "any", "page_size": 2, "sort": sort}
        response = client.get(LIST, {**params, "cursor": cursor} if cursor else params)
        seen += ids(response)
        cursor = response.json()["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == sorted(c.pk for c in rows) and len(seen) == len(set(seen))
