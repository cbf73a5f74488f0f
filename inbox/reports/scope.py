"""What a report reads and yields: the user's filter options, the scope of rows (period,
channels, departments, agents) as database conditions, the tables every section fills, and the
duration percentiles (PERCENTILE_CONT on PostgreSQL, the same interpolation in Python elsewhere).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import DurationField, ExpressionWrapper, F, Q, QuerySet
from django.db.models.functions import TruncDay, TruncWeek
from django.utils import timezone

from channels_integrations.models import ChannelAccount, Platform
from inbox import access
from inbox.access import AnyUser
from inbox.models import ACTING_ROLES, Department, Membership, Message
from inbox.percentiles import Seconds, interpolated
from inbox.reports.forms import Period, ReportForm

# --- tables: what every section yields ------------------------------------------------------


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    # text, int, seconds (a duration), percent (0..1), ratio (-1..1), date (a bucket's day)
    kind: str = "int"


@dataclass
class Table:
    """One section's figures, as the page shows them and the CSV exports them."""

    name: str
    title: str
    columns: list[Column]
    rows: list[list[Any]]

    def as_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "columns": [{"key": c.key, "label": c.label, "kind": c.kind} for c in self.columns],
            "rows": [[_plain(value) for value in row] for row in self.rows],
        }


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


@dataclass(frozen=True)
class Durations:
    count: int
    median: float | None
    p90: float | None


# --- who may see what ------------------------------------------------------------------------


def may_view_reports(user: AnyUser) -> bool:
    """Reports are for team leads and admins."""
    return access.is_lead(user)  # admins count as leads


@dataclass(frozen=True)
class ReportOptions:
    """What the filters may offer this user: visible channels, their platforms, departments,
    and the agents whose workload the user may see (a lead: the members of the departments
    they lead; an admin: everyone who works in a department)."""

    channels: list[tuple[int, str, str]]  # id, name, platform
    departments: list[tuple[int, str]]
    agents: list[tuple[int, str]]
    all_channels: bool  # an admin: no channel restriction at all

    @classmethod
    def load(cls, user: AnyUser) -> ReportOptions:
        visible = access.visible_channels_subquery(user)
        channels = ChannelAccount.objects.order_by("name", "id")
        departments = Department.objects.order_by("name")
        members = Membership.objects.filter(role__in=ACTING_ROLES)
        if visible is not None:
            user_id = int(user.pk or 0)
            channels = channels.filter(id__in=visible)
            departments = departments.filter(memberships__user_id=user_id).distinct()
            members = members.filter(department_id__in=access.led_department_ids(user))
        people = (
            get_user_model()
            .objects.filter(id__in=members.values("user_id"), is_active=True)
            .order_by("first_name", "last_name", "username")
        )
        return cls(
            channels=list(channels.values_list("id", "name", "platform")),
            departments=list(departments.values_list("id", "name")),
            agents=[(u.pk, u.get_full_name() or u.get_username()) for u in people],
            all_channels=visible is None,
        )

    def platforms(self) -> list[tuple[str, str]]:
        labels = dict(Platform.choices)
        present = sorted({platform for _, _, platform in self.channels})
        return [(p, str(labels.get(p, p))) for p in present]

    def form(self, data: Mapping[str, str | Sequence[str]] | None) -> ReportForm:
        return ReportForm(
            data,
            channels=[(pk, name) for pk, name, _ in self.channels],
            platforms=self.platforms(),
            departments=self.departments,
            agents=self.agents,
        )


# --- the filters as database conditions ------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """The rows a report may read: channels (None: every channel, an admin without a channel
    filter), departments and agents chosen, the period."""

    period: Period
    now: datetime
    channel_ids: list[int] | None
    departments: list[int]
    department_channels: list[int]
    agents: list[int]
    agent_ids: list[int]  # whose workload may be shown

    @classmethod
    def build(
        cls, options: ReportOptions, cleaned: Mapping[str, Any], period: Period, now: datetime
    ) -> Scope:
        chosen = set(cleaned.get("channel") or [])
        platforms = set(cleaned.get("platform") or [])
        channel_ids: list[int] | None = [
            pk
            for pk, _, platform in options.channels
            if (not chosen or pk in chosen) and (not platforms or platform in platforms)
        ]
        if options.all_channels and not chosen and not platforms:
            channel_ids = None
        departments = list(cleaned.get("department") or [])
        department_channels: list[int] = []
        if departments:
            department_channels = list(
                Department.channel_accounts.through.objects.filter(
                    department_id__in=departments
                ).values_list("channelaccount_id", flat=True)
            )
        agents = list(cleaned.get("agent") or [])
        return cls(
            period=period,
            now=now,
            channel_ids=channel_ids,
            departments=departments,
            department_channels=department_channels,
            agents=agents,
            agent_ids=agents or [pk for pk, _ in options.agents],
        )

    def conversations(self, prefix: str = "", *, agents: bool = True) -> Q:
        """The filter on conversations (`prefix` "conversation__" from a related row)."""
        condition = Q()
        if self.channel_ids is not None:
            condition &= Q(**{f"{prefix}channel_account_id__in": self.channel_ids})
        if self.departments:
            condition &= Q(**{f"{prefix}department_id__in": self.departments}) | Q(
                **{
                    f"{prefix}department__isnull": True,
                    f"{prefix}channel_account_id__in": self.department_channels,
                }
            )
        if agents and self.agents:
            condition &= Q(**{f"{prefix}assignee_id__in": self.agents})
        return condition

    def messages(self) -> QuerySet[Message]:
        """Messages written in the period, filtered; the channel from the message itself (no
        join unless a department or agent filter needs the conversation)."""
        rows = Message.objects.filter(sent_at__gte=self.period.start, sent_at__lt=self.period.end)
        if self.channel_ids is not None:
            rows = rows.filter(channel_account_id__in=self.channel_ids)
        if self.departments or self.agents:
            rows = rows.filter(self.conversations("conversation__"))
        return rows

    def bucket(self, field_name: str) -> Any:
        kind = TruncDay if self.period.bucket == "day" else TruncWeek
        return kind(field_name, tzinfo=self.period.tz)

    def local(self, value: datetime) -> datetime:
        """A timestamp from the database in the report's zone (naive ones are local already)."""
        return timezone.localtime(value, self.period.tz) if timezone.is_aware(value) else value

    def bucket_day(self, value: Any) -> date | None:
        """A bucket value from the database (a datetime in the zone, or a date) as a date."""
        if value is None:
            return None
        if isinstance(value, datetime):
            if timezone.is_aware(value):
                value = timezone.localtime(value, self.period.tz)
            return value.date()
        if isinstance(value, date):
            return value
        return date.fromisoformat(str(value)[:10])


# --- percentiles -----------------------------------------------------------------------------


# The spans grouped by bucket and, in the same pass, overall (ROLLUP's grand total row).
_ROLLUP = (
    "SELECT GROUPING(spans.b), spans.b, count(*), "
    "percentile_cont(0.5) WITHIN GROUP (ORDER BY spans.s), "
    "percentile_cont(0.9) WITHIN GROUP (ORDER BY spans.s) "
    "FROM ({rows}) AS spans GROUP BY ROLLUP (spans.b)"
)


def durations(
    rows: QuerySet[Any], start: str, end: str, bucket_field: str, scope: Scope
) -> tuple[Durations, dict[date, Durations]]:
    """Median and 90th percentile of `end - start` in seconds, overall and per bucket of
    `bucket_field`, in one query: PERCENTILE_CONT with ROLLUP on PostgreSQL; elsewhere (the
    embedded SQLite mode) the spans are read and the same interpolation is done here."""
    spanned = rows.annotate(b=scope.bucket(bucket_field))
    if connection.vendor == "postgresql":
        seconds = Seconds(ExpressionWrapper(F(end) - F(start), output_field=DurationField()))
        overall = Durations(0, None, None)
        per_bucket: dict[date, Durations] = {}
        try:
            sql, params = (
                spanned.annotate(s=seconds).values("b", "s").order_by().query.sql_with_params()
            )
        except EmptyResultSet:  # a filter that can match nothing (a lead without channels)
            return overall, per_bucket
        with connection.cursor() as cursor:
            cursor.execute(_ROLLUP.format(rows=sql), params)
            for grand_total, bucket, count, median, p90 in cursor.fetchall():
                figures = Durations(int(count), median, p90)
                if grand_total:
                    overall = figures
                elif (day := scope.bucket_day(bucket)) is not None:
                    per_bucket[day] = figures
        return overall, per_bucket
    spans: dict[date, list[float]] = defaultdict(list)
    everything: list[float] = []
    for bucket, began, ended in spanned.values_list("b", start, end):
        seconds_taken = (ended - began).total_seconds()
        day = scope.bucket_day(bucket)
        if day is not None:
            spans[day].append(seconds_taken)
        everything.append(seconds_taken)

    def stats(values: list[float]) -> Durations:
        values.sort()
        return Durations(len(values), interpolated(values, 0.5), interpolated(values, 0.9))

    return stats(everything), {day: stats(values) for day, values in spans.items()}
