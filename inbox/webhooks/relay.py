"""The relay: from the event tables to the webhook outbox.

The timeline tables are already a transactional outbox of what happened: every write path
records a ConversationEvent (or an IncidentEvent) in the same transaction as its change. The
relay reads the rows written since its cursor, keeps those some active subscription wants, and
inserts one WebhookDelivery per (subscription, row), moving the cursor in the same
transaction. No write path knows about webhooks.

Guarantees:
- at least once: the deliveries and the cursor commit together, so a crash re-reads the rows;
- at most one delivery per subscription and row: `source` is unique per subscription and the
  insert ignores conflicts, so a relay run twice, or two relays at once, enqueue nothing twice
  (the cursor row is locked too, so on PostgreSQL two relays take turns);
- late commits are not lost: ids are handed out at insert but become visible at commit, so a
  long transaction can commit a row *below* the cursor after the relay moved past it. Each run
  re-reads the rows of the last LOOKBACK (bounded to LOOKBACK_ROWS ids below the cursor) and
  enqueues those that have no delivery yet;
- a subscription gets only events that happened after it was created;
- when no active subscription wants an event kind, its rows are skipped without being built
  (ingest writes thousands per second): the cursor just moves to the newest row.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import models, transaction
from django.db.models import Max
from django.utils import timezone

from inbox.models import ConversationEvent
from inbox.models.integrations import (
    WebhookDelivery,
    WebhookRelayCursor,
    WebhookSubscription,
)
from inbox.webhooks.events import (
    CONVERSATION_EVENTS,
    INCIDENT_EVENTS,
    Built,
    build_conversation_events,
    build_incident_events,
    envelope,
)
from moderation.models import IncidentEvent

logger = logging.getLogger(__name__)

# How far back each run looks again for rows that committed late.
LOOKBACK = timedelta(minutes=2)
LOOKBACK_ROWS = 20_000
# New rows read per table and transaction.
BATCH = 1_000
# A run reads batches until caught up or this is spent (one beat interval).
RUN_SECONDS = 4.0


@dataclass(frozen=True)
class EventTable:
    """One event table the relay reads, with its own cursor."""

    name: str
    model: type[models.Model]
    # Row kind -> webhook event.
    events: dict[str, str]
    build: Callable[[Any], dict[int, Built]]


TABLES = (
    EventTable(
        "conversation_event", ConversationEvent, CONVERSATION_EVENTS, build_conversation_events
    ),
    EventTable("incident_event", IncidentEvent, INCIDENT_EVENTS, build_incident_events),
)


@dataclass(frozen=True)
class _Subscriber:
    id: int
    events: frozenset[str]
    created_at: datetime


def relay_events(*, now: datetime | None = None, budget: float = RUN_SECONDS) -> int:
    """Enqueue the deliveries for every event table's new rows; returns how many were
    offered (duplicates are ignored by the insert). Safe to run at any time, repeatedly and
    concurrently (see the module doc). Reads batch after batch, each in its own transaction,
    until a table is caught up or `budget` seconds are spent."""
    now = now or timezone.now()
    subscribers = [
        _Subscriber(pk, frozenset(events or []), created_at)
        for pk, events, created_at in WebhookSubscription.objects.filter(active=True).values_list(
            "pk", "events", "created_at"
        )
    ]
    deadline = time.monotonic() + budget
    created = 0
    for table in TABLES:
        rescan = True
        while True:
            count, caught_up = _relay_batch(table, subscribers, now, rescan=rescan)
            created += count
            rescan = False  # the lookback is read once a run, not once a batch
            if caught_up or time.monotonic() > deadline:
                break
    if created:
        from inbox.webhooks.tasks import enqueue_dispatch

        enqueue_dispatch()
    return created


def _cursor(table: EventTable) -> WebhookRelayCursor:
    """The table's cursor, locked. A new cursor starts at the newest row: what came before it
    is older than every subscription, or within the lookback."""
    cursor = WebhookRelayCursor.objects.select_for_update().filter(source=table.name).first()
    if cursor is None:
        newest = table.model._default_manager.aggregate(newest=Max("id"))["newest"] or 0
        WebhookRelayCursor.objects.get_or_create(source=table.name, defaults={"last_id": newest})
        cursor = WebhookRelayCursor.objects.select_for_update().get(source=table.name)
    return cursor


def _relay_batch(
    table: EventTable, subscribers: Sequence[_Subscriber], now: datetime, *, rescan: bool
) -> tuple[int, bool]:
    """One transaction: up to BATCH new rows (and, with `rescan`, the late ones) enqueued and
    the cursor moved. Returns (deliveries offered, caught up)."""
    interested = [
        subscriber for subscriber in subscribers if subscriber.events & set(table.events.values())
    ]
    manager = table.model._default_manager
    with transaction.atomic():
        cursor = _cursor(table)
        last_id = cursor.last_id
        # Read before the rows: anything newer than `newest` is read by the next batch.
        newest = manager.aggregate(newest=Max("id"))["newest"] or 0
        if not interested:
            _move(cursor, max(last_id, newest))
            return 0, True
        wanted = {event for subscriber in interested for event in subscriber.events}
        kinds = [kind for kind, event in table.events.items() if event in wanted]
        rows = manager.filter(kind__in=kinds)
        fresh = list(rows.filter(id__gt=last_id, id__lte=newest).order_by("id")[:BATCH])
        caught_up = len(fresh) < BATCH
        late: list[Any] = []
        if rescan:
            # Only what is needed to tell whether a delivery is missing; the few rows that
            # lack one are read in full below.
            recent = rows.filter(
                id__gt=max(last_id - LOOKBACK_ROWS, 0),
                id__lte=last_id,
                created_at__gte=now - LOOKBACK,
            ).only("id", "kind", "created_at")
            missing = [row.pk for row in _undelivered(list(recent), table, interested)]
            late = list(manager.filter(pk__in=missing).order_by("id")) if missing else []
        created = _enqueue(late + fresh, table, interested)
        _move(cursor, max(last_id, newest) if caught_up else fresh[-1].pk)
    return created, caught_up


def _move(cursor: WebhookRelayCursor, to: int) -> None:
    if to != cursor.last_id:
        cursor.last_id = to
        cursor.save(update_fields=["last_id", "updated_at"])


def _targets(row: Any, table: EventTable, interested: Sequence[_Subscriber]) -> list[int]:
    event = table.events[row.kind]
    return [
        subscriber.id
        for subscriber in interested
        if event in subscriber.events and row.created_at >= subscriber.created_at
    ]


def _undelivered(
    rows: list[Any], table: EventTable, interested: Sequence[_Subscriber]
) -> list[Any]:
    """The re-read rows some subscriber wants and has no delivery of yet (usually none: only a
    late commit leaves a gap)."""
    if not rows:
        return []
    sources = {_source(table, row.pk): row for row in rows}
    existing = set(
        WebhookDelivery.objects.filter(
            subscription_id__in=[subscriber.id for subscriber in interested],
            source__in=list(sources),
        ).values_list("subscription_id", "source")
    )
    return [
        row
        for source, row in sources.items()
        if any(
            (subscription_id, source) not in existing
            for subscription_id in _targets(row, table, interested)
        )
    ]


def _source(table: EventTable, row_id: int) -> str:
    return f"{table.name}:{row_id}"


def _enqueue(rows: list[Any], table: EventTable, interested: Sequence[_Subscriber]) -> int:
    targets = {row.pk: _targets(row, table, interested) for row in rows}
    # Build payloads only for rows someone wants (a subscription newer than the row does not).
    built = table.build([row for row in rows if targets[row.pk]])
    deliveries = []
    for row_id, item in built.items():
        for subscription_id in targets[row_id]:
            delivery = WebhookDelivery(
                subscription_id=subscription_id, event=item.event, source=_source(table, row_id)
            )
            delivery.payload = envelope(
                event_id=delivery.event_id,
                event=item.event,
                created_at=item.created_at,
                data=item.data,
            )
            deliveries.append(delivery)
    if deliveries:
        WebhookDelivery.objects.bulk_create(deliveries, ignore_conflicts=True)
        logger.info("webhooks: %s deliveries enqueued from %s", len(deliveries), table.name)
    return len(deliveries)
