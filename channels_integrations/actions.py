"""Writes to channel accounts: the outcome of each poll, and status changes by people."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from channels_integrations.models import POLLABLE_STATUSES, ChannelAccount, ChannelStatus


def claim_due_channels(*, limit: int = 200) -> list[int]:
    """Hand out the channels that are due for a poll, each to exactly one caller.

    SELECT ... FOR UPDATE SKIP LOCKED: concurrent dispatchers skip each other's rows instead of
    waiting, and the lease written in the same transaction makes the rows not due any more.
    A worker that dies mid-poll lets the lease expire and the channel is handed out again.
    """
    now = timezone.now()
    lease_until = now + timedelta(seconds=settings.POLL_LEASE_SECONDS)
    with transaction.atomic():
        ids = list(
            ChannelAccount.objects.select_for_update(skip_locked=True)
            .filter(status__in=POLLABLE_STATUSES, next_poll_at__lte=now)
            .order_by("next_poll_at", "pk")
            .values_list("pk", flat=True)[:limit]
        )
        if ids:
            ChannelAccount.objects.filter(pk__in=ids).update(
                next_poll_at=lease_until, poll_lease_until=lease_until
            )
    return ids


def record_poll_success(account_id: int, *, caught_up: bool, summary: str) -> None:
    now = timezone.now()
    interval = ChannelAccount.objects.values_list("poll_interval_seconds", flat=True).get(
        pk=account_id
    )
    with transaction.atomic():
        ChannelAccount.objects.filter(pk=account_id).update(
            last_poll_at=now,
            last_success_at=now,
            last_poll_result=summary[:300],
            last_error="",
            consecutive_failures=0,
            next_poll_at=now if not caught_up else now + timedelta(seconds=interval),
            poll_lease_until=None,
        )
        _set_status_unless_decided(account_id, ChannelStatus.ACTIVE)


def record_poll_rate_limited(account_id: int, *, retry_at: datetime, error: str) -> None:
    now = timezone.now()
    ChannelAccount.objects.filter(pk=account_id).update(
        rate_limited_until=retry_at,
        next_poll_at=retry_at,
        poll_lease_until=None,
        last_poll_at=now,
        last_poll_result="rate limited",
        last_error=error[:2000],
    )


def record_poll_needs_reauth(account_id: int, *, error: str) -> None:
    """The token is dead: stop polling this channel until someone re-authorizes it."""
    now = timezone.now()
    with transaction.atomic():
        ChannelAccount.objects.filter(pk=account_id).update(
            poll_lease_until=None,
            last_poll_at=now,
            last_poll_result="needs re-authorization",
            last_error=error[:2000],
        )
        _set_status_unless_decided(account_id, ChannelStatus.NEEDS_REAUTH)


def record_poll_failure(account_id: int, *, error: str) -> timedelta:
    """Exponential back-off with jitter: interval x 2^failures, capped. Returns the delay."""
    now = timezone.now()
    with transaction.atomic():
        ChannelAccount.objects.filter(pk=account_id).update(
            consecutive_failures=F("consecutive_failures") + 1
        )
        interval, failures = ChannelAccount.objects.values_list(
            "poll_interval_seconds", "consecutive_failures"
        ).get(pk=account_id)
        delay = backoff_delay(interval, failures)
        ChannelAccount.objects.filter(pk=account_id).update(
            next_poll_at=now + delay,
            poll_lease_until=None,
            last_poll_at=now,
            last_poll_result=f"failed ({failures} in a row)",
            last_error=error[:2000],
        )
        _set_status_unless_decided(account_id, ChannelStatus.FAILING)
    return delay


def release_poll_lease(account_id: int) -> None:
    ChannelAccount.objects.filter(pk=account_id).update(poll_lease_until=None)


def backoff_delay(interval_seconds: int, failures: int) -> timedelta:
    base = min(interval_seconds * 2 ** min(failures, 16), settings.POLL_BACKOFF_MAX_SECONDS)
    # Jitter spreads the retries of many channels that failed together (one platform outage).
    return timedelta(seconds=base * random.uniform(0.8, 1.0))  # noqa: S311


def _set_status_unless_decided(account_id: int, status: str) -> None:
    # A person's decision (paused) or a state only a person can clear (needs_reauth) is never
    # overwritten by a poll's outcome, even one that finishes after the decision was made.
    ChannelAccount.objects.filter(pk=account_id, status__in=POLLABLE_STATUSES).update(status=status)
