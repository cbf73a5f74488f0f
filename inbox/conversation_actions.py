"""What agents do to a conversation itself: assign, status (snooze), priority, tags, in bulk.

Each action checks that the user may see the conversation (inbox.access), locks the row, writes,
records the change in the timeline (ConversationEvent with before and after), and publishes the
new state after commit, with the list facts it changed (`was`), so that every browser's queue
counts move without asking the server.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q, QuerySet
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from inbox.access import AccessDenied, AnyUser, check_can_assign
from inbox.actions import ActionRefused, queue_message_action
from inbox.live import publish_changes_on_commit
from inbox.models import (
    ACTING_ROLES,
    OPEN_WORK,
    Conversation,
    ConversationEvent,
    ConversationStatus,
    Department,
    Direction,
    EventKind,
    OutboundKind,
    PlatformState,
    Priority,
    Tag,
)
from inbox.sla import SlaBook

# Bulk actions act on at most this many conversations at once (a page of the list and more).
BULK_LIMIT = 500


def _locked(user: AnyUser, ids: Iterable[int]) -> list[Conversation]:
    """The conversations among `ids` the user may change, locked in id order (no deadlocks
    between bulks). Conversations the user may only read (an observer) are left out."""
    return list(
        Conversation.objects.workable_by(user)
        .select_for_update(of=("self",))
        .filter(pk__in=list(ids))
        .order_by("pk")
    )


def assignable_users(conversation: Conversation) -> QuerySet[Any]:
    """Active users who may work on this conversation's channel: admins, and the leads and
    agents of its departments (observers only read, so they are never assigned)."""
    User = get_user_model()
    member = Q(
        memberships__department__channel_accounts__id=conversation.channel_account_id,
        memberships__role__in=ACTING_ROLES,
    )
    return (
        User.objects.filter(is_active=True)
        .filter(Q(is_superuser=True) | member)
        .distinct()
        .order_by("first_name", "username")
    )


def assign_conversations(
    *,
    user: AnyUser,
    conversation_ids: Iterable[int],
    assignee: Any | None,
    department: Department | None = None,
    set_department: bool = False,
    open_only: bool = False,
) -> list[Conversation]:
    """Assign to a person (None: unassign) and, with `set_department`, route to a department.

    `open_only`: skip conversations that were resolved or ignored meanwhile (checked under the
    row lock), for assignments of "everything open" such as a person's other conversations.

    The assignee must be able to see each conversation's channel, and the department must own
    it; otherwise nothing is changed and ActionRefused says why. Notifies the new assignee.
    """
    from inbox.notifications import notify_assigned

    with transaction.atomic():
        conversations = _locked(user, conversation_ids)
        if open_only:
            conversations = [c for c in conversations if c.status in OPEN_WORK]
        for conversation in conversations:
            try:
                check_can_assign(
                    user,
                    conversation,
                    assignee=assignee,
                    department=department,
                    set_department=set_department,
                )
            except AccessDenied as exc:
                raise ActionRefused(str(exc)) from None
        book = SlaBook.cached()
        changed = []
        was: dict[int, dict[str, Any]] = {}
        events = []
        for conversation in conversations:
            before = {
                "assignee": conversation.assignee_id,
                "department": conversation.department_id,
            }
            conversation.assignee = assignee
            if set_department:
                conversation.department = department
            after = {
                "assignee": conversation.assignee_id,
                "department": conversation.department_id,
            }
            if before == after:
                continue
            if conversation.status == ConversationStatus.NEW and assignee is not None:
                was.setdefault(conversation.pk, {})["status"] = conversation.status
                conversation.status = ConversationStatus.OPEN
            was.setdefault(conversation.pk, {}).update(before)
            # Routed to another department: its SLA policy and calendar may apply now.
            timers = book.on_routing(conversation) if set_department else set()
            conversation.save(
                update_fields=["assignee", "department", "status", "updated_at", *timers]
            )
            events.append(
                ConversationEvent(
                    conversation=conversation,
                    actor_id=user.pk,
                    kind=EventKind.ASSIGNED,
                    data={
                        "before": before,
                        "after": after,
                        "assignee_name": _name(assignee),
                        "department_name": department.name if department else "",
                    },
                )
            )
            changed.append(conversation)
            if assignee is not None and assignee.pk != user.pk:
                notify_assigned(
                    conversation=conversation,
                    assignee=assignee,
                    actor=user,  # type: ignore[arg-type]
                )
        ConversationEvent.objects.bulk_create(events)
        publish_changes_on_commit(conversation_ids=[c.pk for c in changed], was=was)
    return changed


def set_status(
    *,
    user: AnyUser,
    conversation_ids: Iterable[int],
    status: str,
    snoozed_until: datetime | None = None,
) -> list[Conversation]:
    """Set the status; snoozing needs a time in the future, and a snoozed conversation comes
    back as open at that time (wake_snoozed_conversations)."""
    if status not in ConversationStatus.values:
        raise ActionRefused(_("Unknown status."))
    if status == ConversationStatus.SNOOZED:
        if snoozed_until is None:
            raise ActionRefused(_("Choose until when to snooze."))
        if snoozed_until <= timezone.now():
            raise ActionRefused(_("The snooze time must be in the future."))
    else:
        snoozed_until = None
    with transaction.atomic():
        conversations = _locked(user, conversation_ids)
        book = SlaBook.cached()
        now = timezone.now()
        changed, was, events = [], {}, []
        for conversation in conversations:
            before = conversation.status
            if before == status and conversation.snoozed_until == snoozed_until:
                continue
            timers = book.on_status(conversation, before, status, now)
            conversation.status = status
            conversation.snoozed_until = snoozed_until
            conversation.save(update_fields=["status", "snoozed_until", "updated_at", *timers])
            was[conversation.pk] = {"status": before}
            data: dict[str, Any] = {"before": before, "after": status}
            if snoozed_until is not None:
                data["snoozed_until"] = snoozed_until.isoformat()
            events.append(
                ConversationEvent(
                    conversation=conversation,
                    actor_id=user.pk,
                    kind=EventKind.STATUS_CHANGED,
                    data=data,
                )
            )
            changed.append(conversation)
        ConversationEvent.objects.bulk_create(events)
        book.record_missed()
        publish_changes_on_commit(conversation_ids=[c.pk for c in changed], was=was)
    return changed


def set_priority(*, user: AnyUser, conversation_ids: Iterable[int], priority: int) -> int:
    """Set the priority; returns how many conversations changed."""
    if priority not in Priority.values:
        raise ActionRefused(_("Unknown priority."))
    with transaction.atomic():
        conversations = _locked(user, conversation_ids)
        book = SlaBook.cached()
        changed, was, events = [], {}, []
        for conversation in conversations:
            if conversation.priority == priority:
                continue
            was[conversation.pk] = {"priority": conversation.priority}
            events.append(
                ConversationEvent(
                    conversation=conversation,
                    actor_id=user.pk,
                    kind=EventKind.PRIORITY_CHANGED,
                    data={"before": conversation.priority, "after": priority},
                )
            )
            conversation.priority = priority
            # An urgent conversation may fall under a stricter SLA policy.
            timers = book.on_routing(conversation)
            conversation.save(update_fields=["priority", "updated_at", *timers])
            changed.append(conversation.pk)
        ConversationEvent.objects.bulk_create(events)
        publish_changes_on_commit(conversation_ids=changed, was=was)
    return len(changed)


def tags_by_name(names: Iterable[str]) -> list[Tag]:
    """The tags with these names (ignoring case), made where missing, in the order given: two
    queries and an insert whatever the number of names (a moderation rule tags whole pages)."""
    wanted: dict[str, str] = {}
    for raw in names:
        name = " ".join(raw.split())[:60]
        if name:
            wanted.setdefault(name.lower(), name)
    if not wanted:
        return []

    def read() -> dict[str, Tag]:
        # Lower() as the unique index has it: "Spam" is the existing "spam".
        found = Tag.objects.alias(folded=Lower("name")).filter(folded__in=list(wanted))
        return {tag.name.lower(): tag for tag in found}

    existing = read()
    missing = [Tag(name=name) for key, name in wanted.items() if key not in existing]
    if missing:
        Tag.objects.bulk_create(missing, ignore_conflicts=True)  # a concurrent one wins
        existing = read()
    return [existing[key] for key in wanted if key in existing]


def change_tags(
    *,
    user: AnyUser,
    conversation_ids: Iterable[int],
    add: Iterable[str] = (),
    remove: Iterable[int] = (),
) -> int:
    """Add tags (by name, created when new) and remove tags (by id); returns how many changed."""
    with transaction.atomic():
        added = tags_by_name(add)
        removed = set(remove)
        conversations = _locked(user, conversation_ids)
        current: dict[int, set[int]] = {c.pk: set() for c in conversations}
        for conversation_id, tag_id in Conversation.tags.through.objects.filter(
            conversation_id__in=current
        ).values_list("conversation_id", "tag_id"):
            current[conversation_id].add(tag_id)
        names = {t.pk: t.name for t in added}
        names.update(Tag.objects.filter(pk__in=removed).values_list("pk", "name"))
        changed, was, events = [], {}, []
        for conversation in conversations:
            before = current[conversation.pk]
            after = (before | {t.pk for t in added}) - removed
            if after == before:
                continue
            conversation.tags.add(*(after - before))
            conversation.tags.remove(*(before - after))
            conversation.save(update_fields=["updated_at"])
            was[conversation.pk] = {"tag": sorted(before)}
            events.append(
                ConversationEvent(
                    conversation=conversation,
                    actor_id=user.pk,
                    kind=EventKind.TAGS_CHANGED,
                    data={
                        "added": [names.get(pk, "") for pk in sorted(after - before)],
                        "removed": [names.get(pk, "") for pk in sorted(before - after)],
                    },
                )
            )
            changed.append(conversation.pk)
        ConversationEvent.objects.bulk_create(events)
        publish_changes_on_commit(conversation_ids=changed, was=was)
    return len(changed)


def hide_conversations(*, user: AnyUser, conversation_ids: Iterable[int]) -> tuple[int, list[str]]:
    """Hide every visible inbound item of these conversations where the platform allows it.

    Each hide goes through the outbox like a single one. Returns the number queued and the
    reasons for the items that could not be hidden (the rest go on).
    """
    from inbox.models import Message

    queued, refused = 0, []
    visible = Conversation.objects.workable_by(user).filter(pk__in=list(conversation_ids))
    messages = Message.objects.filter(
        conversation__in=visible,
        direction=Direction.INBOUND,
        platform_state=PlatformState.VISIBLE,
        external_id__isnull=False,
    ).select_related("conversation", "channel_account", "contact")
    for message in messages:
        try:
            queue_message_action(user=user, message=message, kind=OutboundKind.HIDE)
        except ActionRefused as exc:
            refused.append(str(exc))
        else:
            queued += 1
    return queued, sorted(set(refused))


def wake_snoozed_conversations(*, now: datetime | None = None) -> int:
    """Snoozed conversations whose time has come are open again (idempotent, row-locked)."""
    now = now or timezone.now()
    with transaction.atomic():
        due = list(
            Conversation.objects.select_for_update(skip_locked=True).filter(
                status=ConversationStatus.SNOOZED, snoozed_until__lte=now
            )[:1000]
        )
        book = SlaBook.cached() if due else SlaBook()
        for conversation in due:
            # The pause ended when the snooze did, even if this run comes a little later.
            woke = conversation.snoozed_until or now
            timers = book.on_status(conversation, ConversationStatus.SNOOZED, "open", woke)
            conversation.status = ConversationStatus.OPEN
            conversation.snoozed_until = None
            conversation.save(update_fields=["status", "snoozed_until", "updated_at", *timers])
        ConversationEvent.objects.bulk_create(
            ConversationEvent(
                conversation=conversation,
                kind=EventKind.STATUS_CHANGED,
                data={"before": "snoozed", "after": "open", "reason": "snooze ended"},
            )
            for conversation in due
        )
        publish_changes_on_commit(
            conversation_ids=[c.pk for c in due], was={c.pk: {"status": "snoozed"} for c in due}
        )
    return len(due)


SNOOZE_PRESETS = {
    "1h": gettext_lazy("For an hour"),
    "3h": gettext_lazy("For three hours"),
    "tomorrow": gettext_lazy("Until tomorrow, 9:00"),
    "monday": gettext_lazy("Until Monday, 9:00"),
}


def snooze_until(preset: str, *, now: datetime, zone: ZoneInfo) -> datetime:
    """The time a snooze preset means for someone in `zone` (mornings are 9:00 local time)."""
    if preset == "1h":
        return now + timedelta(hours=1)
    if preset == "3h":
        return now + timedelta(hours=3)
    local = now.astimezone(zone)
    days = 1 if preset == "tomorrow" else (7 - local.weekday()) or 7
    day = (local + timedelta(days=days)).date()
    return datetime.combine(day, time(9, 0), zone)


def user_zone(user: AnyUser) -> ZoneInfo:
    """The user's time zone from their preferences (the server's when unset or unknown)."""
    from django.conf import settings

    from inbox.models import AgentPreferences

    name = (
        AgentPreferences.objects.filter(user_id=int(user.pk or 0))
        .values_list("time_zone", flat=True)
        .first()
        or settings.TIME_ZONE
    )
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(settings.TIME_ZONE)


def _name(user: Any | None) -> str:
    if user is None:
        return ""
    return str(user.get_full_name() or user.get_username())
