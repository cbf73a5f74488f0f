"""Four-eyes approval: who waits for it, that nothing awaiting it reaches the platform, and
approve, edit and approve, reject, as leads do it and as nobody else may."""

import threading
from datetime import timedelta

import pytest
from django.db import close_old_connections, connection
from django.urls import reverse

from channels_integrations import outbox
from channels_integrations.polling import poll_channel
from inbox import actions, approval
from inbox.access import AccessDenied
from inbox.models import (
    ConversationEvent,
    Direction,
    EventKind,
    Membership,
    MembershipRole,
    Message,
    Notification,
    NotificationKind,
    OutboundAction,
    OutboundState,
)
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def deliveries(monkeypatch):
    """Outbox ids handed to the delivery task (recorded, not sent to a broker)."""
    handed: list[int] = []
    monkeypatch.setattr("channels_integrations.tasks.deliver_outbound_action.delay", handed.append)
    return handed


@pytest.fixture
def lead(department):
    user = factories.make_user("lena", first_name="Lena", last_name="Lead")
    factories.add_member(user, department, role=MembershipRole.LEAD)
    return user


@pytest.fixture
def colleague(department):
    user = factories.make_user("jo", first_name="Jo", last_name="Colleague")
    factories.add_member(user, department)
    return user


@pytest.fixture
def observer(department):
    user = factories.make_user("olga")
    factories.add_member(user, department, role=MembershipRole.OBSERVER)
    return user


@pytest.fixture
def supervised(agent, department):
    """Kim's replies in Community need a lead's approval."""
    Membership.objects.filter(user=agent, department=department).update(requires_approval=True)
    return agent


def a_mention(channel, fake, text="Wo ist meine Bestellung?"):
    channel.cursor = {"min_id": "0"}
    channel.save(update_fields=["cursor"])
    notification = fake.add_mention(text)
    poll_channel(channel.pk)
    return Message.objects.get(external_id=notification["status"]["id"]).conversation


def held_reply(user, conversation, text="Wir kümmern uns!"):
    action = actions.queue_reply(user=user, conversation=conversation, text=text)
    assert action.state == OutboundState.AWAITING_APPROVAL
    return action


def test_it_asks_approval_of_the_members_marked_for_it_only(
    supervised, colleague, lead, admin_user, channel, fake_mastodon
):
    conversation = a_mention(channel, fake_mastodon)
    assert approval.reply_needs_approval(supervised, conversation)
    assert not approval.reply_needs_approval(colleague, conversation)
    assert not approval.reply_needs_approval(lead, conversation)
    assert not approval.reply_needs_approval(admin_user, conversation)


def test_a_channel_that_requires_approval_holds_its_agents_replies_not_its_leads(
    agent, lead, admin_user, channel, fake_mastodon
):
    conversation = a_mention(channel, fake_mastodon)
    channel.requires_approval = True
    channel.save(update_fields=["requires_approval"])
    conversation.refresh_from_db()
    assert approval.reply_needs_approval(agent, conversation)
    assert not approval.reply_needs_approval(lead, conversation)
    assert not approval.reply_needs_approval(admin_user, conversation)


def test_a_department_that_requires_approval_holds_its_agents_replies(
    agent, lead, department, other_department, channel, fake_mastodon
):
    conversation = a_mention(channel, fake_mastodon)
    other_department.requires_approval = True
    other_department.save()
    # A department that does not own the channel has no say over its replies.
    assert not approval.reply_needs_approval(agent, conversation)
    department.requires_approval = True
    department.save()
    assert approval.reply_needs_approval(agent, conversation)
    assert not approval.reply_needs_approval(lead, conversation)


def test_an_awaiting_reply_never_reaches_the_platform(
    supervised,
    lead,
    colleague,
    channel,
    fake_mastodon,
    deliveries,
    live_events,
    django_capture_on_commit_callbacks,
):
    conversation = a_mention(channel, fake_mastodon)
    with django_capture_on_commit_callbacks(execute=True):
        action = held_reply(supervised, conversation)

    assert deliveries == []  # nothing was handed to the delivery worker
    assert outbox.deliver(action.pk) is None  # and the worker itself refuses it
    actions.requeue_stalled_actions(older_than=timedelta(0))
    assert deliveries == []
    assert fake_mastodon.received_statuses() == []
    action.refresh_from_db()
    assert action.state == OutboundState.AWAITING_APPROVAL and action.attempts == 0
    assert action.message.external_id is None

    conversation.refresh_from_db()
    assert conversation.awaiting_approval
    # The list does not claim that the customer got an answer, nor does the SLA clock.
    assert conversation.last_message_direction == Direction.INBOUND
    assert conversation.first_response_at is None
    event = ConversationEvent.objects.get(kind=EventKind.APPROVAL_REQUESTED)
    assert event.actor == supervised and event.data["action_id"] == action.pk
    assert not ConversationEvent.objects.filter(kind=EventKind.REPLY_QUEUED).exists()
    told = Notification.objects.filter(kind=NotificationKind.APPROVAL_REQUESTED)
    assert [n.user for n in told] == [lead]
    changed = [p for _, p in live_events if p["type"] == "conversation.changed"]
    assert changed[-1]["facts"]["awaiting_approval"] is True
    assert changed[-1]["was"]["awaiting_approval"] is False


def test_the_thread_shows_a_draft_as_awaiting_approval_not_as_sending(
    client, supervised, lead, channel, fake_mastodon
):
    conversation = a_mention(channel, fake_mastodon)
    client.force_login(supervised)
    response = client.post(
        reverse("inbox:reply", args=[conversation.pk]),
        {"text": "Wir melden uns!"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "Awaiting approval" in html and "Sending" not in html
    action = OutboundAction.objects.get()
    assert action.state == OutboundState.AWAITING_APPROVAL
    # The author gets no review controls, only the reason.
    controls = client.get(reverse("inbox:review_reply", args=[action.pk]), HTTP_HX_REQUEST="true")
    assert controls.status_code == 200 and "Approve" not in controls.content.decode()
    client.force_login(lead)
    controls = client.get(reverse("inbox:review_reply", args=[action.pk]), HTTP_HX_REQUEST="true")
    assert "Approve and send" in controls.content.decode()
    assert "Reject reply" in controls.content.decode()


def test_approving_delivers_the_reply_and_records_the_approver(
    supervised,
    lead,
    channel,
    fake_mastodon,
    deliveries,
    live_events,
    django_capture_on_commit_callbacks,
):
    conversation = a_mention(channel, fake_mastodon)
    action = held_reply(supervised, conversation, text="Wir kümmern uns!")

    with django_capture_on_commit_callbacks(execute=True):
        approval.approve_reply(user=lead, action=action)
    assert deliveries == [action.pk]
    with pytest.raises(approval.AlreadyReviewed):
        approval.approve_reply(user=lead, action=action)

    outbox.deliver(action.pk)
    [status] = fake_mastodon.received_statuses()
    assert "Wir kümmern uns!" in status["status"]
    action.refresh_from_db()
    assert action.state == OutboundState.SENT
    assert action.approver == lead and action.reviewed_at is not None
    assert action.original_text == ""
    conversation.refresh_from_db()
    assert not conversation.awaiting_approval
    assert conversation.last_message_direction == Direction.OUTBOUND
    assert conversation.first_response_at is not None
    event = ConversationEvent.objects.get(kind=EventKind.REPLY_APPROVED)
    assert event.actor == lead and event.data["edited"] is False
    reviewed = Notification.objects.get(kind=NotificationKind.REPLY_REVIEWED)
    assert reviewed.user == supervised and "approved" in reviewed.text
    changed = [p for _, p in live_events if p["type"] == "conversation.changed"]
    assert changed[-1]["was"] == {"awaiting_approval": True}


def test_edit_and_approve_sends_the_edited_text_and_keeps_the_agents(
    client,
    supervised,
    lead,
    channel,
    fake_mastodon,
    deliveries,
    django_capture_on_commit_callbacks,
):
    conversation = a_mention(channel, fake_mastodon)
    action = held_reply(supervised, conversation, text="Das ist nicht unser Problem.")
    client.force_login(lead)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("inbox:approve_reply", args=[action.pk]),
            {"text": "Das klären wir gern für Sie."},
            HTTP_HX_REQUEST="true",
        )
    assert response.status_code == 200
    assert f'id="msg-{action.message_id}"' in response.content.decode()
    assert deliveries == [action.pk]

    outbox.deliver(action.pk)
    [status] = fake_mastodon.received_statuses()
    assert "Das klären wir gern für Sie." in status["status"]
    assert "nicht unser Problem" not in status["status"]
    action.refresh_from_db()
    assert action.original_text == "Das ist nicht unser Problem."
    assert action.message.text == "Das klären wir gern für Sie."
    event = ConversationEvent.objects.get(kind=EventKind.REPLY_APPROVED)
    assert event.data["edited"] is True


def test_rejecting_needs_a_note_which_the_author_is_told_and_sees_in_the_thread(
    client,
    supervised,
    lead,
    channel,
    fake_mastodon,
    deliveries,
    django_capture_on_commit_callbacks,
):
    conversation = a_mention(channel, fake_mastodon)
    action = held_reply(supervised, conversation)
    client.force_login(lead)
    url = reverse("inbox:reject_reply", args=[action.pk])
    assert client.post(url, {"note": "  "}, HTTP_HX_REQUEST="true").status_code == 422
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            url, {"note": "Bitte <b>siezen</b> und die Hotline nennen."}, HTTP_HX_REQUEST="true"
        )
    assert response.status_code == 200
    assert deliveries == []
    assert outbox.deliver(action.pk) is None and fake_mastodon.received_statuses() == []
    action.refresh_from_db()
    assert action.state == OutboundState.REJECTED and action.approver == lead
    assert action.review_note == "Bitte <b>siezen</b> und die Hotline nennen."
    conversation.refresh_from_db()
    assert not conversation.awaiting_approval
    event = ConversationEvent.objects.get(kind=EventKind.REPLY_REJECTED)
    assert event.actor == lead and event.data["note"] == action.review_note
    told = Notification.objects.get(kind=NotificationKind.REPLY_REVIEWED)
    assert told.user == supervised and "Hotline" in told.text

    client.force_login(supervised)
    page = client.get(reverse("inbox:conversation", args=[conversation.pk])).content.decode()
    assert "Rejected by Lena Lead" in page
    assert "Bitte &lt;b&gt;siezen&lt;/b&gt; und die Hotline nennen." in page
    # The author writes a new reply, which waits for review in its turn.
    again = actions.queue_reply(user=supervised, conversation=conversation, text="Neu")
    assert again.state == OutboundState.AWAITING_APPROVAL


def test_the_waiting_mark_stays_while_any_draft_of_the_conversation_waits(
    supervised, lead, channel, fake_mastodon, deliveries
):
    conversation = a_mention(channel, fake_mastodon)
    first = held_reply(supervised, conversation, text="Eins")
    second = held_reply(supervised, conversation, text="Zwei")
    approval.approve_reply(user=lead, action=first)
    conversation.refresh_from_db()
    assert conversation.awaiting_approval
    approval.reject_reply(user=lead, action=second, note="Doppelt")
    conversation.refresh_from_db()
    assert not conversation.awaiting_approval


def test_agents_and_observers_may_not_review_and_other_departments_do_not_see_drafts(
    client, supervised, colleague, observer, outsider, other_department, channel, fake_mastodon
):
    other_lead = factories.make_user("otto")
    factories.add_member(other_lead, other_department, role=MembershipRole.LEAD)
    conversation = a_mention(channel, fake_mastodon)
    action = held_reply(supervised, conversation)
    approve_url = reverse("inbox:approve_reply", args=[action.pk])
    reject_url = reverse("inbox:reject_reply", args=[action.pk])
    review_url = reverse("inbox:review_reply", args=[action.pk])

    for user in (colleague, observer):
        client.force_login(user)
        assert client.post(approve_url).status_code == 403
        assert client.post(reject_url, {"note": "no"}).status_code == 403
        controls = client.get(review_url, HTTP_HX_REQUEST="true").content.decode()
        assert "<form" not in controls
    for user in (outsider, other_lead):
        client.force_login(user)
        assert client.post(approve_url).status_code == 404
        assert client.post(reject_url, {"note": "no"}).status_code == 404
        assert client.get(review_url).status_code == 404
        with pytest.raises(AccessDenied):
            approval.approve_reply(user=user, action=action)
    action.refresh_from_db()
    assert action.state == OutboundState.AWAITING_APPROVAL and action.approver is None
    assert not ConversationEvent.objects.filter(
        kind__in=[EventKind.REPLY_APPROVED, EventKind.REPLY_REJECTED]
    ).exists()


def test_nobody_reviews_their_own_reply(client, supervised, department, channel, fake_mastodon):
    conversation = a_mention(channel, fake_mastodon)
    action = held_reply(supervised, conversation)
    # Kim wrote the draft, then became a lead: still not the second pair of eyes on it.
    Membership.objects.filter(user=supervised, department=department).update(
        role=MembershipRole.LEAD
    )
    client.force_login(supervised)
    assert client.post(reverse("inbox:approve_reply", args=[action.pk])).status_code == 403
    with pytest.raises(approval.OwnReply):
        approval.reject_reply(user=supervised, action=action, note="meh")
    action.refresh_from_db()
    assert action.state == OutboundState.AWAITING_APPROVAL


@pytest.mark.django_db(transaction=True)
def test_of_two_leads_approving_at_once_exactly_one_decides(
    supervised, lead, department, channel, fake_mastodon, deliveries, live_events
):
    second_lead = factories.make_user("lars")
    factories.add_member(second_lead, department, role=MembershipRole.LEAD)
    conversation = a_mention(channel, fake_mastodon)
    action = held_reply(supervised, conversation)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def review(user):
        try:
            barrier.wait(10)
            approval.approve_reply(user=user, action=action)
            outcomes.append("approved")
        except approval.AlreadyReviewed:
            outcomes.append("refused")
        except Exception as exc:
            outcomes.append(repr(exc))
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=review, args=(user,)) for user in (lead, second_lead)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert sorted(outcomes) == ["approved", "refused"]
    assert deliveries == [action.pk]
    assert ConversationEvent.objects.filter(kind=EventKind.REPLY_APPROVED).count() == 1
