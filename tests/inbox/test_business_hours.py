"""Business-hour arithmetic (inbox.business_hours): nights, weekends, lunch breaks, holidays, time
zones, both daylight-saving changes, long targets; checked against a minute-by-minute count."""

import random
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from inbox.business_hours import (
    NoOpenHours,
    WorkingCalendar,
    add_business_time,
    business_time_between,
    is_open,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
WEEKDAYS = range(1, 6)


def office(zone, *, opens=time(9), closes=time(17), days=WEEKDAYS, holidays=()):
    return WorkingCalendar.build(
        zone=zone, hours=[(day, opens, closes) for day in days], holidays=holidays
    )


def with_lunch(zone, holidays=()):
    hours = [(day, time(9), time(12)) for day in WEEKDAYS]
    hours += [(day, time(13), time(17, 30)) for day in WEEKDAYS]
    return WorkingCalendar.build(zone=zone, hours=hours, holidays=holidays)


def local(zone, *args):
    return datetime(*args, tzinfo=zone)


def counted_by_the_minute(start, end, calendar, hours, holidays=()):
    """Open minutes between two minute-aligned moments, deciding each minute from the local wall
    clock alone (independent of the code under test)."""
    by_day = {}
    for weekday, opens, closes in hours:
        by_day.setdefault(weekday, []).append((opens, closes))
    total = 0
    moment = start
    while moment < end:
        wall = moment.astimezone(calendar.zone)
        if wall.date() not in holidays:
            clock = wall.time().replace(tzinfo=None)
            if any(o <= clock < c for o, c in by_day.get(wall.isoweekday(), [])):
                total += 1
        moment += timedelta(minutes=1)
    return timedelta(minutes=total)


# Nights, weekends, lunch breaks.


def test_it_carries_a_target_over_the_night():
    calendar = office(BERLIN)
    due = add_business_time(local(BERLIN, 2024, 6, 11, 16), timedelta(hours=3), calendar)
    assert due == local(BERLIN, 2024, 6, 12, 11)


def test_a_friday_evening_target_falls_due_on_monday():
    calendar = office(BERLIN)
    due = add_business_time(local(BERLIN, 2024, 6, 14, 16), timedelta(hours=2), calendar)
    assert due == local(BERLIN, 2024, 6, 17, 10)


def test_a_start_outside_hours_counts_from_the_next_opening():
    calendar = office(BERLIN)
    saturday = local(BERLIN, 2024, 6, 15, 11)
    assert add_business_time(saturday, timedelta(hours=1), calendar) == local(
        BERLIN, 2024, 6, 17, 10
    )
    early = local(BERLIN, 2024, 6, 18, 7, 15)
    assert add_business_time(early, timedelta(minutes=30), calendar) == local(
        BERLIN, 2024, 6, 18, 9, 30
    )


def test_a_target_that_ends_at_closing_time_is_due_at_closing_time():
    calendar = office(BERLIN)
    monday = local(BERLIN, 2024, 6, 17, 9)
    assert add_business_time(monday, timedelta(hours=8), calendar) == local(BERLIN, 2024, 6, 17, 17)


def test_it_skips_the_lunch_break():
    calendar = with_lunch(BERLIN)
    due = add_business_time(local(BERLIN, 2024, 6, 17, 11, 30), timedelta(hours=1), calendar)
    assert due == local(BERLIN, 2024, 6, 17, 13, 30)
    assert business_time_between(
        local(BERLIN, 2024, 6, 17, 8), local(BERLIN, 2024, 6, 17, 18), calendar
    ) == timedelta(hours=7, minutes=30)


def test_a_zero_target_is_due_at_once_and_a_negative_one_is_refused():
    calendar = office(BERLIN)
    sunday = local(BERLIN, 2024, 6, 16, 12)
    assert add_business_time(sunday, timedelta(0), calendar) == sunday
    with pytest.raises(ValueError, match="negative"):
        add_business_time(sunday, timedelta(minutes=-1), calendar)


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError, match="aware"):
        add_business_time(datetime(2024, 6, 17, 9), timedelta(hours=1), office(BERLIN))


def test_it_is_open_from_opening_until_just_before_closing():
    calendar = with_lunch(BERLIN, holidays=[date(2024, 6, 18)])
    assert is_open(local(BERLIN, 2024, 6, 17, 9), calendar)
    assert not is_open(local(BERLIN, 2024, 6, 17, 12), calendar)
    assert not is_open(local(BERLIN, 2024, 6, 17, 17, 30), calendar)
    assert not is_open(local(BERLIN, 2024, 6, 18, 10), calendar)  # the holiday
    assert not is_open(local(BERLIN, 2024, 6, 16, 10), calendar)  # a Sunday


def test_a_closing_time_of_2359_means_midnight():
    calendar = WorkingCalendar.build(
        zone=BERLIN, hours=[(day, time(0), time(23, 59)) for day in range(1, 8)]
    )
    start = local(BERLIN, 2024, 6, 17, 0)
    assert business_time_between(start, start + timedelta(days=7), calendar) == timedelta(days=7)
    assert is_open(local(BERLIN, 2024, 6, 17, 23, 59, 30), calendar)


def test_overlapping_intervals_are_merged():
    calendar = WorkingCalendar.build(
        zone=BERLIN, hours=[(1, time(9), time(12)), (1, time(11), time(14))]
    )
    monday = local(BERLIN, 2024, 6, 17, 0)
    assert business_time_between(monday, monday + timedelta(days=1), calendar) == timedelta(hours=5)


def test_a_weekday_outside_one_to_seven_is_refused():
    with pytest.raises(ValueError, match="ISO weekday"):
        WorkingCalendar.build(zone=BERLIN, hours=[(0, time(9), time(17))])


# Holidays and time zones.


def test_a_holiday_is_closed_all_day():
    calendar = office(BERLIN, holidays=[date(2024, 6, 17)])
    due = add_business_time(local(BERLIN, 2024, 6, 14, 16), timedelta(hours=2), calendar)
    assert due == local(BERLIN, 2024, 6, 18, 10)


def test_holidays_are_days_of_the_departments_own_calendar():
    # 23:30 in New York on 3 July is already 4 July in Berlin: only New York's holiday counts.
    calendar = office(NEW_YORK, opens=time(0), closes=time(23, 59), holidays=[date(2024, 7, 4)])
    evening = local(NEW_YORK, 2024, 7, 3, 23, 30)
    assert is_open(evening, calendar)
    assert add_business_time(evening, timedelta(hours=1), calendar) == local(
        NEW_YORK, 2024, 7, 5, 0, 30
    )


def test_new_york_and_berlin_count_their_own_hours():
    berlin, new_york = office(BERLIN), office(NEW_YORK)
    # Monday 15:00 UTC: 17:00 in Berlin (closing), 11:00 in New York.
    moment = datetime(2024, 6, 17, 15, tzinfo=UTC)
    assert not is_open(moment, berlin)
    assert is_open(moment, new_york)
    assert add_business_time(moment, timedelta(hours=1), berlin) == datetime(
        2024, 6, 18, 8, tzinfo=UTC
    )
    assert add_business_time(moment, timedelta(hours=1), new_york) == datetime(
        2024, 6, 17, 16, tzinfo=UTC
    )


def test_a_friday_evening_in_new_york_is_due_on_monday_new_york_time():
    calendar = office(NEW_YORK)
    friday = datetime(2024, 6, 14, 20, 30, tzinfo=UTC)  # 16:30 EDT
    assert add_business_time(friday, timedelta(hours=1), calendar) == local(
        NEW_YORK, 2024, 6, 17, 9, 30
    )


def test_results_are_in_utc():
    due = add_business_time(local(BERLIN, 2024, 6, 17, 9), timedelta(hours=1), office(BERLIN))
    assert due.tzinfo is UTC


# Daylight-saving changes.


def test_an_office_day_across_the_spring_change_keeps_its_wall_hours():
    calendar = office(BERLIN)
    # Friday 29 March 2024 16:00 CET; clocks go forward on Sunday 31 March.
    due = add_business_time(local(BERLIN, 2024, 3, 29, 16), timedelta(hours=2), calendar)
    assert due == local(BERLIN, 2024, 4, 1, 10)
    assert due == datetime(2024, 4, 1, 8, tzinfo=UTC)  # summer time: UTC+2


def test_an_office_day_across_the_autumn_change_keeps_its_wall_hours():
    calendar = office(BERLIN)
    due = add_business_time(local(BERLIN, 2024, 10, 25, 16), timedelta(hours=2), calendar)
    assert due == datetime(2024, 10, 28, 9, tzinfo=UTC)  # 10:00 CET, UTC+1


def night_shift(zone):
    return WorkingCalendar.build(zone=zone, hours=[(7, time(1), time(4))])


def test_a_night_interval_on_the_spring_change_is_two_real_hours():
    calendar = night_shift(BERLIN)
    sunday = local(BERLIN, 2024, 3, 31, 0)
    assert business_time_between(sunday, sunday + timedelta(days=1), calendar) == timedelta(hours=2)
    # 01:00 CET is 00:00 UTC; 90 minutes later the clock has jumped: 03:30 CEST.
    assert add_business_time(sunday, timedelta(minutes=90), calendar) == local(
        BERLIN, 2024, 3, 31, 3, 30
    )
    assert add_business_time(sunday, timedelta(hours=2), calendar) == local(BERLIN, 2024, 3, 31, 4)


def test_a_night_interval_on_the_autumn_change_is_four_real_hours():
    calendar = night_shift(BERLIN)
    sunday = local(BERLIN, 2024, 10, 27, 0)
    assert business_time_between(sunday, sunday + timedelta(days=1), calendar) == timedelta(hours=4)
    # 02:30 happens twice that night: two and a half hours after 01:00 is the second one.
    due = add_business_time(sunday, timedelta(minutes=150), calendar)
    assert due == datetime(2024, 10, 27, 1, 30, tzinfo=UTC)
    assert due.astimezone(BERLIN).strftime("%H:%M %Z") == "02:30 CET"


def test_an_opening_time_that_does_not_exist_counts_as_the_time_before_the_change():
    # Documented choice (fold=0): 02:30 on the spring night is read as 03:30 summer time.
    calendar = WorkingCalendar.build(zone=BERLIN, hours=[(7, time(2, 30), time(5))])
    sunday = local(BERLIN, 2024, 3, 31, 0)
    assert not is_open(local(BERLIN, 2024, 3, 31, 3, 15), calendar)
    assert is_open(local(BERLIN, 2024, 3, 31, 3, 30), calendar)
    assert business_time_between(sunday, sunday + timedelta(days=1), calendar) == timedelta(
        hours=1, minutes=30
    )


def test_an_interval_lost_entirely_in_the_spring_change_is_empty():
    calendar = WorkingCalendar.build(
        zone=BERLIN, hours=[(7, time(2, 30), time(3)), (1, time(9), time(10))]
    )
    sunday = local(BERLIN, 2024, 3, 31, 0)
    assert business_time_between(sunday, sunday + timedelta(days=1), calendar) == timedelta(0)
    assert add_business_time(sunday, timedelta(minutes=30), calendar) == local(
        BERLIN, 2024, 4, 1, 9, 30
    )


def test_a_round_the_clock_day_in_new_york_has_23_and_25_hours_on_the_changes():
    calendar = WorkingCalendar.build(
        zone=NEW_YORK, hours=[(day, time(0), time(23, 59)) for day in range(1, 8)]
    )
    spring = local(NEW_YORK, 2024, 3, 10, 0)
    autumn = local(NEW_YORK, 2024, 11, 3, 0)
    assert business_time_between(spring, local(NEW_YORK, 2024, 3, 11, 0), calendar) == timedelta(
        hours=23
    )
    assert business_time_between(autumn, local(NEW_YORK, 2024, 11, 4, 0), calendar) == timedelta(
        hours=25
    )
    # Around the clock, a business day is a real 24 hours whatever the wall clock says.
    assert add_business_time(spring, timedelta(hours=24), calendar) == local(
        NEW_YORK, 2024, 3, 11, 1
    )


# Long targets.


def test_a_thirty_day_target_skips_whole_weeks(monkeypatch):
    calendar = office(BERLIN)
    days_read = []
    original = WorkingCalendar.open_intervals

    def counting(self, day):
        days_read.append(day)
        return original(self, day)

    monkeypatch.setattr(WorkingCalendar, "open_intervals", counting)
    start = local(BERLIN, 2024, 6, 17, 9)  # 30 days of 24 hours = 18 office weeks of 40 hours
    due = add_business_time(start, timedelta(days=30), calendar)
    assert due == local(BERLIN, 2024, 10, 18, 17)
    assert len(days_read) < 20
    days_read.clear()
    assert business_time_between(start, due, calendar) == timedelta(days=30)
    assert len(days_read) < 20


def test_a_target_of_whole_weeks_ends_at_a_closing_not_at_the_next_opening():
    calendar = office(BERLIN)
    monday_closing = local(BERLIN, 2024, 6, 17, 17)
    due = add_business_time(monday_closing, timedelta(hours=80), calendar)
    assert due == local(BERLIN, 2024, 7, 1, 17)


def test_a_long_target_across_holidays_and_both_changes_matches_the_minute_count():
    hours = [(day, time(9), time(17)) for day in WEEKDAYS] + [(6, time(10), time(14))]
    holidays = {date(2024, 3, 29), date(2024, 4, 1), date(2024, 5, 1)}
    calendar = WorkingCalendar.build(zone=BERLIN, hours=hours, holidays=holidays)
    start = local(BERLIN, 2024, 3, 20, 14, 7)
    end = local(BERLIN, 2024, 5, 10, 11, 3)
    expected = counted_by_the_minute(start, end, calendar, hours, holidays)
    assert business_time_between(start, end, calendar) == expected
    assert add_business_time(start, expected, calendar) == end


def test_a_calendar_without_open_hours_is_refused_with_a_clear_message():
    closed = WorkingCalendar.build(zone=BERLIN, hours=[])
    start = local(BERLIN, 2024, 6, 17, 9)
    with pytest.raises(NoOpenHours, match="no open hours"):
        add_business_time(start, timedelta(hours=1), closed)
    assert isinstance(NoOpenHours("x"), ValueError)
    assert business_time_between(start, start + timedelta(days=30), closed) == timedelta(0)
    assert not is_open(start, closed)


def test_the_always_open_calendar_is_calendar_time():
    always = WorkingCalendar.always()
    start = local(BERLIN, 2024, 3, 30, 22)
    due = add_business_time(start, timedelta(hours=24), always)
    # Real hours: across the spring change the wall clock shows 23:00 the next evening.
    assert due == start.astimezone(UTC) + timedelta(hours=24)
    assert due.astimezone(BERLIN).hour == 23
    assert business_time_between(start, start + timedelta(days=3), always) == timedelta(days=3)


# Generated cases.


def generated_cases(seed, count):
    """Calendars in both zones (lunch breaks, a weekend shift, holidays) and starts around both
    daylight-saving changes of 2024."""
    rng = random.Random(seed)
    calendars = []
    for zone in (BERLIN, NEW_YORK):
        hours = [(day, time(8), time(12)) for day in WEEKDAYS]
        hours += [(day, time(13), time(17, 30)) for day in WEEKDAYS]
        hours += [(6, time(10), time(14)), (7, time(1), time(4))]
        holidays = {date(2024, 3, 29), date(2024, 4, 1), date(2024, 11, 1), date(2024, 3, 12)}
        calendars.append((WorkingCalendar.build(zone=zone, hours=hours, holidays=holidays), hours))
    anchors = [
        datetime(2024, 3, 28, tzinfo=UTC),
        datetime(2024, 3, 8, tzinfo=UTC),
        datetime(2024, 10, 24, tzinfo=UTC),
        datetime(2024, 10, 31, tzinfo=UTC),
    ]
    for _ in range(count):
        calendar, hours = rng.choice(calendars)
        start = rng.choice(anchors) + timedelta(minutes=rng.randrange(0, 6 * 24 * 60))
        duration = timedelta(minutes=rng.randrange(0, 60 * 24 * 60))
        yield calendar, hours, start, duration


def test_business_time_between_inverts_add_business_time_on_generated_cases():
    for calendar, _hours, start, duration in generated_cases(seed=5, count=400):
        due = add_business_time(start, duration, calendar)
        assert business_time_between(start, due, calendar) == duration, (start, duration)
        if duration:
            # The earliest such moment: the minute before it was open time.
            assert is_open(due - timedelta(microseconds=1), calendar), (start, duration)


def test_generated_spans_match_the_minute_count():
    rng = random.Random(8)
    for calendar, hours, start, _duration in generated_cases(seed=6, count=25):
        end = start + timedelta(minutes=rng.randrange(0, 16 * 24 * 60))
        holidays = set(calendar.holidays)
        expected = counted_by_the_minute(start, end, calendar, hours, holidays)
        assert business_time_between(start, end, calendar) == expected, (start, end)
