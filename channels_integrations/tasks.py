"""Celery tasks: thin, take ids, call the functions that hold the guarantees."""

from __future__ import annotations

import time
from datetime import timedelta

from celery import shared_task
from django.conf import settings

from channels_integrations import outbox, polling
from channels_integrations.actions import claim_due_channels
from inbox.actions import requeue_stalled_actions

# Channels claimed per transaction by the dispatcher (one SKIP LOCKED select and one update).
DISPATCH_BATCH = 500


@shared_task(name="channels_integrations.tasks.dispatch_due_polls", ignore_result=True)
def dispatch_due_polls() -> int:
    """Beat task: enqueue one poll per due channel; see claim_due_channels for the locking.

    Claims in batches until nothing is due or the time budget (one beat interval) is spent, so
    thousands of due channels go out in one run instead of a few hundred per beat.
    """
    deadline = time.monotonic() + settings.POLL_DISPATCH_SECONDS
    dispatched = 0
    # One broker connection for the whole run, not one checkout per message.
    with poll_channel.app.producer_or_acquire() as producer:
        while True:
            ids = claim_due_channels(limit=DISPATCH_BATCH)
            for account_id in ids:
                poll_channel.apply_async((account_id,), producer=producer)
            dispatched += len(ids)
            if len(ids) < DISPATCH_BATCH or time.monotonic() > deadline:
                return dispatched


@shared_task(name="channels_integrations.tasks.poll_channel", ignore_result=True)
def poll_channel(account_id: int) -> None:
    """Poll one channel (idempotent: a redelivered task re-reads the committed cursor)."""
    polling.poll_channel(account_id)


@shared_task(name="channels_integrations.tasks.deliver_outbound_action", ignore_result=True)
def deliver_outbound_action(action_id: int) -> None:
    """Send one outbox row; claimed exactly once, retried later with the same idempotency key."""
    retry_at = outbox.deliver(action_id)
    if retry_at is not None:
        deliver_outbound_action.apply_async((action_id,), eta=retry_at)


@shared_task(name="channels_integrations.tasks.requeue_stalled_deliveries", ignore_result=True)
def requeue_stalled_deliveries() -> int:
    """Beat task: deliveries whose worker died in "sending" go back to the queue."""
    return len(requeue_stalled_actions(older_than=timedelta(seconds=settings.OUTBOX_STALL_SECONDS)))


@shared_task(name="channels_integrations.tasks.run_connection_test", ignore_result=True)
def run_connection_test(test_id: int) -> None:
    """Run one "test connection" of the channel setup page (idempotent: runs a test once)."""
    from channels_integrations import channel_setup

    channel_setup.run_connection_test(test_id=test_id)
