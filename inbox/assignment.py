"""Auto-assignment: departments that hand out their work themselves, round-robin or to the least
loaded agent, within each agent's capacity (docs/routing.md).

Who may get work (eligible): a lead or agent of the department (never an observer), active,
available ("online"), inside their own working hours if they set any (AgentPreferences), and
holding fewer open conversations of the department (assigned to them, status in OPEN_WORK) than
their capacity (the membership's, else the department's default). Department hours are not
asked: they are the SLA calendar; an online agent without hours of their own is at work.

A conversation is the department's work when its department is set, or, without one, when the
department is the only one owning its channel (it then gets that department). Conversations of
a department that does not own their channel are left alone: its agents could not act on them.

The guarantees:
- capacity is never exceeded by auto-assignment, and the round-robin turn is kept under
  concurrency: every decision is taken holding the department's row lock (select_for_update,
  departments locked in id order, held until the caller's commit), and the loads are counted
  under that lock, one aggregate query per department;
- round-robin: the eligible member with the oldest `last_auto_assigned_at` (never: first; then
  lowest user id) gets the next conversation. Each assignment stamps the member as the newest,
  strictly after every stamp in the department, so the turn goes round even within one call;
- least-loaded: the fewest open conversations of the department; ties by the round-robin turn;
- a reopened conversation stays with its assignee when they are available (active, online, in
  their working hours, still acting on the channel), whatever their load: it is theirs to
  continue. Otherwise, in an auto-assigning department, it is unassigned and handed out again;
  in a manual one a lead decides (it keeps its assignee).

Assignments made here have no actor (nobody did them by hand); the ASSIGNED event's "reason"
says what decided ("round-robin", "least-loaded").
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.db import transaction
from django.db.models import Count, F, Q
from django.dispatch import receiver
from django.http import HttpRequest
from django.utils import timezone

from channels_integrations.models import ChannelAccount
from inbox.access import AnyUser
from inbox.live import publish_changes_on_commit
from inbox.models import (
    ACTING_ROLES,
    OPEN_WORK,
    AgentPreferences,
    AssignmentStrategy,
    Availability,
    Contact,
    Conversation,
    ConversationEvent,
    Department,
    EventKind,
    Membership,
)
from inbox.notifications import in_working_hours, notify_assigned
from inbox.team_config import TeamConfigCache

AUTO_STRATEGIES = (AssignmentStrategy.ROUND_ROBIN, AssignmentStrategy.LEAST_LOADED)

# How assign_waiting hands out at most per department and call (the next minute continues).
WAITING_BATCH = 200

_NEVER = datetime.min.replace(tzinfo=UTC)
_TICK = timedelta(microseconds=1)


def strategy_reason(strategy: str) -> str:
    """The ASSIGNED event's reason for an assignment by this strategy."""
    reasons: dict[str, str] = {
        AssignmentStrategy.ROUND_ROBIN: "round-robin",
        AssignmentStrategy.LEAST_LOADED: "least-loaded",
    }
    return reasons.get(strategy, "auto-assignment")


def is_available(preferences: AgentPreferences | None, *, now: datetime) -> bool:
    """Online and inside their own working hours (none set: always). No preferences yet:
    the defaults, online without fixed hours."""
    preferences = preferences or AgentPreferences()
    return preferences.availability == Availability.ONLINE and in_working_hours(preferences, now)


# The decision, for departments locked by the caller.


@dataclass
class _Member:
    membership: Membership
    capacity: int
    load: int = 0

    @property
    def turn(self) -> tuple[bool, datetime, int]:
        stamp = self.membership.last_auto_assigned_at
        return (stamp is not None, stamp or _NEVER, self.membership.user_id)


@dataclass
class _Desk:
    """One locked department: its channels and its eligible members with their loads."""

    department: Department
    channels: frozenset[int]
    members: list[_Member]
    # The newest round-robin stamp of any member: the next stamp goes after it.
    newest: datetime

    def next_member(self) -> _Member | None:
        room = [member for member in self.members if member.load < member.capacity]
        if not room:
            return None
        if self.department.assignment_strategy == AssignmentStrategy.LEAST_LOADED:
            return min(room, key=lambda member: (member.load, member.turn))
        return min(room, key=lambda member: member.turn)

    def give(self, member: _Member, now: datetime) -> None:
        member.load += 1
        self.newest = max(now, self.newest + _TICK)
        member.membership.last_auto_assigned_at = self.newest


def _auto_assigning_departments() -> frozenset[int]:
    return frozenset(
        Department.objects.filter(assignment_strategy__in=AUTO_STRATEGIES).values_list(
            "pk", flat=True
        )
    )


# Whether any department assigns automatically, cached per process (inbox.team_config): the
# usual page of a workspace whose leads assign by hand costs no query here.
_AUTO_ASSIGNING = TeamConfigCache(_auto_assigning_departments)


def _sole_owners(channel_ids: Iterable[int]) -> dict[int, int]:
    """The department of each channel that exactly one department owns."""
    ids = set(channel_ids)
    owners: dict[int, set[int]] = defaultdict(set)
    if ids:
        for channel_id, department_id in Department.channel_accounts.through.objects.filter(
            channelaccount_id__in=ids
        ).values_list("channelaccount_id", "department_id"):
            owners[channel_id].add(department_id)
    return {channel: next(iter(found)) for channel, found in owners.items() if len(found) == 1}


def _open_desks(department_ids: Iterable[int], *, now: datetime) -> dict[int, _Desk]:
    """Lock the auto-assigning departments among these (id order, until the commit) and read
    their channels, eligible members and loads under the lock: three queries, plus one load
    count per department."""
    wanted = set(department_ids)
    if not wanted:
        return {}
    # Every auto-assigning department is locked, in id order, not only these: one transaction
    # may come here twice (new conversations, then reopened ones) with other departments, and
    # two such transactions locking in two rounds could each hold what the other waits for.
    locked = [
        department
        for department in Department.objects.select_for_update()
        .filter(assignment_strategy__in=AUTO_STRATEGIES)
        .order_by("pk")
        if department.pk in wanted
    ]
    if not locked:
        return {}
    channels: dict[int, set[int]] = defaultdict(set)
    for department_id, channel_id in Department.channel_accounts.through.objects.filter(
        department_id__in=[d.pk for d in locked]
    ).values_list("department_id", "channelaccount_id"):
        channels[department_id].add(channel_id)
    memberships: dict[int, list[Membership]] = defaultdict(list)
    for membership in Membership.objects.filter(
        department__in=locked, role__in=ACTING_ROLES, user__is_active=True
    ).select_related("user", "user__agent_preferences"):
        memberships[membership.department_id].append(membership)
    desks: dict[int, _Desk] = {}
    for department in locked:
        own = memberships.get(department.pk, [])
        stamps = [m.last_auto_assigned_at for m in own if m.last_auto_assigned_at is not None]
        eligible = [
            _Member(
                membership=membership,
                capacity=(
                    membership.capacity
                    if membership.capacity is not None
                    else department.default_capacity
                ),
            )
            for membership in own
            if is_available(_preferences_of(membership.user), now=now)
        ]
        desk = _Desk(
            department=department,
            channels=frozenset(channels.get(department.pk, ())),
            members=eligible,
            newest=max(stamps, default=now - _TICK),
        )
        if eligible:
            loads = dict(_loads(desk))
            for member in eligible:
                member.load = loads.get(member.membership.user_id, 0)
        desks[department.pk] = desk
    return desks


def _loads(desk: _Desk) -> list[tuple[int, int]]:
    """Open conversations of the department by member: routed to it, or unrouted on its
    channels (the department's work, as its queue counts it). One aggregate query."""
    department = desk.department
    theirs = Q(department_id=department.pk) | Q(
        department__isnull=True, channel_account_id__in=desk.channels
    )
    return list(
        Conversation.objects.filter(
            theirs,
            assignee_id__in=[member.membership.user_id for member in desk.members],
            status__in=OPEN_WORK,
        )
        .values("assignee_id")
        .annotate(load=Count("id"))
        .values_list("assignee_id", "load")
    )


def _preferences_of(user: Any) -> AgentPreferences | None:
    try:
        preferences: AgentPreferences = user.agent_preferences
    except AgentPreferences.DoesNotExist:
        return None
    return preferences


def _distribute(
    work: list[tuple[Conversation, _Desk]], *, now: datetime
) -> list[tuple[Conversation, Any]]:
    """Give each conversation, in list order, to the next eligible member of its (locked)
    department; sets assignee and department in memory and writes the members' round-robin
    stamps in one update."""
    given: list[tuple[Conversation, Any]] = []
    stamped: dict[int, Membership] = {}
    for conversation, desk in work:
        member = desk.next_member()
        if member is None:
            continue  # everyone is full or away: assign_waiting hands it out later
        desk.give(member, now)
        stamped[member.membership.pk] = member.membership
        conversation.department = desk.department
        conversation.assignee = member.membership.user
        given.append((conversation, member.membership.user))
    if stamped:
        Membership.objects.bulk_update(list(stamped.values()), ["last_auto_assigned_at"])
    return given


# Public actions.


def auto_assign(
    conversations: list[Conversation], *, now: datetime
) -> list[tuple[Conversation, Any]]:
    """Hand out the conversations (new ones before their insert, or reopened ones) that have no
    assignee and are open work, by their departments' strategies, in list order; returns the
    (conversation, assignee) pairs.

    In memory: sets `assignee` (and the department of an unrouted conversation whose channel
    has one owner); the caller writes the conversations and the events. Must run inside the
    caller's transaction, which then holds the departments' row locks until its commit (see
    the module's guarantees). A fixed number of queries: four, one load count per
    auto-assigning department, one update of the round-robin stamps.
    """
    candidates = [c for c in conversations if c.assignee_id is None and c.status in OPEN_WORK]
    if not candidates or not _AUTO_ASSIGNING.get():
        return []  # no department hands out work itself: nothing to read or lock
    owners = _sole_owners(c.channel_account_id for c in candidates if c.department_id is None)
    department_of = {id(c): c.department_id or owners.get(c.channel_account_id) for c in candidates}
    desks = _open_desks({d for d in department_of.values() if d is not None}, now=now)
    work = []
    for conversation in candidates:
        desk = desks.get(department_of[id(conversation)] or 0)
        # A department that does not own the channel: its agents could not act on it.
        if desk is not None and conversation.channel_account_id in desk.channels:
            work.append((conversation, desk))
    return _distribute(work, now=now)


def assign_waiting(*, now: datetime | None = None) -> int:
    """Hand out waiting work: unassigned open conversations of each auto-assigning department,
    the longest waiting first, to members who became available or got room. Returns how many
    were assigned.

    One transaction per department holding its row lock; the conversations are locked with
    SKIP LOCKED (one that ingest or an agent holds is left for the next run). Writes the
    ASSIGNED events, notifies the assignees and publishes the changes after commit. At most
    WAITING_BATCH per department and call.
    """
    now = now or timezone.now()
    assigned = 0
    departments = Department.objects.filter(assignment_strategy__in=AUTO_STRATEGIES)
    for department_id in departments.order_by("pk").values_list("pk", flat=True):
        assigned += _assign_waiting_in(department_id, now=now)
    return assigned


def _assign_waiting_in(department_id: int, *, now: datetime) -> int:
    with transaction.atomic():
        desk = _open_desks([department_id], now=now).get(department_id)
        if desk is None or not desk.channels:
            return 0
        room = sum(max(member.capacity - member.load, 0) for member in desk.members)
        if not room:
            return 0
        owned_alone = [
            channel
            for channel, owner in _sole_owners(desk.channels).items()
            if owner == department_id
        ]
        waiting = list(
            Conversation.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(
                Q(department_id=department_id, channel_account_id__in=desk.channels)
                | Q(department__isnull=True, channel_account_id__in=owned_alone),
                assignee__isnull=True,
                status__in=OPEN_WORK,
            )
            .select_related("contact", "channel_account")
            .order_by(F("waiting_since").asc(nulls_last=True), "last_message_at", "pk")[
                : min(room, WAITING_BATCH)
            ]
        )
        before = {c.pk: c.department_id for c in waiting}
        given = _distribute([(c, desk) for c in waiting], now=now)
        if not given:
            return 0
        for conversation, _assignee in given:
            conversation.updated_at = now
        Conversation.objects.bulk_update(
            [conversation for conversation, _ in given], ["assignee", "department", "updated_at"]
        )
        ConversationEvent.objects.bulk_create(
            _assigned_event(
                conversation,
                assignee_before=None,
                department_before=before[conversation.pk],
                reason=strategy_reason(desk.department.assignment_strategy),
            )
            for conversation, _ in given
        )
        for conversation, assignee in given:
            notify_assigned(conversation=conversation, assignee=assignee, actor=None)
        publish_changes_on_commit(
            conversation_ids=[c.pk for c, _ in given],
            channel_account_ids={c.channel_account_id for c, _ in given},
            was={c.pk: {"assignee": None, "department": before[c.pk]} for c, _ in given},
        )
    return len(given)


@dataclass
class Reassignment:
    """What reassign_reopened changed: the caller inserts `events` with its own and merges
    `was` (the list facts before, by conversation id) into its live publication."""

    changed: list[Conversation] = field(default_factory=list)
    events: list[ConversationEvent] = field(default_factory=list)
    was: dict[int, dict[str, Any]] = field(default_factory=dict)


def reassign_reopened(conversations: list[Conversation], *, now: datetime) -> Reassignment:
    """Conversations a new customer message just reopened (saved rows, locked by the caller):
    each stays with its assignee when they are available (active, online, in their working
    hours, still acting on its channel). Otherwise, in an auto-assigning department, it is
    unassigned and handed out again like new work (nobody eligible: it waits, unassigned, for
    assign_waiting); in a manual department it keeps its assignee for a lead to decide.
    Unassigned reopened conversations of auto-assigning departments are handed out too.

    Writes the assignee and department of the changed rows (one update), notifies the new
    assignees, and returns the ASSIGNED events and the `was` facts. Must run inside the
    caller's transaction (it takes the department locks, see the module's guarantees).
    """
    result = Reassignment()
    open_ones = [c for c in conversations if c.pk is not None and c.status in OPEN_WORK]
    assignees = _assignees(open_ones)
    leaving = [
        c
        for c in open_ones
        if c.assignee_id is not None
        and not (c.assignee_id in assignees and assignees[c.assignee_id].can_continue(c, now=now))
    ]
    unassigned = [c for c in open_ones if c.assignee_id is None]
    if not leaving and not unassigned:
        return result
    owners = _sole_owners(c.channel_account_id for c in leaving if c.department_id is None)
    auto: set[int] = set()
    if leaving:
        auto = set(
            Department.objects.filter(
                pk__in={c.department_id or owners.get(c.channel_account_id) for c in leaving},
                assignment_strategy__in=AUTO_STRATEGIES,
            ).values_list("pk", flat=True)
        )
    before = {c.pk: (c.assignee_id, c.department_id) for c in open_ones}
    released = [c for c in leaving if (c.department_id or owners.get(c.channel_account_id)) in auto]
    for conversation in released:
        conversation.assignee = None
    given = {id(c): assignee for c, assignee in auto_assign([*released, *unassigned], now=now)}
    changed = released + [c for c in unassigned if id(c) in given]
    if not changed:
        return result
    for conversation in changed:
        conversation.updated_at = now
    Conversation.objects.bulk_update(changed, ["assignee", "department", "updated_at"])
    with_subjects([c for c in changed if id(c) in given])
    for conversation in changed:
        assignee_before, department_before = before[conversation.pk]
        assignee = given.get(id(conversation))
        department = conversation.department
        reason = strategy_reason(department.assignment_strategy if department else "")
        if assignee_before is not None:
            last = assignees.get(assignee_before)
            previous = _name(last.user) if last is not None else "the last assignee"
            reason = f"{previous} is not available; " + (
                reason if assignee is not None else "waiting for an available agent"
            )
        result.events.append(
            _assigned_event(
                conversation,
                assignee_before=assignee_before,
                department_before=department_before,
                reason=reason,
            )
        )
        result.was[conversation.pk] = {
            "assignee": assignee_before,
            "department": department_before,
        }
        if assignee is not None:
            notify_assigned(conversation=conversation, assignee=assignee, actor=None)
    result.changed = changed
    return result


def return_to_last_assignee(conversation: Conversation, *, now: datetime) -> Reassignment:
    """reassign_reopened for one conversation (same guarantees; the caller holds its lock)."""
    return reassign_reopened([conversation], now=now)


@dataclass(frozen=True)
class _Assignee:
    user: Any
    # The channels they act on, by the rule of inbox.access.acting_channel_ids.
    acting_channels: frozenset[int]

    def can_continue(self, conversation: Conversation, *, now: datetime) -> bool:
        """Active, available, and acting on the conversation's channel (admins everywhere)."""
        if not self.user.is_active or not is_available(_preferences_of(self.user), now=now):
            return False
        return bool(self.user.is_superuser) or (
            conversation.channel_account_id in self.acting_channels
        )


def _assignees(conversations: list[Conversation]) -> dict[int, _Assignee]:
    """The conversations' assignees with their preferences and channels, in two queries."""
    ids = {c.assignee_id for c in conversations if c.assignee_id is not None}
    if not ids:
        return {}
    users = list(get_user_model().objects.filter(pk__in=ids).select_related("agent_preferences"))
    acting: dict[int, set[int]] = defaultdict(set)
    for user_id, channel_id in Department.channel_accounts.through.objects.filter(
        department__memberships__user_id__in=ids,
        department__memberships__role__in=ACTING_ROLES,
    ).values_list("department__memberships__user_id", "channelaccount_id"):
        acting[user_id].add(channel_id)
    return {user.pk: _Assignee(user, frozenset(acting[user.pk])) for user in users}


def _assigned_event(
    conversation: Conversation,
    *,
    assignee_before: int | None,
    department_before: int | None,
    reason: str,
) -> ConversationEvent:
    department = conversation.department
    return ConversationEvent(
        conversation_id=conversation.pk,
        kind=EventKind.ASSIGNED,
        data={
            "before": {"assignee": assignee_before, "department": department_before},
            "after": {
                "assignee": conversation.assignee_id,
                "department": conversation.department_id,
            },
            "assignee_name": _name(conversation.assignee),
            "department_name": department.name if department is not None else "",
            "reason": reason,
        },
    )


def with_subjects(conversations: list[Conversation]) -> None:
    """Attach the contacts and channels that notifications name to these conversations, in
    two queries for all of them instead of two for each."""
    if not conversations:
        return
    contacts = Contact.objects.in_bulk(
        {c.contact_id for c in conversations if c.contact_id is not None}
    )
    channels = ChannelAccount.objects.in_bulk({c.channel_account_id for c in conversations})
    for conversation in conversations:
        if conversation.contact_id is not None and conversation.contact_id in contacts:
            conversation.contact = contacts[conversation.contact_id]
        conversation.channel_account = channels[conversation.channel_account_id]


def _name(user: Any | None) -> str:
    if user is None:
        return ""
    return str(user.get_full_name() or user.get_username())


# Availability.


def set_availability(*, user: AnyUser, availability: str) -> AgentPreferences:
    """Set the user's availability (online, away, offline), creating their preferences if they
    have none; `availability_changed_at` moves only when it changes. The row is locked for the
    change, so two tabs switching at once end with one row and the last choice."""
    if availability not in Availability.values:
        raise ValueError(f"unknown availability {availability!r}")
    if not user.is_authenticated or user.pk is None:
        raise ValueError("availability is for signed-in users")
    with transaction.atomic():
        AgentPreferences.objects.get_or_create(user_id=user.pk)
        preferences = AgentPreferences.objects.select_for_update().get(user_id=user.pk)
        if preferences.availability != availability:
            preferences.availability = availability
            preferences.availability_changed_at = timezone.now()
            preferences.save(update_fields=["availability", "availability_changed_at"])
    return preferences


def current_availability(user: AnyUser) -> str:
    """The user's availability (online when they never chose one)."""
    if not user.is_authenticated or user.pk is None:
        return str(Availability.OFFLINE)
    found = (
        AgentPreferences.objects.filter(user_id=int(user.pk))
        .values_list("availability", flat=True)
        .first()
    )
    return str(found or Availability.ONLINE)


@receiver(user_logged_in, dispatch_uid="inbox.assignment.online_on_login")
def online_on_login(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    # Signing in means being at work: auto-assignment may give them conversations again.
    # Without preferences they are online already (the default): no row is made for that.
    if user is not None and user.pk is not None:
        AgentPreferences.objects.filter(user_id=user.pk).exclude(
            availability=Availability.ONLINE
        ).update(availability=Availability.ONLINE, availability_changed_at=timezone.now())


@receiver(user_logged_out, dispatch_uid="inbox.assignment.offline_on_logout")
def offline_on_logout(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    # Signed out: no new work for them until they are back (their other sessions included).
    if user is not None and user.is_authenticated:
        set_availability(user=user, availability=Availability.OFFLINE)
