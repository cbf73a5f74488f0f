"""One poll of one channel: fetch pages until caught up (bounded), ingest each with its cursor.

Entry points: the Celery task `poll_channel` and the management command `poll_channel`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.conf import settings
from django.db import connection
from django.utils import timezone

from channels_integrations import actions, outbox
from channels_integrations.base import Connector
from channels_integrations.errors import AuthExpired, ConnectorError, RateLimited
from channels_integrations.models import POLLABLE_STATUSES, ChannelAccount
from channels_integrations.registry import connector_for, record_connector_usage
from inbox.ingest import CursorMoved, ingest_page

logger = logging.getLogger(__name__)


@dataclass
class PollOutcome:
    pages: int = 0
    new_messages: int = 0
    skipped: int = 0
    caught_up: bool = False
    error: str = ""


def poll_channel(account_id: int) -> PollOutcome:
    """Poll one channel account now, unless another worker is polling it right now.

    Never two polls of one channel at once: the dispatcher hands a channel out once per lease,
    and a duplicate task (a redelivered message, a manual poll) finds the channel's poll lock
    taken and leaves. Pages already ingested stay ingested if a later page fails; each page is
    its own transaction. Errors end up on the channel (rate limit, needs re-authorization,
    back-off) and never propagate, so one broken channel cannot stop the others.
    """
    with channel_poll_lock(account_id) as acquired:
        if not acquired:
            logger.info("channel %s is being polled by another worker; skipping", account_id)
            return PollOutcome(error="already being polled")
        return _poll(account_id)


@contextmanager
def channel_poll_lock(account_id: int) -> Iterator[bool]:
    """A lock held for the whole poll of one channel, across processes and machines.

    On PostgreSQL a session advisory lock: the database releases it when the holder's connection
    ends, so a worker killed mid-poll cannot leave it behind. The embedded SQLite mode runs one
    process, where a process-local lock does the same job.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [POLL_LOCK_SPACE, account_id])
            (acquired,) = cursor.fetchone()
        try:
            yield bool(acquired)
        finally:
            if acquired:
                with connection.cursor() as cursor:
                    cursor.execute(
                        "SELECT pg_advisory_unlock(%s, %s)", [POLL_LOCK_SPACE, account_id]
                    )
        return
    with _local_locks_guard:
        lock = _local_locks.setdefault(account_id, threading.Lock())
    acquired = lock.acquire(blocking=False)
    try:
        yield acquired
    finally:
        if acquired:
            lock.release()


# The first key of the two-key advisory lock: "poll" in ASCII, so other locks cannot collide.
POLL_LOCK_SPACE = 0x706F6C6C
_local_locks: dict[int, threading.Lock] = {}
_local_locks_guard = threading.Lock()


def _poll(account_id: int) -> PollOutcome:
    outcome = PollOutcome()
    account = ChannelAccount.objects.filter(pk=account_id).first()
    if account is None:
        return outcome
    if account.status not in POLLABLE_STATUSES:
        actions.release_poll_lease(account_id)
        return outcome
    if account.is_rate_limited:
        assert account.rate_limited_until is not None
        ChannelAccount.objects.filter(pk=account_id).update(
            next_poll_at=account.rate_limited_until, poll_lease_until=None
        )
        return outcome

    # The last poll failed (rate limit, refused token, outage): a success now means the platform
    # answers again, and replies that wait for a retry need not wait out their back-off.
    recovering = bool(account.last_error)
    connector: Connector | None = None
    try:
        connector = connector_for(account)
        scope = connector.contact_scope()
        cursor = account.cursor
        while outcome.pages < settings.POLL_MAX_PAGES_PER_RUN:
            page = connector.fetch_page(cursor)
            result = ingest_page(
                channel_account_id=account_id,
                expected_cursor=cursor,
                page=page,
                contact_scope=scope,
            )
            outcome.pages += 1
            outcome.new_messages += result.new_messages
            outcome.skipped += result.skipped
            cursor = page.cursor
            record_connector_usage(account_id, connector)
            if page.caught_up:
                outcome.caught_up = True
                break
    except CursorMoved:
        record_connector_usage(account_id, connector)
        # Someone moved the cursor on purpose (a backfill was started): poll again right away
        # from the new cursor rather than waiting for the lease to run out.
        ChannelAccount.objects.filter(pk=account_id).update(
            poll_lease_until=None, next_poll_at=timezone.now()
        )
        logger.info("channel %s: another poll moved the cursor; leaving it to that one", account_id)
        return outcome
    except RateLimited as exc:
        record_connector_usage(account_id, connector)
        outcome.error = exc.message
        actions.record_poll_rate_limited(account_id, retry_at=exc.retry_at, error=exc.message)
        return outcome
    except AuthExpired as exc:
        record_connector_usage(account_id, connector)
        outcome.error = exc.message
        logger.warning("channel %s needs re-authorization: %s", account_id, exc.message)
        actions.record_poll_needs_reauth(account_id, error=exc.message)
        return outcome
    except ConnectorError as exc:
        record_connector_usage(account_id, connector)
        outcome.error = exc.message
        delay = actions.record_poll_failure(account_id, error=exc.message)
        logger.warning(
            "channel %s poll failed, next try in %ss: %s", account_id, delay, exc.message
        )
        return outcome
    except Exception as exc:
        # A bug or an unreadable credential must not wedge the channel in its lease.
        record_connector_usage(account_id, connector)  # a refreshed token must not be lost with it
        outcome.error = f"internal error: {type(exc).__name__}"
        actions.record_poll_failure(account_id, error=outcome.error)
        logger.exception("channel %s poll crashed", account_id)
        return outcome

    summary = f"{outcome.new_messages} new in {outcome.pages} page(s)"
    if outcome.skipped:
        summary += f", {outcome.skipped} skipped"
    actions.record_poll_success(
        account_id,
        caught_up=outcome.caught_up,
        summary=summary,
        next_delay_seconds=connector.next_poll_delay(account.poll_interval_seconds),
    )
    if recovering:
        released = outbox.release_waiting_deliveries(account_id)
        if released:
            logger.info(
                "channel %s answers again: %s waiting action(s) sent", account_id, len(released)
            )
    if outcome.new_messages:
        logger.info("channel %s: %s at %s", account_id, summary, timezone.now().isoformat())
    return outcome
