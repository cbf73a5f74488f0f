"""Conversation actions (assign, status and snooze, priority, tags, bulk) and the conversation
view (threads nested under their post, siblings of the same post, the timeline)."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone

from inbox import conversation_actions as conv
from inbox.actions import ActionRefused
from inbox.models import (
    Conversation,
    ConversationEvent,
    ConversationStatus,
    Direction,
    EventKind,
    Message,
    Notification,
    OutboundAction,
    Tag,
)
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def brand(department):
    return factories.make_mastodon_channel(department=department, name="Brand DE")


@pytest.fixture
def colleague(department):
    user = factories.make_user("jo", first_name="Jo", last_name="Colleague")
    factories.add_member(user, department)
    return user


def test_assigning_records_notifies_and_opens_a_new_conversation(client, agent, colleague, brand):
    conversation = factories.make_conversation(brand)
    client.force_login(agent)
    response = client.post(
        reverse("inbox:assign", args=[conversation.pk]),
        {"assignee": colleague.pk},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    assert "Jo Colleague" in response.content.decode()  # the header shows the new assignee
    conversation.refresh_from_db()
    assert conversation.assignee == colleague and conversation.status == ConversationStatus.OPEN
    event = ConversationEvent.objects.get(conversation=conversation, kind=EventKind.ASSIGNED)
    assert event.actor == agent and event.data["after"]["assignee"] == colleague.pk
    assert Notification.objects.filter(user=colleague, kind="assigned").count() == 1


def test_nobody_is_assigned_work_they_cannot_see(client, agent, outsider, brand):
    conversation = factories.make_conversation(brand)
    client.force_login(agent)
    response = client.post(
        reverse("inbox:assign", args=[conversation.pk]), {"assignee": outsider.pk}
    )
    assert response.status_code == 409
    assert "cannot see" in response.content.decode()
    conversation.refresh_from_db()
    assert conversation.assignee is None
    assert not ConversationEvent.objects.filter(kind=EventKind.ASSIGNED).exists()


def test_outsiders_cannot_act_on_conversations_they_cannot_see(client, outsider, agent, brand):
    conversation = factories.make_conversation(brand)
    client.force_login(outsider)
    for name, data in (
        ("inbox:assign", {"assignee": outsider.pk}),
        ("inbox:status", {"status": "resolved"}),
        ("inbox:priority", {"priority": "3"}),
        ("inbox:tags", {"add": "x"}),
    ):
        assert client.post(reverse(name, args=[conversation.pk]), data).status_code == 404
    response = client.post(
        reverse("inbox:bulk"),
        {"ids": str(conversation.pk), "action": "status", "value": "resolved"},
    )
    # The same answer whether the ids exist or not: nothing here is the outsider's to change.
    assert response.status_code == 403
    conversation.refresh_from_db()
    assert conversation.status == ConversationStatus.NEW and conversation.priority == 1
    assert not conversation.tags.exists() and not ConversationEvent.objects.exists()


def test_snoozing_needs_a_future_time_and_wakes_up_as_open(client, agent, brand):
    conversation = factories.make_conversation(brand)
    client.force_login(agent)
    url = reverse("inbox:status", args=[conversation.pk])
    past = (timezone.localtime() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    assert client.post(url, {"status": "snoozed", "snoozed_until": past}).status_code == 409
    assert client.post(url, {"status": "snoozed"}).status_code == 409
    assert client.post(url, {"status": "snoozed", "snooze": "1h"}).status_code == 302
    conversation.refresh_from_db()
    assert conversation.status == ConversationStatus.SNOOZED
    assert conversation.snoozed_until > timezone.now() + timedelta(minutes=59)

    assert conv.wake_snoozed_conversations() == 0  # not yet
    assert conv.wake_snoozed_conversations(now=timezone.now() + timedelta(hours=2)) == 1
    conversation.refresh_from_db()
    assert conversation.status == ConversationStatus.OPEN and conversation.snoozed_until is None
    kinds = list(
        ConversationEvent.objects.filter(conversation=conversation).values_list("data", flat=True)
    )
    assert kinds[-1]["reason"] == "snooze ended"


@pytest.mark.parametrize(
    ("now", "preset", "expected"),
    [
        # Friday evening in Berlin: "tomorrow" is Saturday 9:00, "monday" the next Monday.
        (datetime(2026, 11, 20, 18, 30, tzinfo=UTC), "tomorrow", "2026-11-21 09:00+01:00"),
        (datetime(2026, 11, 20, 18, 30, tzinfo=UTC), "monday", "2026-11-23 09:00+01:00"),
        # On a Monday, "monday" means a week later, not this morning.
        (datetime(2026, 11, 23, 7, 0, tzinfo=UTC), "monday", "2026-11-30 09:00+01:00"),
        # Across the change to summer time the morning is still 9:00 local.
        (datetime(2026, 3, 28, 12, 0, tzinfo=UTC), "tomorrow", "2026-03-29 09:00+02:00"),
    ],
)
def test_snooze_presets_mean_local_mornings(now, preset, expected):
    until = conv.snooze_until(preset, now=now, zone=ZoneInfo("Europe/Berlin"))
    assert until.isoformat(sep=" ", timespec="minutes") == expected


def test_priority_and_tags_change_with_a_timeline_entry(client, agent, brand):
    conversation = factories.make_conversation(brand)
    client.force_login(agent)
    client.post(reverse("inbox:priority", args=[conversation.pk]), {"priority": "3"})
    client.post(reverse("inbox:tags", args=[conversation.pk]), {"add": "Billing, press"})
    client.post(reverse("inbox:tags", args=[conversation.pk]), {"add": "billing"})  # same tag
    conversation.refresh_from_db()
    assert conversation.priority == 3
    assert sorted(t.name for t in conversation.tags.all()) == ["Billing", "press"]
    assert Tag.objects.count() == 2
    press = Tag.objects.get(name="press")
    client.post(reverse("inbox:tags", args=[conversation.pk]), {"remove": press.pk})
    assert [t.name for t in conversation.tags.all()] == ["Billing"]
    assert (
        client.post(
            reverse("inbox:priority", args=[conversation.pk]), {"priority": "7"}
        ).status_code
        == 422
    )

    html = client.get(reverse("inbox:conversation", args=[conversation.pk])).content.decode()
    assert "Priority Normal → Urgent" in html
    assert "Tags: added Billing, press" in html and "Tags: removed press" in html


def test_bulk_actions_apply_to_the_visible_selection(
    client, agent, colleague, brand, other_department
):
    mine = [factories.make_conversation(brand, text=f"q{n}") for n in range(3)]
    hidden_channel = factories.make_mastodon_channel(department=other_department)
    elsewhere = factories.make_conversation(hidden_channel)
    ids = ",".join(str(c.pk) for c in [*mine, elsewhere])
    client.force_login(agent)

    response = client.post(
        reverse("inbox:bulk"),
        {"ids": ids, "action": "assign", "value": str(colleague.pk)},
        HTTP_HX_REQUEST="true",
    )
    assert "Assigned 3 conversations" in response.content.decode()
    client.post(reverse("inbox:bulk"), {"ids": ids, "action": "tag", "value": "campaign"})
    client.post(reverse("inbox:bulk"), {"ids": ids, "action": "status", "value": "resolved"})
    for conversation in mine:
        conversation.refresh_from_db()
        assert conversation.assignee == colleague
        assert conversation.status == ConversationStatus.RESOLVED
        assert [t.name for t in conversation.tags.all()] == ["campaign"]
    elsewhere.refresh_from_db()
    assert elsewhere.assignee is None and elsewhere.status == ConversationStatus.NEW

    bad = client.post(
        reverse("inbox:bulk"),
        {"ids": "", "action": "status", "value": "resolved"},
        HTTP_HX_REQUEST="true",
    )
    assert bad.status_code == 422 and "Select at least one" in bad.content.decode()
    wrong = client.post(
        reverse("inbox:bulk"),
        {"ids": ids, "action": "status", "value": "gone"},
        HTTP_HX_REQUEST="true",
    )
    assert wrong.status_code == 422


def test_bulk_hide_queues_one_hide_per_visible_item_where_the_platform_allows(
    client, agent, department
):
    # Mastodon cannot hide replies to us: nothing is queued and the reason is told.
    brand = factories.make_mastodon_channel(department=department)
    conversation = factories.make_conversation(brand)
    client.force_login(agent)
    response = client.post(
        reverse("inbox:bulk"),
        {"ids": str(conversation.pk), "action": "hide"},
        HTTP_HX_REQUEST="true",
    )
    assert "Hiding 0 items" in response.content.decode()
    assert not OutboundAction.objects.exists()


def _comment(conversation, external_id, parent, minutes, text):
    return Message.objects.create(
        conversation=conversation,
        channel_account=conversation.channel_account,
        external_id=external_id,
        parent_external_id=parent,
        direction=Direction.INBOUND,
        contact=conversation.contact,
        text=text,
        sent_at=timezone.now() - timedelta(minutes=minutes),
    )


def test_a_comment_thread_nests_replies_under_what_they_answer(client, agent, brand):
    conversation = factories.make_conversation(brand, text="root")
    Conversation.objects.filter(pk=conversation.pk).update(kind="comment")
    root = conversation.messages.get()
    root.sent_at = timezone.now() - timedelta(minutes=60)
    root.save()
    _comment(conversation, "b", root.external_id, 50, "first answer")
    _comment(conversation, "c", root.external_id, 40, "second answer")
    _comment(conversation, "d", "b", 30, "answer to the first answer")
    client.force_login(agent)
    html = client.get(reverse("inbox:conversation", args=[conversation.pk])).content.decode()
    order = [html.index(text) for text in ("first answer", "answer to the first", "second answer")]
    assert order == sorted(order)  # the reply to "b" comes under "b", before the later "c"
    assert 'depth-2"' in html.split("answer to the first answer")[0].rsplit("<li", 1)[1]


def test_a_conversation_links_every_other_conversation_under_the_same_post(client, agent, brand):
    post = {"post_external_id": "post-1", "post_text": "Our new shop opens!"}
    one = factories.make_conversation(brand, author="Anna", **post)
    other = factories.make_conversation(brand, author="Ben", **post)
    factories.make_conversation(brand, author="Carla")
    client.force_login(agent)
    html = client.get(reverse("inbox:conversation", args=[one.pk])).content.decode()
    assert "Our new shop opens!" in html
    siblings = html.split('class="siblings"')[1].split("</div>")[0]
    assert reverse("inbox:conversation", args=[other.pk]) in siblings and "Carla" not in siblings
    assert f"post={brand.pk}%3Apost-1" in html
    listed = client.get(reverse("inbox:list"), {"post": f"{brand.pk}:post-1", "status": "any"})
    assert "Anna" in listed.content.decode() and "Carla" not in listed.content.decode()


def test_the_post_text_and_links_are_escaped_and_unsafe_links_dropped(client, agent, brand):
    conversation = factories.make_conversation(
        brand,
        post_external_id="p",
        post_text="<script>alert(1)</script>",
        post_permalink="javascript:alert(1)",
    )
    client.force_login(agent)
    html = client.get(reverse("inbox:conversation", args=[conversation.pk])).content.decode()
    assert "<script>alert(1)" not in html and "&lt;script&gt;" in html
    assert 'href="javascript:' not in html


def test_the_timeline_names_who_did_what(client, agent, colleague, brand):
    conversation = factories.make_conversation(brand)
    conv.assign_conversations(user=agent, conversation_ids=[conversation.pk], assignee=colleague)
    conv.set_status(user=colleague, conversation_ids=[conversation.pk], status="pending")
    client.force_login(agent)
    html = client.get(reverse("inbox:conversation", args=[conversation.pk])).content.decode()
    timeline = html.split('class="timeline-list"')[1]
    assert "Assigned to Jo Colleague" in timeline and "Status open → pending" in timeline
    assert timeline.index("Status open") < timeline.index("Assigned to")  # newest first


def test_set_status_refuses_unknown_statuses(agent, brand):
    conversation = factories.make_conversation(brand)
    with pytest.raises(ActionRefused):
        conv.set_status(user=agent, conversation_ids=[conversation.pk], status="archived")
