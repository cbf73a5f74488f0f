"""How report figures read on the page: localized numbers (grouped whatever
USE_THOUSAND_SEPARATOR says), human durations ("2 h 15 min"), percentages and bucket dates;
and every section as a card: its chart, its table, its CSV link."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django.contrib.humanize.templatetags.humanize import intcomma
from django.template.defaultfilters import floatformat
from django.utils.dates import WEEKDAYS_ABBR
from django.utils.formats import date_format
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from inbox.reports import charts
from inbox.reports.charts import Series
from inbox.reports.queries import Report
from inbox.reports.scope import Table

DASH = "—"
# The workload chart shows this many agents (the busiest); the table has them all.
MAX_AGENT_BARS = 12
# Cards that span the page's width on a desktop (reports.css says the same).
FULL_WIDTH = {"volume", "times", "hours", "workload"}


def number(value: float | None) -> str:
    if value is None:
        return DASH
    return str(intcomma(round(value) if float(value).is_integer() else floatformat(value, "1g")))


def human_duration(seconds: float | None) -> str:
    """Two units at most, rounded down: "45 s", "12 min", "2 h 15 min", "3 d 4 h"."""
    if seconds is None:
        return DASH
    total = int(seconds)
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return (
            _("%(days)s d %(hours)s h") % {"days": intcomma(days), "hours": hours}
            if hours
            else _("%(days)s d") % {"days": intcomma(days)}
        )
    if hours:
        return (
            _("%(hours)s h %(minutes)s min") % {"hours": hours, "minutes": minutes}
            if minutes
            else _("%(hours)s h") % {"hours": hours}
        )
    if minutes:
        return _("%(minutes)s min") % {"minutes": minutes}
    return _("%(seconds)s s") % {"seconds": secs}


def percent(value: float | None) -> str:
    if value is None:
        return DASH
    return _("%(percent)s%%") % {"percent": floatformat(value * 100, "-1g")}


def signed(value: float | None) -> str:
    if value is None:
        return DASH
    return str(floatformat(value, "2g"))


def day_label(day: date, bucket: str) -> str:
    """A bucket's name on an axis: "Nov 21" (German "21. Nov."), or the week's first day."""
    text = date_format(day, pgettext("short date on a chart axis", "M j"))
    return text if bucket == "day" else _("wk %(day)s") % {"day": text}


def bucket_title(day: date, bucket: str) -> str:
    """The bucket in a table: the day, or the week's span."""
    if bucket == "day":
        return date_format(day, pgettext("date in a report table", "D, M j, Y"))
    end = day + timedelta(days=6)
    return _("%(start)s to %(end)s") % {
        "start": date_format(day, pgettext("short date on a chart axis", "M j")),
        "end": date_format(end, pgettext("date in a report table", "M j, Y")),
    }


def cell(value: Any, kind: str, bucket: str) -> str:
    if value is None:
        return DASH
    if kind == "date":
        return bucket_title(value, bucket)
    if kind == "seconds":
        return human_duration(value)
    if kind == "percent":
        return percent(value)
    if kind == "ratio":
        return signed(value)
    if kind == "int":
        return number(value)
    return str(value)


@dataclass
class Card:
    """One section on the page."""

    name: str
    heading: str
    # The same chart drawn for a desktop and for a phone (CSS shows one).
    chart: SafeString | None
    chart_narrow: SafeString | None
    table: Table
    header: list[str]
    numeric: list[bool]
    rows: list[list[str]]
    empty: bool

    @property
    def numeric_columns(self) -> set[int]:
        return {index for index, numeric in enumerate(self.numeric) if numeric}

    @property
    def cells(self) -> list[list[tuple[str, bool]]]:
        return [list(zip(row, self.numeric, strict=True)) for row in self.rows]


def _hours_fmt(value: float) -> str:
    return human_duration(value * 3600) if value else "0"


def _column(table: Table, key: str) -> list[Any]:
    index = [c.key for c in table.columns].index(key)
    return [row[index] for row in table.rows]


def _hours(values: Sequence[float | None]) -> list[float | None]:
    return [None if v is None else v / 3600 for v in values]


def _share(part: Sequence[int], *others: Sequence[int]) -> list[float | None]:
    out: list[float | None] = []
    for index, value in enumerate(part):
        total = value + sum(other[index] for other in others)
        out.append(100 * value / total if total else None)
    return out


def cards(report: Report) -> list[Card]:
    """Every section of the report, with its chart, in page order."""
    bucket = report.period.bucket
    per = _("per day") if bucket == "day" else _("per week")
    tables = report.tables
    days = [row[0] for row in tables["volume"].rows]
    labels = [day_label(day, bucket) for day in days]
    charts_by_name: dict[str, Callable[[int], SafeString | None]] = {}

    def volume(width: int) -> SafeString:
        table = tables["volume"]
        return charts.column_chart(
            width=width,
            title=_("Messages %(per)s") % {"per": per},
            description=_("Incoming and outgoing messages in each period."),
            labels=labels,
            series=[
                Series(_("Inbound"), _column(table, "inbound"), "series-1"),
                Series(_("Outbound"), _column(table, "outbound"), "series-2"),
            ],
            fmt=number,
        )

    def times(width: int) -> SafeString:
        table = tables["times"]
        return charts.line_chart(
            width=width,
            title=_("Median and 90th percentile %(per)s") % {"per": per},
            description=_("First response and resolution times; dashed lines: 90th percentile."),
            labels=labels,
            series=[
                Series(
                    _("First response"), _hours(_column(table, "first_response_median")), "series-1"
                ),
                Series(
                    _("First response, 90th percentile"),
                    _hours(_column(table, "first_response_p90")),
                    "series-1",
                    dashed=True,
                ),
                Series(_("Resolution"), _hours(_column(table, "resolution_median")), "series-3"),
                Series(
                    _("Resolution, 90th percentile"),
                    _hours(_column(table, "resolution_p90")),
                    "series-3",
                    dashed=True,
                ),
            ],
            fmt=_hours_fmt,
            whole=False,
        )

    def sla(width: int) -> SafeString:
        table = tables["sla"]
        return charts.column_chart(
            width=width,
            title=_("First-response targets %(per)s") % {"per": per},
            description=_("Conversations answered in time, late, or still within their target."),
            labels=labels,
            series=[
                Series(_("In time"), _column(table, "met"), "series-good"),
                Series(_("Late"), _column(table, "missed"), "series-bad"),
                Series(_("Still running"), _column(table, "running"), "series-muted"),
            ],
            fmt=number,
            stacked=True,
        )

    def backlog(width: int) -> SafeString:
        return charts.line_chart(
            width=width,
            title=_("Open conversations at the end of each period"),
            description=_("Started and not yet resolved or ignored."),
            labels=labels,
            series=[
                Series(
                    pgettext("conversations", "Open"),
                    _column(tables["backlog"], "open"),
                    "series-1",
                )
            ],
            fmt=number,
        )

    def moderation(width: int) -> SafeString | None:
        table = tables["moderation"]
        if not table.rows:
            return None
        return charts.bar_chart(
            width=width,
            title=_("Decisions by action"),
            description=_("Moderation decisions made in the period, by what was done."),
            labels=[row[0] for row in table.rows],
            series=[Series(_("Decisions"), [row[1] for row in table.rows], "series-4")],
            fmt=number,
        )

    def sentiment(width: int) -> SafeString | None:
        table = tables["sentiment"]
        negative, neutral, positive = (
            _column(table, k) for k in ("negative", "neutral", "positive")
        )
        if not any(negative) and not any(neutral) and not any(positive):
            return None
        return charts.line_chart(
            width=width,
            title=_("Conversations started %(per)s, by sentiment") % {"per": per},
            description=_(
                "Positive and negative conversations as a share of all with a sentiment."
            ),
            labels=labels,
            series=[
                Series(_("Positive"), _share(positive, negative, neutral), "series-good"),
                Series(_("Negative"), _share(negative, positive, neutral), "series-bad"),
            ],
            fmt=lambda v: percent(v / 100),
            axis_max=100,
        )

    def tags(width: int) -> SafeString | None:
        table = tables["tags"]
        if not table.rows:
            return None
        return charts.bar_chart(
            width=width,
            title=_("Conversations by tag"),
            description=_("The most used tags on conversations started in the period."),
            labels=[row[0] for row in table.rows],
            series=[Series(_("Conversations"), [row[1] for row in table.rows], "series-1")],
            fmt=number,
        )

    def hours(width: int) -> SafeString:
        return charts.heat_map(
            width=width,
            title=_("Incoming messages by weekday and hour"),
            description=_("Darker cells: more messages; local time."),
            rows=[str(WEEKDAYS_ABBR[day]) for day in range(7)],
            values=report.hours,
            fmt=number,
            legend_low=_("fewer"),
            legend_high=_("more"),
        )

    def workload(width: int) -> SafeString | None:
        # Agents with nothing to show in the period stay in the table, not in the chart.
        active = [row for row in tables["workload"].rows if any(row[1:])]
        rows = active[:MAX_AGENT_BARS]
        if not rows:
            return None
        many = len(active) > MAX_AGENT_BARS
        return charts.bar_chart(
            width=width,
            title=(
                _("The %(count)s agents with the most replies") % {"count": MAX_AGENT_BARS}
                if many
                else _("Work per agent")
            ),
            description=_("Replies and resolutions in the period; open conversations now."),
            labels=[row[0] for row in rows],
            series=[
                Series(_("Replies"), [row[1] for row in rows], "series-1"),
                Series(_("Resolved"), [row[2] for row in rows], "series-good"),
                Series(_("Open now"), [row[3] for row in rows], "series-warn"),
            ],
            fmt=number,
        )

    def sla_breaches(width: int) -> SafeString | None:
        table = tables["sla_breaches"]
        if not table.rows:
            return None
        return charts.bar_chart(
            width=width,
            title=_("Missed targets by kind"),
            description=_("SLA targets missed in the period, every kind."),
            labels=[row[0] for row in table.rows],
            series=[Series(_("Missed"), [row[1] for row in table.rows], "series-bad")],
            fmt=number,
        )

    charts_by_name.update(
        volume=volume,
        times=times,
        sla=sla,
        sla_breaches=sla_breaches,
        backlog=backlog,
        moderation=moderation,
        sentiment=sentiment,
        tags=tags,
        hours=hours,
        workload=workload,
    )
    headings = {
        "volume": _("Volume"),
        "times": _("Response and resolution times"),
        "sla": _("SLA compliance"),
        "sla_breaches": _("Missed SLA targets"),
        "backlog": _("Backlog"),
        "moderation": _("Moderation"),
        "sentiment": _("Sentiment"),
        "tags": _("Top tags"),
        "hours": _("Busiest hours"),
        "workload": _("Agent workload"),
    }
    out = []
    for name, table in tables.items():
        draw = charts_by_name.get(name)
        width = charts.WIDE if name in FULL_WIDTH else charts.HALF
        out.append(
            Card(
                name=name,
                heading=headings[name],
                chart=draw(width) if draw else None,
                chart_narrow=draw(charts.NARROW) if draw else None,
                table=table,
                header=[c.label for c in table.columns],
                numeric=[c.kind not in ("text", "date") for c in table.columns],
                rows=[
                    [
                        cell(value, c.kind, bucket)
                        for value, c in zip(row, table.columns, strict=True)
                    ]
                    for row in table.rows
                ],
                empty=not _has_figures(table),
            )
        )
    return out


def _has_figures(table: Table) -> bool:
    kinds = [c.kind for c in table.columns]
    return any(
        value not in (None, 0)
        for row in table.rows
        for value, kind in zip(row, kinds, strict=True)
        if kind not in ("text", "date")
    )


def summary_figures(built: Report) -> list[tuple[str, str, str]]:
    """The figures at the top of the page: (label, value, detail)."""
    s = built.summary
    first, resolution = s["first_response"], s["resolution"]
    return [
        (_("Inbound"), number(s["inbound"]), _("messages received")),
        (_("Outbound"), number(s["outbound"]), _("messages sent")),
        (
            _("First response"),
            human_duration(first["median"]),
            _("median; 90%% within %(p90)s") % {"p90": human_duration(first["p90"])},
        ),
        (
            _("Resolution"),
            human_duration(resolution["median"]),
            _("median; 90%% within %(p90)s") % {"p90": human_duration(resolution["p90"])},
        ),
        (
            _("SLA compliance"),
            percent(s["sla_compliance"]),
            _("%(met)s in time, %(missed)s late")
            % {"met": number(s["sla_met"]), "missed": number(s["sla_missed"])},
        ),
        (
            pgettext("conversations", "Open"),
            number(s["backlog_end"]),
            _("at the end of the period"),
        ),
    ]
