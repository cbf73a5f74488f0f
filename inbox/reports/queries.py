"""Report queries: every section is aggregated in the database (GROUP BY; PERCENTILE_CONT on
PostgreSQL) in a fixed number of queries, whatever the period, the filters or the data size.

`build_report(user=..., params=...)` is the one entry point, for the page and the REST API. What
each figure means (docs/reports.md):

- volume: messages by the day (or week) they were written, inbound and outbound;
- first response: conversations started in the period, from start to our first answer;
- resolution: resolutions in the period (a status change to "resolved"), from the start of the
  conversation to that change; a conversation resolved twice counts twice;
- SLA: conversations started in the period with a first-response target: answered in time,
  late, or still running (a conversation closed unanswered has no target any more);
- backlog: conversations open (not resolved or ignored) at the end of each day (or week),
  counted back from the ones open now through the starts and status changes since;
- sentiment: conversations started in the period by their sentiment roll-up;
- moderation: moderation decisions by action; busiest hours: inbound messages by local weekday
  and hour; top tags: on the conversations started in the period; workload: per agent, replies
  written and resolutions in the period, and open conversations assigned to them now.

Filters: channel and platform narrow the channels (always within the user's visible channels);
department means routed to it, or unrouted on its channels (as the inbox's department queues);
agent means the conversations assigned to them (moderation: the decisions they made).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from inbox.access import AccessDenied, AnyUser
from inbox.conversation_actions import user_zone
from inbox.reports import sections
from inbox.reports.forms import DEFAULT_PERIOD, Period, period_for
from inbox.reports.scope import ReportOptions, Scope, Table, may_view_reports

# The multi-valued filters of the query string (the period is "period", "from" and "to").
FILTERS = ("channel", "platform", "department", "agent")


class ReportParamsError(ValueError):
    """A query-string value the report cannot use; `errors` maps field names to messages."""

    def __init__(self, errors: Mapping[str, Sequence[str]]) -> None:
        self.errors = {name: list(messages) for name, messages in errors.items()}
        text = "; ".join(
            f"{name}: {' '.join(messages)}" if name != "__all__" else " ".join(messages)
            for name, messages in self.errors.items()
        )
        super().__init__(text)


@dataclass
class Report:
    """Every section of one report; `tables` in page order."""

    period: Period
    filters: dict[str, list[Any]]
    summary: dict[str, Any]
    tables: dict[str, Table]
    # Busiest hours: counts[weekday 0 = Monday][hour], for the heat map.
    hours: list[list[int]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "period": {
                "preset": self.period.preset,
                "from": self.period.first_day.isoformat(),
                "to": self.period.last_day.isoformat(),
                "time_zone": str(self.period.tz),
                "bucket": self.period.bucket,
            },
            "filters": self.filters,
            "summary": self.summary,
            "tables": {name: table.as_dict() for name, table in self.tables.items()},
        }


# --- the entry point -------------------------------------------------------------------------


def build_report(
    *,
    user: AnyUser,
    params: Mapping[str, str | list[str]],
    now: datetime | None = None,
) -> Report:
    """The report the query-string `params` ask for, as `user` may see it.

    Raises AccessDenied for users who are neither lead nor admin, ReportParamsError (a
    ValueError) for values the filters do not offer or a bad period. Runs a fixed number of
    read-only queries (about two dozen), independent of the period and the data size.
    """
    if not may_view_reports(user):
        raise AccessDenied(_("Reports are for team leads and admins."))
    options = ReportOptions.load(user)
    form = options.form(params)
    if not form.is_valid():
        raise ReportParamsError(
            {name: [str(e) for e in errs] for name, errs in form.errors.items()}
        )
    return _build(user, options, form.cleaned_data, now or timezone.now())


def build_report_from_form(
    user: AnyUser,
    options: ReportOptions,
    cleaned: Mapping[str, Any],
    *,
    now: datetime | None = None,
    only: Sequence[str] | None = None,
) -> Report:
    """For the page, which validated `options.form(...)` itself (to show its errors); `only`
    names the sections to run (a CSV export needs one), the others' tables are missing."""
    return _build(user, options, cleaned, now or timezone.now(), only)


def _build(
    user: AnyUser,
    options: ReportOptions,
    cleaned: Mapping[str, Any],
    now: datetime,
    only: Sequence[str] | None = None,
) -> Report:
    tz = user_zone(user)
    today = timezone.localtime(now, tz).date()
    period = period_for(
        cleaned.get("period") or DEFAULT_PERIOD, today, tz, cleaned.get("from"), cleaned.get("to")
    )
    scope = Scope.build(options, cleaned, period, now)
    tables: dict[str, Table] = {}
    summary: dict[str, Any] = {}
    hours: list[list[int]] = []
    for name, section in sections.SECTIONS.items():
        if only is not None and name not in only:
            continue
        parts = section(scope, options)
        tables.update((table.name, table) for table in parts.tables)
        summary.update(parts.summary)
        hours = parts.hours or hours
    return Report(
        period=period,
        filters={key: list(cleaned.get(key) or []) for key in FILTERS},
        summary=summary,
        tables={name: tables[name] for name in sections.TABLE_NAMES if name in tables},
        hours=hours,
    )
