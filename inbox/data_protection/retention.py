"""Retention policies: per channel, conversations whose last message is older than N days are
deleted or anonymized by a scheduled task (inbox.data_protection.tasks.apply_retention).

Each run works in batches of BATCH_SIZE conversations, one transaction per batch, the rows
taken with SKIP LOCKED: a channel with a million messages is never one giant transaction, and
two runs at once share the work instead of waiting for each other. A run is idempotent: what
it did is no longer due (anonymized conversations carry anonymized_at, deleted ones are gone).

Anonymizing is the erasure's scrubbing per conversation (inbox.data_protection.erasure) and
keeps what reports read: message counts and rows, first_response_at, SLA facts, statuses, tags.
A contact whose every conversation and message is gone or anonymized loses its identity too,
and a person left without any identity keeps only a neutral name (as after an erasure).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from channels_integrations.models import ChannelAccount
from inbox import audit
from inbox.access import AnyUser
from inbox.data_protection.erasure import (
    check_can_erase,
    contacts_without_live_data,
    forget_persons,
    persons_without_identity,
    scrub_contacts,
    scrub_conversations,
    scrub_messages,
)
from inbox.models import Contact, Conversation, Message, RetentionAction, RetentionPolicy

BATCH_SIZE = 500
POLICY_FIELDS = ("channel_account", "days", "action", "enabled")


def save_retention_policy(
    *, user: AnyUser, channel: ChannelAccount, days: int, action: str, enabled: bool
) -> RetentionPolicy:
    """Create or change the channel's policy (admins only), audited with the values before and
    after. The next scheduled run applies it."""
    check_can_erase(user)
    if action not in RetentionAction.values or days < 1:
        raise ValueError("a retention policy needs an action and at least one day")
    with transaction.atomic():
        policy = RetentionPolicy.objects.select_for_update().filter(channel_account=channel).first()
        created = policy is None
        if policy is None:
            policy = RetentionPolicy(channel_account=channel, days=days)
        before = {} if created else audit.snapshot(policy, POLICY_FIELDS)
        policy.days, policy.action, policy.enabled = days, action, enabled
        policy.save()
        audit.record(
            actor=user,
            action=audit.AuditAction.CREATED if created else audit.AuditAction.CHANGED,
            instance_or_type="retention_policy",
            before=before,
            after=audit.snapshot(policy, POLICY_FIELDS),
            object_id=str(policy.pk),
            object_repr=str(channel)[:300],
        )
    return policy


def due_conversations(policy: RetentionPolicy, *, now: datetime) -> QuerySet[Conversation]:
    """The channel's conversations the policy still has to act on at `now`: last message
    older than the policy's days; for anonymizing, not anonymized since their last message."""
    due = Conversation.objects.filter(
        channel_account_id=policy.channel_account_id,
        last_message_at__lt=now - timedelta(days=policy.days),
    )
    if policy.action == RetentionAction.ANONYMIZE:
        due = due.filter(Q(anonymized_at__isnull=True) | Q(anonymized_at__lt=F("last_message_at")))
    return due


def _authors(conversation_ids: list[int]) -> set[int]:
    """The contacts that wrote in or started these conversations."""
    authors = set(
        Message.objects.filter(conversation_id__in=conversation_ids, contact__isnull=False)
        .values_list("contact_id", flat=True)
        .distinct()
    )
    authors.update(
        Conversation.objects.filter(pk__in=conversation_ids, contact__isnull=False).values_list(
            "contact_id", flat=True
        )
    )
    return authors


def _forget_authors_left_without_data(contact_ids: set[int], *, now: datetime) -> None:
    gone = list(contacts_without_live_data(contact_ids).values_list("pk", "person_id"))
    person_ids = {person_id for _pk, person_id in gone}
    if scrub_contacts(Contact.objects.filter(pk__in=[pk for pk, _person in gone]), now=now):
        forget_persons(persons_without_identity(person_ids).values_list("pk", flat=True), now=now)


def _apply_batch(policy: RetentionPolicy, *, now: datetime, batch_size: int) -> int:
    """One batch in one transaction; returns how many conversations it handled."""
    with transaction.atomic():
        ids = list(
            due_conversations(policy, now=now)
            .order_by("pk")
            .select_for_update(skip_locked=True)
            .values_list("pk", flat=True)[:batch_size]
        )
        if not ids:
            return 0
        authors = _authors(ids)
        if policy.action == RetentionAction.DELETE:
            # Cascades to messages, outbox rows, notes, events, moderation cases; evidence
            # (ModerationDecision) keeps its copy with message set to NULL, which the
            # evidence trigger allows.
            Conversation.objects.filter(pk__in=ids).delete()
        else:
            scrub_messages(Message.objects.filter(conversation_id__in=ids), now=now)
            scrub_conversations(ids, now=now, replace_thread_keys=False)
        _forget_authors_left_without_data(authors, now=now)
    return len(ids)


@dataclass(frozen=True)
class RetentionRun:
    channel_account_id: int
    action: str
    conversations: int


def apply_retention_policy(
    policy_id: int, *, now: datetime | None = None, batch_size: int = BATCH_SIZE
) -> RetentionRun:
    """Apply one policy: batches of `batch_size` conversations, each in its own transaction,
    until nothing is due. Records last_run_at and last_run_count on the policy and, when it
    handled anything, one audit entry with the count (no personal data). Idempotent."""
    now = now or timezone.now()
    policy = RetentionPolicy.objects.select_related("channel_account").get(pk=policy_id)
    total = 0
    while True:
        handled = _apply_batch(policy, now=now, batch_size=batch_size)
        total += handled
        if handled < batch_size:
            break
    with transaction.atomic():
        RetentionPolicy.objects.filter(pk=policy.pk).update(
            last_run_at=now, last_run_count=total, updated_at=now
        )
        if total:
            audit.record(
                actor=None,
                action=audit.AuditAction.CREATED,
                instance_or_type="retention_run",
                before={},
                after={
                    "channel": policy.channel_account_id,
                    "action": policy.action,
                    "days": policy.days,
                    "conversations": total,
                },
                object_id=str(policy.channel_account_id),
                object_repr=str(policy.channel_account)[:300],
            )
    return RetentionRun(policy.channel_account_id, policy.action, total)


def apply_retention(
    *, now: datetime | None = None, batch_size: int = BATCH_SIZE
) -> list[RetentionRun]:
    """Apply every enabled policy (see apply_retention_policy), one channel after another."""
    now = now or timezone.now()
    return [
        apply_retention_policy(policy_id, now=now, batch_size=batch_size)
        for policy_id in RetentionPolicy.objects.filter(enabled=True)
        .order_by("pk")
        .values_list("pk", flat=True)
    ]
