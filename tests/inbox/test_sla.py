"""SLA timers (inbox.sla): policy choice, the default 24 hours, business-hour targets, next
response, pausing, and the minute check that warns once and records each breach once."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection, transaction

from inbox import sla, sla_checks
from inbox.models import (
    Conversation,
    ConversationEvent,
    ConversationStatus,
    DepartmentHoliday,
    DepartmentHours,
    EventKind,
    MembershipRole,
    Notification,
    NotificationKind,
    Priority,
    SlaBreach,
    SlaKind,
    SlaPolicy,
)
from tests import factories

pytestmark = pytest.mark.django_db

BERLIN = ZoneInfo("Europe/Berlin")
# Friday 14 June 2024, 18:30 in Berlin (UTC+2): the office closed at 17:00.
FRIDAY_EVENING = datetime(2024, 6, 14, 18, 30, tzinfo=BERLIN)
MONDAY_MORNING = datetime(2024, 6, 17, 9, 0, tzinfo=BERLIN)


@pytest.fixture
def brand(department):
    return factories.make_mastodon_channel(department=department, name="Brand DE")


@pytest.fixture
def lead(department):
    user = factories.make_user("lee", first_name="Lee", last_name="Lead")
    factories.add_member(user, department, role=MembershipRole.LEAD)
    return user


@pytest.fixture
def office_hours(department):
    """Monday to Friday, 9:00 to 17:00, Berlin time."""
    department.time_zone = "Europe/Berlin"
    department.save()
    for weekday in range(1, 6):
        DepartmentHours.objects.create(
            department=department, weekday=weekday, opens=time(9), closes=time(17)
        )
    return department


def make_policy(**fields: Any) -> SlaPolicy:
    channels = fields.pop("channels", [])
    departments = fields.pop("departments", [])
    fields.setdefault("name", f"Policy {SlaPolicy.objects.count() + 1}")
    policy = SlaPolicy.objects.create(**fields)
    policy.channel_accounts.set(channels)
    policy.departments.set(departments)
    return policy


def started(book: sla.SlaBook, conversation: Conversation, at: datetime) -> Conversation:
    """Start the timers as ingest does, and save them."""
    changed = book.start(conversation, at)
    conversation.save(update_fields=[*changed, "updated_at"])
    return conversation


# Choosing a policy.


def test_it_chooses_the_first_policy_by_position_whose_lists_all_match(
    brand, department, other_department
):
    other_channel = factories.make_mastodon_channel(department=other_department)
    urgent_here = make_policy(
        name="urgent here", position=1, priorities=[Priority.URGENT], channels=[brand]
    )
    sales = make_policy(name="sales", position=2, departments=[other_department])
    make_policy(name="disabled", position=0, enabled=False)
    anything = make_policy(name="anything", position=3)
    book = sla.SlaBook.load()

    urgent = Conversation(channel_account=brand, priority=Priority.URGENT)
    normal = Conversation(channel_account=brand, priority=Priority.NORMAL)
    routed = Conversation(channel_account=brand, department=other_department)
    unrouted_sales = Conversation(channel_account=other_channel, priority=Priority.URGENT)
    assert book.policy_for(urgent) == urgent_here
    assert book.policy_for(normal) == anything
    assert book.policy_for(routed) == sales
    # Without a department, the department owning the channel decides.
    assert book.policy_for(unrouted_sales) == sales


def test_no_matching_policy_means_the_default_24_hours(brand):
    make_policy(name="only urgent", priorities=["3"])  # numbers as text, as a form sends them
    book = sla.SlaBook.load()
    conversation = factories.make_conversation(brand)
    at = datetime(2024, 6, 14, 18, 30, tzinfo=UTC)
    changed = book.start(conversation, at)
    assert conversation.sla_policy_id is None
    assert conversation.first_response_due_at == at + timedelta(hours=24)
    assert conversation.sla_due_at == at + timedelta(hours=24)
    assert conversation.next_response_due_at is None and conversation.resolution_due_at is None
    assert {"first_response_due_at", "sla_due_at"} <= changed


def test_loading_the_book_costs_a_fixed_number_of_queries(
    brand, office_hours, other_department, django_assert_num_queries
):
    for n in range(5):
        make_policy(name=f"p{n}", channels=[brand], departments=[office_hours], priorities=[n])
    DepartmentHoliday.objects.create(department=office_hours, date=date(2024, 12, 25))
    with django_assert_num_queries(7):
        book = sla.SlaBook.load()
    # In-memory updates of a page of new conversations: no query at all.
    conversations = [
        Conversation(channel_account=brand, priority=Priority.NORMAL, status="new")
        for _ in range(50)
    ]
    with django_assert_num_queries(0):
        for conversation in conversations:
            book.start(conversation, FRIDAY_EVENING)
            book.on_status(conversation, "new", "pending", FRIDAY_EVENING)
    assert all(c.sla_policy_id is not None for c in conversations)


# Business hours.


def test_a_business_hour_first_response_due_on_friday_evening_lands_on_monday(brand, office_hours):
    make_policy(name="office", first_response_minutes=120, business_hours=True)
    book = sla.SlaBook.load()
    conversation = factories.make_conversation(brand, department=office_hours)
    book.start(conversation, FRIDAY_EVENING)
    assert conversation.first_response_due_at == datetime(2024, 6, 17, 11, 0, tzinfo=BERLIN)
    assert conversation.sla_due_at == conversation.first_response_due_at


def test_a_calendar_hours_policy_ignores_the_office_hours(brand, office_hours):
    make_policy(name="calendar", first_response_minutes=120, business_hours=False)
    conversation = factories.make_conversation(brand, department=office_hours)
    sla.SlaBook.load().start(conversation, FRIDAY_EVENING)
    assert conversation.first_response_due_at == FRIDAY_EVENING + timedelta(hours=2)


def test_a_department_without_hours_counts_around_the_clock(brand, department):
    make_policy(name="office", first_response_minutes=120, business_hours=True)
    conversation = factories.make_conversation(brand)
    sla.SlaBook.load().start(conversation, FRIDAY_EVENING)
    assert conversation.first_response_due_at == FRIDAY_EVENING + timedelta(hours=2)


def test_an_unrouted_conversation_uses_the_calendar_of_its_channels_department(brand, office_hours):
    make_policy(name="office", first_response_minutes=60, business_hours=True)
    conversation = factories.make_conversation(brand)
    assert conversation.department_id is None
    sla.SlaBook.load().start(conversation, FRIDAY_EVENING)
    assert conversation.first_response_due_at == datetime(2024, 6, 17, 10, 0, tzinfo=BERLIN)


# Next response, replies, status changes.


def test_a_customer_message_after_our_answer_starts_the_next_response_target(brand):
    make_policy(name="p", first_response_minutes=60, next_response_minutes=30)
    book = sla.SlaBook.load()
    conversation = factories.make_conversation(brand)
    start = datetime(2024, 6, 17, 8, 0, tzinfo=UTC)
    book.start(conversation, start)
    # Before the first answer, a second message does not start another clock.
    assert book.on_inbound(conversation, start + timedelta(minutes=5)) == set()

    book.on_reply(conversation, start + timedelta(minutes=20))
    assert conversation.first_response_at == start + timedelta(minutes=20)
    assert conversation.first_response_due_at == start + timedelta(hours=1)  # kept as the record
    assert conversation.sla_due_at is None

    book.on_inbound(conversation, start + timedelta(hours=2))
    assert conversation.next_response_due_at == start + timedelta(hours=2, minutes=30)
    assert conversation.sla_due_at == conversation.next_response_due_at
    # The customer writes again: the clock still runs from their first unanswered word.
    assert book.on_inbound(conversation, start + timedelta(hours=2, minutes=10)) == set()

    book.on_reply(conversation, start + timedelta(hours=2, minutes=15))
    assert conversation.next_response_due_at is None and conversation.sla_due_at is None
    assert conversation.first_response_at == start + timedelta(minutes=20)
    assert book.missed == []


def test_pending_pauses_the_clocks_and_the_customers_answer_resumes_them(brand, office_hours):
    make_policy(
        name="p",
        first_response_minutes=240,
        resolution_minutes=16 * 60,
        business_hours=True,
        pause_when_pending=True,
    )
    book = sla.SlaBook.load()
    conversation = factories.make_conversation(brand)
    book.start(conversation, MONDAY_MORNING)  # first response 13:00, resolution Tue 17:00
    pause = datetime(2024, 6, 17, 10, 0, tzinfo=BERLIN)
    changed = book.on_status(conversation, "open", "pending", pause)
    assert conversation.first_response_due_at is None and conversation.sla_due_at is None
    assert conversation.sla_paused_at == pause
    assert conversation.sla_paused_remaining == {
        SlaKind.FIRST_RESPONSE: 3 * 3600.0,
        SlaKind.RESOLUTION: 15 * 3600.0,
    }
    assert {"sla_paused_at", "sla_paused_remaining", "sla_due_at"} <= changed
    # Resumed on Wednesday at 16:00: one office hour that day, the rest on Thursday.
    resume = datetime(2024, 6, 19, 16, 0, tzinfo=BERLIN)
    book.on_status(conversation, "pending", "open", resume)
    assert conversation.first_response_due_at == datetime(2024, 6, 20, 11, 0, tzinfo=BERLIN)
    assert conversation.resolution_due_at == datetime(2024, 6, 21, 15, 0, tzinfo=BERLIN)
    assert conversation.sla_due_at == conversation.first_response_due_at
    assert conversation.sla_paused_at is None and conversation.sla_paused_remaining == {}


def test_snoozing_keeps_the_clock_running_when_the_policy_says_so(brand):
    make_policy(
        name="p", first_response_minutes=60, pause_when_snoozed=False, pause_when_pending=True
    )
    book = sla.SlaBook.load()
    conversation = factories.make_conversation(brand)
    start = datetime(2024, 6, 17, 8, 0, tzinfo=UTC)
    book.start(conversation, start)
    assert book.on_status(conversation, "new", "snoozed", start + timedelta(minutes=5)) == set()
    assert conversation.sla_due_at == start + timedelta(hours=1)
    # From snoozed (running) into pending (paused) and back to snoozed (running again).
    book.on_status(conversation, "snoozed", "pending", start + timedelta(minutes=10))
    assert conversation.sla_due_at is None
    book.on_status(conversation, "pending", "snoozed", start + timedelta(minutes=40))
    assert conversation.sla_due_at == start + timedelta(minutes=90)


def test_an_overdue_target_is_not_paused(brand):
    make_policy(name="p", first_response_minutes=60)
    book = sla.SlaBook.load()
    conversation = factories.make_conversation(brand)
    start = datetime(2024, 6, 17, 8, 0, tzinfo=UTC)
    book.start(conversation, start)
    book.on_status(conversation, "open", "pending", start + timedelta(hours=2))
    assert conversation.sla_due_at == start + timedelta(hours=1)
    assert conversation.sla_paused_remaining == {}


def test_resolving_stops_every_clock_and_reopening_starts_the_resolution_again(brand):
    make_policy(name="p", first_response_minutes=60, resolution_minutes=480)
    book = sla.SlaBook.load()
    conversation = factories.make_conversation(brand)
    start = datetime(2024, 6, 17, 8, 0, tzinfo=UTC)
    book.start(conversation, start)
    book.on_reply(conversation, start + timedelta(minutes=10))
    book.on_status(conversation, "open", "resolved", start + timedelta(hours=1))
    assert conversation.resolution_due_at is None and conversation.sla_due_at is None
    assert conversation.first_response_due_at == start + timedelta(hours=1)  # the record stays

    reopened = start + timedelta(days=2)
    book.on_status(conversation, "resolved", "open", reopened)
    assert conversation.resolution_due_at == reopened + timedelta(hours=8)
    assert conversation.sla_due_at == conversation.resolution_due_at


def test_a_moved_deadline_may_be_warned_about_again(brand):
    book = sla.SlaBook()
    conversation = factories.make_conversation(brand)
    start = datetime(2024, 6, 17, 8, 0, tzinfo=UTC)
    book.start(conversation, start)
    conversation.sla_warned_at = start + timedelta(hours=23)
    changed = book.on_status(
        conversation, "open", "pending", start + timedelta(hours=23, minutes=30)
    )
    assert conversation.sla_warned_at is None and "sla_warned_at" in changed


def test_a_blocked_persons_conversation_arriving_ignored_gets_no_targets(brand):
    conversation = Conversation(channel_account=brand, status=ConversationStatus.IGNORED)
    sla.SlaBook().start(conversation, FRIDAY_EVENING)
    assert conversation.first_response_due_at is None and conversation.sla_due_at is None


def test_time_left_is_negative_when_overdue_and_none_when_nothing_is_due(brand):
    conversation = factories.make_conversation(brand)
    start = datetime(2024, 6, 17, 8, 0, tzinfo=UTC)
    sla.SlaBook().start(conversation, start)
    assert sla.time_left(conversation, start) == timedelta(hours=24)
    assert sla.time_left(conversation, start + timedelta(hours=25)) == timedelta(hours=-1)
    conversation.status = ConversationStatus.RESOLVED
    assert sla.time_left(conversation, start) is None


# The minute check.


@pytest.fixture
def due_soon(brand, agent, lead):
    """An assigned conversation whose first answer is due at 12:00 UTC on 17 June 2024."""
    make_policy(name="hour", first_response_minutes=60, warn_before_minutes=15)
    conversation = factories.make_conversation(brand, assignee=agent)
    return started(sla.SlaBook.load(), conversation, datetime(2024, 6, 17, 11, 0, tzinfo=UTC))


def notified(kind: str) -> list[str]:
    return sorted(Notification.objects.filter(kind=kind).values_list("user__username", flat=True))


def test_it_warns_assignee_and_lead_once_before_the_deadline(due_soon, live_events):
    with time_machine.travel(datetime(2024, 6, 17, 11, 40, tzinfo=UTC), tick=False):
        assert sla_checks.check_sla() == (0, 0)  # 20 minutes left: outside the 15-minute window
    with time_machine.travel(datetime(2024, 6, 17, 11, 46, tzinfo=UTC), tick=False):
        assert sla_checks.check_sla() == (1, 0)
        assert sla_checks.check_sla() == (0, 0)
    assert notified(NotificationKind.SLA_WARNING) == ["kim", "lee"]
    text = Notification.objects.filter(kind=NotificationKind.SLA_WARNING).first().text
    assert text.startswith("First response due")
    due_soon.refresh_from_db()
    assert due_soon.sla_warned_at == datetime(2024, 6, 17, 11, 46, tzinfo=UTC)


def test_it_records_a_breach_once_with_event_and_notice(
    due_soon, live_events, django_capture_on_commit_callbacks
):
    with (
        time_machine.travel(datetime(2024, 6, 17, 12, 1, tzinfo=UTC), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert sla_checks.check_sla() == (0, 1)  # past: no warning, the breach says it
    with time_machine.travel(datetime(2024, 6, 17, 12, 2, tzinfo=UTC), tick=False):
        assert sla_checks.check_sla() == (0, 0)
    with time_machine.travel(datetime(2024, 6, 17, 13, 0, tzinfo=UTC), tick=False):
        assert sla_checks.check_sla() == (0, 0)
    breach = SlaBreach.objects.get()
    assert breach.conversation_id == due_soon.pk and breach.kind == SlaKind.FIRST_RESPONSE
    assert breach.due_at == datetime(2024, 6, 17, 12, 0, tzinfo=UTC)
    assert breach.assignee == due_soon.assignee and breach.department_id is not None
    assert (
        ConversationEvent.objects.filter(conversation=due_soon, kind=EventKind.SLA_BREACHED).count()
        == 1
    )
    assert notified(NotificationKind.SLA_BREACH) == ["kim", "lee"]
    assert notified(NotificationKind.SLA_WARNING) == []
    # The list's row is pushed again, now overdue; the bell rings for the notice.
    changed = [p for _group, p in live_events if p.get("type") == "conversation.changed"]
    assert [p["conversation_id"] for p in changed] == [due_soon.pk]
    assert "overdue" in changed[0]["html"]
    assert any(p.get("kind") == NotificationKind.SLA_BREACH for _group, p in live_events)


def test_an_unassigned_conversation_warns_its_leads(brand, lead, live_events):
    conversation = started(
        sla.SlaBook(), factories.make_conversation(brand), datetime(2024, 6, 17, 11, 0, tzinfo=UTC)
    )
    sla_checks.check_sla(now=conversation.sla_due_at - timedelta(minutes=30))
    assert notified(NotificationKind.SLA_WARNING) == ["lee"]


def test_a_breach_stays_recorded_after_the_reply(due_soon, live_events):
    sla_checks.check_sla(now=datetime(2024, 6, 17, 12, 5, tzinfo=UTC))
    sla.record_reply_sla(conversation_id=due_soon.pk, at=datetime(2024, 6, 17, 12, 30, tzinfo=UTC))
    due_soon.refresh_from_db()
    assert due_soon.sla_due_at is None
    assert due_soon.first_response_at == datetime(2024, 6, 17, 12, 30, tzinfo=UTC)
    assert SlaBreach.objects.filter(conversation=due_soon).count() == 1
    assert sla_checks.check_sla(now=datetime(2024, 6, 17, 14, 0, tzinfo=UTC)) == (0, 0)


def test_a_late_reply_before_the_check_ran_still_records_the_breach(due_soon, live_events):
    late = datetime(2024, 6, 17, 12, 0, 30, tzinfo=UTC)
    sla.record_reply_sla(conversation_id=due_soon.pk, at=late)
    breach = SlaBreach.objects.get(conversation=due_soon)
    assert breach.kind == SlaKind.FIRST_RESPONSE and breach.breached_at == late
    assert ConversationEvent.objects.filter(kind=EventKind.SLA_BREACHED).count() == 1
    assert notified(NotificationKind.SLA_BREACH) == []  # the answer is already out
    # Idempotent: the same reply recorded again changes and records nothing.
    assert sla.record_reply_sla(conversation_id=due_soon.pk, at=late) == set()
    assert SlaBreach.objects.count() == 1


def test_a_reply_at_the_deadline_itself_is_in_time(due_soon, live_events):
    sla.record_reply_sla(conversation_id=due_soon.pk, at=due_soon.first_response_due_at)
    assert not SlaBreach.objects.exists()


def test_a_reply_in_time_records_nothing(due_soon, live_events):
    sla.record_reply_sla(conversation_id=due_soon.pk, at=datetime(2024, 6, 17, 11, 30, tzinfo=UTC))
    assert sla_checks.check_sla(now=datetime(2024, 6, 17, 13, 0, tzinfo=UTC)) == (0, 0)
    assert not SlaBreach.objects.exists()


def test_resolved_and_paused_conversations_are_not_checked(brand, agent, live_events):
    book = sla.SlaBook()
    start = datetime(2024, 6, 17, 8, 0, tzinfo=UTC)
    resolved = started(book, factories.make_conversation(brand, assignee=agent), start)
    pending = started(book, factories.make_conversation(brand, assignee=agent), start)
    for conversation, status in ((resolved, "resolved"), (pending, "pending")):
        changed = book.on_status(conversation, "new", status, start + timedelta(hours=1))
        conversation.status = status
        conversation.save(update_fields=[*changed, "status"])
    assert sla_checks.check_sla(now=start + timedelta(days=3)) == (0, 0)


def test_every_target_of_a_conversation_is_recorded(brand, agent, live_events):
    make_policy(name="p", first_response_minutes=60, resolution_minutes=90)
    conversation = started(
        sla.SlaBook.load(),
        factories.make_conversation(brand, assignee=agent),
        datetime(2024, 6, 17, 8, 0, tzinfo=UTC),
    )
    assert sla_checks.check_sla(now=datetime(2024, 6, 17, 10, 0, tzinfo=UTC)) == (0, 2)
    assert set(SlaBreach.objects.values_list("kind", flat=True)) == {
        SlaKind.FIRST_RESPONSE,
        SlaKind.RESOLUTION,
    }
    # One notice per missed target.
    assert Notification.objects.filter(kind=NotificationKind.SLA_BREACH, user=agent).count() == 2
    assert conversation.pk == SlaBreach.objects.first().conversation_id


def test_the_check_works_through_more_conversations_than_one_batch(
    brand, agent, monkeypatch, live_events
):
    monkeypatch.setattr(sla, "BATCH_SIZE", 3)
    book = sla.SlaBook()
    start = datetime(2024, 6, 17, 8, 0, tzinfo=UTC)
    for _ in range(7):
        started(book, factories.make_conversation(brand, assignee=agent), start)
    assert sla_checks.check_sla(now=start + timedelta(days=2)) == (0, 7)
    assert SlaBreach.objects.count() == 7


@pytest.mark.django_db(transaction=True)
def test_a_conversation_locked_by_another_run_is_skipped_not_notified_twice(brand, agent):
    conversation = started(
        sla.SlaBook(),
        factories.make_conversation(brand, assignee=agent),
        datetime(2024, 6, 17, 8, 0, tzinfo=UTC),
    )
    now = datetime(2024, 6, 18, 9, 0, tzinfo=UTC)
    locked, release = threading.Event(), threading.Event()

    def other_run() -> None:
        try:
            with transaction.atomic():
                Conversation.objects.select_for_update().get(pk=conversation.pk)
                locked.set()
                release.wait(timeout=30)
        finally:
            connection.close()

    worker = threading.Thread(target=other_run)
    worker.start()
    try:
        assert locked.wait(timeout=30)
        assert sla_checks.check_sla(now=now) == (0, 0)  # skipped, not waited for
    finally:
        release.set()
        worker.join(timeout=30)
    assert sla_checks.check_sla(now=now) == (0, 1)
    assert sla_checks.check_sla(now=now) == (0, 0)
    assert Notification.objects.filter(kind=NotificationKind.SLA_BREACH).count() == 1


def test_resolving_after_a_deadline_the_check_has_not_seen_records_the_breach(brand, agent):
    make_policy(name="p", first_response_minutes=60, resolution_minutes=120)
    start = datetime(2024, 6, 17, 8, 0, tzinfo=UTC)
    conversation = started(
        sla.SlaBook.load(), factories.make_conversation(brand, assignee=agent), start
    )
    book = sla.SlaBook.load()
    book.on_reply(conversation, start + timedelta(minutes=30))
    book.on_status(conversation, "open", "resolved", start + timedelta(hours=2, minutes=1))
    assert book.record_missed() == 1
    breach = SlaBreach.objects.get()
    assert breach.kind == SlaKind.RESOLUTION and breach.due_at == start + timedelta(hours=2)
    assert breach.department_id == brand.departments.get().pk  # the channel's department
    assert book.record_missed() == 0


def test_the_sla_badge_shows_each_running_target_and_a_pause(brand):
    from django.template.loader import render_to_string

    make_policy(name="p", first_response_minutes=60, resolution_minutes=600)
    start = datetime(2024, 6, 17, 8, 0, tzinfo=UTC)
    conversation = started(sla.SlaBook.load(), factories.make_conversation(brand), start)
    html = render_to_string("inbox/_sla_badge.html", {"conversation": conversation})
    assert "First response due" in html and "Resolution due" in html
    assert "paused" not in html
    sla.SlaBook.load().on_status(conversation, "open", "pending", start + timedelta(minutes=5))
    html = render_to_string("inbox/_sla_badge.html", {"conversation": conversation})
    assert "SLA paused since" in html and "First response due" not in html
    conversation.status = ConversationStatus.RESOLVED
    assert render_to_string("inbox/_sla_badge.html", {"conversation": conversation}).strip() == ""


def test_the_timers_follow_ingest_status_changes_and_replies(department, agent, live_events):
    from django.utils import timezone

    from channels_integrations.base import FetchedPage, InboundAuthor, InboundItem
    from inbox import conversation_actions
    from inbox.ingest import ingest_page

    channel = factories.make_mastodon_channel(department=department)

    def ingest(external_id: str, when: datetime, parent: str = "") -> None:
        channel.refresh_from_db()
        item = InboundItem(
            external_id=external_id,
            thread_key="t1",
            kind="mention",
            author=InboundAuthor(external_id="jonas", display_name="Jonas"),
            text="hi",
            created_at=when,
            parent_external_id=parent,
        )
        page = FetchedPage(items=[item], cursor=dict(channel.cursor), caught_up=True)
        ingest_page(channel_account_id=channel.pk, expected_cursor=channel.cursor, page=page)

    policy = make_policy(
        name="p", first_response_minutes=60, next_response_minutes=30, resolution_minutes=600
    )
    start = timezone.now() - timedelta(minutes=10)
    ingest("m1", start)
    conversation = Conversation.objects.get()
    assert conversation.sla_policy == policy
    assert conversation.sla_due_at == start + timedelta(hours=1)

    conversation_actions.set_status(
        user=agent, conversation_ids=[conversation.pk], status="pending"
    )
    conversation.refresh_from_db()
    assert conversation.sla_paused_at is not None and conversation.sla_due_at is None

    ingest("m2", conversation.sla_paused_at + timedelta(minutes=10), parent="m1")  # reopens
    conversation.refresh_from_db()
    assert conversation.status == "open" and conversation.sla_paused_at is None
    assert conversation.sla_due_at is not None

    sla.record_reply_sla(conversation_id=conversation.pk, at=conversation.sla_due_at)
    conversation.refresh_from_db()
    assert conversation.sla_due_at == conversation.resolution_due_at

    ingest("m3", conversation.first_response_at + timedelta(minutes=5), parent="m2")
    conversation.refresh_from_db()
    assert conversation.next_response_due_at == conversation.first_response_at + timedelta(
        minutes=35
    )


def test_setting_urgent_or_routing_elsewhere_restates_the_targets_under_the_new_policy(
    brand, lead, department, other_department
):
    from inbox.conversation_actions import assign_conversations, set_priority

    make_policy(name="Urgent", priorities=[3], first_response_minutes=60, position=1)
    make_policy(name="Sales", departments=[other_department], first_response_minutes=8 * 60)
    waiting_since = datetime(2026, 11, 16, 10, 0, tzinfo=UTC)
    conversation = factories.make_conversation(brand, when=waiting_since)
    with time_machine.travel(waiting_since, tick=False):
        started(sla.SlaBook.load(), conversation, waiting_since)
    assert conversation.first_response_due_at == waiting_since + timedelta(hours=24)

    with time_machine.travel(waiting_since + timedelta(minutes=20), tick=False):
        set_priority(user=lead, conversation_ids=[conversation.pk], priority=3)
    conversation.refresh_from_db()
    assert conversation.sla_policy is not None and conversation.sla_policy.name == "Urgent"
    # Counted from when the customer began waiting, not from when it became urgent.
    assert conversation.first_response_due_at == waiting_since + timedelta(hours=1)
    assert conversation.sla_due_at == conversation.first_response_due_at

    set_priority(user=lead, conversation_ids=[conversation.pk], priority=1)
    other_department.channel_accounts.add(brand)
    assign_conversations(
        user=lead,
        conversation_ids=[conversation.pk],
        assignee=None,
        department=other_department,
        set_department=True,
    )
    conversation.refresh_from_db()
    assert conversation.sla_policy is not None and conversation.sla_policy.name == "Sales"
    assert conversation.first_response_due_at == waiting_since + timedelta(hours=8)
