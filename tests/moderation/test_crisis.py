"""Crisis detection on replayed traffic: levels over time against the channel's own baseline
and the fixed thresholds, the incident timeline, who is told, and storm mode."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail
from django.db.models import Sum

from inbox.access import AccessDenied
from inbox.models import Notification, NotificationKind
from moderation import crisis
from moderation.incidents import ensure_default_levels
from moderation.models import (
    EscalationLevel,
    Incident,
    IncidentEvent,
    IncidentEventKind,
    IncidentStatus,
    TrafficBucket,
)
from tests import factories

BERLIN = ZoneInfo("Europe/Berlin")
# A Tuesday afternoon.
STORM_START = datetime(2024, 6, 18, 14, 0, tzinfo=UTC)


@pytest.fixture
def levels(db: None) -> list[EscalationLevel]:
    """The default levels, each with its own responsible; watch is in-app only."""
    ensure_default_levels()
    found = []
    for number, username in ((1, "wanda"), (2, "albert"), (3, "cris")):
        level = EscalationLevel.objects.get(number=number)
        user: Any = factories.make_user(username, email=f"{username}@example.com")
        level.responsibles.add(user)
        if number == 1:
            level.notify_by_email = False
            level.save()
        found.append(level)
    return found


@pytest.fixture
def quiet_channel(department: Any) -> Any:
    return factories.make_mastodon_channel(department=department, name="Mastodon @brand")


def quiet_history(channel: Any, *, until: datetime, days: float = 28, per_slot: int = 1) -> None:
    """`per_slot` items in every five-minute slot of the `days` before `until` (12/h for 1),
    except the last quarter of an hour (the detection window starts empty)."""
    slot = timedelta(minutes=5)
    first = until - timedelta(days=days)
    until -= timedelta(minutes=15)
    TrafficBucket.objects.bulk_create(
        TrafficBucket(channel_account=channel, start=first + i * slot, inbound=per_slot)
        for i in range(int((until - first) / slot))
    )


def items(channel: Any, when: datetime, count: int, *, negative: float = 0.0, toxic: float = 0.0):
    """`count` items sent at `when`, the first shares of them negative and toxic."""
    neg, tox = round(count * negative), round(count * toxic)
    return [(channel.pk, when, i < neg, i < tox) for i in range(count)]


@pytest.fixture
def replay(
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> Iterator[Callable[..., int]]:
    """replay(moment, rows): at `moment`, record the rows and run detection (after-commit work
    included); returns the level of the channel's open incident (0: none)."""
    with time_machine.travel(STORM_START, tick=False) as traveller:

        def run(moment: datetime, rows: list[Any], channel_id: int | None = None) -> int:
            traveller.move_to(moment)
            with django_capture_on_commit_callbacks(execute=True):
                crisis.record_traffic(rows)
                crisis.detect_crises(now=moment)
            incident = Incident.objects.filter(
                status=IncidentStatus.OPEN, channel_account_id=channel_id
            ).first()
            return incident.level if incident is not None else 0

        yield run


def test_it_raises_and_lowers_levels_over_a_replayed_storm(
    levels: list[EscalationLevel], quiet_channel: Any, replay: Callable[..., int]
) -> None:
    quiet_history(quiet_channel, until=STORM_START)
    # Minute by minute: building anger, a toxic wave, the peak, a long tail, then silence.
    plan = (
        [(1, 1.0, 0.0)] * 10  # 14:00-14:09
        + [(3, 0.7, 0.34)] * 10  # 14:10-14:19
        + [(12, 0.8, 0.3)] * 10  # 14:20-14:29
        + [(1, 0.0, 0.0)] * 90  # 14:30-15:59
        + [(0, 0.0, 0.0)] * 60  # 16:00-16:59
    )
    timeline: list[tuple[str, int]] = []
    for minute, (per_minute, negative, toxic) in enumerate(plan):
        sent = STORM_START + timedelta(minutes=minute, seconds=20)
        level = replay(
            sent + timedelta(seconds=40),
            items(quiet_channel, sent, per_minute, negative=negative, toxic=toxic),
            quiet_channel.pk,
        )
        if not timeline or timeline[-1][1] != level:
            timeline.append((f"{sent:%H:%M}", level))

    assert timeline == [
        ("14:00", 0),
        ("14:09", 1),  # ten items, five times the usual 12 an hour
        ("14:16", 2),  # 25 items, a third of them toxic
        ("14:22", 3),  # 60 items at far more than ten times the usual
        ("15:08", 2),  # the peak left the window at 14:39: 30 calm minutes later
        ("15:38", 1),  # alert conditions not seen since (one item a minute is a watch)
        ("16:33", 0),  # the tail left the window at 16:04: resolved 30 minutes later
    ]
    incident = Incident.objects.get(channel_account=quiet_channel)
    assert incident.title == "Shitstorm on Mastodon @brand"
    assert incident.automatic
    assert incident.status == IncidentStatus.RESOLVED
    assert incident.peak_level == 3
    assert [(e.kind, e.from_level, e.to_level) for e in incident.events.all()] == [
        (IncidentEventKind.OPENED, None, 1),
        (IncidentEventKind.NOTIFIED, None, 1),
        (IncidentEventKind.LEVEL_RAISED, 1, 2),
        (IncidentEventKind.NOTIFIED, None, 2),
        (IncidentEventKind.LEVEL_RAISED, 2, 3),
        (IncidentEventKind.NOTIFIED, None, 3),
        (IncidentEventKind.LEVEL_LOWERED, 3, 2),
        (IncidentEventKind.LEVEL_LOWERED, 2, 1),
        (IncidentEventKind.RESOLVED, 1, None),
    ]
    raised = incident.events.get(kind=IncidentEventKind.LEVEL_RAISED, to_level=3)
    assert raised.metrics["rate_per_hour"] >= 300
    assert raised.metrics["ratio"] >= 10
    assert raised.metrics["baseline_per_hour"] == 12
    assert raised.metrics["baseline_kind"] == "weekday"
    assert raised.metrics["toxic_share"] >= 0.25
    # Each level's responsible was told once, in the app; alert and crisis by e-mail too.
    told = Notification.objects.filter(kind=NotificationKind.INCIDENT)
    assert sorted(told.values_list("user__username", flat=True)) == ["albert", "cris", "wanda"]
    assert "Alert (level 2)" in told.get(user__username="albert").text
    assert sorted(address for m in mail.outbox for address in m.to) == [
        "albert@example.com",
        "cris@example.com",
    ]
    crisis_mail = next(m for m in mail.outbox if m.to == ["cris@example.com"])
    assert "Crisis" in crisis_mail.subject and "Mastodon @brand" in crisis_mail.subject
    assert f"/moderation/incidents/{incident.pk}/" in crisis_mail.body
    notified = incident.events.filter(kind=IncidentEventKind.NOTIFIED)
    assert "By e-mail: cris@example.com" in notified.get(to_level=3).text


def test_it_compares_with_the_same_weekday_and_hour(
    levels: list[EscalationLevel], quiet_channel: Any, replay: Callable[..., int]
) -> None:
    """Twenty items in ten minutes are Monday morning business as usual, but not on a Sunday
    at three in the morning."""
    monday_9 = datetime(2024, 6, 24, 9, 15, tzinfo=BERLIN)
    sunday_3 = datetime(2024, 6, 23, 3, 15, tzinfo=BERLIN)
    slot = timedelta(minutes=5)
    first = sunday_3 - timedelta(days=35)
    buckets = []
    for i in range(int((monday_9 - timedelta(hours=1) - first) / slot)):
        start = first + i * slot
        local = start.astimezone(BERLIN)
        if local.weekday() == 0 and 8 <= local.hour < 10:
            buckets.append(TrafficBucket(channel_account=quiet_channel, start=start, inbound=10))
        elif not 0 <= local.hour < 6:
            buckets.append(TrafficBucket(channel_account=quiet_channel, start=start, inbound=1))
    TrafficBucket.objects.bulk_create(buckets)
    monday_rows = items(quiet_channel, monday_9 - 2 * slot, 10) + items(
        quiet_channel, monday_9 - slot, 10
    )
    assert replay(monday_9, monday_rows, quiet_channel.pk) == 0
    monday = crisis._measures(monday_9)[0][quiet_channel.pk]
    assert monday.baseline_per_hour == 120 and monday.ratio == 1

    TrafficBucket.objects.filter(start__gte=monday_9 - 3 * slot).delete()
    sunday_rows = items(quiet_channel, sunday_3 - 2 * slot, 10) + items(
        quiet_channel, sunday_3 - slot, 10
    )
    assert replay(sunday_3, sunday_rows, quiet_channel.pk) == 1
    incident = Incident.objects.get(channel_account=quiet_channel)
    assert incident.metrics["baseline_kind"] == "weekday"
    assert incident.metrics["ratio"] == 10  # 120 an hour against the floor of 12


def test_it_reaches_a_level_on_the_fixed_items_per_hour_ceiling(
    quiet_channel: Any, replay: Callable[..., int]
) -> None:
    EscalationLevel.objects.create(number=1, name="Volume", items_per_hour=100, min_items=5)
    # A busy channel: 600 an hour is normal here, so the ratio stays low.
    quiet_history(quiet_channel, until=STORM_START, per_slot=50)
    rows = items(quiet_channel, STORM_START - timedelta(minutes=3), 15)
    assert replay(STORM_START, rows, quiet_channel.pk) == 0  # 90 an hour
    now = STORM_START + timedelta(minutes=1)
    assert replay(now, items(quiet_channel, now, 4), quiet_channel.pk) == 1  # 104 an hour
    assert Incident.objects.get().metrics["ratio"] < 1


def test_it_ignores_a_backfill_of_old_items(
    levels: list[EscalationLevel], quiet_channel: Any, replay: Callable[..., int]
) -> None:
    old = STORM_START - timedelta(hours=7)
    assert replay(STORM_START, items(quiet_channel, old, 500, negative=1.0), quiet_channel.pk) == 0
    assert not TrafficBucket.objects.exists()
    recent = STORM_START - timedelta(hours=5)
    replay(STORM_START, items(quiet_channel, recent, 5))
    assert TrafficBucket.objects.get().start == recent.replace(minute=0)


def test_it_opens_an_overall_incident_when_many_channels_rise_a_little(
    levels: list[EscalationLevel], department: Any, replay: Callable[..., int]
) -> None:
    channels = [factories.make_mastodon_channel(department=department) for _ in range(4)]
    for channel in channels:  # each with two quiet days: a baseline of its own
        quiet_history(channel, until=STORM_START, days=2)
    rows = [row for c in channels for row in items(c, STORM_START - timedelta(minutes=4), 8)]
    # Each channel: 8 items, under the 10 a level needs; together 32 at over 3x their usual.
    assert replay(STORM_START, rows, None) == 1
    incident = Incident.objects.get()
    assert incident.channel_account is None
    assert incident.title == "Unusual activity on all channels"
    assert incident.metrics["count"] == 32


def test_a_channel_without_a_days_history_is_judged_by_the_fixed_thresholds_only(
    levels: list[EscalationLevel], quiet_channel: Any, replay: Callable[..., int]
) -> None:
    # Ordinary traffic on a channel connected an hour ago: far above the floor baseline, but
    # there is no "usual" to compare with yet, and no fixed threshold is met.
    quiet_history(quiet_channel, until=STORM_START, days=0.04)
    rows = items(quiet_channel, STORM_START - timedelta(minutes=4), 30, negative=0.2)
    assert replay(STORM_START, rows, quiet_channel.pk) == 0
    assert not Incident.objects.exists()


def test_it_makes_one_channels_storm_one_incident(
    levels: list[EscalationLevel], quiet_channel: Any, replay: Callable[..., int]
) -> None:
    rows = items(quiet_channel, STORM_START - timedelta(minutes=4), 80, toxic=0.5)
    assert replay(STORM_START, rows, quiet_channel.pk) == 3
    assert Incident.objects.count() == 1


def test_it_changes_nothing_when_run_twice_in_one_minute(
    levels: list[EscalationLevel], quiet_channel: Any, replay: Callable[..., int]
) -> None:
    rows = items(quiet_channel, STORM_START - timedelta(minutes=4), 30, toxic=0.5)
    replay(STORM_START, rows, quiet_channel.pk)
    events = IncidentEvent.objects.count()
    replay(STORM_START, [], quiet_channel.pk)
    assert IncidentEvent.objects.count() == events
    assert Notification.objects.filter(kind=NotificationKind.INCIDENT).count() == 2


def test_it_records_a_page_of_traffic_in_one_statement(
    quiet_channel: Any, django_assert_num_queries: Any
) -> None:
    now = datetime.now(UTC)
    rows = items(quiet_channel, now, 7, negative=0.5, toxic=0.3) + items(
        quiet_channel, now - timedelta(minutes=10), 2
    )
    with django_assert_num_queries(1):
        crisis.record_traffic(rows)
    crisis.record_traffic(items(quiet_channel, now, 3, negative=1.0))
    bucket = TrafficBucket.objects.get(start=crisis.slot_start(now))
    assert (bucket.inbound, bucket.negative, bucket.toxic) == (10, 7, 2)
    assert TrafficBucket.objects.count() == 2


def test_it_keeps_a_storm_mode_incident_open_when_calm(
    levels: list[EscalationLevel], quiet_channel: Any, admin_user: Any, replay: Callable[..., int]
) -> None:
    replay(STORM_START, items(quiet_channel, STORM_START, 12, negative=1.0), quiet_channel.pk)
    incident = Incident.objects.get()
    crisis.set_storm_mode(user=admin_user, incident=incident, on=True)
    later = STORM_START + timedelta(hours=2)
    assert replay(later, [], quiet_channel.pk) == 1
    crisis.set_storm_mode(user=admin_user, incident=incident, on=False)
    assert replay(later + timedelta(minutes=1), [], quiet_channel.pk) == 0


def test_it_lets_the_rules_engine_raise_but_never_lower(
    levels: list[EscalationLevel], quiet_channel: Any
) -> None:
    first = crisis.raise_incident(channel_account_id=quiet_channel.pk, level=2, reason="Threats")
    assert first is not None and first.level == 2 and first.automatic
    assert crisis.raise_incident(channel_account_id=quiet_channel.pk, level=1, reason="x") == first
    first.refresh_from_db()
    assert first.level == 2
    crisis.raise_incident(channel_account_id=quiet_channel.pk, level=3, reason="More threats")
    first.refresh_from_db()
    assert first.level == 3
    assert Incident.objects.count() == 1


def test_it_never_lowers_or_resolves_a_declared_incident_by_itself(
    levels: list[EscalationLevel], quiet_channel: Any, lead: Any, replay: Callable[..., int]
) -> None:
    incident = crisis.declare_incident(
        user=lead, channel_account=quiet_channel, level=2, title="Product recall"
    )
    assert incident.lead == lead and not incident.automatic
    assert replay(STORM_START + timedelta(hours=3), [], quiet_channel.pk) == 2


def test_it_lets_only_leads_responsibles_and_admins_switch_storm_mode(
    levels: list[EscalationLevel], quiet_channel: Any, agent: Any, admin_user: Any
) -> None:
    incident = crisis.raise_incident(channel_account_id=quiet_channel.pk, level=1, reason="x")
    assert incident is not None
    with pytest.raises(AccessDenied):
        crisis.set_storm_mode(user=agent, incident=incident, on=True)
    assert crisis.storm_channel_ids() == frozenset()

    crisis.set_incident_lead(user=admin_user, incident=incident, lead=agent)
    incident.refresh_from_db()
    crisis.set_storm_mode(user=agent, incident=incident, on=True)
    assert crisis.storm_channel_ids() == frozenset({quiet_channel.pk})
    assert crisis.in_storm(quiet_channel.pk)
    assert not crisis.in_storm(quiet_channel.pk + 1)

    responsible = EscalationLevel.objects.get(number=3).responsibles.get()
    crisis.set_storm_mode(user=responsible, incident=incident, on=False)
    assert not crisis.in_storm(quiet_channel.pk)
    assert [e.kind for e in incident.events.filter(kind__startswith="storm")] == [
        IncidentEventKind.STORM_ON,
        IncidentEventKind.STORM_OFF,
    ]

    overall = crisis.declare_incident(
        user=admin_user, channel_account=None, level=1, title="Everywhere"
    )
    crisis.set_storm_mode(user=admin_user, incident=overall, on=True)
    assert crisis.storm_channel_ids() is None
    assert crisis.in_storm(quiet_channel.pk)
    crisis.resolve_incident(user=admin_user, incident=overall, note="Over")
    assert crisis.storm_channel_ids() == frozenset()


def test_it_refuses_to_declare_for_agents(quiet_channel: Any, agent: Any) -> None:
    with pytest.raises(AccessDenied):
        crisis.declare_incident(user=agent, channel_account=quiet_channel, level=1, title="x")


def test_it_simulates_a_storm_through_ingest_for_the_demo(
    quiet_channel: Any, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    from io import StringIO

    from django.core.management import call_command

    from inbox.models import Message

    out = StringIO()
    with django_capture_on_commit_callbacks(execute=False):
        call_command(
            "simulate_storm",
            "--channel",
            "Mastodon @brand",
            "--minutes",
            "5",
            "--per-minute",
            "20",
            "--seed",
            "7",
            stdout=out,
        )
    assert Message.objects.filter(channel_account=quiet_channel).count() == 100
    assert TrafficBucket.objects.aggregate(n=Sum("inbound"))["n"] == 100
    incident = Incident.objects.get(channel_account=quiet_channel, status=IncidentStatus.OPEN)
    assert incident.level == 3
    assert "Detection: level 3" in out.getvalue()
