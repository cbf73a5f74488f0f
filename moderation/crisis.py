"""Crisis detection: traffic per channel in five-minute buckets, compared every minute with the
channel's own baseline and with the admins' fixed thresholds, and the incidents that follow.

What is measured, per channel with traffic in the detection window and for all channels
together ("overall"):
- the window is the last three five-minute slots, the current one included (10 to 15 minutes
  of traffic); `count`, `negative_share`, `toxic_share` and `rate_per_hour` (count over the
  minutes the window really covers);
- the baseline (items per hour) is the channel's average for the same weekday and hour of day
  (local time, settings.TIME_ZONE) over the previous four weeks: one hour around the same time
  each week, only the weeks the channel's history covers. With less than two weeks of history
  it is the average of the last seven days at any hour. It never counts below
  BASELINE_FLOOR_PER_HOUR, so a channel with almost no history does not alarm on three items;
- `ratio` = rate / baseline.

A level (EscalationLevel) is reached when the window holds at least its `min_items` and ANY of
its thresholds that is set is met: ratio >= volume_ratio, rate >= items_per_hour,
negative_share >= negative_share, toxic_share >= toxic_share. A level without any threshold is
never reached. The level reached is the highest such level.

Overall uses the same thresholds on the sum of all channels against the sum of their
baselines; it counts only when it reaches a higher level than every single channel does, so
one channel's storm is one incident (on that channel), while many channels each a little
above normal make an overall one.

What happens then (moderation.incidents holds the writes):
- no open incident and a level >= 1 reached: an automatic incident opens at that level and the
  responsibles of levels 1 to it are told (in the app, and by e-mail after commit);
- a higher level reached: the level rises at once (LEVEL_RAISED) and the responsibles of the
  new levels are told (NOTIFIED, with whom);
- the level's conditions not seen for CALM_DOWN: it drops one step (LEVEL_LOWERED), and the
  calm-down starts again for the new level; an automatic incident whose level would drop below
  1 is resolved (RESOLVED), unless storm mode is on. Declared incidents (automatic=False) are
  raised by detection but lowered and resolved only by people.

Guarantees of `detect_crises`: one transaction; a fixed number of queries per run plus the
writes of incidents that change; idempotent for one `now` (a second run at the same minute
changes nothing but the same metrics); safe when two workers run it at once (the open
incidents are locked, and a second opening of one loses against the unique constraint in a
savepoint).

`record_traffic` adds one ingest page to the buckets with one upsert statement.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, transaction
from django.db.models import OuterRef, Q, Subquery, Sum
from django.utils import timezone

from channels_integrations.models import ChannelAccount
from moderation.incidents import (
    add_incident_note,
    change_incident_level,
    close_incident,
    declare_incident,
    in_storm,
    move_level,
    open_incident,
    resolve_incident,
    set_incident_lead,
    set_storm_mode,
    storm_channel_ids,
)
from moderation.models import EscalationLevel, Incident, IncidentStatus, TrafficBucket

__all__ = [
    "BACKFILL_LIMIT",
    "BASELINE_FLOOR_PER_HOUR",
    "CALM_DOWN",
    "SLOT",
    "WINDOW",
    "Measure",
    "add_incident_note",
    "change_incident_level",
    "declare_incident",
    "detect_crises",
    "in_storm",
    "level_reached",
    "raise_incident",
    "record_traffic",
    "resolve_incident",
    "set_incident_lead",
    "set_storm_mode",
    "slot_start",
    "storm_channel_ids",
]

SLOT = timedelta(minutes=5)
WINDOW = timedelta(minutes=15)
# How long a level's conditions must be absent before the level drops one step.
CALM_DOWN = timedelta(minutes=30)
# Items older than this when they arrive are history (a backfill after downtime), not a storm.
BACKFILL_LIMIT = timedelta(hours=6)
BASELINE_FLOOR_PER_HOUR = 12.0
BASELINE_WEEKS = 4
# Less history than this: the baseline is the last seven days at any hour.
# Less history than this: no baseline, only the fixed thresholds.
MIN_HISTORY = timedelta(hours=24)
WEEKDAY_HISTORY = timedelta(days=14)
RECENT = timedelta(days=7)


def slot_start(moment: datetime) -> datetime:
    """The start of the five-minute slot holding `moment` (in UTC)."""
    moment = moment.astimezone(UTC)
    return moment.replace(minute=moment.minute - moment.minute % 5, second=0, microsecond=0)


# Recording.


def record_traffic(rows: Iterable[tuple[int, datetime, bool, bool]]) -> None:
    """Add new inbound items (channel_account_id, sent_at, negative, toxic) to their buckets
    with ONE upsert statement (PostgreSQL and SQLite). Items sent more than six hours ago are
    not counted; items "from the future" (a platform's clock ahead) count now. Cheap enough to
    run inside ingest's transaction; no query when nothing is left to count."""
    now = timezone.now()
    oldest = now - BACKFILL_LIMIT
    counts: dict[tuple[int, datetime], list[int]] = defaultdict(lambda: [0, 0, 0])
    for channel_id, sent_at, negative, toxic in rows:
        if sent_at < oldest:
            continue
        row = counts[(channel_id, slot_start(min(sent_at, now)))]
        row[0] += 1
        row[1] += 1 if negative else 0
        row[2] += 1 if toxic else 0
    if not counts:
        return
    quote = connection.ops.quote_name
    table = quote(TrafficBucket._meta.db_table)
    columns = ["channel_account_id", "start", "inbound", "negative", "toxic"]
    values = ", ".join(["(%s, %s, %s, %s, %s)"] * len(counts))
    updates = ", ".join(
        f"{quote(c)} = {table}.{quote(c)} + EXCLUDED.{quote(c)}" for c in columns[2:]
    )
    # Only quoted identifiers and placeholders are formatted in; every value is a parameter.
    sql = (
        f"INSERT INTO {table} ({', '.join(quote(c) for c in columns)}) VALUES {values} "  # noqa: S608
        f"ON CONFLICT ({quote('channel_account_id')}, {quote('start')}) DO UPDATE SET {updates}"
    )
    params: list[Any] = []
    # Sorted: two pages upserting the same slots lock them in the same order (no deadlock).
    for (channel, start), (inbound, negatives, toxics) in sorted(counts.items()):
        params += [
            channel,
            connection.ops.adapt_datetimefield_value(start),
            inbound,
            negatives,
            toxics,
        ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


# Measuring.


@dataclass(frozen=True)
class Measure:
    """The detection window of one channel (or overall) against its baseline."""

    count: int
    negative: int
    toxic: int
    window_minutes: float
    baseline_per_hour: float
    baseline_kind: str  # "weekday", "recent" or "none"

    @property
    def rate_per_hour(self) -> float:
        return self.count * 60 / self.window_minutes if self.window_minutes else 0.0

    @property
    def negative_share(self) -> float:
        return self.negative / self.count if self.count else 0.0

    @property
    def toxic_share(self) -> float:
        return self.toxic / self.count if self.count else 0.0

    @property
    def ratio(self) -> float:
        return self.rate_per_hour / max(self.baseline_per_hour, BASELINE_FLOOR_PER_HOUR)

    def as_metrics(self, now: datetime) -> dict[str, Any]:
        return {
            "count": self.count,
            "negative": self.negative,
            "toxic": self.toxic,
            "negative_share": round(self.negative_share, 3),
            "toxic_share": round(self.toxic_share, 3),
            "rate_per_hour": round(self.rate_per_hour, 1),
            "baseline_per_hour": round(self.baseline_per_hour, 2),
            "baseline_kind": self.baseline_kind,
            "ratio": round(self.ratio, 2),
            "window_minutes": round(self.window_minutes, 1),
            "measured_at": now.isoformat(),
        }


def level_reached(measure: Measure, levels: Iterable[EscalationLevel]) -> int:
    """The highest level whose min_items is met and ANY of whose set thresholds is met."""
    reached = 0
    for level in levels:
        if level.number < 1 or measure.count < level.min_items:
            continue
        met = (
            (
                level.volume_ratio is not None
                and measure.baseline_kind != "none"
                and measure.ratio >= level.volume_ratio
            )
            or (level.items_per_hour is not None and measure.rate_per_hour >= level.items_per_hour)
            or (level.negative_share is not None and measure.negative_share >= level.negative_share)
            or (level.toxic_share is not None and measure.toxic_share >= level.toxic_share)
        )
        if met:
            reached = max(reached, level.number)
    return reached


def _week_ranges(now: datetime) -> list[tuple[datetime, datetime]]:
    """One hour around the same local weekday and time in each of the previous weeks (wall-clock
    arithmetic in the site's zone, so a change to or from summer time keeps 9:00 at 9:00)."""
    local = now.astimezone(ZoneInfo(settings.TIME_ZONE))
    ranges = []
    for weeks in range(1, BASELINE_WEEKS + 1):
        then = (local - timedelta(weeks=weeks)).astimezone(UTC)
        start = slot_start(then - timedelta(minutes=30))
        ranges.append((start, start + timedelta(hours=1)))
    return ranges


def _measures(now: datetime) -> tuple[dict[int, Measure], dict[int, str], Measure]:
    """Per channel (with traffic in the window) and overall, in three queries."""
    window_start = slot_start(now) - (WINDOW - SLOT)
    window_minutes = (now - window_start).total_seconds() / 60
    window = {
        row["channel_account_id"]: row
        for row in TrafficBucket.objects.filter(start__gte=window_start, start__lte=now)
        .values("channel_account_id")
        .annotate(n=Sum("inbound"), neg=Sum("negative"), tox=Sum("toxic"))
    }
    weeks = _week_ranges(now)
    recent_q = Q(start__gte=now - RECENT, start__lt=window_start)
    week_qs = [Q(start__gte=a, start__lt=b) for a, b in weeks]
    any_range = recent_q
    for q in week_qs:
        any_range |= q
    history: dict[int, dict[str, Any]] = {
        row["channel_account_id"]: dict(row)
        for row in TrafficBucket.objects.filter(any_range)
        .values("channel_account_id")
        .annotate(
            recent=Sum("inbound", filter=recent_q),
            **{f"w{i}": Sum("inbound", filter=q) for i, q in enumerate(week_qs)},
        )
    }
    ids = set(window) | set(history)
    first_bucket = (
        TrafficBucket.objects.filter(channel_account_id=OuterRef("pk"))
        .order_by("start")
        .values("start")[:1]
    )
    channels = {
        pk: (name, first)
        for pk, name, first in ChannelAccount.objects.filter(pk__in=ids)
        .annotate(first=Subquery(first_bucket))
        .values_list("pk", "name", "first")
    }
    baselines: dict[int, tuple[float, str]] = {}
    for pk, (_name, first) in channels.items():
        baselines[pk] = _baseline(history.get(pk, {}), first, weeks, now, window_start)
    measures = {}
    for pk, row in window.items():
        if pk not in channels:
            continue
        baseline, kind = baselines.get(pk, (0.0, "none"))
        measures[pk] = Measure(
            count=row["n"] or 0,
            negative=row["neg"] or 0,
            toxic=row["tox"] or 0,
            window_minutes=window_minutes,
            baseline_per_hour=baseline,
            baseline_kind=kind,
        )
    overall = Measure(
        count=sum(m.count for m in measures.values()),
        negative=sum(m.negative for m in measures.values()),
        toxic=sum(m.toxic for m in measures.values()),
        window_minutes=window_minutes,
        baseline_per_hour=sum(b for b, kind in baselines.values() if kind != "none"),
        baseline_kind="sum" if any(kind != "none" for _, kind in baselines.values()) else "none",
    )
    return measures, {pk: name for pk, (name, _first) in channels.items()}, overall


def _baseline(
    row: dict[str, Any],
    first: datetime | None,
    weeks: list[tuple[datetime, datetime]],
    now: datetime,
    window_start: datetime,
) -> tuple[float, str]:
    if first is None:
        return 0.0, "none"
    if now - first >= WEEKDAY_HISTORY:
        covered = [i for i, (start, _end) in enumerate(weeks) if start >= slot_start(first)]
        if covered:
            return sum(row.get(f"w{i}") or 0 for i in covered) / len(covered), "weekday"
    since = max(first, now - RECENT)
    hours = (window_start - since).total_seconds() / 3600
    if now - first < MIN_HISTORY:
        # A channel connected today has no "usual" yet: the volume against it would alarm on
        # any ordinary day's traffic. Until then only the fixed thresholds apply.
        return 0.0, "none"
    return (row.get("recent") or 0) / hours, "recent"


# Deciding.


def detect_crises(*, now: datetime | None = None) -> list[Incident]:
    """Measure every channel and all together, then open, raise, lower or resolve incidents
    (see the module docstring for the rules and guarantees). Returns the incidents open after
    the run."""
    now = now or timezone.now()
    levels = list(EscalationLevel.objects.order_by("number"))
    measures, names, overall = _measures(now)
    reached = {pk: level_reached(m, levels) for pk, m in measures.items()}
    overall_level = level_reached(overall, levels)
    if overall_level <= max(reached.values(), default=0):
        overall_level = 0
    with transaction.atomic():
        open_now = {
            incident.channel_account_id: incident
            for incident in Incident.objects.select_for_update()
            .filter(status=IncidentStatus.OPEN)
            .order_by("pk")
        }
        scopes: set[int | None] = {*reached, *open_now, None}
        result = []
        for scope in sorted(scopes, key=lambda s: -1 if s is None else s):
            measure = overall if scope is None else measures.get(scope)
            level = overall_level if scope is None else reached.get(scope, 0)
            metrics = measure.as_metrics(now) if measure is not None else _quiet(now)
            incident = _decide(
                open_now.get(scope), scope, names.get(scope or 0, ""), level, metrics, now
            )
            if incident is not None:
                result.append(incident)
    return result


def _quiet(now: datetime) -> dict[str, Any]:
    return {"count": 0, "measured_at": now.isoformat()}


def _decide(
    incident: Incident | None,
    channel_id: int | None,
    channel_name: str,
    level: int,
    metrics: dict[str, Any],
    now: datetime,
) -> Incident | None:
    if incident is None:
        if level < 1:
            return None
        title = (
            f"Shitstorm on {channel_name}"
            if channel_id is not None
            else "Unusual activity on all channels"
        )
        return open_incident(
            channel_account_id=channel_id,
            level=level,
            title=title,
            now=now,
            automatic=True,
            metrics=metrics,
            text="Detected automatically.",
        )
    if level > incident.level:
        return move_level(incident, to=level, now=now, actor=None, metrics=metrics)
    if level == incident.level:
        incident.level_seen_at = now
        incident.metrics = metrics
        incident.save(update_fields=["level_seen_at", "metrics"])
        return incident
    seen = incident.level_seen_at or incident.opened_at
    if not incident.automatic or now - seen < CALM_DOWN:
        incident.metrics = metrics
        incident.save(update_fields=["metrics"])
        return incident
    if incident.level > 1:
        return move_level(
            incident,
            to=incident.level - 1,
            now=now,
            actor=None,
            metrics=metrics,
            text=f"Calm for {int(CALM_DOWN.total_seconds() // 60)} minutes.",
        )
    if incident.storm_mode:
        incident.metrics = metrics
        incident.save(update_fields=["metrics"])
        return incident
    incident.metrics = metrics
    close_incident(incident, now=now, actor=None, text="Calm again: resolved automatically.")
    return None


def raise_incident(
    *, channel_account_id: int, level: int, reason: str, now: datetime | None = None
) -> Incident | None:
    """The rules engine's "raise an incident" action: open an automatic incident on the
    channel at `level`, or raise the open one to it; never lowers. Runs in the caller's
    transaction (ingest's); the open incident row is locked. None for a level below 1."""
    if level < 1:
        return None
    now = now or timezone.now()
    with transaction.atomic():
        incident = (
            Incident.objects.select_for_update()
            .filter(status=IncidentStatus.OPEN, channel_account_id=channel_account_id)
            .first()
        )
        if incident is None:
            channel = ChannelAccount.objects.only("pk", "name").get(pk=channel_account_id)
            incident = open_incident(
                channel_account_id=channel.pk,
                level=level,
                title=f"Incident on {channel.name}: {reason}",
                now=now,
                automatic=True,
                text=reason,
            )
            if incident is not None:
                return incident
            # Opened by someone else meanwhile: raise that one.
            incident = (
                Incident.objects.select_for_update()
                .filter(status=IncidentStatus.OPEN, channel_account_id=channel_account_id)
                .first()
            )
            if incident is None:
                return None
        if level > incident.level:
            move_level(incident, to=level, now=now, actor=None, text=reason)
        return incident
