"""Writes to channel accounts: the outcome of each poll, and status changes by people."""

from __future__ import annotations

import logging
import random
from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from channels_integrations.models import POLLABLE_STATUSES, ChannelAccount, ChannelStatus

logger = logging.getLogger(__name__)


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


def record_poll_success(
    account_id: int, *, caught_up: bool, summary: str, next_delay_seconds: int | None = None
) -> None:
    """A poll went through. A channel that is caught up waits `next_delay_seconds` (by default
    its poll interval; quota-aware connectors ask for more); one with more pages goes again now.
    The first catch-up after a history backfill marks the backfill complete."""
    now = timezone.now()
    interval = ChannelAccount.objects.values_list("poll_interval_seconds", flat=True).get(
        pk=account_id
    )
    delay = interval if next_delay_seconds is None else max(1, next_delay_seconds)
    with transaction.atomic():
        ChannelAccount.objects.filter(pk=account_id).update(
            last_poll_at=now,
            last_success_at=now,
            last_poll_result=summary[:300],
            last_error="",
            consecutive_failures=0,
            next_poll_at=now if not caught_up else now + timedelta(seconds=delay),
            poll_lease_until=None,
        )
        if caught_up:
            ChannelAccount.objects.filter(
                pk=account_id, backfill_since__isnull=False, backfill_completed_at__isnull=True
            ).update(backfill_completed_at=now)
        _set_status_unless_decided(account_id, ChannelStatus.ACTIVE)


def record_quota_use(account_id: int, *, day: date, units: int) -> None:
    """Add `units` to the channel's quota ledger for the platform's `day` (a new day restarts it).

    One conditional UPDATE each way, so concurrent polls and deliveries never lose units.
    """
    if units <= 0:
        return
    same_day = ChannelAccount.objects.filter(pk=account_id, quota_day=day).update(
        quota_used=F("quota_used") + units
    )
    if not same_day:
        ChannelAccount.objects.filter(pk=account_id).exclude(quota_day=day).update(
            quota_day=day, quota_used=units
        )


def store_refreshed_credentials(account_id: int, credentials: dict[str, Any]) -> None:
    """A connector refreshed its OAuth token: keep the new one (encrypted) for the next call."""
    account = ChannelAccount.objects.get(pk=account_id)
    account.set_credentials(credentials)
    account.save(update_fields=["credentials_encrypted"])


def record_poll_rate_limited(account_id: int, *, retry_at: datetime, error: str) -> None:
    now = timezone.now()
    ChannelAccount.objects.filter(pk=account_id).update(
        rate_limited_until=retry_at,
        next_poll_at=retry_at,
        poll_lease_until=None,
        last_poll_at=now,
        last_poll_result="rate limited",
        last_error=error[:2000],
        last_error_at=now,
    )


def record_poll_needs_reauth(account_id: int, *, error: str) -> None:
    """The token is dead: stop polling this channel until someone re-authorizes it, and tell the
    admins (once, when the channel enters the state, after commit)."""
    now = timezone.now()
    with transaction.atomic():
        ChannelAccount.objects.filter(pk=account_id).update(
            poll_lease_until=None,
            last_poll_at=now,
            last_poll_result="needs re-authorization",
            last_error=error[:2000],
            last_error_at=now,
        )
        entered = ChannelAccount.objects.filter(pk=account_id, status__in=POLLABLE_STATUSES).update(
            status=ChannelStatus.NEEDS_REAUTH,
            status_reason="The platform refused the token: re-authorize the channel.",
        )
        if entered:
            transaction.on_commit(
                lambda: notify_admins_needs_reauth(account_id, error=error), robust=True
            )


def notify_admins_needs_reauth(account_id: int, *, error: str) -> None:
    """E-mail every admin with an address, in their language (one mail per language); the
    inbox banner shows the channel to everyone who can see it. The error text comes from the
    platform and our mapping, never with secrets."""
    account = ChannelAccount.objects.get(pk=account_id)
    admins = list(
        get_user_model()
        .objects.filter(is_superuser=True, is_active=True)
        .exclude(email="")
        .values_list("pk", "email")
    )
    logger.warning("channel %s needs re-authorization: %s", account_id, error)
    if not admins:
        return
    from inbox.notifications import languages_of  # inbox imports this app's models

    languages = languages_of(pk for pk, _email in admins)
    by_language: dict[str, list[str]] = defaultdict(list)
    for pk, email in admins:
        by_language[languages[pk]].append(email)
    for language, recipients in sorted(by_language.items()):
        with translation.override(language):
            subject = _("[Social Inbox] %(channel)s needs re-authorization") % {"channel": account}
            message = _(
                "The channel %(channel)s stopped polling: the platform refused its token.\n\n"
                "%(error)s\n\n"
                "Other channels go on. Enter new credentials on the channel page and resume it."
            ) % {"channel": account, "error": error}
        send_mail(
            subject=subject,
            message=message,
            from_email=None,
            recipient_list=recipients,
            fail_silently=True,
        )


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
            last_error_at=now,
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
