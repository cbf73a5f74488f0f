"""The minute-by-minute SLA check (docs/sla.md): warn once before each deadline, record each
missed target once (SlaBreach, for reports), with a timeline event and a notice to the assignee
and the department's leads. The timers themselves are set by inbox.sla."""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy

from inbox.live import publish_changes_on_commit
from inbox.models import (
    Conversation,
    ConversationEvent,
    Membership,
    MembershipRole,
    NotificationKind,
    SlaBreach,
    SlaKind,
)
from inbox.notifications import Localized, local_time, notify, subject_of
from inbox.sla import (
    BATCH_SIZE,
    DUE_FIELDS,
    KIND_LABELS,
    MAX_BATCHES,
    TIMED,
    SlaBook,
    breach_event,
    pending_dues,
)

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

logger = logging.getLogger(__name__)


def check_sla(*, now: datetime | None = None) -> tuple[int, int]:
    """Warn about deadlines coming up and record deadlines passed; returns (warnings sent,
    breaches recorded).

    Guarantees: a warning once per deadline (sla_warned_at; a moved deadline is warned about
    again), a breach once per (conversation, target, due time) with one timeline event and one
    notice, to the assignee and the leads of the conversation's department (else of the
    departments owning its channel). Each batch is one transaction holding its conversations'
    row locks, taken with SKIP LOCKED: two runs at once share the work and never notify twice.
    A fixed number of queries per batch, plus the notification's own per conversation notified.
    """
    now = now or timezone.now()
    book = SlaBook.load()
    warned = breached = 0
    for _round in range(MAX_BATCHES):
        batch_warned, batch_breached, full = _check_batch(book, now)
        warned += batch_warned
        breached += batch_breached
        if not full:
            break
    return warned, breached


def _check_batch(book: SlaBook, now: datetime) -> tuple[int, int, bool]:
    with transaction.atomic():
        conversations = list(
            Conversation.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(_needs_check(book, now))
            .select_related("assignee", "contact", "channel_account")
            .order_by("sla_due_at", "pk")[:BATCH_SIZE]
        )
        if not conversations:
            return 0, 0, False
        # Read after the locks are held: a statement that sees every breach committed so far,
        # including those of a run that held some of these rows a moment ago.
        recorded = set(
            SlaBreach.objects.filter(
                conversation_id__in=[c.pk for c in conversations], due_at__lt=now
            ).values_list("conversation_id", "kind", "due_at")
        )
        warnings: list[Conversation] = []
        breaches: list[SlaBreach] = []
        told: list[int] = []
        for conversation in conversations:
            new = [
                (kind, due)
                for kind, due in pending_dues(conversation).items()
                if due < now and (conversation.pk, kind, due) not in recorded
            ]
            breaches += [book.breach(conversation, kind, due, now) for kind, due in new]
            due_at = conversation.sla_due_at
            warn_before = timedelta(minutes=book.policy_of(conversation).warn_before_minutes)
            in_window = (
                conversation.sla_warned_at is None
                and due_at is not None
                and due_at - warn_before <= now
            )
            if in_window and due_at is not None and due_at > now:
                warnings.append(conversation)
            # A deadline already passed is not warned about: its breach notice says it all.
            if in_window or new:
                told.append(conversation.pk)

        breached_ids = {row.conversation_id for row in breaches}
        noticed = [*warnings, *(c for c in conversations if c.pk in breached_ids)]
        leads = _leads_by_department(
            {
                department_id
                for conversation in noticed
                for department_id in _notice_departments(book, conversation)
            }
        )
        if breaches:
            SlaBreach.objects.bulk_create(breaches, ignore_conflicts=True)
            ConversationEvent.objects.bulk_create(
                breach_event(row.conversation_id, row.kind, row.due_at, row.policy_id)
                for row in breaches
            )
        if told:
            Conversation.objects.filter(pk__in=told).update(sla_warned_at=now)
        if breached_ids:
            # The rows' version moves so that browsers take the re-rendered (overdue) row.
            Conversation.objects.filter(pk__in=breached_ids).update(updated_at=now)
            publish_changes_on_commit(conversation_ids=breached_ids)

        by_id = {conversation.pk: conversation for conversation in conversations}
        for conversation in warnings:
            due = conversation.sla_due_at
            assert due is not None
            label = KIND_LABELS.get(_kind_due_at(conversation, due), gettext_lazy("Answer"))
            notify(
                users=_recipients(book, conversation, leads),
                kind=NotificationKind.SLA_WARNING,
                conversation=conversation,
                actor=None,
                text=Localized(
                    gettext_lazy("%(target)s due %(time)s: %(subject)s"),
                    target=label,
                    time=local_time(due),
                    subject=subject_of(conversation),
                ),
            )
        for row in breaches:
            conversation = by_id[row.conversation_id]
            notify(
                users=_recipients(book, conversation, leads),
                kind=NotificationKind.SLA_BREACH,
                conversation=conversation,
                actor=None,
                text=Localized(
                    gettext_lazy("%(target)s target missed (due %(time)s): %(subject)s"),
                    target=KIND_LABELS.get(row.kind, row.kind),
                    time=local_time(row.due_at),
                    subject=subject_of(conversation),
                ),
            )
    return len(warnings), len(breaches), len(conversations) == BATCH_SIZE


def _needs_check(book: SlaBook, now: datetime) -> Q:
    """Conversations with a deadline in their warning window and not warned yet, or with a
    passed deadline not recorded as a breach. Served by the index on sla_due_at: every such
    deadline makes sla_due_at (the earliest) fall inside the widest window."""
    windows: dict[int, set[int]] = defaultdict(set)
    for rule in book.rules:
        windows[rule.policy.warn_before_minutes].add(rule.policy.pk)
    enabled = {rule.policy.pk for rule in book.rules}
    # The default rule covers conversations without a policy or whose policy is disabled.
    default_members = Q(sla_policy__isnull=True)
    if enabled:
        default_members |= ~Q(sla_policy_id__in=enabled)
    widest = max([book.default.warn_before_minutes, *windows])
    warn = Q(sla_due_at__lte=now + timedelta(minutes=book.default.warn_before_minutes)) & (
        default_members
    )
    for minutes, policy_ids in windows.items():
        warn |= Q(sla_due_at__lte=now + timedelta(minutes=minutes), sla_policy_id__in=policy_ids)
    warn &= Q(sla_warned_at__isnull=True)

    passed = Q()
    for kind, due_field in DUE_FIELDS.items():
        recorded = SlaBreach.objects.filter(
            conversation_id=OuterRef("pk"), kind=kind, due_at=OuterRef(due_field)
        )
        unrecorded = Q(Q(**{f"{due_field}__lt": now}), ~Exists(recorded))
        if kind == SlaKind.FIRST_RESPONSE:
            unrecorded &= Q(first_response_at__isnull=True)
        passed |= unrecorded
    return Q(status__in=TIMED, sla_due_at__lte=now + timedelta(minutes=widest)) & (warn | passed)


def _notice_departments(book: SlaBook, conversation: Conversation) -> list[int]:
    if conversation.department_id is not None:
        return [int(conversation.department_id)]
    return book.channel_departments.get(conversation.channel_account_id, [])


def _leads_by_department(department_ids: set[int]) -> dict[int, list[AbstractBaseUser]]:
    leads: dict[int, list[AbstractBaseUser]] = defaultdict(list)
    if not department_ids:
        return leads
    for membership in Membership.objects.filter(
        department_id__in=department_ids, role=MembershipRole.LEAD, user__is_active=True
    ).select_related("user"):
        leads[membership.department_id].append(membership.user)
    return leads


def _recipients(
    book: SlaBook, conversation: Conversation, leads: dict[int, list[AbstractBaseUser]]
) -> list[AbstractBaseUser]:
    """The assignee and the leads, each once."""
    users: dict[Any, AbstractBaseUser] = {}
    if conversation.assignee is not None:
        users[conversation.assignee.pk] = conversation.assignee
    for department_id in _notice_departments(book, conversation):
        for lead in leads.get(department_id, []):
            users.setdefault(lead.pk, lead)
    return list(users.values())


def _kind_due_at(conversation: Conversation, due: datetime) -> str:
    for kind, value in pending_dues(conversation).items():
        if value == due:
            return kind
    return ""


# Small pure helpers.
