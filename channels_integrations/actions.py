"""Writes to channel accounts: the outcome of each poll, and status changes by people."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
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
    account = ChannelAccount.objects.get(pk=account_id)
    next_poll = now if not caught_up else now + timedelta(seconds=account.poll_interval_seconds)
    ChannelAccount.objects.filter(pk=account_id).update(
        status=_keep_unless_failing(account.status, ChannelStatus.ACTIVE),
        last_poll_at=now,
        last_success_at=now,
        last_poll_result=summary[:300],
        last_error="",
        consecutive_failures=0,
        next_poll_at=next_poll,
        poll_lease_until=None,
    )


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
    ChannelAccount.objects.filter(pk=account_id).update(
        status=ChannelStatus.NEEDS_REAUTH,
        poll_lease_until=None,
        last_poll_at=now,
        last_poll_result="needs re-authorization",
        last_error=error[:2000],
    )


def record_poll_failure(account_id: int, *, error: str) -> timedelta:
    """Exponential back-off with jitter: interval x 2^failures, capped. Returns the delay."""
    now = timezone.now()
    account = ChannelAccount.objects.get(pk=account_id)
    failures = account.consecutive_failures + 1
    delay = backoff_delay(account.poll_interval_seconds, failures)
    ChannelAccount.objects.filter(pk=account_id).update(
        status=_keep_unless_failing(account.status, ChannelStatus.FAILING),
        consecutive_failures=failures,
        next_poll_at=now + delay,
        poll_lease_until=None,
        last_poll_at=now,
        last_poll_result=f"failed ({failures} in a row)",
        last_error=error[:2000],
    )
    return delay


def release_poll_lease(account_id: int) -> None:
    ChannelAccount.objects.filter(pk=account_id).update(poll_lease_until=None)


def backoff_delay(interval_seconds: int, failures: int) -> timedelta:
    base = min(interval_seconds * 2 ** min(failures, 16), settings.POLL_BACKOFF_MAX_SECONDS)
    # Jitter spreads the retries of many channels that failed together (one platform outage).
    return timedelta(seconds=base * random.uniform(0.8, 1.0))  # noqa: S311


def _keep_unless_failing(current: str, new: str) -> str:
    # A person's decision (paused, needs_reauth) is never overwritten by a poll's outcome.
    return new if current in POLLABLE_STATUSES else current
