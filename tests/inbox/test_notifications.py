"""The notification centre: who is told what, when it may pop up or ring, and its pages."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time
from typing import Any

import pytest
from django.urls import reverse

from channels_integrations.base import FetchedPage, InboundAuthor, InboundItem
from inbox import notifications
from inbox.access import visible_channel_ids_by_user
from inbox.actions import claim_outbound_action, mark_outbound_failed, queue_reply
from inbox.ingest import ingest_page
from inbox.live import user_group
from inbox.models import (
    AgentPreferences,
    MembershipRole,
    Notification,
    NotificationKind,
)
from tests import factories

pytestmark = pytest.mark.django_db

# A Monday in winter: Berlin is UTC+1, New York UTC-5.
MONDAY_NOON_UTC = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def prefs(**fields: Any) -> AgentPreferences:
    fields.setdefault("time_zone", "Europe/Berlin")
    return AgentPreferences(**fields)


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """A moment in January 2026 in UTC (5 January is a Monday)."""
    return datetime(2026, 1, day, hour, minute, tzinfo=UTC)


def set_preferences(user: Any, **fields: Any) -> AgentPreferences:
    found, _ = AgentPreferences.objects.update_or_create(user=user, defaults=fields)
    return found


def ingest_mention(channel: Any, external_id: str, text: str) -> None:
    channel.refresh_from_db()
    item = InboundItem(
        external_id=external_id,
        thread_key=external_id,
        kind="mention",
        author=InboundAuthor(external_id="jonas", display_name="Jonas"),
        text=text,
        created_at=MONDAY_NOON_UTC,
    )
    ingest_page(
        channel_account_id=channel.pk,
        expected_cursor=channel.cursor,
        page=FetchedPage(items=[item], cursor=dict(channel.cursor), caught_up=True),
    )


@pytest.fixture
def conversation(channel: Any) -> Any:
    return factories.make_conversation(channel, text="Wo bleibt meine Bestellung?", author="Jonas")


# Time rules (pure functions of the preferences and `now`).


def test_quiet_hours_that_run_past_midnight_hold_on_both_sides_of_it():
    quiet = prefs(quiet_from=time(22), quiet_until=time(7))
    # Berlin is UTC+1 in January.
    assert notifications.in_quiet_hours(quiet, at(5, 21, 30))  # 22:30 in Berlin
    assert notifications.in_quiet_hours(quiet, at(5, 3, 0))  # 04:00 in Berlin
    assert not notifications.in_quiet_hours(quiet, at(5, 6, 0))  # 07:00: over
    assert not notifications.in_quiet_hours(quiet, at(5, 20, 59))  # 21:59
    assert not notifications.in_quiet_hours(prefs(), at(5, 3, 0))


def test_working_hours_are_read_in_the_users_time_zone():
    office = {"working_days": [1, 2, 3, 4, 5], "working_from": time(9), "working_until": time(17)}
    berlin = prefs(**office)
    new_york = prefs(**office, time_zone="America/New_York")
    # Monday 12:00 UTC is 13:00 in Berlin and 07:00 in New York.
    assert notifications.in_working_hours(berlin, MONDAY_NOON_UTC)
    assert not notifications.in_working_hours(new_york, MONDAY_NOON_UTC)
    # Saturday is no working day anywhere.
    assert not notifications.in_working_hours(berlin, at(10, 12))


def test_a_night_shift_belongs_to_the_day_it_started_on():
    friday_nights = prefs(working_days=[5], working_from=time(22), working_until=time(6))
    assert notifications.in_working_hours(friday_nights, at(9, 22))  # Friday 23:00 Berlin
    assert notifications.in_working_hours(friday_nights, at(10, 2))  # Saturday 03:00 Berlin
    assert not notifications.in_working_hours(friday_nights, at(9, 2))  # Friday 03:00 Berlin


def test_no_working_days_means_no_fixed_working_hours_and_days_alone_mean_whole_days():
    assert notifications.in_working_hours(prefs(), at(10, 3))
    weekdays = prefs(working_days=[1, 2, 3, 4, 5])
    assert notifications.in_working_hours(weekdays, at(5, 23, 30))  # Tuesday 00:30 Berlin
    assert not notifications.in_working_hours(weekdays, at(10, 12))  # Saturday


def test_desktop_and_sound_only_for_chosen_kinds_inside_the_hours():
    chosen = prefs(
        desktop_kinds=[NotificationKind.ASSIGNED],
        sound=True,
        quiet_from=time(12),
        quiet_until=time(13),
    )
    noon_berlin = at(5, 11, 30)
    afternoon_berlin = at(5, 14)
    assert notifications.delivery_for(chosen, NotificationKind.ASSIGNED, afternoon_berlin) == (
        notifications.Delivery(desktop=True, sound=True)
    )
    assert notifications.delivery_for(chosen, NotificationKind.NEW_ITEM, afternoon_berlin) == (
        notifications.Delivery(desktop=False, sound=True)
    )
    assert notifications.delivery_for(chosen, NotificationKind.ASSIGNED, noon_berlin) == (
        notifications.Delivery(desktop=False, sound=False)
    )
    # Nothing pops up or rings by default.
    assert notifications.delivery_for(prefs(), NotificationKind.ASSIGNED, afternoon_berlin) == (
        notifications.Delivery(desktop=False, sound=False)
    )


def test_an_unknown_time_zone_falls_back_to_the_sites():
    assert str(notifications.user_zone(prefs(time_zone="Mars/Olympus"))) == "Europe/Berlin"


# Who is told.


def test_it_notifies_only_users_whose_preferences_include_the_kind(
    conversation, agent, department, admin_user
):
    colleague = factories.make_user("lea")
    factories.add_member(colleague, department)
    set_preferences(colleague, in_app_kinds=[NotificationKind.ASSIGNED])
    notifications.notify(
        users=[agent, colleague],
        kind=NotificationKind.MENTIONED,
        conversation=conversation,
        actor=admin_user,
        text="@kim @lea please look",
    )
    assert list(Notification.objects.values_list("user__username", "kind", "actor")) == [
        ("kim", "mentioned", admin_user.pk)
    ]


def test_it_never_notifies_the_actor(conversation, agent):
    notifications.notify(
        users=[agent],
        kind=NotificationKind.ASSIGNED,
        conversation=conversation,
        actor=agent,
        text="assigned to myself",
    )
    assert not Notification.objects.exists()


def test_it_never_notifies_someone_who_may_not_see_the_conversation(
    conversation, agent, outsider, admin_user
):
    notifications.notify(
        users=[agent, outsider, admin_user],
        kind=NotificationKind.MENTIONED,
        conversation=conversation,
        actor=None,
        text="look",
    )
    assert set(Notification.objects.values_list("user__username", flat=True)) == {"kim", "alex"}


def test_the_visibility_rule_matches_the_access_helper(
    channel, agent, outsider, admin_user, department
):
    from inbox.access import can_view_channel

    other = factories.make_mastodon_channel(department=factories.make_department("Press"))
    users = [agent, outsider]
    visible = visible_channel_ids_by_user({u.pk for u in users})
    for user in users:
        for ch in (channel, other):
            assert (ch.pk in visible.get(user.pk, set())) == can_view_channel(user, ch.pk)


def test_the_live_event_goes_to_the_users_own_group_after_commit(
    conversation, agent, admin_user, live_events, django_capture_on_commit_callbacks
):
    set_preferences(agent, desktop_kinds=[NotificationKind.ASSIGNED], sound=True)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        notifications.notify_assigned(conversation=conversation, assignee=agent, actor=admin_user)
        assert live_events == []  # nothing before commit
    for callback in callbacks:
        callback()
    notification = Notification.objects.get()
    [(group, event)] = [(g, e) for g, e in live_events if e["type"] == "notification"]
    assert group == user_group(agent.pk)
    assert event["id"] == notification.pk
    assert event["kind"] == "assigned"
    assert event["unread"] == 1
    assert event["desktop"] is True and event["sound"] is True
    assert event["title"] == "Assigned to me"
    assert "Jonas" in event["body"]
    assert event["url"] == reverse("inbox:conversation", args=[conversation.pk])
    assert f'data-notification-id="{notification.pk}"' in event["html"]
    assert "unread" in event["html"]


def test_notification_text_is_escaped_in_the_live_row(
    channel, agent, live_events, django_capture_on_commit_callbacks
):
    hostile = factories.make_conversation(channel, author="<img src=x onerror=alert(1)>")
    with django_capture_on_commit_callbacks(execute=True):
        notifications.notify_assigned(conversation=hostile, assignee=agent, actor=None)
    html = live_events[-1][1]["html"]
    assert "<img" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html


def test_new_items_reach_the_members_of_the_channels_departments(
    channel, agent, outsider, admin_user
):
    ingest_mention(channel, "m1", "Habt ihr heute offen?")
    [notification] = Notification.objects.all()
    assert notification.user == agent
    assert notification.kind == NotificationKind.NEW_ITEM
    assert "Habt ihr heute offen?" in notification.text


def test_a_routed_new_item_reaches_its_departments_members_who_may_see_it(
    channel, conversation, agent, department
):
    lead = factories.make_user("lea")
    factories.add_member(lead, department, role=MembershipRole.LEAD)
    press = factories.make_department("Press")
    blind = factories.make_user("pat")  # in Press only, which owns no channel
    factories.add_member(blind, press)
    press_agent = factories.make_user("pia")
    factories.add_member(press_agent, press)
    factories.add_member(press_agent, department)
    conversation.department = press
    conversation.save()
    notifications.notify_new_items(conversation_ids=[conversation.pk])
    assert set(Notification.objects.values_list("user__username", flat=True)) == {"pia"}


def test_new_items_cost_a_constant_number_of_queries(
    channel, agent, department, django_assert_max_num_queries, live_events
):
    for n in range(3):
        factories.add_member(factories.make_user(f"colleague{n}"), department)
    few = [factories.make_conversation(channel).pk for _ in range(2)]
    many = [factories.make_conversation(channel).pk for _ in range(40)]
    with django_assert_max_num_queries(7) as captured:
        notifications.notify_new_items(conversation_ids=few)
    small = len(captured.captured_queries)
    with django_assert_max_num_queries(small):
        notifications.notify_new_items(conversation_ids=many)
    assert Notification.objects.count() == 4 * 42


def test_new_items_nobody_is_told_about_cost_three_narrow_queries(
    django_assert_max_num_queries, live_events
):
    """Ingest calls notify_new_items for every page: a channel without members (or whose
    members are all inactive) costs no read of the conversations' rows."""
    lonely = factories.make_mastodon_channel()
    ids = [factories.make_conversation(lonely).pk for _ in range(20)]
    with django_assert_max_num_queries(3):
        notifications.notify_new_items(conversation_ids=ids)
    assert not Notification.objects.exists()


def test_one_page_of_new_items_pops_up_and_rings_once_per_user(
    channel, agent, live_events, django_capture_on_commit_callbacks
):
    set_preferences(agent, desktop_kinds=[NotificationKind.NEW_ITEM], sound=True)
    ids = [factories.make_conversation(channel).pk for _ in range(3)]
    with django_capture_on_commit_callbacks(execute=True):
        notifications.notify_new_items(conversation_ids=ids)
    events = [e for _, e in live_events if e["type"] == "notification"]
    assert len(events) == 3
    assert [e["desktop"] for e in events] == [False, False, True]
    assert [e["sound"] for e in events] == [False, False, True]
    assert "(and 2 more)" in events[-1]["body"]


def test_a_failed_send_notifies_its_author_with_the_platforms_reason(conversation, agent):
    action = queue_reply(user=agent, conversation=conversation, text="Danke für die Geduld!")
    claimed = claim_outbound_action(action.pk)
    assert claimed is not None
    mark_outbound_failed(claimed, reason="422: Validation failed: Text character limit")
    [notification] = Notification.objects.all()
    assert notification.user == agent
    assert notification.kind == NotificationKind.SEND_FAILED
    assert notification.conversation == conversation
    assert "Text character limit" in notification.text


def test_an_sla_warning_goes_to_the_assignee_else_the_departments_leads(
    conversation, agent, department
):
    lead = factories.make_user("lea")
    factories.add_member(lead, department, role=MembershipRole.LEAD)
    notifications.notify_sla_warning(conversation=conversation)
    assert list(Notification.objects.values_list("user__username", flat=True)) == ["lea"]
    conversation.assignee = agent
    conversation.save()
    Notification.objects.all().delete()
    notifications.notify_sla_warning(conversation=conversation)
    assert list(Notification.objects.values_list("user__username", "kind")) == [
        ("kim", "sla_warning")
    ]


def test_mark_read_marks_only_the_users_own_notifications(conversation, agent, admin_user):
    for user in (agent, agent, admin_user):
        notifications.notify(
            users=[user], kind=NotificationKind.MENTIONED, conversation=None, actor=None, text="x"
        )
    first, _second = Notification.objects.filter(user=agent)
    foreign = Notification.objects.get(user=admin_user)
    assert notifications.unread_count(agent) == 2
    assert notifications.mark_read(user=agent, ids=[first.pk, foreign.pk]) == 1
    assert notifications.unread_count(agent) == 1
    assert notifications.unread_count(admin_user) == 1
    assert notifications.mark_read(user=agent, ids=None) == 1
    assert notifications.unread_count(agent) == 0


# Pages.


@pytest.mark.parametrize(
    ("method", "name"),
    [
        ("get", "inbox:notifications"),
        ("get", "inbox:notification_count"),
        ("post", "inbox:notifications_read"),
        ("get", "inbox:notification_preferences"),
        ("post", "inbox:notification_preferences"),
        ("post", "inbox:notification_test"),
    ],
)
def test_anonymous_users_are_sent_to_the_login_page(client, method, name):
    response = getattr(client, method)(reverse(name))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_the_list_shows_the_users_own_notifications_escaped(client, conversation, agent, outsider):
    notifications.notify(
        users=[agent],
        kind=NotificationKind.MENTIONED,
        conversation=conversation,
        actor=None,
        text="<script>alert(1)</script> mentioned you",
    )
    notifications.notify(
        users=[outsider], kind=NotificationKind.MENTIONED, conversation=None, actor=None, text="x"
    )
    client.force_login(agent)
    html = client.get(reverse("inbox:notifications")).content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt; mentioned you" in html
    assert "<script>alert(1)" not in html
    assert reverse("inbox:conversation", args=[conversation.pk]) in html
    panel = client.get(reverse("inbox:notifications"), headers={"HX-Request": "true"})
    assert panel.content.decode().count('class="notif-row') == 1


def test_marking_read_needs_a_post_and_updates_the_badge(client, agent):
    notifications.notify(
        users=[agent], kind=NotificationKind.MENTIONED, conversation=None, actor=None, text="x"
    )
    client.force_login(agent)
    assert client.get(reverse("inbox:notifications_read")).status_code == 405
    response = client.post(
        reverse("inbox:notifications_read"), {"place": "panel"}, headers={"HX-Request": "true"}
    )
    html = response.content.decode()
    assert 'id="notification-count"' in html and 'hx-swap-oob="true"' in html
    assert notifications.unread_count(agent) == 0


def test_the_bell_badge_shows_the_unread_count(client, agent):
    for _ in range(3):
        notifications.notify(
            users=[agent], kind=NotificationKind.MENTIONED, conversation=None, actor=None, text="x"
        )
    client.force_login(agent)
    html = client.get(reverse("inbox:notification_count")).content.decode()
    assert 'data-count="3"' in html and ">3</span>" in html
    assert 'id="notification-bell"' in client.get(reverse("inbox:list")).content.decode()


def test_the_context_processor_counts_lazily(rf, agent, django_assert_num_queries):
    from inbox.notification_views import notification_bell

    request = rf.get("/")
    request.user = agent
    with django_assert_num_queries(0):
        context = notification_bell(request)
    assert int(str(context["notification_unread"])) == 0


VALID = {
    "in_app_kinds": ["assigned", "mentioned", "send_failed"],
    "desktop_kinds": ["assigned"],
    "sound": "on",
    "quiet_from": "22:00",
    "quiet_until": "07:00",
    "working_days": ["1", "2", "3", "4", "5"],
    "working_from": "08:00",
    "working_until": "17:30",
    "time_zone": "Europe/Vienna",
}


def test_preferences_are_saved_for_the_signed_in_user(client, agent):
    client.force_login(agent)
    assert client.get(reverse("inbox:notification_preferences")).status_code == 200
    response = client.post(reverse("inbox:notification_preferences"), VALID)
    assert response.status_code == 302
    saved = AgentPreferences.objects.get(user=agent)
    assert saved.in_app_kinds == ["assigned", "mentioned", "send_failed"]
    assert saved.desktop_kinds == ["assigned"]
    assert saved.sound is True
    assert (saved.quiet_from, saved.quiet_until) == (time(22), time(7))
    assert saved.working_days == [1, 2, 3, 4, 5]
    assert saved.time_zone == "Europe/Vienna"
    page = client.get(response["Location"]).content.decode()
    assert "Saved." in page and 'value="Europe/Vienna"' in page


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"time_zone": "Europe/Atlantis"}, "Unknown time zone"),
        ({"time_zone": "../../etc/passwd"}, "Unknown time zone"),
        ({"quiet_until": ""}, "Quiet hours need a start and an end."),
        ({"quiet_until": "22:00"}, "Quiet hours cannot start and end at the same time."),
        ({"working_days": []}, "Choose the days your working hours apply to."),
        ({"desktop_kinds": ["everything"]}, "Select a valid choice"),
        ({"working_from": "25:00"}, "Enter a valid time"),
    ],
)
def test_invalid_preferences_are_refused_with_the_reason(client, agent, changes, error):
    client.force_login(agent)
    response = client.post(reverse("inbox:notification_preferences"), {**VALID, **changes})
    assert response.status_code == 422
    assert error in response.content.decode()
    assert not AgentPreferences.objects.filter(user=agent).exists()


def test_the_test_notification_comes_back_as_an_htmx_event(client, agent):
    set_preferences(agent, sound=True)
    client.force_login(agent)
    response = client.post(reverse("inbox:notification_test"), headers={"HX-Request": "true"})
    assert response.status_code == 200
    event = json.loads(response["HX-Trigger"])["inbox:notification"]
    assert event["type"] == "notification" and event["desktop"] is True and event["sound"] is True
    assert not Notification.objects.exists()
