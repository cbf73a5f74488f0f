"""Business-hour arithmetic: when does a target of N working hours fall due, and how much working
time lies between two moments. Pure functions of a `WorkingCalendar`; no database.

How the calendar is read (docs/sla.md):
- A department is open in intervals of local wall time per ISO weekday (several a day make a
  lunch break), in its own time zone, except on its holidays (whole local days).
- Each local day is worked out on its own: an interval's ends are that day's wall times turned
  into UTC by zoneinfo with fold=0. On the night clocks go forward (Europe/Berlin, last Sunday of
  March, 02:00 -> 03:00) an interval 01:00-04:00 is therefore two real hours long; on the night
  they go back (last Sunday of October, 03:00 -> 02:00) it is four. The office is open from the
  moment the wall clock says it opens until the wall clock says it closes; a wall time that does
  not exist that night counts as the moment it would have been before the change (02:30 is read
  as 03:30 summer time), an ambiguous one as its first occurrence.
- Intervals are half-open: open at `opens`, closed at `closes`. A `closes` of 23:59 or later
  means midnight (a time field cannot say 24:00), so 00:00-23:59 every day is around the clock.
- A calendar with no open hours at all cannot finish any target: add_business_time raises
  ValueError for it (the SLA engine counts such a department around the clock instead).

Long targets skip whole weeks arithmetically: a week with no holiday and the same UTC offset at
each of its midnights (no clock change) has exactly the calendar's weekly open time.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from inbox.models import Department, DepartmentHoliday, DepartmentHours

_DAY_SECONDS = 24 * 60 * 60
# A closing time from here on means the end of the day (a TimeField has no 24:00).
_END_OF_DAY_FROM = time(23, 59)
_ZERO = timedelta(0)
_WEEK = timedelta(days=7)

# Opening intervals of one weekday: (opens, closes) in seconds after local midnight, sorted,
# merged, non-empty; closes may be 86400 (midnight at the end of the day).
DayIntervals = tuple[tuple[int, int], ...]


class NoOpenHours(ValueError):
    """The calendar has no open hours, so no amount of working time can ever pass."""


@dataclass(frozen=True)
class WorkingCalendar:
    """When a team works: weekly intervals in a time zone, minus holidays; or always."""

    zone: ZoneInfo
    # Index 0 is Monday (ISO weekday 1), 6 is Sunday.
    weekly: tuple[DayIntervals, ...]
    holidays: tuple[date, ...] = ()  # sorted, unique
    always_open: bool = False

    @classmethod
    def always(cls) -> WorkingCalendar:
        """Around the clock, every day: calendar time (targets without business hours)."""
        return cls(zone=ZoneInfo("UTC"), weekly=((),) * 7, always_open=True)

    @classmethod
    def build(
        cls,
        *,
        zone: ZoneInfo | str,
        hours: Iterable[tuple[int, time, time]],
        holidays: Iterable[date] = (),
    ) -> WorkingCalendar:
        """A calendar from (ISO weekday, opens, closes) intervals in `zone`'s wall time.

        Overlapping or touching intervals of a day are merged; an interval that does not open
        before it closes is ignored. Raises ValueError for a weekday outside 1-7 and
        ZoneInfoNotFoundError for an unknown zone.
        """
        days: list[list[tuple[int, int]]] = [[] for _ in range(7)]
        for weekday, opens, closes in hours:
            if not 1 <= weekday <= 7:
                raise ValueError(f"weekday {weekday} is not an ISO weekday (1 = Monday ... 7)")
            start = _seconds(opens)
            end = _DAY_SECONDS if closes >= _END_OF_DAY_FROM else _seconds(closes)
            if start < end:
                days[weekday - 1].append((start, end))
        return cls(
            zone=zone if isinstance(zone, ZoneInfo) else ZoneInfo(zone),
            weekly=tuple(_merged(day) for day in days),
            holidays=tuple(sorted(set(holidays))),
        )

    @classmethod
    def for_department(
        cls,
        department: Department,
        hours: Iterable[DepartmentHours],
        holidays: Iterable[DepartmentHoliday] = (),
    ) -> WorkingCalendar:
        """The calendar of a department from its rows (already read: no query here)."""
        return cls.build(
            zone=department.time_zone,
            hours=((row.weekday, row.opens, row.closes) for row in hours),
            holidays=(row.date for row in holidays),
        )

    @property
    def has_open_hours(self) -> bool:
        return self.always_open or any(self.weekly)

    @property
    def week_open_seconds(self) -> int:
        """Open time of a week without holidays or clock changes."""
        return sum(end - start for day in self.weekly for start, end in day)

    def is_holiday(self, day: date) -> bool:
        index = bisect_left(self.holidays, day)
        return index < len(self.holidays) and self.holidays[index] == day

    def open_intervals(self, day: date) -> list[tuple[datetime, datetime]]:
        """The open intervals of one local day, in UTC, sorted and disjoint."""
        if self.is_holiday(day):
            return []
        intervals: list[tuple[datetime, datetime]] = []
        for start, end in self.weekly[day.isoweekday() - 1]:
            opens = self._utc(day, start)
            closes = self._utc(day, end)
            # A wall interval that lies inside a clock change can come out empty or reversed.
            if opens >= closes:
                continue
            if intervals and opens <= intervals[-1][1]:
                intervals[-1] = (intervals[-1][0], max(closes, intervals[-1][1]))
            else:
                intervals.append((opens, closes))
        return intervals

    def _utc(self, day: date, seconds: int) -> datetime:
        if seconds >= _DAY_SECONDS:
            day, seconds = day + timedelta(days=1), seconds - _DAY_SECONDS
        wall = datetime.combine(
            day,
            time(seconds // 3600, seconds % 3600 // 60, seconds % 60),
            tzinfo=self.zone,
        )
        return wall.astimezone(UTC)

    def _local_day(self, moment: datetime) -> date:
        return moment.astimezone(self.zone).date()

    def _regular_week(self, first: date) -> bool:
        """No holiday in the seven days from `first`, and no clock change: the same UTC offset
        at all eight midnights (a change inside a day shows at the next midnight)."""
        index = bisect_left(self.holidays, first)
        if index < len(self.holidays) and self.holidays[index] < first + _WEEK:
            return False
        offset = datetime.combine(first, time(0), tzinfo=self.zone).utcoffset()
        return all(
            datetime.combine(first + timedelta(days=n), time(0), tzinfo=self.zone).utcoffset()
            == offset
            for n in range(1, 8)
        )


def add_business_time(start: datetime, duration: timedelta, calendar: WorkingCalendar) -> datetime:
    """The moment when `duration` of open time has passed since `start` (in UTC).

    A start outside open hours counts from the next opening; a target that ends exactly at a
    closing time falls due at that closing time. A zero duration is due at `start` itself.
    Raises ValueError for a naive `start`, a negative duration, or a calendar without open hours.
    """
    _check_aware(start)
    if duration < _ZERO:
        raise ValueError("a business-time duration cannot be negative")
    start = start.astimezone(UTC)
    if duration == _ZERO or calendar.always_open:
        return start + duration
    if not calendar.has_open_hours:
        raise NoOpenHours("the calendar has no open hours: no working time can ever pass")
    week_open = timedelta(seconds=calendar.week_open_seconds)
    remaining = duration
    day = calendar._local_day(start)
    first_day = True
    while True:
        if not first_day:
            # Whole weeks at once; strictly more than a week left, so the end is never skipped.
            while remaining > week_open and calendar._regular_week(day):
                remaining -= week_open
                day += _WEEK
        for opens, closes in calendar.open_intervals(day):
            opens = max(opens, start)
            if closes <= opens:
                continue
            available = closes - opens
            if remaining <= available:
                return opens + remaining
            remaining -= available
        day += timedelta(days=1)
        first_day = False


def business_time_between(start: datetime, end: datetime, calendar: WorkingCalendar) -> timedelta:
    """Open time between `start` and `end`; zero when `end` is not after `start`.

    For any calendar with open hours, business_time_between(s, add_business_time(s, d)) == d.
    """
    _check_aware(start)
    _check_aware(end)
    if end <= start:
        return _ZERO
    if calendar.always_open:
        return end - start
    if not calendar.has_open_hours:
        return _ZERO
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    week_open = timedelta(seconds=calendar.week_open_seconds)
    day, last = calendar._local_day(start), calendar._local_day(end)
    first_day = day
    total = _ZERO
    while day <= last:
        # A week strictly before end's local day lies whole inside the span (not the first
        # day, which may start after its openings).
        if day > first_day and day + _WEEK <= last and calendar._regular_week(day):
            total += week_open
            day += _WEEK
            continue
        for opens, closes in calendar.open_intervals(day):
            opens, closes = max(opens, start), min(closes, end)
            if closes > opens:
                total += closes - opens
        day += timedelta(days=1)
    return total


def is_open(at: datetime, calendar: WorkingCalendar) -> bool:
    """Whether the calendar is open at `at` (open at an opening time, closed at a closing)."""
    _check_aware(at)
    if calendar.always_open:
        return True
    at = at.astimezone(UTC)
    return any(
        opens <= at < closes for opens, closes in calendar.open_intervals(calendar._local_day(at))
    )


def _seconds(value: time) -> int:
    return value.hour * 3600 + value.minute * 60 + value.second


def _merged(intervals: list[tuple[int, int]]) -> DayIntervals:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return tuple(merged)


def _check_aware(moment: datetime) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("business-hour arithmetic needs aware datetimes")
