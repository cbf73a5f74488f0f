"""SLA timers: which policy applies to a conversation, when its answers fall due, pausing while it
waits on the customer, and the minute-by-minute check that warns before a deadline and records
every missed one (docs/sla.md).

Two halves:
- `SlaBook`: every enabled policy and every department's calendar, read in a fixed number of
  queries (`SlaBook.load()`), then pure in-memory updates of conversations (`start`,
  `on_inbound`, `on_reply`, `on_status`) that return the names of the fields they changed, so
  that ingest can treat a page of hundreds of conversations without a query per conversation.
  Targets missed by the time a reply or a status change clears them are collected in
  `book.missed` and written by `book.record_missed()` (the callers hold the rows' locks).
- `inbox.sla_checks.check_sla`: run every minute by Celery beat; warns once per deadline and
  records each breach once, with a timeline event and a notice to the assignee and the
  department's leads.

The fields on Conversation: `first_response_due_at` (kept after the first answer, as the record
of the target; pending only while `first_response_at` is empty), `next_response_due_at`,
`resolution_due_at`, and `sla_due_at`, the earliest pending one (the list sorts and shows it).
While paused, pending targets keep their remaining business time in `sla_paused_remaining`
(seconds by SlaKind value) and their due fields are empty.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.db import transaction

from inbox.business_hours import WorkingCalendar, add_business_time, business_time_between
from inbox.models import (
    OPEN_WORK,
    Conversation,
    ConversationEvent,
    ConversationStatus,
    Department,
    DepartmentHoliday,
    DepartmentHours,
    EventKind,
    SlaBreach,
    SlaKind,
    SlaPolicy,
)
from inbox.team_config import TeamConfigCache

if TYPE_CHECKING:
    pass

logger = logging.getLogger(__name__)

# Statuses that stop every clock: the conversation needs no answer.
CLOSED = frozenset({ConversationStatus.RESOLVED, ConversationStatus.IGNORED})
# Statuses whose clocks may run (a snoozed or pending one only if its policy does not pause).
TIMED = (*OPEN_WORK, ConversationStatus.SNOOZED)

# The trade's rule when no policy matches: an answer within 24 calendar hours.
DEFAULT_FIRST_RESPONSE_MINUTES = 24 * 60
DEFAULT_WARN_BEFORE_MINUTES = 60

# check_sla locks at most this many conversations per transaction, and runs at most this many
# batches per call (the next minute's run continues).
BATCH_SIZE = 200
MAX_BATCHES = 10

# Every Conversation field the in-memory updates may change (for a bulk UPDATE's column list).
SLA_FIELDS = (
    "sla_policy",
    "first_response_due_at",
    "first_response_at",
    "next_response_due_at",
    "resolution_due_at",
    "sla_due_at",
    "sla_paused_at",
    "sla_paused_remaining",
    "sla_warned_at",
)

DUE_FIELDS = {
    SlaKind.FIRST_RESPONSE: "first_response_due_at",
    SlaKind.NEXT_RESPONSE: "next_response_due_at",
    SlaKind.RESOLUTION: "resolution_due_at",
}
KIND_LABELS = dict(SlaKind.choices)


def default_policy() -> SlaPolicy:
    """The rule for conversations no policy matches (unsaved: its id is None)."""
    return SlaPolicy(
        name="Default: first response within 24 hours",
        first_response_minutes=DEFAULT_FIRST_RESPONSE_MINUTES,
        next_response_minutes=None,
        resolution_minutes=None,
        business_hours=False,
        pause_when_snoozed=True,
        pause_when_pending=True,
        warn_before_minutes=DEFAULT_WARN_BEFORE_MINUTES,
    )


def pending_dues(conversation: Conversation) -> dict[str, datetime]:
    """The targets still running on a conversation, by SlaKind value (paused ones are not)."""
    dues: dict[str, datetime] = {}
    if conversation.first_response_at is None and conversation.first_response_due_at is not None:
        dues[SlaKind.FIRST_RESPONSE] = conversation.first_response_due_at
    if conversation.next_response_due_at is not None:
        dues[SlaKind.NEXT_RESPONSE] = conversation.next_response_due_at
    if conversation.resolution_due_at is not None:
        dues[SlaKind.RESOLUTION] = conversation.resolution_due_at
    return dues


def time_left(conversation: Conversation, now: datetime) -> timedelta | None:
    """Until the next deadline (negative when overdue); None when nothing is due (closed,
    paused, or no target)."""
    if conversation.status in CLOSED or conversation.sla_due_at is None:
        return None
    return conversation.sla_due_at - now


@dataclass(frozen=True)
class _Rule:
    policy: SlaPolicy
    channel_ids: frozenset[int]
    department_ids: frozenset[int]
    priorities: frozenset[int]

    def matches(self, channel_id: int, department_id: int | None, priority: int) -> bool:
        return (
            (not self.channel_ids or channel_id in self.channel_ids)
            and (not self.department_ids or department_id in self.department_ids)
            and (not self.priorities or priority in self.priorities)
        )


@dataclass
class SlaBook:
    """Policies and calendars, read once; the in-memory SLA updates of conversations.

    `SlaBook()` (nothing loaded) knows no policies and counts around the clock: enough for
    `on_reply` and for closing a conversation, which need neither.
    """

    rules: list[_Rule] = field(default_factory=list)
    # Departments with open hours only; the others count around the clock.
    calendars: dict[int, WorkingCalendar] = field(default_factory=dict)
    # Channel id -> ids of the departments owning it, lowest id first.
    channel_departments: dict[int, list[int]] = field(default_factory=dict)
    default: SlaPolicy = field(default_factory=default_policy)
    # Targets found missed when a reply or a status change cleared them (record_missed).
    missed: list[SlaBreach] = field(default_factory=list)

    @classmethod
    def load(cls) -> SlaBook:
        """Enabled policies with their channel and department lists, every department's
        calendar and the channel owners: seven queries, whatever the numbers of rows."""
        policies = SlaPolicy.objects.filter(enabled=True).order_by("position", "id")
        on_channels = SlaPolicy.channel_accounts.through.objects.filter(slapolicy__enabled=True)
        channels = _grouped(on_channels.values_list("slapolicy_id", "channelaccount_id"))
        on_departments = SlaPolicy.departments.through.objects.filter(slapolicy__enabled=True)
        departments = _grouped(on_departments.values_list("slapolicy_id", "department_id"))
        rules = [
            _Rule(
                policy=policy,
                channel_ids=frozenset(channels.get(policy.pk, ())),
                department_ids=frozenset(departments.get(policy.pk, ())),
                priorities=_priorities(policy.priorities),
            )
            for policy in policies
        ]
        hours = _grouped(
            DepartmentHours.objects.values_list("department_id", "weekday", "opens", "closes")
        )
        holidays = _grouped(DepartmentHoliday.objects.values_list("department_id", "date"))
        calendars: dict[int, WorkingCalendar] = {}
        for department_id, zone_name in Department.objects.values_list("id", "time_zone"):
            calendar = WorkingCalendar.build(
                zone=_zone(zone_name, department_id),
                hours=hours.get(department_id, ()),
                holidays=holidays.get(department_id, ()),
            )
            if calendar.has_open_hours:
                calendars[department_id] = calendar

        owners = Department.channel_accounts.through.objects.order_by("department_id")
        return cls(
            rules=rules,
            calendars=calendars,
            channel_departments=_grouped(owners.values_list("channelaccount_id", "department_id")),
        )

    @classmethod
    def cached(cls) -> SlaBook:
        """The book as load() reads it, cached per process (inbox.team_config), with a list of
        missed targets of its own."""
        return replace(_CACHED_BOOK.get(), missed=[])

    # Reading.

    def department_of(self, conversation: Conversation) -> int | None:
        """The conversation's department; else the first (lowest id) owning its channel."""
        if conversation.department_id is not None:
            return int(conversation.department_id)
        owners = self.channel_departments.get(conversation.channel_account_id)
        return owners[0] if owners else None

    def policy_for(self, conversation: Conversation) -> SlaPolicy | None:
        """The first enabled policy (by position) whose non-empty channel, department and
        priority lists all match; None: the default rule applies. A conversation without a
        department matches by the department owning its channel (department_of)."""
        department_id = self.department_of(conversation)
        for rule in self.rules:
            if rule.matches(conversation.channel_account_id, department_id, conversation.priority):
                return rule.policy
        return None

    def policy_of(self, conversation: Conversation) -> SlaPolicy:
        """The policy the conversation was started under; the default rule when it had none
        or that policy has since been disabled or deleted."""
        if conversation.sla_policy_id is not None:
            for rule in self.rules:
                if rule.policy.pk == conversation.sla_policy_id:
                    return rule.policy
        return self.default

    def calendar_for(self, conversation: Conversation, policy: SlaPolicy | None) -> WorkingCalendar:
        """The department's calendar if the policy counts business hours, else around the
        clock. A department without open hours (none entered yet) counts around the clock."""
        if policy is None or not policy.business_hours:
            return WorkingCalendar.always()
        department_id = self.department_of(conversation)
        calendar = self.calendars.get(department_id) if department_id is not None else None
        return calendar if calendar is not None else WorkingCalendar.always()

    # In-memory updates: no queries; each returns the names of the fields it changed.

    def start(self, conversation: Conversation, at: datetime) -> set[str]:
        """A new conversation (its department and priority already routed): choose its policy
        and start its first-response and resolution targets from `at`. A conversation that
        arrives closed (ignored: a blocked person's) gets its policy and no targets."""
        changed: set[str] = set()
        policy = self.policy_for(conversation)
        _set(conversation, "sla_policy_id", policy.pk if policy else None, changed, "sla_policy")
        if conversation.status in CLOSED:
            for name in DUE_FIELDS.values():
                _set(conversation, name, None, changed)
        else:
            self._begin(conversation, conversation.status, at, policy or self.default, changed)
        _recompute(conversation, changed)
        return changed

    def _begin(
        self,
        conversation: Conversation,
        status: str,
        at: datetime,
        policy: SlaPolicy,
        changed: set[str],
    ) -> None:
        """Start the first response (unless answered) and the resolution from `at`; paused at
        once if `status` pauses. The next response waits for the customer (on_inbound)."""
        calendar = self.calendar_for(conversation, policy)
        _set(conversation, "sla_paused_at", None, changed)
        _set(conversation, "sla_paused_remaining", {}, changed)
        if conversation.first_response_at is None:
            first = _due(at, policy.first_response_minutes, calendar)
            _set(conversation, "first_response_due_at", first, changed)
        _set(conversation, "next_response_due_at", None, changed)
        resolution = _due(at, policy.resolution_minutes, calendar)
        _set(conversation, "resolution_due_at", resolution, changed)
        if _pauses(policy, status):
            self._pause(conversation, at, calendar, changed)

    def on_routing(self, conversation: Conversation) -> set[str]:
        """The department or the priority changed (a lead routed the conversation, or set it
        urgent): choose the policy again and, when it is another one, restate the running
        targets under it from when each began (the first response and the next response from
        when the customer began waiting, the resolution from the conversation's start). A
        paused or closed conversation only changes policy: its clocks stand still."""
        changed: set[str] = set()
        policy = self.policy_for(conversation)
        if (policy.pk if policy else None) == conversation.sla_policy_id:
            return changed
        _set(conversation, "sla_policy_id", policy.pk if policy else None, changed, "sla_policy")
        if conversation.status in CLOSED or conversation.sla_paused_at is not None:
            return changed
        policy = policy or self.default
        calendar = self.calendar_for(conversation, policy)
        began = conversation.created_at
        waiting = conversation.waiting_since or began
        if conversation.first_response_at is None and began is not None:
            due = _due(waiting, policy.first_response_minutes, calendar)
            _set(conversation, "first_response_due_at", due, changed)
        if conversation.next_response_due_at is not None:
            due = _due(waiting, policy.next_response_minutes, calendar)
            _set(conversation, "next_response_due_at", due, changed)
        if began is not None:
            due = _due(began, policy.resolution_minutes, calendar)
            _set(conversation, "resolution_due_at", due, changed)
        _recompute(conversation, changed)
        return changed

    def on_inbound(self, conversation: Conversation, at: datetime) -> set[str]:
        """A new customer message at `at` in an existing conversation (after any reopening
        status change was applied with on_status). Once the conversation has had its first
        answer and no next response is running, the next-response target starts (if the policy
        has one); while paused, it starts with its whole target kept for the resume."""
        changed: set[str] = set()
        if conversation.status in CLOSED or conversation.first_response_at is None:
            return changed
        policy = self.policy_of(conversation)
        if policy.next_response_minutes is None:
            return changed
        remaining = dict(conversation.sla_paused_remaining or {})
        if conversation.next_response_due_at is not None or SlaKind.NEXT_RESPONSE in remaining:
            return changed  # the customer already waits: the clock runs from their first word
        if conversation.sla_paused_at is not None:
            remaining[SlaKind.NEXT_RESPONSE] = policy.next_response_minutes * 60.0
            _set(conversation, "sla_paused_remaining", remaining, changed)
        else:
            calendar = self.calendar_for(conversation, policy)
            due = _due(at, policy.next_response_minutes, calendar)
            _set(conversation, "next_response_due_at", due, changed)
        _recompute(conversation, changed)
        return changed

    def on_reply(self, conversation: Conversation, at: datetime) -> set[str]:
        """Our reply reached the platform at `at`: the first response is recorded (once) and
        the response targets stop, paused or not. First-response and next-response targets
        already past `at` are added to `missed`."""
        changed: set[str] = set()
        self._collect_missed(conversation, at, (SlaKind.FIRST_RESPONSE, SlaKind.NEXT_RESPONSE))
        if conversation.first_response_at is None:
            _set(conversation, "first_response_at", at, changed)
        _set(conversation, "next_response_due_at", None, changed)
        remaining = {
            kind: seconds
            for kind, seconds in (conversation.sla_paused_remaining or {}).items()
            if kind not in (SlaKind.FIRST_RESPONSE, SlaKind.NEXT_RESPONSE)
        }
        _set(conversation, "sla_paused_remaining", remaining, changed)
        _recompute(conversation, changed)
        return changed

    def on_status(
        self, conversation: Conversation, before: str, after: str, at: datetime
    ) -> set[str]:
        """The status changed from `before` to `after` at `at` (the caller sets the status).

        - Resolved or ignored: every target stops (targets already past `at` go to `missed`);
          an unanswered first response's due is cleared, an answered one's kept as the record.
        - Reopened (from resolved or ignored): the resolution target starts again from `at`,
          and the first-response target too if the conversation was never answered; the next
          response starts with the customer's next message (on_inbound). Breaches of the
          earlier round stay recorded.
        - Into snoozed or pending, if the policy pauses there: the clocks stop; each running
          target keeps its remaining business time. A target already overdue is not paused
          (a missed deadline cannot be un-missed by waiting).
        - Out of a pause (into a status that does not pause): each target is due its remaining
          business time after `at`.
        """
        changed: set[str] = set()
        if before == after:
            return changed
        policy = self.policy_of(conversation)
        if after in CLOSED:
            self._collect_missed(conversation, at, tuple(DUE_FIELDS))
            if conversation.first_response_at is None:
                _set(conversation, "first_response_due_at", None, changed)
            _set(conversation, "next_response_due_at", None, changed)
            _set(conversation, "resolution_due_at", None, changed)
            _set(conversation, "sla_paused_at", None, changed)
            _set(conversation, "sla_paused_remaining", {}, changed)
        elif before in CLOSED:
            self._begin(conversation, after, at, policy, changed)
        else:
            paused = conversation.sla_paused_at is not None
            pauses = _pauses(policy, after)
            if pauses and not paused:
                self._pause(conversation, at, self.calendar_for(conversation, policy), changed)
            elif paused and not pauses:
                self._resume(conversation, at, self.calendar_for(conversation, policy), changed)
        _recompute(conversation, changed)
        return changed

    def _pause(
        self, conversation: Conversation, at: datetime, calendar: WorkingCalendar, changed: set[str]
    ) -> None:
        remaining: dict[str, float] = {}
        for kind, due in pending_dues(conversation).items():
            if due <= at:
                continue
            remaining[kind] = business_time_between(at, due, calendar).total_seconds()
            _set(conversation, DUE_FIELDS[SlaKind(kind)], None, changed)
        _set(conversation, "sla_paused_at", at, changed)
        _set(conversation, "sla_paused_remaining", remaining, changed)

    def _resume(
        self, conversation: Conversation, at: datetime, calendar: WorkingCalendar, changed: set[str]
    ) -> None:
        paused_at = conversation.sla_paused_at
        # An item polled late can carry a time before the pause began.
        resumed = max(at, paused_at) if paused_at is not None else at
        for kind, seconds in (conversation.sla_paused_remaining or {}).items():
            if kind not in DUE_FIELDS:
                continue
            if kind == SlaKind.FIRST_RESPONSE and conversation.first_response_at is not None:
                continue
            due = add_business_time(resumed, timedelta(seconds=float(seconds)), calendar)
            _set(conversation, DUE_FIELDS[SlaKind(kind)], due, changed)
        _set(conversation, "sla_paused_at", None, changed)
        _set(conversation, "sla_paused_remaining", {}, changed)

    def _collect_missed(
        self, conversation: Conversation, at: datetime, kinds: Iterable[str]
    ) -> None:
        if conversation.pk is None:
            return
        dues = pending_dues(conversation)
        for kind in kinds:
            due = dues.get(kind)
            if due is not None and due < at:
                self.missed.append(self.breach(conversation, kind, due, at))

    def breach(
        self, conversation: Conversation, kind: str, due: datetime, at: datetime
    ) -> SlaBreach:
        """An unsaved breach row of one target of the conversation, noticed at `at`."""
        return SlaBreach(
            conversation_id=conversation.pk,
            policy_id=conversation.sla_policy_id,
            kind=kind,
            due_at=due,
            breached_at=at,
            department_id=self.department_of(conversation),
            assignee_id=conversation.assignee_id,
        )

    # Writing what was collected.

    def record_missed(self) -> int:
        """Write the breaches collected by on_reply and on_status (and a timeline event for
        each), those not recorded yet; returns how many were new. The caller holds the
        conversations' row locks (every writer of breaches does), so the look-up of the
        recorded ones cannot race; the unique constraint backs it up. Three queries at most,
        none when nothing was missed. No notification: the deadline is behind us, the answer
        or the closing already happened."""
        wanted, self.missed = self.missed, []
        if not wanted:
            return 0
        recorded = set(
            SlaBreach.objects.filter(
                conversation_id__in={row.conversation_id for row in wanted}
            ).values_list("conversation_id", "kind", "due_at")
        )
        new: list[SlaBreach] = []
        for row in wanted:
            key = (row.conversation_id, row.kind, row.due_at)
            if key not in recorded:
                recorded.add(key)
                new.append(row)
        if not new:
            return 0
        unplaced = {row.conversation_id for row in new if row.department_id is None}
        if unplaced:
            owners = first_owners(unplaced)
            for row in new:
                if row.department_id is None:
                    row.department_id = owners.get(row.conversation_id)
        SlaBreach.objects.bulk_create(new, ignore_conflicts=True)
        ConversationEvent.objects.bulk_create(
            breach_event(row.conversation_id, row.kind, row.due_at, row.policy_id) for row in new
        )
        return len(new)


_CACHED_BOOK = TeamConfigCache(SlaBook.load)


def record_reply_sla(*, conversation_id: int, at: datetime) -> set[str]:
    """Our reply reached the platform at `at`: record the first response, stop the response
    targets, record those it missed. Locks the conversation's row (in the caller's
    transaction, or its own); returns the fields changed and saved. Idempotent: a second call
    for the same reply changes nothing."""
    with transaction.atomic():
        conversation = Conversation.objects.select_for_update().filter(pk=conversation_id).first()
        if conversation is None:
            return set()
        book = SlaBook()  # on_reply needs neither policies nor calendars
        changed = book.on_reply(conversation, at)
        if changed:
            conversation.save(update_fields=[*sorted(changed), "updated_at"])
        book.record_missed()
    return changed


def first_owners(conversation_ids: set[int]) -> dict[int, int]:
    """For conversations without a department, the first department owning their channel."""
    owners: dict[int, int] = {}
    for conversation_id, department_id in (
        Conversation.objects.filter(pk__in=conversation_ids)
        .filter(channel_account__departments__isnull=False)
        .order_by("pk", "channel_account__departments__id")
        .values_list("pk", "channel_account__departments__id")
    ):
        owners.setdefault(conversation_id, department_id)
    return owners


def breach_event(
    conversation_id: int, kind: str, due_at: datetime, policy_id: int | None
) -> ConversationEvent:
    return ConversationEvent(
        conversation_id=conversation_id,
        kind=EventKind.SLA_BREACHED,
        data={
            # "kind" is what the timeline shows beside the event's label.
            "kind": str(KIND_LABELS.get(kind, kind)).lower(),
            "target": kind,
            "due_at": due_at.isoformat(),
            "policy_id": policy_id,
        },
    )


def _due(at: datetime, minutes: int | None, calendar: WorkingCalendar) -> datetime | None:
    if minutes is None:
        return None
    return add_business_time(at, timedelta(minutes=minutes), calendar)


def _pauses(policy: SlaPolicy, status: str) -> bool:
    return (status == ConversationStatus.PENDING and policy.pause_when_pending) or (
        status == ConversationStatus.SNOOZED and policy.pause_when_snoozed
    )


def _set(
    conversation: Conversation,
    attname: str,
    value: object,
    changed: set[str],
    name: str | None = None,
) -> None:
    if getattr(conversation, attname) != value:
        setattr(conversation, attname, value)
        changed.add(name or attname)


def _recompute(conversation: Conversation, changed: set[str]) -> None:
    """sla_due_at is the earliest running target; a moved deadline may be warned about again."""
    due = min(pending_dues(conversation).values(), default=None)
    if due != conversation.sla_due_at:
        conversation.sla_due_at = due
        changed.add("sla_due_at")
        _set(conversation, "sla_warned_at", None, changed)


def _grouped(rows: Iterable[tuple[Any, ...]]) -> dict[Any, list[Any]]:
    """(key, value) or (key, *values) rows as lists by key, in the rows' order."""
    grouped: dict[Any, list[Any]] = defaultdict(list)
    for key, *values in rows:
        grouped[key].append(values[0] if len(values) == 1 else tuple(values))
    return dict(grouped)


def _priorities(values: object) -> frozenset[int]:
    """A policy's priorities (JSON: numbers, or numbers as text from a form)."""
    result: set[int] = set()
    for value in values if isinstance(values, list) else []:
        try:
            result.add(int(value))
        except (TypeError, ValueError):
            logger.warning("SLA policy priority %r is not a number; ignored", value)
    return frozenset(result)


def _zone(name: str, department_id: int) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        logger.warning("department %s has unknown time zone %r", department_id, name)
        return ZoneInfo(settings.TIME_ZONE)
