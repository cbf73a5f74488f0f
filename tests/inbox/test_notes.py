"""Internal notes: the note action, its live event, @mentions and their notifications."""

import pytest
from django.urls import reverse

from inbox import notes
from inbox.access import AccessDenied
from inbox.actions import ActionRefused
from inbox.live import channel_group
from inbox.models import ConversationEvent, EventKind, Note, Notification, NotificationKind
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def conversation(channel):
    return factories.make_conversation(channel, text="Where is my parcel?")


@pytest.fixture
def colleague(department):
    user = factories.make_user("lee", first_name="Lee", last_name="Park")
    factories.add_member(user, department)
    return user


def test_a_note_is_recorded_and_sent_live_to_the_channels_browsers(
    agent, conversation, live_events, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        note = notes.add_note(user=agent, conversation=conversation, text="Called the hotline")

    event = ConversationEvent.objects.get(kind=EventKind.NOTE_ADDED)
    assert event.data["note_id"] == note.pk and event.actor == agent
    published = [(g, p) for g, p in live_events if p["type"] == "note.changed"]
    assert len(published) == 1
    group, payload = published[0]
    assert group == channel_group(conversation.channel_account_id)
    assert payload["conversation_id"] == conversation.pk and payload["note_id"] == note.pk
    assert payload["html"].startswith(f'<li id="note-{note.pk}" class="note" data-version="')
    assert "Called the hotline" in payload["html"]


def test_a_rolled_back_note_sends_nothing(agent, conversation, live_events):
    from django.db import transaction

    class Abort(Exception):
        pass

    with pytest.raises(Abort), transaction.atomic():
        notes.add_note(user=agent, conversation=conversation, text="never")
        raise Abort
    assert live_events == [] and not Note.objects.exists()


def test_mentions_notify_only_active_colleagues_who_may_see_the_conversation(
    agent, colleague, outsider, admin_user, conversation, django_capture_on_commit_callbacks
):
    factories.make_user("gone", is_active=False)
    with django_capture_on_commit_callbacks(execute=True):
        note = notes.add_note(
            user=agent,
            conversation=conversation,
            text="@Lee please check, @sam too, @alex. Ask @gone and @nobody; mail x@lee.de @kim",
        )

    assert set(note.mentions.all()) == {colleague, admin_user, agent}
    notified = Notification.objects.filter(kind=NotificationKind.MENTIONED)
    # Not the outsider (cannot see it), not the inactive user, not the author.
    assert set(notified.values_list("user__username", flat=True)) == {"lee", "alex"}
    assert all(n.conversation_id == conversation.pk and n.actor_id == agent.pk for n in notified)


def test_a_notes_text_is_escaped_and_only_real_mentions_are_highlighted(
    client, agent, colleague, conversation
):
    client.force_login(agent)
    response = client.post(
        reverse("inbox:note", args=[conversation.pk]),
        {"text": "<img src=x onerror=alert(1)> @lee and @nobody\nline two"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "<img" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert '<span class="mention">@lee</span>' in html
    assert "@nobody" in html and '<span class="mention">@nobody' not in html
    assert "<br>line two" in html


def test_an_outsider_cannot_add_a_note(client, outsider, conversation):
    client.force_login(outsider)
    response = client.post(reverse("inbox:note", args=[conversation.pk]), {"text": "hi"})
    assert response.status_code == 404
    with pytest.raises(AccessDenied):
        notes.add_note(user=outsider, conversation=conversation, text="hi")
    assert not Note.objects.exists()


def test_an_empty_note_is_refused(client, agent, conversation):
    client.force_login(agent)
    response = client.post(
        reverse("inbox:note", args=[conversation.pk]), {"text": "   "}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 422
    with pytest.raises(ActionRefused):
        notes.add_note(user=agent, conversation=conversation, text=" ")
    assert not Note.objects.exists()
