"""Inbox housekeeping tasks (thin: they call actions)."""

from __future__ import annotations

from celery import shared_task

from inbox.conversation_actions import wake_snoozed_conversations
from inbox.presence import clean_stale_presence


@shared_task(name="inbox.tasks.wake_snoozed")
def wake_snoozed() -> int:
    """Reopen snoozed conversations whose snooze time has passed (see the action)."""
    return wake_snoozed_conversations()


@shared_task(name="inbox.tasks.clean_presence")
def clean_presence() -> int:
    """Delete presence rows of browsers that went away without a goodbye."""
    return clean_stale_presence()


@shared_task(name="inbox.tasks.expire_consultations")
def expire_consultations() -> int:
    """Stop showing "waiting for internal answer" once every advice link of a conversation
    has expired unanswered."""
    from inbox.consulting import expire_consultations as expire

    return expire()


@shared_task(name="inbox.tasks.check_sla")
def check_sla() -> tuple[int, int]:
    """Warn before SLA deadlines and record breaches (see inbox.sla_checks.check_sla: SKIP LOCKED
    batches, each warning and each breach once)."""
    from inbox.sla_checks import check_sla as check_sla_timers

    return check_sla_timers()


@shared_task(name="inbox.tasks.assign_waiting")
def assign_waiting() -> int:
    """Hand unassigned open work of auto-assigning departments to agents who became available
    or got room (one transaction per department, its row locked; conversations SKIP LOCKED)."""
    from inbox.assignment import assign_waiting as assign

    return assign()
