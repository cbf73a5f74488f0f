"""The report's parameters: a period (preset or custom dates, in the user's time zone) and
filters by channel, platform, department and agent. They live in the query string, so a report
is a link; the page and the REST API read them through this one form."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django import forms
from django.utils.datastructures import MultiValueDict
from django.utils.translation import gettext_lazy as _

# The longest custom period: two years of weekly buckets is still a readable chart.
MAX_DAYS = 731
# Up to this many days a chart has a bar per day; beyond, per week (Monday to Sunday).
MAX_DAY_BUCKETS = 62
DEFAULT_PERIOD = "30d"

PERIODS = [
    ("today", _("Today")),
    ("7d", _("Last 7 days")),
    ("30d", _("Last 30 days")),
    ("this_month", _("This month")),
    ("last_month", _("Last month")),
    ("custom", _("Custom")),
]


# The years a custom period may cover.
EARLIEST_YEAR = 2000
LATEST_YEAR = 2999


@dataclass(frozen=True)
class Period:
    """Local calendar days [first_day, last_day] in `tz`; `start`/`end` are the aware instants
    that bound them (end exclusive), so daylight-saving days have their real length."""

    first_day: date
    last_day: date
    tz: ZoneInfo
    preset: str

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first_day, time.min, tzinfo=self.tz)

    @property
    def end(self) -> datetime:
        return datetime.combine(self.last_day + timedelta(days=1), time.min, tzinfo=self.tz)

    @property
    def days(self) -> int:
        return (self.last_day - self.first_day).days + 1

    @property
    def bucket(self) -> str:
        """ "day" or "week": the unit of every chart's x axis."""
        return "day" if self.days <= MAX_DAY_BUCKETS else "week"

    def bucket_of(self, day: date) -> date:
        return day if self.bucket == "day" else day - timedelta(days=day.weekday())

    def buckets(self) -> list[date]:
        """The first day of every bucket, in order (weeks start on Monday, the first one may
        begin before the period)."""
        step = timedelta(days=1 if self.bucket == "day" else 7)
        current, out = self.bucket_of(self.first_day), []
        while current <= self.last_day:
            out.append(current)
            current += step
        return out


def period_for(
    preset: str, today: date, tz: ZoneInfo, first: date | None, last: date | None
) -> Period:
    """The period a preset names, seen from `today` (a local date)."""
    if preset == "today":
        return Period(today, today, tz, preset)
    if preset == "7d":
        return Period(today - timedelta(days=6), today, tz, preset)
    if preset == "this_month":
        return Period(today.replace(day=1), today, tz, preset)
    if preset == "last_month":
        last_of_previous = today.replace(day=1) - timedelta(days=1)
        return Period(last_of_previous.replace(day=1), last_of_previous, tz, preset)
    if preset == "custom" and first is not None and last is not None:
        return Period(first, last, tz, preset)
    return Period(today - timedelta(days=29), today, tz, "30d")


class ReportForm(forms.Form):
    """Validates the query string. Choices come from what the user may see (`ReportOptions`),
    so a channel or agent id outside them is an error, not a silent widening."""

    period = forms.ChoiceField(label=_("Period"), choices=PERIODS, required=False)
    channel = forms.TypedMultipleChoiceField(label=_("Channel"), coerce=int, required=False)
    platform = forms.MultipleChoiceField(label=_("Platform"), required=False)
    department = forms.TypedMultipleChoiceField(label=_("Department"), coerce=int, required=False)
    agent = forms.TypedMultipleChoiceField(label=_("Agent"), coerce=int, required=False)

    def __init__(
        self,
        data: Mapping[str, str | Sequence[str]] | None,
        *,
        channels: Sequence[tuple[int, str]],
        platforms: Sequence[tuple[str, str]],
        departments: Sequence[tuple[int, str]],
        agents: Sequence[tuple[int, str]],
    ) -> None:
        values = _as_multi_value(data) if data is not None else None
        if values is not None and not any(values.get(k) for k in ("period", "from", "to")):
            # No period asked for: the default, shown as chosen in the select.
            values = values.copy()
            values["period"] = DEFAULT_PERIOD
        super().__init__(values)
        # "from" is a Python keyword: the two date fields are added by name.
        self.fields["from"] = forms.DateField(label=_("From"), required=False)
        self.fields["to"] = forms.DateField(label=_("To"), required=False)
        for name, offered in [
            ("channel", channels),
            ("platform", platforms),
            ("department", departments),
            ("agent", agents),
        ]:
            field = self.fields[name]
            assert isinstance(field, forms.ChoiceField)
            choices = [(str(value), label) for value, label in offered]
            # Checkboxes in a small menu (templates/reports/report.html), not a list box.
            field.widget = forms.CheckboxSelectMultiple()
            field.choices = choices
        for name in ("from", "to"):
            self.fields[name].widget = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
        self.fields["period"].widget.attrs["data-report-period"] = ""

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        first, last = cleaned.get("from"), cleaned.get("to")
        custom = cleaned.get("period") == "custom" or (
            not cleaned.get("period") and (first or last)
        )
        if custom:
            if first is None or last is None:
                raise forms.ValidationError(
                    _("A custom period needs both a start and an end date.")
                )
            if last < first:
                raise forms.ValidationError(_("The end date lies before the start date."))
            # The period's end is the day after `to` (and a week bucket may start before
            # `from`): years at the calendar's edges would overflow.
            if not (first.year >= EARLIEST_YEAR and last.year <= LATEST_YEAR):
                raise forms.ValidationError(
                    _("Choose dates between %(earliest)s and %(latest)s.")
                    % {"earliest": EARLIEST_YEAR, "latest": LATEST_YEAR}
                )
            if (last - first).days + 1 > MAX_DAYS:
                raise forms.ValidationError(
                    _("A report covers at most %(days)s days.") % {"days": MAX_DAYS}
                )
            cleaned["period"] = "custom"
        return cleaned


def _as_multi_value(data: Mapping[str, str | Sequence[str]]) -> MultiValueDict[str, str]:
    """A plain mapping (the API's parameters) as the multi-valued dict forms expect; a QueryDict
    passes through."""
    if isinstance(data, MultiValueDict):
        return data
    values: MultiValueDict[str, str] = MultiValueDict()
    for key, value in data.items():
        many = isinstance(value, list | tuple)
        values.setlist(key, [str(v) for v in value] if many else [str(value)])
    return values
