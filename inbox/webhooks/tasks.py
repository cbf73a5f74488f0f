"""Celery tasks of the webhooks (thin: they call relay and delivery, which hold the guarantees).

Beat runs `relay` and `dispatch` every few seconds (settings.CELERY_BEAT_SCHEDULE); the relay and
the admin actions also kick `dispatch` after commit, so a new delivery leaves at once.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime

from celery import shared_task
from django.db import transaction

from inbox.webhooks import delivery, relay

logger = logging.getLogger(__name__)

# One dispatch run claims batches until nothing is due or this time is spent.
DISPATCH_SECONDS = 4.0


@shared_task(name="inbox.webhooks.tasks.relay", ignore_result=True)
def relay_events() -> int:
    """Beat task: turn new timeline and incident events into webhook deliveries (idempotent,
    safe to run concurrently: see inbox.webhooks.relay)."""
    return relay.relay_events()


@shared_task(name="inbox.webhooks.tasks.dispatch", ignore_result=True)
def dispatch() -> int:
    """Beat task (and kicked after commit): put stalled claims back, then claim due deliveries
    and hand each to `deliver` (every row is claimed by one dispatcher only)."""
    delivery.requeue_stalled()
    deadline = time.monotonic() + DISPATCH_SECONDS
    handed = 0
    while True:
        claims = delivery.claim_due()
        for claim in claims:
            deliver.delay(claim.delivery_id, claim.claimed_at.isoformat())
        handed += len(claims)
        if len(claims) < delivery.CLAIM_BATCH or time.monotonic() > deadline:
            return handed


@shared_task(name="inbox.webhooks.tasks.deliver", ignore_result=True)
def deliver(delivery_id: int, claimed_at: str) -> None:
    """Send one claimed delivery and record the attempt. A duplicate or late task whose claim
    no longer holds does nothing."""
    delivery.deliver(delivery.Claim(delivery_id, datetime.fromisoformat(claimed_at)))


def enqueue_dispatch() -> None:
    """After commit, ask a worker to send what is due (a lost hand-off is not an error: the beat
    dispatch runs every few seconds anyway)."""

    def enqueue() -> None:
        try:
            dispatch.delay()
        except Exception:
            logger.exception("could not enqueue the webhook dispatch")

    transaction.on_commit(enqueue, robust=True)


@shared_task(name="inbox.webhooks.tasks.prune", ignore_result=True)
def prune() -> int:
    """Beat task: forget settled deliveries older than WEBHOOK_LOG_DAYS (the log's retention)."""
    return delivery.prune_deliveries()
