"""The scheduled retention run (thin: it calls inbox.data_protection.retention)."""

from __future__ import annotations

from celery import shared_task

from inbox.data_protection.retention import apply_retention as apply_policies


@shared_task(name="inbox.data_protection.tasks.apply_retention")
def apply_retention() -> dict[str, int]:
    """Apply every enabled retention policy: batches of 500 conversations, one transaction
    each, SKIP LOCKED, idempotent; one audit entry per channel that had anything to do.
    Returns the number of conversations handled per channel id."""
    return {str(run.channel_account_id): run.conversations for run in apply_policies()}
