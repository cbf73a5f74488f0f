"""The report's sections: each reads its figures in a fixed number of grouped queries and
returns its tables (and the summary figures of the page's header)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

from django.db.models import Count, F, Q, QuerySet
from django.db.models.functions import TruncHour
from django.utils.dates import WEEKDAYS
from django.utils.translation import gettext as _

from inbox.models import (
    OPEN_WORK,
    Conversation,
    ConversationEvent,
    ConversationStatus,
    Direction,
    EventKind,
    Message,
    SlaBreach,
    SlaKind,
)
from inbox.reports.scope import Column, Durations, ReportOptions, Scope, Table, durations
from moderation.models import DecisionAction, ModerationDecision

CLOSED = (ConversationStatus.RESOLVED, ConversationStatus.IGNORED)
TOP_TAGS = 10
SENTIMENTS = ("negative", "neutral", "positive")


# --- sections --------------------------------------------------------------------------------


@dataclass
class Parts:
    """What one section yields: its tables, figures for the page's header, the heat map."""

    tables: list[Table]
    summary: dict[str, Any] = field(default_factory=dict)
    hours: list[list[int]] | None = None


def _bucket_column() -> Column:
    return Column("bucket", _("Period"), "date")


def messages(scope: Scope, options: ReportOptions) -> Parts:
    """Volume in and out and the busiest hours from one pass over the period's messages,
    grouped by local hour and direction (at most 48 groups a day). It reads only columns of
    the index `message_sent_idx` (docs/reports.md), so PostgreSQL can answer from the index."""
    tz = scope.period.tz
    volume: dict[tuple[date, str], int] = defaultdict(int)
    grid = [[0] * 24 for _ in range(7)]
    for row in (
        scope.messages()
        .annotate(h=TruncHour("sent_at", tzinfo=tz))
        .values("h", "direction")
        .annotate(n=Count("*"))
        .order_by()
    ):
        local = scope.local(row["h"])
        volume[(scope.period.bucket_of(local.date()), row["direction"])] += row["n"]
        if row["direction"] == Direction.INBOUND:
            grid[local.weekday()][local.hour] += row["n"]
    volume_table = Table(
        "volume",
        _("Messages in and out"),
        [_bucket_column(), Column("inbound", _("Inbound")), Column("outbound", _("Outbound"))],
        [
            [day, volume[(day, Direction.INBOUND)], volume[(day, Direction.OUTBOUND)]]
            for day in scope.period.buckets()
        ],
    )
    names = weekday_names()
    hours_table = Table(
        "hours",
        _("Busiest hours (incoming messages)"),
        [Column("weekday", _("Weekday"), "text")]
        + [Column(f"h{hour:02d}", f"{hour:02d}") for hour in range(24)],
        [[names[d], *grid[d]] for d in range(7)],
    )
    return Parts(
        [volume_table, hours_table],
        summary={
            "inbound": sum(row[1] for row in volume_table.rows),
            "outbound": sum(row[2] for row in volume_table.rows),
        },
        hours=grid,
    )


def times(scope: Scope, options: ReportOptions) -> Parts:
    """First response (conversations started in the period) and resolution (resolutions in
    the period): median and 90th percentile, overall and per bucket; two queries."""
    period = scope.period
    started = Conversation.objects.filter(
        scope.conversations(),
        created_at__gte=period.start,
        created_at__lt=period.end,
        first_response_at__isnull=False,
        first_response_at__gte=F("created_at"),
    )
    first_response, first_by_bucket = durations(
        started, "created_at", "first_response_at", "created_at", scope
    )
    resolutions = ConversationEvent.objects.filter(
        scope.conversations("conversation__"),
        kind=EventKind.STATUS_CHANGED,
        data__after=ConversationStatus.RESOLVED,
        created_at__gte=period.start,
        created_at__lt=period.end,
    )
    resolution, resolved_by_bucket = durations(
        resolutions, "conversation__created_at", "created_at", "created_at", scope
    )
    empty = Durations(0, None, None)
    rows = []
    for day in period.buckets():
        first = first_by_bucket.get(day, empty)
        resolved = resolved_by_bucket.get(day, empty)
        rows.append(
            [
                day,
                first.count,
                first.median,
                first.p90,
                resolved.count,
                resolved.median,
                resolved.p90,
            ]
        )
    table = Table(
        "times",
        _("First response and resolution times"),
        [
            _bucket_column(),
            Column("answered", _("Answered")),
            Column("first_response_median", _("First response, median"), "seconds"),
            Column("first_response_p90", _("First response, 90th percentile"), "seconds"),
            Column("resolved", _("Resolved")),
            Column("resolution_median", _("Resolution, median"), "seconds"),
            Column("resolution_p90", _("Resolution, 90th percentile"), "seconds"),
        ],
        rows,
    )
    return Parts(
        [table],
        summary={"first_response": asdict(first_response), "resolution": asdict(resolution)},
    )


def conversations(scope: Scope, options: ReportOptions) -> Parts:
    """The conversations started in the period, in one grouped query: their first-response
    targets (in time, late, still running) and their sentiment (the roll-up of their messages'
    classifications); and the missed targets of every kind recorded in the period."""
    period = scope.period
    due = F("first_response_due_at")
    targeted = Q(first_response_due_at__isnull=False)
    met = targeted & Q(first_response_at__isnull=False, first_response_at__lte=due)
    missed = targeted & (
        Q(first_response_at__gt=due)
        | Q(first_response_at__isnull=True, first_response_due_at__lt=scope.now)
    )
    feelings = {f"s_{s}": Count("id", filter=Q(sentiment=s)) for s in SENTIMENTS}
    counts: dict[date, dict[str, Any]] = {}
    for grouped in (
        Conversation.objects.filter(
            scope.conversations(), created_at__gte=period.start, created_at__lt=period.end
        )
        .annotate(b=scope.bucket("created_at"))
        .values("b")
        .annotate(
            met=Count("id", filter=met),
            missed=Count("id", filter=missed),
            targeted=Count("id", filter=targeted),
            **feelings,
        )
        .order_by()
    ):
        day = scope.bucket_day(grouped["b"])
        if day is not None:
            counts[day] = dict(grouped)
    empty: dict[str, Any] = defaultdict(int)
    sla_rows: list[list[Any]] = []
    sentiment_rows: list[list[Any]] = []
    for day in period.buckets():
        row = counts.get(day, empty)
        m, x = row["met"], row["missed"]
        sla_rows.append([day, m, x, row["targeted"] - m - x, m / (m + x) if m + x else None])
        neg, neu, pos = (row[f"s_{s}"] for s in SENTIMENTS)
        total = neg + neu + pos
        sentiment_rows.append([day, neg, neu, pos, (pos - neg) / total if total else None])
    sla_table = Table(
        "sla",
        _("First responses within the SLA"),
        [
            _bucket_column(),
            Column("met", _("In time")),
            Column("missed", _("Late")),
            Column("running", _("Still running")),
            Column("compliance", _("Compliance"), "percent"),
        ],
        sla_rows,
    )
    sentiment_table = Table(
        "sentiment",
        _("Sentiment of the conversations started"),
        [
            _bucket_column(),
            Column("negative", _("Negative")),
            Column("neutral", _("Neutral")),
            Column("positive", _("Positive")),
            Column("net", _("Net sentiment"), "ratio"),
        ],
        sentiment_rows,
    )
    kinds = dict(SlaKind.choices)
    breaches = (
        SlaBreach.objects.filter(
            scope.conversations("conversation__"),
            breached_at__gte=period.start,
            breached_at__lt=period.end,
        )
        .values("kind")
        .annotate(n=Count("id"))
        .order_by("-n", "kind")
    )
    breach_table = Table(
        "sla_breaches",
        _("Missed SLA targets by kind"),
        [Column("kind", _("Target"), "text"), Column("breaches", _("Missed"))],
        [[str(kinds.get(row["kind"], row["kind"])), row["n"]] for row in breaches],
    )
    total_met = sum(row[1] for row in sla_rows)
    total_missed = sum(row[2] for row in sla_rows)
    answered = total_met + total_missed
    return Parts(
        [sla_table, breach_table, sentiment_table],
        summary={
            "sla_met": total_met,
            "sla_missed": total_missed,
            "sla_compliance": total_met / answered if answered else None,
        },
    )


# The key of the rows after the period's last bucket (a period that ended before today).
AFTER = date.max


def backlog(scope: Scope, options: ReportOptions) -> Parts:
    """Open conversations at the end of each bucket, counted back from the ones open now:
    minus those started since, plus those closed since, minus those reopened since (status
    events). Three queries that read the rows from the period's start on, not the whole
    history; anchored on the present state, so a conversation closed without an event long
    ago cannot make the figures drift."""
    period = scope.period
    open_now = Conversation.objects.filter(scope.conversations()).exclude(status__in=CLOSED).count()
    # Rows past the period's end count as AFTER by their instant, not by their bucket: a week
    # bucket can reach past a period that ends midweek.
    within, after = Q(created_at__lt=period.end), Q(created_at__gte=period.end)
    started: dict[date, int] = defaultdict(int)
    for row in (
        Conversation.objects.filter(scope.conversations(), created_at__gte=period.start)
        .annotate(b=scope.bucket("created_at"))
        .values("b")
        .annotate(n=Count("id", filter=within), later=Count("id", filter=after))
        .order_by()
    ):
        started[_bucket_or_after(scope, row["b"])] += row["n"]
        started[AFTER] += row["later"]
    closing = Q(data__after__in=CLOSED) & ~Q(data__before__in=CLOSED)
    reopening = Q(data__before__in=CLOSED) & ~Q(data__after__in=CLOSED)
    closed: dict[date, int] = defaultdict(int)  # net of the reopened
    for changes in (
        ConversationEvent.objects.filter(
            scope.conversations("conversation__"),
            kind=EventKind.STATUS_CHANGED,
            created_at__gte=period.start,
        )
        .filter(closing | reopening)
        .annotate(b=scope.bucket("created_at"))
        .values("b")
        .annotate(
            closed=Count("id", filter=closing & within),
            reopened=Count("id", filter=reopening & within),
            closed_later=Count("id", filter=closing & after),
            reopened_later=Count("id", filter=reopening & after),
        )
        .order_by()
    ):
        closed[_bucket_or_after(scope, changes["b"])] += changes["closed"] - changes["reopened"]
        closed[AFTER] += changes["closed_later"] - changes["reopened_later"]
    # Walking back from now: open at the end of a bucket = open at the end of the next one,
    # minus what the next one started, plus what it closed.
    at_end = open_now - started[AFTER] + closed[AFTER]
    ends: dict[date, int] = {}
    for day in reversed(period.buckets()):
        ends[day] = at_end
        at_end += closed[day] - started[day]
    rows: list[list[Any]] = [
        [day, max(ends[day], 0), started[day], closed[day]] for day in period.buckets()
    ]
    table = Table(
        "backlog",
        _("Open conversations"),
        [
            _bucket_column(),
            Column("open", _("Open at the end")),
            Column("started", _("Started")),
            Column("closed", _("Closed (net of reopened)")),
        ],
        rows,
    )
    return Parts([table], summary={"backlog_end": rows[-1][1] if rows else 0})


def _bucket_or_after(scope: Scope, value: Any) -> date:
    """The bucket of a row from the period's start on; AFTER for the rows past its end."""
    day = scope.bucket_day(value)
    return AFTER if day is None or day > scope.period.last_day else day


def moderation(scope: Scope, options: ReportOptions) -> Parts:
    period = scope.period
    decisions = ModerationDecision.objects.filter(
        created_at__gte=period.start, created_at__lt=period.end
    )
    if scope.channel_ids is not None:
        decisions = decisions.filter(channel_account_id__in=scope.channel_ids)
    if scope.departments:
        decisions = decisions.filter(
            conversation_id_at__in=Conversation.objects.filter(
                scope.conversations(agents=False)
            ).values("id")
        )
    if scope.agents:
        decisions = decisions.filter(actor_id__in=scope.agents)
    counts: dict[str, int] = defaultdict(int)
    for row in decisions.values("action").annotate(n=Count("id")).order_by():
        counts[row["action"]] += row["n"]
    labels = dict(DecisionAction.choices)
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return Parts(
        [
            Table(
                "moderation",
                _("Moderation decisions by action"),
                [Column("action", _("Action"), "text"), Column("decisions", _("Decisions"))],
                [[str(labels.get(action, action)), n] for action, n in ordered],
            )
        ]
    )


def tags(scope: Scope, options: ReportOptions) -> Parts:
    period = scope.period
    rows = (
        Conversation.tags.through.objects.filter(
            scope.conversations("conversation__"),
            conversation__created_at__gte=period.start,
            conversation__created_at__lt=period.end,
        )
        .values("tag_id", "tag__name")
        .annotate(n=Count("conversation_id"))
        .order_by("-n", "tag__name")[:TOP_TAGS]
    )
    return Parts(
        [
            Table(
                "tags",
                _("Top tags"),
                [Column("tag", _("Tag"), "text"), Column("conversations", _("Conversations"))],
                [[row["tag__name"], row["n"]] for row in rows],
            )
        ]
    )


def weekday_names() -> list[str]:
    """Monday first, in the active language (Django's own translations)."""
    return [str(WEEKDAYS[day]) for day in range(7)]


def workload(scope: Scope, options: ReportOptions) -> Parts:
    """Per agent the user may see: replies written and resolutions in the period, open
    conversations assigned now; three grouped queries."""
    period = scope.period
    agent_ids = scope.agent_ids
    names = dict(options.agents)
    replies = _by(
        Message.objects.filter(
            _channel(scope),
            direction=Direction.OUTBOUND,
            author_id__in=agent_ids,
            sent_at__gte=period.start,
            sent_at__lt=period.end,
        ).filter(scope.conversations("conversation__", agents=False) if scope.departments else Q()),
        "author_id",
    )
    resolved = _by(
        ConversationEvent.objects.filter(
            scope.conversations("conversation__", agents=False),
            kind=EventKind.STATUS_CHANGED,
            data__after=ConversationStatus.RESOLVED,
            actor_id__in=agent_ids,
            created_at__gte=period.start,
            created_at__lt=period.end,
        ),
        "actor_id",
    )
    open_now = _by(
        Conversation.objects.filter(
            scope.conversations(agents=False), status__in=OPEN_WORK, assignee_id__in=agent_ids
        ),
        "assignee_id",
    )
    figures = [
        (names.get(pk, str(pk)), replies.get(pk, 0), resolved.get(pk, 0), open_now.get(pk, 0))
        for pk in agent_ids
    ]
    figures.sort(key=lambda row: (-row[1], -row[2], row[0]))
    rows: list[list[Any]] = [list(row) for row in figures]
    return Parts(
        [
            Table(
                "workload",
                _("Agent workload"),
                [
                    Column("agent", _("Agent"), "text"),
                    Column("replies", _("Replies")),
                    Column("resolved", _("Resolved")),
                    Column("open", _("Open now")),
                ],
                rows,
            )
        ]
    )


def _channel(scope: Scope) -> Q:
    return Q() if scope.channel_ids is None else Q(channel_account_id__in=scope.channel_ids)


def _by(rows: QuerySet[Any], key: str) -> dict[int, int]:
    # count(*), not count(id): the messages' count can then come from message_sent_idx alone.
    return {row[key]: row["n"] for row in rows.values(key).annotate(n=Count("*")).order_by()}


Section = Callable[[Scope, ReportOptions], Parts]
# In page order; each is timed on its own by bench/reports.py.
SECTIONS: dict[str, Section] = {
    "messages": messages,
    "times": times,
    "conversations": conversations,
    "backlog": backlog,
    "moderation": moderation,
    "tags": tags,
    "workload": workload,
}
# Which section fills which table (a CSV export runs only that section).
TABLE_SECTION = {
    "volume": "messages",
    "times": "times",
    "sla": "conversations",
    "sla_breaches": "conversations",
    "backlog": "backlog",
    "moderation": "moderation",
    "sentiment": "conversations",
    "tags": "tags",
    "hours": "messages",
    "workload": "workload",
}
TABLE_NAMES: tuple[str, ...] = tuple(TABLE_SECTION)
