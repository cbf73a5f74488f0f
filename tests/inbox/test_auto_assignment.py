"""Auto-assignment: round-robin and least-loaded turns, capacity, availability and working hours,
reopened conversations, waiting work handed out later, fairness under concurrent workers, and
the availability menu."""

from __future__ import annotations

import itertools
import threading
from collections import Counter
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
import time_machine
from django.contrib.auth.views import LoginView
from django.db import close_old_connections, connection, transaction
from django.test import Client
from django.urls import include, path
from django.utils import timezone

from channels_integrations.models import ChannelAccount
from inbox import availability_views
from inbox.assignment import (
    assign_waiting,
    auto_assign,
    reassign_reopened,
    return_to_last_assignee,
    set_availability,
)
from inbox.ingest import bulk_insert
from inbox.models import (
    AgentPreferences,
    AssignmentStrategy,
    Availability,
    Conversation,
    ConversationEvent,
    ConversationStatus,
    Department,
    EventKind,
    Membership,
    Notification,
)
from tests import factories

# The availability view's URL as the lead wires it into inbox/urls.py.
urlpatterns = [
    path(
        "",
        include(
            (
                [path("me/availability/", availability_views.availability, name="availability")],
                "inbox",
            )
        ),
    ),
    path("login/", LoginView.as_view(), name="login"),
]

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # Monday, 11:00 in Berlin
_keys = itertools.count(1)


@pytest.fixture
def team(db: None) -> Department:
    """A round-robin department with a generous capacity."""
    department = factories.make_department("Support")
    department.assignment_strategy = AssignmentStrategy.ROUND_ROBIN
    department.default_capacity = 50
    department.save()
    return department


@pytest.fixture
def inbox(team: Department) -> ChannelAccount:
    return factories.make_mastodon_channel(department=team, name="Support DE")


def agents(team: Department, *names: str, role: str = "agent") -> list[Any]:
    made = []
    for name in names:
        user = factories.make_user(name)
        factories.add_member(user, team, role=role)
        made.append(user)
    return made


def arrival(channel: ChannelAccount, **fields: Any) -> Conversation:
    """A new conversation as ingest builds it: in memory, not yet inserted."""
    minutes = next(_keys)
    return Conversation(
        channel_account_id=channel.pk,
        kind="mention",
        thread_key=f"arrival-{minutes}",
        status=fields.pop("status", ConversationStatus.NEW),
        last_message_at=T0 + timedelta(minutes=minutes),
        waiting_since=T0 + timedelta(minutes=minutes),
        **fields,
    )


def arrive(
    channel: ChannelAccount, count: int, *, now: datetime = T0, **fields: Any
) -> list[Conversation]:
    """`count` new conversations handed out and inserted in one transaction, as ingest does."""
    conversations = [arrival(channel, **fields) for _ in range(count)]
    with transaction.atomic():
        auto_assign(conversations, now=now)
        bulk_insert(conversations)
    return conversations


def names(conversations: list[Conversation]) -> list[str]:
    return [c.assignee.username if c.assignee else "-" for c in conversations]


def load(user: Any) -> int:
    return Conversation.objects.filter(assignee=user, status__in=["new", "open", "pending"]).count()


# Round-robin and least-loaded.


@pytest.mark.django_db
def test_round_robin_starts_with_who_waited_longest_and_goes_round(team, inbox):
    _ann, ben, cat = agents(team, "ann", "ben", "cat")
    Membership.objects.filter(user=ben).update(last_auto_assigned_at=T0 - timedelta(hours=2))
    Membership.objects.filter(user=cat).update(last_auto_assigned_at=T0 - timedelta(hours=1))
    # Never assigned yet comes first; then the oldest turn; then round again.
    assert names(arrive(inbox, 5)) == ["ann", "ben", "cat", "ann", "ben"]
    assert names(arrive(inbox, 2)) == ["cat", "ann"]


@pytest.mark.django_db
def test_round_robin_breaks_ties_by_user_id(team, inbox):
    agents(team, "ann", "ben")
    assert names(arrive(inbox, 3)) == ["ann", "ben", "ann"]


@pytest.mark.django_db
def test_least_loaded_gives_to_the_agent_with_fewest_open_conversations(team, inbox):
    team.assignment_strategy = AssignmentStrategy.LEAST_LOADED
    team.save()
    ann, ben, cat = agents(team, "ann", "ben", "cat")
    for user, open_count in ((ann, 2), (cat, 1)):
        for _ in range(open_count):
            factories.make_conversation(inbox, assignee=user, status="open")
    factories.make_conversation(inbox, assignee=ben, status="resolved")  # not load
    factories.make_conversation(inbox, assignee=ben, status="snoozed", snoozed_until=T0)
    # Loads 2/0/1: ben; 2/1/1: cat waited longer than ben (never assigned); 2/1/2: ben;
    # 2/2/2: ann, who never had an auto-assigned one.
    assert names(arrive(inbox, 4)) == ["ben", "cat", "ben", "ann"]


@pytest.mark.django_db
def test_load_counts_the_departments_work_only(team, inbox, other_department):
    team.assignment_strategy = AssignmentStrategy.LEAST_LOADED
    team.save()
    ann, ben = agents(team, "ann", "ben")
    elsewhere = factories.make_mastodon_channel(department=other_department)
    factories.add_member(ann, other_department)
    for _ in range(3):
        factories.make_conversation(elsewhere, assignee=ann, status="open")
    factories.make_conversation(inbox, assignee=ben, status="open")
    assert names(arrive(inbox, 1)) == ["ann"]


@pytest.mark.django_db
def test_a_manual_department_hands_out_nothing(team, inbox):
    team.assignment_strategy = AssignmentStrategy.MANUAL
    team.save()
    agents(team, "ann")
    assert names(arrive(inbox, 2)) == ["-", "-"]
    assert assign_waiting(now=T0) == 0


@pytest.mark.django_db
def test_observers_inactive_users_and_other_departments_get_nothing(team, inbox, other_department):
    agents(team, "ann")
    agents(team, "oli", role="observer")
    [gone] = agents(team, "gone")
    gone.is_active = False
    gone.save()
    factories.add_member(factories.make_user("sam"), other_department)
    assert names(arrive(inbox, 3)) == ["ann", "ann", "ann"]


@pytest.mark.django_db
def test_an_unrouted_conversation_goes_to_the_only_department_owning_its_channel(
    team, inbox, other_department
):
    [ann] = agents(team, "ann")
    [conversation] = arrive(inbox, 1)
    assert conversation.assignee == ann and conversation.department == team
    # A channel two departments own is theirs to route: nobody gets it automatically.
    other_department.channel_accounts.add(inbox)
    assert names(arrive(inbox, 1)) == ["-"]


@pytest.mark.django_db
def test_a_department_that_does_not_own_the_channel_hands_it_to_nobody(team, other_department):
    agents(team, "ann")
    elsewhere = factories.make_mastodon_channel(department=other_department)
    conversation = arrival(elsewhere, department=team)
    with transaction.atomic():
        assert auto_assign([conversation], now=T0) == []


@pytest.mark.django_db(transaction=True)
def test_auto_assign_needs_the_callers_transaction(team, inbox):
    agents(team, "ann")
    with pytest.raises(transaction.TransactionManagementError):
        auto_assign([arrival(inbox)], now=T0)


# Capacity.


@pytest.mark.django_db
def test_capacity_is_never_exceeded_and_waiting_work_is_handed_out_as_room_frees(
    team, inbox, live_events, django_capture_on_commit_callbacks
):
    team.default_capacity = 2
    team.save()
    ann, ben = agents(team, "ann", "ben")
    Membership.objects.filter(user=ben).update(capacity=1)  # a member's own capacity wins
    customer = factories.make_conversation(inbox, status="resolved").contact
    arrivals = arrive(inbox, 5, contact=customer)
    assert names(arrivals) == ["ann", "ben", "ann", "-", "-"]
    assert (load(ann), load(ben)) == (2, 1)
    assert assign_waiting(now=T0) == 0

    # Ben resolves his: the longest waiting of the rest goes to him, the other still waits.
    Conversation.objects.filter(pk=arrivals[1].pk).update(status="resolved")
    with django_capture_on_commit_callbacks(execute=True):
        assert assign_waiting(now=T0) == 1
    fourth, fifth = (Conversation.objects.get(pk=c.pk) for c in arrivals[3:])
    assert fourth.assignee == ben and fifth.assignee is None
    event = ConversationEvent.objects.get(conversation=fourth, kind=EventKind.ASSIGNED)
    assert event.actor_id is None
    # Unrouted until now: it gets the department that owns its channel with its assignee.
    assert event.data == {
        "before": {"assignee": None, "department": None},
        "after": {"assignee": ben.pk, "department": team.pk},
        "assignee_name": "ben",
        "department_name": "Support",
        "reason": "round-robin",
    }
    assert Notification.objects.filter(user=ben, conversation=fourth, kind="assigned").exists()
    changed = [p for _, p in live_events if p.get("type") == "conversation.changed"]
    assert [(p["conversation_id"], p["was"]) for p in changed] == [
        (fourth.pk, {"assignee": None, "department": None})
    ]
    assert (load(ann), load(ben)) == (2, 1)


@pytest.mark.django_db
def test_assign_waiting_serves_the_longest_waiting_first_and_unrouted_ones_too(team, inbox):
    team.assignment_strategy = AssignmentStrategy.MANUAL
    team.save()
    [ann] = agents(team, "ann")
    recent = factories.make_conversation(inbox, when=T0 - timedelta(minutes=5), department=team)
    oldest = factories.make_conversation(inbox, when=T0 - timedelta(hours=3))  # unrouted
    older = factories.make_conversation(inbox, when=T0 - timedelta(hours=1), department=team)
    factories.make_conversation(inbox, when=T0 - timedelta(hours=9), status="resolved")
    Department.objects.filter(pk=team.pk).update(
        assignment_strategy=AssignmentStrategy.ROUND_ROBIN, default_capacity=2
    )
    assert assign_waiting(now=T0) == 2
    assigned = Conversation.objects.filter(assignee=ann)
    assert set(assigned) == {oldest, older}
    assert Conversation.objects.get(pk=oldest.pk).department == team
    assert Conversation.objects.get(pk=recent.pk).assignee is None


# Availability and working hours.


@pytest.mark.django_db
def test_away_and_offline_agents_get_nothing(team, inbox):
    ann, ben, cat = agents(team, "ann", "ben", "cat")
    set_availability(user=ben, availability=Availability.AWAY)
    set_availability(user=cat, availability=Availability.OFFLINE)
    assert names(arrive(inbox, 3)) == ["ann", "ann", "ann"]
    set_availability(user=ann, availability=Availability.AWAY)
    assert names(arrive(inbox, 1)) == ["-"]
    # Back online: the waiting one is theirs within a minute (the beat task).
    set_availability(user=ben, availability=Availability.ONLINE)
    assert assign_waiting(now=T0) == 1
    assert load(ben) == 1


@pytest.mark.django_db
def test_agents_get_work_only_inside_their_own_working_hours(team, inbox):
    ann, ben = agents(team, "ann", "ben")
    # Ben works Monday to Friday, 9:00 to 17:00 Berlin time; Ann set no hours.
    AgentPreferences.objects.create(
        user=ben,
        working_days=[1, 2, 3, 4, 5],
        working_from=time(9),
        working_until=time(17),
        time_zone="Europe/Berlin",
    )
    monday_morning = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)  # 10:30 in Berlin
    monday_evening = datetime(2026, 3, 2, 16, 30, tzinfo=UTC)  # 17:30 in Berlin
    saturday = datetime(2026, 3, 7, 10, 0, tzinfo=UTC)
    with time_machine.travel(monday_morning, tick=False):
        assert names(arrive(inbox, 2, now=timezone.now())) == ["ann", "ben"]
    with time_machine.travel(monday_evening, tick=False):
        assert names(arrive(inbox, 2, now=timezone.now())) == ["ann", "ann"]
    with time_machine.travel(saturday, tick=False):
        assert names(arrive(inbox, 1, now=timezone.now())) == ["ann"]
        set_availability(user=ann, availability=Availability.OFFLINE)
        [waiting] = arrive(inbox, 1, now=timezone.now())
        assert waiting.assignee is None
        assert assign_waiting() == 0
    with time_machine.travel(saturday + timedelta(days=2), tick=False):  # Monday 11:00
        assert assign_waiting() == 1
    assert Conversation.objects.get(pk=waiting.pk).assignee == ben


@pytest.mark.django_db
def test_signing_in_and_out_sets_online_and_offline(team, client):
    [ann] = agents(team, "ann")
    client.login(username="ann", password=factories.PASSWORD)
    assert not AgentPreferences.objects.exists()  # online by default: nothing to store
    client.logout()
    assert AgentPreferences.objects.get(user=ann).availability == Availability.OFFLINE
    set_availability(user=ann, availability=Availability.AWAY)
    client.login(username="ann", password=factories.PASSWORD)
    assert AgentPreferences.objects.get(user=ann).availability == Availability.ONLINE
    client.logout()
    preferences = AgentPreferences.objects.get(user=ann)
    assert preferences.availability == Availability.OFFLINE
    assert preferences.availability_changed_at is not None


@pytest.mark.django_db
def test_set_availability_creates_preferences_and_stamps_only_changes(team):
    [ann] = agents(team, "ann")
    with time_machine.travel(T0, tick=False):
        created = set_availability(user=ann, availability=Availability.AWAY)
    with time_machine.travel(T0 + timedelta(hours=1), tick=False):
        again = set_availability(user=ann, availability=Availability.AWAY)
    assert created.pk == again.pk and again.availability_changed_at == T0
    assert AgentPreferences.objects.filter(user=ann).count() == 1
    with pytest.raises(ValueError, match="unknown availability"):
        set_availability(user=ann, availability="asleep")


# Reopened conversations.


def resolved_for(channel: ChannelAccount, user: Any, team: Department) -> Conversation:
    return factories.make_conversation(channel, assignee=user, department=team, status="resolved")


def reopen(conversation: Conversation, *, now: datetime = T0) -> Any:
    """What ingest does when a customer writes again: reopen, then reassign_reopened."""
    with transaction.atomic():
        locked = Conversation.objects.select_for_update().get(pk=conversation.pk)
        locked.status = ConversationStatus.OPEN
        locked.save(update_fields=["status"])
        result = reassign_reopened([locked], now=now)
        ConversationEvent.objects.bulk_create(result.events)
    return result


@pytest.mark.django_db
def test_a_reopened_conversation_stays_with_its_available_last_assignee(team, inbox):
    ann, _ben = agents(team, "ann", "ben")
    conversation = resolved_for(inbox, ann, team)
    # Even when they are full: it is theirs to continue.
    Membership.objects.filter(user=ann).update(capacity=0)
    result = reopen(conversation)
    assert result.changed == [] and result.events == [] and result.was == {}
    assert Conversation.objects.get(pk=conversation.pk).assignee == ann


@pytest.mark.django_db
def test_a_reopened_conversation_of_an_away_assignee_goes_to_another(team, inbox):
    ann, ben = agents(team, "ann", "ben")
    conversation = resolved_for(inbox, ann, team)
    set_availability(user=ann, availability=Availability.AWAY)
    result = reopen(conversation)
    saved = Conversation.objects.get(pk=conversation.pk)
    assert saved.assignee == ben
    assert result.was == {saved.pk: {"assignee": ann.pk, "department": team.pk}}
    [event] = ConversationEvent.objects.filter(conversation=saved, kind=EventKind.ASSIGNED)
    assert event.data["before"]["assignee"] == ann.pk
    assert event.data["after"]["assignee"] == ben.pk
    assert event.data["reason"] == "ann is not available; round-robin"
    assert Notification.objects.filter(user=ben, conversation=saved).exists()


@pytest.mark.django_db
def test_a_reopened_conversation_leaves_an_assignee_who_left_the_department(team, inbox):
    ann, ben = agents(team, "ann", "ben")
    conversation = resolved_for(inbox, ann, team)
    Membership.objects.filter(user=ann).update(role="observer")
    reopen(conversation)
    assert Conversation.objects.get(pk=conversation.pk).assignee == ben


@pytest.mark.django_db
def test_a_reopened_conversation_waits_unassigned_when_nobody_is_available(team, inbox):
    ann, ben = agents(team, "ann", "ben")
    conversation = resolved_for(inbox, ann, team)
    for user in (ann, ben):
        set_availability(user=user, availability=Availability.OFFLINE)
    result = reopen(conversation)
    assert Conversation.objects.get(pk=conversation.pk).assignee is None
    assert result.events[0].data["reason"] == (
        "ann is not available; waiting for an available agent"
    )
    set_availability(user=ben, availability=Availability.ONLINE)
    assert assign_waiting(now=T0) == 1
    assert Conversation.objects.get(pk=conversation.pk).assignee == ben


@pytest.mark.django_db
def test_a_reopened_conversation_of_a_manual_department_keeps_its_assignee(team, inbox):
    team.assignment_strategy = AssignmentStrategy.MANUAL
    team.save()
    ann, _ben = agents(team, "ann", "ben")
    conversation = resolved_for(inbox, ann, team)
    set_availability(user=ann, availability=Availability.AWAY)
    assert reopen(conversation).changed == []
    assert Conversation.objects.get(pk=conversation.pk).assignee == ann


@pytest.mark.django_db
def test_return_to_last_assignee_is_the_same_for_one_conversation(team, inbox):
    ann, ben = agents(team, "ann", "ben")
    AgentPreferences.objects.create(
        user=ann, working_days=[6, 7], working_from=time(8), working_until=time(12)
    )
    conversation = resolved_for(inbox, ann, team)
    with transaction.atomic():
        conversation.status = ConversationStatus.OPEN
        saturday_morning = datetime(2026, 3, 7, 9, 0, tzinfo=UTC)
        assert return_to_last_assignee(conversation, now=saturday_morning).changed == []
        assert return_to_last_assignee(conversation, now=T0).changed == [conversation]
    assert Conversation.objects.get(pk=conversation.pk).assignee == ben


# Fairness and capacity under concurrent workers.


def run_workers(work: list[Any]) -> list[BaseException]:
    """Run each callable in its own thread with its own database connection, all released at
    once by a barrier; returns what they raised."""
    barrier = threading.Barrier(len(work))
    errors: list[BaseException] = []

    def worker(job: Any) -> None:
        try:
            barrier.wait(10)
            job()
        except BaseException as exc:
            errors.append(exc)
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=worker, args=(job,)) for job in work]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not any(thread.is_alive() for thread in threads)
    return errors


def pages(channel: ChannelAccount, sizes: list[int]) -> Any:
    """A worker ingesting pages of these sizes on one channel, each page in its own
    transaction that holds the channel's lock like ingest_page."""

    def work() -> None:
        for size in sizes:
            with transaction.atomic():
                ChannelAccount.objects.select_for_update().get(pk=channel.pk)
                conversations = [arrival(channel) for _ in range(size)]
                auto_assign(conversations, now=timezone.now())
                bulk_insert(conversations)

    return work


@pytest.mark.django_db(transaction=True)
def test_round_robin_stays_fair_when_two_workers_ingest_at_once(team):
    first = factories.make_mastodon_channel(department=team, name="Support DE")
    second = factories.make_mastodon_channel(department=team, name="Support AT")
    users = agents(team, "ann", "ben", "cat", "dan")
    # Uneven pages, so that a lost turn would show: 20 arrivals on each channel.
    errors = run_workers([pages(first, [3, 3, 3, 3, 3, 3, 2]), pages(second, [1] * 10 + [2] * 5)])
    assert errors == []
    assigned = Counter(
        Conversation.objects.filter(assignee__isnull=False).values_list(
            "assignee__username", flat=True
        )
    )
    assert Conversation.objects.count() == 40
    assert assigned == {user.username: 10 for user in users}


@pytest.mark.django_db(transaction=True)
def test_capacity_holds_when_two_workers_ingest_at_once(team):
    team.default_capacity = 3
    team.save()
    first = factories.make_mastodon_channel(department=team, name="Support DE")
    second = factories.make_mastodon_channel(department=team, name="Support AT")
    users = agents(team, "ann", "ben", "cat", "dan")
    errors = run_workers([pages(first, [1] * 10), pages(second, [2] * 5)])
    assert errors == []
    loads = Counter(
        Conversation.objects.filter(assignee__isnull=False).values_list(
            "assignee__username", flat=True
        )
    )
    assert loads == {user.username: 3 for user in users}
    assert Conversation.objects.filter(assignee__isnull=True).count() == 8


# The availability menu.


@pytest.mark.django_db
@pytest.mark.urls(__name__)
def test_the_menu_sets_availability_and_answers_itself(team):
    [ann] = agents(team, "ann")
    client = Client()
    client.force_login(ann)
    response = client.post(
        "/me/availability/", {"availability": "away"}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert 'data-availability="away"' in page
    assert '<option value="away" selected>' in page
    assert AgentPreferences.objects.get(user=ann).availability == Availability.AWAY
    assert assign_waiting(now=T0) == 0


@pytest.mark.django_db
@pytest.mark.urls(__name__)
def test_the_menu_refuses_an_unknown_availability(team):
    [ann] = agents(team, "ann")
    client = Client()
    client.force_login(ann)
    response = client.post("/me/availability/", {"availability": "asleep"})
    assert response.status_code == 422
    assert 'data-availability="online"' in response.content.decode()


@pytest.mark.django_db
@pytest.mark.urls(__name__)
def test_the_menu_is_for_signed_in_users(client):
    response = client.post("/me/availability/", {"availability": "away"})
    assert response.status_code == 302
    assert not AgentPreferences.objects.exists()
