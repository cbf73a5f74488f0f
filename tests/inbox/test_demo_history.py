"""The demo workspace's month of history (inbox/demo_history.py): what the reports show on a
fresh `make run`, and that the live demo does not notice it."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db.models import Count, Max, Min
from django.utils import timezone

from channels_integrations.models import ChannelAccount
from inbox.conversation_actions import wake_snoozed_conversations
from inbox.demo_history import HISTORY_PREFIX, seed_demo_history
from inbox.models import (
    OPEN_WORK,
    Conversation,
    ConversationEvent,
    Direction,
    Message,
    Notification,
    OutboundAction,
    SlaBreach,
)
from inbox.reports.queries import build_report
from moderation.crisis import detect_crises, record_traffic
from moderation.models import Incident, ModerationDecision, TrafficBucket

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo(live_events: list[tuple[str, dict[str, Any]]]) -> list[tuple[str, dict[str, Any]]]:
    """The demo workspace as `make run` creates it (demo_setup seeds the history), with the
    live events that would have been sent on the way."""
    out = StringIO()
    call_command("demo_setup", stdout=out)
    assert "past conversations added" in out.getvalue()
    return live_events


def history() -> Any:
    return Conversation.objects.filter(thread_key__startswith=HISTORY_PREFIX)


def counts() -> dict[str, int]:
    return {
        "users": get_user_model().objects.count(),
        "conversations": Conversation.objects.count(),
        "messages": Message.objects.count(),
        "events": ConversationEvent.objects.count(),
        "breaches": SlaBreach.objects.count(),
        "decisions": ModerationDecision.objects.count(),
        "buckets": TrafficBucket.objects.count(),
    }


def test_it_seeds_a_month_on_every_demo_channel_once(demo):
    assert 1500 <= history().count() <= 3000
    channels = ChannelAccount.objects.filter(name__endswith="(demo)")
    assert set(history().values_list("channel_account", flat=True)) == set(
        channels.values_list("pk", flat=True)
    )
    oldest = history().order_by("created_at").first()
    assert oldest is not None and oldest.created_at < timezone.now() - timedelta(days=29)
    before = counts()

    assert seed_demo_history() == 0
    call_command("demo_setup", stdout=StringIO())

    assert counts() == before


def test_the_denormalized_fields_agree_with_the_messages(demo):
    disagreeing = (
        history()
        .annotate(n=Count("messages"), newest=Max("messages__sent_at"))
        .exclude(message_count=0)
        .values_list("message_count", "n", "last_message_at", "newest")
    )
    assert all(count == n and last == newest for count, n, last, newest in disagreeing)
    # Our first answer is the first outbound message, for every answered conversation.
    answered = dict(
        history().filter(first_response_at__isnull=False).values_list("pk", "first_response_at")
    )
    first_replies = dict(
        Message.objects.filter(conversation__in=history(), direction=Direction.OUTBOUND)
        .values("conversation")
        .annotate(first=Min("sent_at"))
        .values_list("conversation", "first")
        .order_by()
    )
    assert len(answered) > 1500 and answered == first_replies
    assert not history().filter(messages__isnull=True).exists()
    assert not Message.objects.filter(
        conversation__in=history(), direction=Direction.OUTBOUND, author__isnull=True
    ).exists()


def test_the_report_of_the_last_30_days_shows_every_section(demo):
    admin = get_user_model().objects.get(username="admin")
    report = build_report(user=admin, params={"period": "30d"}).as_dict()
    summary, tables = report["summary"], report["tables"]

    assert summary["inbound"] > 1500 and summary["outbound"] > 1500
    first = summary["first_response"]
    assert first["count"] > 1000 and 30 * 60 < first["median"] < 6 * 3600
    assert first["p90"] > first["median"]
    assert summary["resolution"]["count"] > 1000
    assert summary["sla_missed"] > 0 and 0.8 < summary["sla_compliance"] < 1
    assert tables["sla_breaches"]["rows"]
    assert max(row[1] for row in tables["backlog"]["rows"]) > 0
    moderation = dict(tables["moderation"]["rows"])
    assert moderation and all(n > 0 for n in moderation.values())
    negative, neutral, positive = (
        sum(row[i] for row in tables["sentiment"]["rows"]) for i in (1, 2, 3)
    )
    assert min(negative, neutral, positive) > 100
    assert {"Rechnung", "Lieferung", "Lob"} <= {row[0] for row in tables["tags"]["rows"]}
    hours = [row[1:] for row in tables["hours"]["rows"]]
    weekday_office = sum(hours[day][hour] for day in range(5) for hour in range(9, 18))
    weekday_night = sum(hours[day][hour] for day in range(5) for hour in range(0, 6))
    weekend_office = sum(hours[day][hour] for day in (5, 6) for hour in range(9, 18))
    assert weekday_office > 10 * weekday_night
    assert weekday_office / 5 > weekend_office / 2
    workload = {row[0]: row[1:] for row in tables["workload"]["rows"]}
    for name in ("Kim Berger", "Tim Neumann", "Lena Lang"):
        replies, resolved, _open = workload[name]
        assert replies > 100 and resolved > 100


def test_it_notifies_nobody_and_sends_nothing(demo, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        assert seed_demo_history() == 0
    assert demo == []
    assert not Notification.objects.exists()
    assert not OutboundAction.objects.exists()
    hidden = Message.objects.filter(conversation__in=history(), platform_state="hidden")
    assert hidden.count() == ModerationDecision.objects.filter(action="hide").count() > 0


def test_the_periodic_tasks_find_nothing_to_do_in_the_history(demo):
    from inbox.assignment import assign_waiting
    from inbox.sla_checks import check_sla

    assert not history().filter(status__in=OPEN_WORK, assignee__isnull=True).exists()
    assert not history().filter(status__in=OPEN_WORK, sla_due_at__isnull=False).exists()
    assert history().filter(status__in=OPEN_WORK).count() <= ChannelAccount.objects.count()

    assert check_sla() == (0, 0)
    assert assign_waiting() == 0
    assert wake_snoozed_conversations() == 0
    assert not Notification.objects.exists()


def test_crisis_detection_opens_no_incident_on_the_first_live_minute(demo):
    # No traffic history: a baseline of this month's few items an hour would make the live
    # generators' minute (every 8 to 16 seconds a channel) look like a storm at once.
    assert not TrafficBucket.objects.exists()
    now = timezone.now()
    for channel in ChannelAccount.objects.filter(name__endswith="(demo)"):
        record_traffic(
            [(channel.pk, now - timedelta(seconds=s), False, False) for s in (5, 15, 25, 35, 45)]
        )

    assert detect_crises(now=now) == []
    assert not Incident.objects.exists()
