"""Reports: exact figures from known data (medians and 90th percentiles worked out by hand), SLA
compliance, backlog, filters, period boundaries in the user's time zone, who may see what, the
CSV export and its escaping, clear 400s for bad values, and a query count that does not grow
with the data."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from channels_integrations.models import ChannelAccount, Platform
from inbox.access import AccessDenied
from inbox.models import (
    AgentPreferences,
    Conversation,
    ConversationEvent,
    Direction,
    EventKind,
    Message,
    SlaBreach,
    Tag,
)
from inbox.reports import display, queries
from inbox.reports import scope as scope_module
from inbox.reports.queries import ReportParamsError, build_report
from inbox.reports.scope import interpolated
from moderation.models import ModerationDecision
from tests import factories

pytestmark = pytest.mark.django_db

# Sunday 15 March 2026, 12:00 in Berlin (CET, UTC+1).
NOW = datetime(2026, 3, 15, 11, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)


@pytest.fixture(autouse=True)
def frozen_time():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def brand(department: Any) -> Any:
    """The department's channel (no fake server: reports never call a platform)."""
    return factories.make_mastodon_channel(department=department, name="Mastodon @brand")


@pytest.fixture
def elsewhere(other_department: Any) -> Any:
    """A channel of another department: the lead of `department` must not see it."""
    return factories.make_mastodon_channel(department=other_department, name="Sales channel")


def started(
    channel: Any,
    at: datetime,
    *,
    answered_after: timedelta | None = None,
    due_after: timedelta | None = 24 * HOUR,
    **fields: Any,
) -> Conversation:
    """A conversation started at `at` (its first inbound message then), answered (first
    response) `answered_after` later, with a first-response target `due_after` after start."""
    conversation = factories.make_conversation(channel, when=at, **fields)
    Conversation.objects.filter(pk=conversation.pk).update(
        created_at=at,
        first_response_at=at + answered_after if answered_after is not None else None,
        first_response_due_at=at + due_after if due_after is not None else None,
    )
    conversation.refresh_from_db()
    return conversation


def reply(conversation: Conversation, author: Any, at: datetime) -> Message:
    return Message.objects.create(
        conversation=conversation,
        channel_account_id=conversation.channel_account_id,
        direction=Direction.OUTBOUND,
        author=author,
        text="Thanks, we are on it.",
        sent_at=at,
    )


def status_change(
    conversation: Conversation, at: datetime, *, before: str, after: str, actor: Any = None
) -> None:
    event = ConversationEvent.objects.create(
        conversation=conversation,
        actor=actor,
        kind=EventKind.STATUS_CHANGED,
        data={"before": before, "after": after},
    )
    ConversationEvent.objects.filter(pk=event.pk).update(created_at=at)


def table(report: queries.Report, name: str) -> list[dict[str, Any]]:
    found = report.tables[name]
    return [dict(zip([c.key for c in found.columns], row, strict=True)) for row in found.rows]


def day_row(report: queries.Report, name: str, day: str) -> dict[str, Any]:
    return next(row for row in table(report, name) if row["bucket"].isoformat() == day)


# --- figures -----------------------------------------------------------------------------------


def test_it_computes_the_median_and_90th_percentile_of_first_responses(admin_user, brand):
    start = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
    for minutes in (10, 20, 30, 40, 100):
        started(brand, start, answered_after=minutes * MINUTE)
    started(brand, start)  # not answered: no first-response time

    report = build_report(user=admin_user, params={"period": "7d"})

    first = report.summary["first_response"]
    # Sorted seconds 600, 1200, 1800, 2400, 6000: the median is the middle one; the 90th
    # percentile lies 0.6 of the way from the 4th (2400) to the 5th (6000): 2400 + 2160.
    assert first["count"] == 5
    assert first["median"] == pytest.approx(1800)
    assert first["p90"] == pytest.approx(4560)
    row = day_row(report, "times", "2026-03-10")
    assert row["answered"] == 5
    assert row["first_response_median"] == pytest.approx(1800)


def test_it_measures_resolution_from_the_start_to_the_resolved_event(admin_user, agent, brand):
    start = datetime(2026, 3, 11, 8, 0, tzinfo=UTC)
    for hours in (1, 2, 4, 10):
        conversation = started(brand, start, answered_after=MINUTE)
        status_change(conversation, start + hours * HOUR, before="open", after="resolved")
    ignored = started(brand, start)
    status_change(ignored, start + HOUR, before="new", after="ignored")

    report = build_report(user=admin_user, params={"period": "7d"})

    resolution = report.summary["resolution"]
    # Hours 1, 2, 4, 10: the median is halfway between 2 and 4; the 90th percentile 0.7 of
    # the way from 4 to 10 (position 0.9 x 3 = 2.7).
    assert resolution["count"] == 4
    assert resolution["median"] == pytest.approx(3 * 3600)
    assert resolution["p90"] == pytest.approx((4 + 0.7 * 6) * 3600)


def test_the_portable_percentiles_match_postgresql(admin_user, brand, monkeypatch):
    start = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
    for minutes in (3, 7, 11, 50, 51, 90, 400):
        started(brand, start + minutes * MINUTE, answered_after=minutes * MINUTE)
    on_postgresql = build_report(user=admin_user, params={"period": "7d"})
    # The embedded SQLite mode's path: the spans are read and interpolated in Python.
    monkeypatch.setattr(scope_module, "connection", SimpleNamespace(vendor="sqlite"))
    portable = build_report(user=admin_user, params={"period": "7d"})

    assert portable.summary["first_response"] == pytest.approx(
        on_postgresql.summary["first_response"]
    )
    assert table(portable, "times") == table(on_postgresql, "times")
    assert interpolated([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5
    assert interpolated([], 0.9) is None


def test_it_counts_first_responses_within_the_sla(admin_user, brand):
    start = datetime(2026, 3, 12, 10, 0, tzinfo=UTC)
    for minutes in (30, 60, 23 * 60):
        started(brand, start, answered_after=minutes * MINUTE)  # in time
    started(brand, start, answered_after=25 * HOUR)  # late
    started(brand, start - 2 * HOUR, due_after=HOUR)  # unanswered, target passed: late
    started(brand, NOW - HOUR)  # unanswered, due tomorrow: still running
    started(brand, start, due_after=None)  # no target (closed unanswered): not counted
    breached = started(brand, start, answered_after=25 * HOUR)
    SlaBreach.objects.create(
        conversation=breached,
        kind="first_response",
        due_at=start + 24 * HOUR,
        breached_at=start + 24 * HOUR,
    )

    report = build_report(user=admin_user, params={"period": "7d"})

    assert report.summary["sla_met"] == 3
    assert report.summary["sla_missed"] == 3
    assert report.summary["sla_compliance"] == pytest.approx(0.5)
    row = day_row(report, "sla", "2026-03-12")
    assert (row["met"], row["missed"], row["running"]) == (3, 3, 0)
    assert table(report, "sla_breaches") == [{"kind": "First response", "breaches": 1}]


def test_the_backlog_follows_starts_closings_and_reopenings(admin_user, brand):
    before = datetime(2026, 2, 1, 12, 0, tzinfo=UTC)
    # Three open when the period begins; the first is resolved on the 10th.
    old = [started(brand, before, status=status) for status in ("resolved", "open", "pending")]
    status_change(old[0], datetime(2026, 3, 10, 12, 0, tzinfo=UTC), before="open", after="resolved")
    started(brand, before, status="resolved")  # closed long ago, without an event: no drift
    new = started(brand, datetime(2026, 3, 11, 12, 0, tzinfo=UTC), status="open")
    status_change(new, datetime(2026, 3, 12, 12, 0, tzinfo=UTC), before="open", after="ignored")
    status_change(new, datetime(2026, 3, 13, 12, 0, tzinfo=UTC), before="ignored", after="open")

    report = build_report(user=admin_user, params={"period": "7d"})

    open_by_day = {row["bucket"].isoformat(): row["open"] for row in table(report, "backlog")}
    assert open_by_day == {
        "2026-03-09": 3,
        "2026-03-10": 2,
        "2026-03-11": 3,
        "2026-03-12": 2,
        "2026-03-13": 3,
        "2026-03-14": 3,
        "2026-03-15": 3,
    }
    assert report.summary["backlog_end"] == 3


def test_a_weekly_backlog_ending_midweek_leaves_out_what_started_after_the_end(admin_user, brand):
    # 92 days: week buckets; the period ends on Wednesday 11 March, its last bucket is the week
    # of Monday 9 March. A conversation started on Thursday the 12th is after the period.
    started(brand, datetime(2026, 3, 12, 12, 0, tzinfo=UTC), status="open")

    report = build_report(
        user=admin_user, params={"period": "custom", "from": "2025-12-10", "to": "2026-03-11"}
    )

    rows = table(report, "backlog")
    assert rows[-1]["bucket"].isoformat() == "2026-03-09"
    assert (rows[-1]["open"], rows[-1]["started"]) == (0, 0)
    assert report.summary["backlog_end"] == 0


def test_it_counts_volume_sentiment_hours_tags_moderation_and_workload(admin_user, agent, brand):
    monday = datetime(2026, 3, 9, 8, 30, tzinfo=UTC)  # 09:30 in Berlin
    conversation = started(
        brand, monday, answered_after=HOUR, assignee=agent, status="resolved", sentiment="negative"
    )
    started(brand, monday, assignee=agent, status="open", sentiment="positive")  # open work
    reply(conversation, agent, monday + HOUR)
    status_change(conversation, monday + 2 * HOUR, before="open", after="resolved", actor=agent)
    tag = Tag.objects.create(name="Lieferung")
    conversation.tags.add(tag)
    ModerationDecision.objects.create(
        channel_account=brand, action="hide", created_at=monday, actor=agent
    )

    report = build_report(user=admin_user, params={"period": "7d"})

    assert day_row(report, "volume", "2026-03-09") == {
        "bucket": monday.date(),
        "inbound": 2,
        "outbound": 1,
    }
    feeling = day_row(report, "sentiment", "2026-03-09")
    assert (feeling["negative"], feeling["neutral"], feeling["positive"]) == (1, 0, 1)
    assert feeling["net"] == 0
    assert report.hours[0][9] == 2  # Monday, 09:00 to 10:00 local time
    assert sum(map(sum, report.hours)) == 2
    assert table(report, "tags") == [{"tag": "Lieferung", "conversations": 1}]
    assert table(report, "moderation") == [{"action": "Hidden", "decisions": 1}]
    workload = {row["agent"]: row for row in table(report, "workload")}
    assert workload["kim"] == {"agent": "kim", "replies": 1, "resolved": 1, "open": 1}


# --- periods and filters -------------------------------------------------------------------------


def test_today_begins_at_midnight_in_the_users_time_zone(lead, brand):
    started(brand, datetime(2026, 3, 14, 23, 30, tzinfo=UTC))  # 00:30 on the 15th in Berlin
    started(brand, datetime(2026, 3, 14, 22, 30, tzinfo=UTC))  # 23:30 on the 14th in Berlin

    berlin = build_report(user=lead, params={"period": "today"})
    AgentPreferences.objects.create(user=lead, time_zone="America/New_York")
    new_york = build_report(user=lead, params={"period": "today"})

    assert berlin.summary["inbound"] == 1
    assert (berlin.period.start, berlin.period.end) == (
        datetime(2026, 3, 14, 23, 0, tzinfo=UTC),
        datetime(2026, 3, 15, 23, 0, tzinfo=UTC),
    )
    # In New York both fell on the 14th (the 15th began at 04:00 UTC, daylight saving time).
    assert new_york.summary["inbound"] == 0
    assert new_york.period.start == datetime(2026, 3, 15, 4, 0, tzinfo=UTC)


def test_presets_and_buckets(admin_user, brand):
    last_month = build_report(user=admin_user, params={"period": "last_month"})
    assert (last_month.period.first_day.isoformat(), last_month.period.last_day.isoformat()) == (
        "2026-02-01",
        "2026-02-28",
    )
    assert last_month.period.bucket == "day"
    assert len(last_month.tables["volume"].rows) == 28
    long = build_report(
        user=admin_user, params={"period": "custom", "from": "2025-12-01", "to": "2026-03-15"}
    )
    assert long.period.bucket == "week"
    # Weeks start on Monday: 1 December 2025 is one.
    assert long.tables["volume"].rows[0][0].isoformat() == "2025-12-01"
    assert all(row[0].weekday() == 0 for row in long.tables["volume"].rows)


def test_filters_narrow_every_section(admin_user, agent, brand, elsewhere, other_department):
    facebook = ChannelAccount(platform=Platform.FACEBOOK, name="Facebook page", settings={})
    facebook.set_credentials({})
    facebook.save()
    other_department.channel_accounts.add(facebook)
    at = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
    mine = started(brand, at, answered_after=10 * MINUTE, assignee=agent)
    started(elsewhere, at, answered_after=50 * MINUTE)
    started(elsewhere, at, answered_after=70 * MINUTE)
    reply(mine, agent, at + 10 * MINUTE)

    everything = build_report(user=admin_user, params={"period": "7d"})
    by_channel = build_report(user=admin_user, params={"period": "7d", "channel": [str(brand.pk)]})
    by_department = build_report(
        user=admin_user, params={"period": "7d", "department": str(brand.departments.get().pk)}
    )
    by_agent = build_report(user=admin_user, params={"period": "7d", "agent": str(agent.pk)})
    by_platform = build_report(user=admin_user, params={"period": "7d", "platform": "facebook"})

    assert everything.summary["inbound"] == 3
    assert everything.summary["first_response"]["median"] == pytest.approx(50 * 60)
    for narrowed in (by_channel, by_department, by_agent):
        assert narrowed.summary["inbound"] == 1
        assert narrowed.summary["outbound"] == 1
        assert narrowed.summary["first_response"]["median"] == pytest.approx(10 * 60)
    assert by_platform.summary["inbound"] == 0
    mastodon = build_report(user=admin_user, params={"period": "7d", "platform": "mastodon"})
    assert mastodon.summary["inbound"] == 3
    assert [row[0] for row in by_agent.tables["workload"].rows] == ["kim"]


# --- who may see what ----------------------------------------------------------------------------


def test_a_lead_sees_only_their_channels_and_their_team(lead, agent, outsider, brand, elsewhere):
    at = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
    reply(started(brand, at), agent, at + MINUTE)
    reply(started(elsewhere, at), outsider, at + MINUTE)
    ModerationDecision.objects.create(channel_account=elsewhere, action="delete", created_at=at)

    report = build_report(user=lead, params={"period": "7d"})

    assert report.summary["inbound"] == 1
    assert report.summary["outbound"] == 1
    assert report.tables["moderation"].rows == []
    agents = {row[0] for row in report.tables["workload"].rows}
    assert agents == {"kim", "Lou Lead"}
    with pytest.raises(ReportParamsError) as refused:
        build_report(user=lead, params={"channel": str(elsewhere.pk)})
    assert "channel" in refused.value.errors
    with pytest.raises(ReportParamsError):
        build_report(user=lead, params={"agent": str(outsider.pk)})


def test_a_lead_of_a_department_without_channels_gets_an_empty_report(other_department):
    lead = factories.make_user("nia")
    factories.add_member(lead, other_department, role="lead")

    report = build_report(user=lead, params={"period": "30d"})

    assert report.summary["inbound"] == 0
    assert report.summary["first_response"] == {"count": 0, "median": None, "p90": None}
    assert all(row[1] == 0 for row in report.tables["backlog"].rows)


@pytest.mark.parametrize("persona", ["agent", "observer", "outsider"])
def test_agents_and_observers_get_no_reports(persona, request, client, brand):
    user = request.getfixturevalue(persona)
    with pytest.raises(AccessDenied):
        build_report(user=user, params={})
    client.force_login(user)
    assert client.get(reverse("reports:report")).status_code == 403
    assert client.get(reverse("reports:report") + "?format=csv&table=volume").status_code == 403


def test_anonymous_visitors_are_sent_to_log_in(client):
    response = client.get(reverse("reports:report"))
    assert response.status_code == 302
    assert "login" in response["Location"]


# --- the page and its exports --------------------------------------------------------------------


def test_the_page_shows_summary_charts_and_tables(client, lead, agent, brand):
    at = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
    conversation = started(brand, at, answered_after=2 * HOUR + 15 * MINUTE, assignee=agent)
    reply(conversation, agent, at + 2 * HOUR + 15 * MINUTE)
    client.force_login(lead)

    response = client.get(reverse("reports:report"), {"period": "7d"})

    assert response.status_code == 200
    page = response.content.decode()
    assert "2 h 15 min" in page  # the median first response, in words
    # Six sections have figures (no tags, sentiment or moderation here), each drawn twice:
    # wide and narrow.
    assert page.count('<svg class="chart') == 2 * 6
    assert "<title>Mar 10, Inbound: 1</title>" in page
    assert "format=csv&amp;table=workload" in page
    assert "period=7d" in page.split("format=csv")[0]  # the export keeps the filters


def test_names_in_charts_and_tables_are_escaped(client, admin_user, brand):
    conversation = started(brand, datetime(2026, 3, 10, 9, 0, tzinfo=UTC))
    conversation.tags.add(Tag.objects.create(name="<script>alert(1)</script>"))
    client.force_login(admin_user)

    page = client.get(reverse("reports:report"), {"period": "7d"}).content.decode()

    assert "<script>alert(1)" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page  # in the bar chart and its table


def test_csv_exports_the_table_with_formula_cells_escaped(client, admin_user, brand):
    at = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
    conversation = started(brand, at)
    conversation.tags.add(Tag.objects.create(name='=HYPERLINK("http://evil")'))
    conversation.tags.add(Tag.objects.create(name="Lob"))
    client.force_login(admin_user)

    response = client.get(reverse("reports:report"), {"format": "csv", "table": "tags"})

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert 'filename="report-tags-2026-02-14-2026-03-15.csv"' in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows == [
        ["Tag", "Conversations"],
        ['\'=HYPERLINK("http://evil")', "1"],
        ["Lob", "1"],
    ]


def test_csv_of_a_time_series_has_iso_dates_and_seconds(client, admin_user, brand):
    started(brand, datetime(2026, 3, 14, 9, 0, tzinfo=UTC), answered_after=90 * MINUTE)
    client.force_login(admin_user)

    response = client.get(
        reverse("reports:report"), {"period": "7d", "format": "csv", "table": "times"}
    )

    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:3] == ["Period", "Answered", "First response, median"]
    assert len(rows) == 1 + 7
    assert rows[6][:4] == ["2026-03-14", "1", "5400.0", "5400.0"]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (
            {"period": "custom", "from": "2026-03-10", "to": "2026-03-01"},
            "The end date lies before",
        ),
        ({"period": "custom", "from": "2026-03-10"}, "needs both a start and an end date"),
        ({"period": "custom", "from": "2020-01-01", "to": "2026-03-01"}, "at most 731 days"),
        (
            {"period": "custom", "from": "9999-12-31", "to": "9999-12-31"},
            "Choose dates between 2000 and 2999",
        ),
        ({"period": "fortnight"}, "Select a valid choice"),
        ({"from": "yesterday", "to": "2026-03-01"}, "Enter a valid date"),
        ({"channel": "999999"}, "Select a valid choice"),
        ({"agent": "not-a-number"}, "Select a valid choice"),
        ({"format": "csv", "table": "passwords"}, "Unknown table"),
    ],
)
def test_bad_values_answer_400_with_the_reason(client, admin_user, brand, query, message):
    client.force_login(admin_user)
    response = client.get(reverse("reports:report"), query)
    assert response.status_code == 400
    assert message in response.content.decode()


def test_build_report_says_what_is_wrong_for_the_api(admin_user):
    with pytest.raises(ValueError, match="The end date lies before the start date"):
        build_report(
            user=admin_user, params={"period": "custom", "from": "2026-03-10", "to": "2026-03-01"}
        )


def test_as_dict_is_plain_json(admin_user, brand):
    import json

    started(brand, datetime(2026, 3, 10, 9, 0, tzinfo=UTC), answered_after=HOUR)
    data = build_report(user=admin_user, params={"period": "7d"}).as_dict()
    again = json.loads(json.dumps(data))
    assert again["period"] == {
        "preset": "7d",
        "from": "2026-03-09",
        "to": "2026-03-15",
        "time_zone": "Europe/Berlin",
        "bucket": "day",
    }
    assert again["summary"]["first_response"]["median"] == pytest.approx(3600)
    assert again["tables"]["volume"]["rows"][1] == ["2026-03-10", 1, 0]
    assert [c["key"] for c in again["tables"]["volume"]["columns"]] == [
        "bucket",
        "inbound",
        "outbound",
    ]


def test_the_query_count_does_not_grow_with_the_data(admin_user, agent, brand, elsewhere):
    def count() -> int:
        with CaptureQueriesContext(connection) as captured:
            build_report(user=admin_user, params={"period": "30d", "department": [], "agent": []})
        return len(captured.captured_queries)

    at = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
    started(brand, at, answered_after=HOUR)
    few = count()
    for index in range(12):
        conversation = started(
            elsewhere if index % 2 else brand, at + index * HOUR, answered_after=HOUR
        )
        reply(conversation, agent, at + index * HOUR + HOUR)
        status_change(conversation, at + index * HOUR + 2 * HOUR, before="open", after="resolved")
        conversation.tags.add(Tag.objects.create(name=f"tag {index}"))
    assert count() == few
    assert few <= 20


def test_the_page_runs_a_fixed_number_of_queries(
    client, admin_user, brand, django_assert_max_num_queries
):
    client.force_login(admin_user)
    started(brand, datetime(2026, 3, 10, 9, 0, tzinfo=UTC), answered_after=HOUR)
    with django_assert_max_num_queries(30):
        assert client.get(reverse("reports:report")).status_code == 200


def test_durations_read_like_a_person_would_say_them():
    assert display.human_duration(45) == "45 s"
    assert display.human_duration(12 * 60 + 5) == "12 min"
    assert display.human_duration(2 * 3600 + 15 * 60) == "2 h 15 min"
    assert display.human_duration(3 * 3600) == "3 h"
    assert display.human_duration(3 * 86400 + 4 * 3600 + 59) == "3 d 4 h"
    assert display.human_duration(None) == "—"
    assert display.number(1234567) == "1,234,567"
    assert display.percent(0.8358) == "83.6%"
