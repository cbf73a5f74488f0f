"""Channel health: the page's numbers, who sees which channel, and the alarm banner."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import formats, timezone

from channels_integrations.context_processors import alerts_for
from channels_integrations.mastodon.connector import MastodonConnector
from channels_integrations.models import ChannelAccount, ChannelStatus, SkippedItem
from inbox.access import visible_channel_ids
from inbox.models import Direction, Message
from tests import factories

pytestmark = pytest.mark.django_db

HOSTILE = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


def received(
    channel: ChannelAccount, *, ago: timedelta, direction: str = Direction.INBOUND
) -> None:
    """One message of the channel, stored `ago` (created_at is when we fetched it)."""
    conversation = factories.make_conversation(channel)
    message = conversation.messages.get()
    Message.objects.filter(pk=message.pk).update(
        created_at=timezone.now() - ago, direction=direction
    )


def row_html(html: str, channel: ChannelAccount) -> str:
    start = html.index(f'id="channel-{channel.pk}"')
    return html[start : html.index("</tr>", start)]


CELL = re.compile(
    r'<td(?: class="(?P<cls>[^"]*)")? data-label="(?P<label>[^"]+)">(?P<body>.*?)</td>', re.S
)


def cells(html: str, channel: ChannelAccount) -> dict[str, tuple[str, str]]:
    """The channel's health row: column label -> (CSS classes, text without tags)."""
    return {
        match["label"]: (
            match["cls"] or "",
            " ".join(re.sub(r"<[^>]+>", " ", match["body"]).split()),
        )
        for match in CELL.finditer(row_html(html, channel))
    }


def set_status(channel: ChannelAccount, **fields: object) -> None:
    ChannelAccount.objects.filter(pk=channel.pk).update(**fields)
    channel.refresh_from_db()


def test_it_counts_inbound_items_of_the_last_hour_and_day(client, agent, department):
    busy = factories.make_mastodon_channel(department=department, name="Busy")
    quiet = factories.make_mastodon_channel(department=department, name="Quiet")
    for minutes in (5, 50):
        received(busy, ago=timedelta(minutes=minutes))
    for hours in (2, 20, 23):
        received(busy, ago=timedelta(hours=hours))
    received(busy, ago=timedelta(hours=30))  # older than a day
    received(busy, ago=timedelta(minutes=1), direction=Direction.OUTBOUND)  # our own reply
    received(quiet, ago=timedelta(hours=3))

    client.force_login(agent)
    html = client.get(reverse("channels:list")).content.decode()
    busy_row, quiet_row = cells(html, busy), cells(html, quiet)
    assert (busy_row["Items 1 h"][1], busy_row["Items 24 h"][1]) == ("2", "5")
    assert (quiet_row["Items 1 h"][1], quiet_row["Items 24 h"][1]) == ("0", "1")


def test_the_counts_cost_the_same_queries_for_one_channel_or_many(
    client, admin_user, django_assert_max_num_queries
):
    channel = factories.make_mastodon_channel(name="First")
    received(channel, ago=timedelta(minutes=3))
    client.force_login(admin_user)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as one:
        client.get(reverse("channels:list"))
    for n in range(5):
        other = factories.make_mastodon_channel(name=f"More {n}")
        received(other, ago=timedelta(minutes=3))
        SkippedItem.objects.create(channel_account=other, external_id=f"s{n}", reason="bad")
    with django_assert_max_num_queries(len(one.captured_queries)):
        client.get(reverse("channels:list"))


def test_it_shows_last_success_last_error_with_its_time_and_failures(client, admin_user):
    now = timezone.now()
    channel = factories.make_mastodon_channel(name="Wobbly")
    set_status(
        channel,
        status=ChannelStatus.FAILING,
        last_success_at=now - timedelta(hours=2),
        last_error="Mastodon is unavailable (HTTP 503): Remote data could not be fetched",
        last_error_at=now - timedelta(minutes=7),
        consecutive_failures=3,
    )
    client.force_login(admin_user)
    row = row_html(client.get(reverse("channels:list")).content.decode(), channel)
    assert "Mastodon is unavailable (HTTP 503)" in row
    assert f'datetime="{timezone.localtime(channel.last_error_at).isoformat()}"' in row
    assert f'datetime="{timezone.localtime(channel.last_success_at).isoformat()}"' in row
    failures = cells(client.get(reverse("channels:list")).content.decode(), channel)["Failures"]
    assert failures == ("num bad", "3")
    assert "attention-failing" in row


def test_it_shows_a_rate_limit_until_when(client, admin_user):
    until = timezone.now() + timedelta(minutes=4)
    channel = factories.make_mastodon_channel(name="Limited")
    set_status(channel, rate_limited_until=until)
    client.force_login(admin_user)
    row = row_html(client.get(reverse("channels:list")).content.decode(), channel)
    assert f"Rate-limited until {formats.time_format(timezone.localtime(until))}" in row
    assert "attention-rate_limited" in row

    set_status(channel, rate_limited_until=timezone.now() - timedelta(minutes=1))
    row = row_html(client.get(reverse("channels:list")).content.decode(), channel)
    assert "Rate-limited" not in row and "attention" not in row


def test_it_shows_todays_quota_for_platforms_with_a_daily_quota(client, admin_user, monkeypatch):
    monkeypatch.setattr(MastodonConnector, "daily_quota", 10_000)
    channel = factories.make_mastodon_channel(name="Quota")
    today = MastodonConnector.quota_day(timezone.now())
    set_status(channel, quota_day=today, quota_used=7_200)
    client.force_login(admin_user)
    row = row_html(client.get(reverse("channels:list")).content.decode(), channel)
    assert "Quota 7200 / 10000 today" in row

    set_status(channel, quota_day=today - timedelta(days=1))  # yesterday's ledger is over
    row = row_html(client.get(reverse("channels:list")).content.decode(), channel)
    assert "Quota 0 / 10000 today" in row

    set_status(channel, quota_day=today, quota_used=10_000)
    row = row_html(client.get(reverse("channels:list")).content.decode(), channel)
    assert "attention-quota" in row and "limit-bad" in row


def test_platforms_without_quota_show_none(client, admin_user):
    channel = factories.make_mastodon_channel(name="No quota")
    client.force_login(admin_user)
    assert "Quota" not in row_html(client.get(reverse("channels:list")).content.decode(), channel)


def test_it_lists_only_the_channels_the_user_can_see(
    client, admin_user, agent, outsider, department, other_department
):
    ours = factories.make_mastodon_channel(department=department, name="Ours")
    theirs = factories.make_mastodon_channel(department=other_department, name="Theirs")
    nobodys = factories.make_mastodon_channel(name="Unowned")

    client.force_login(agent)
    html = client.get(reverse("channels:list")).content.decode()
    assert f'id="channel-{ours.pk}"' in html
    assert f'id="channel-{theirs.pk}"' not in html and f'id="channel-{nobodys.pk}"' not in html
    assert reverse("channels:detail", args=[ours.pk]) not in html  # no setup links for agents
    assert reverse("channels:add") not in html

    client.force_login(outsider)
    html = client.get(reverse("channels:list")).content.decode()
    assert f'id="channel-{theirs.pk}"' in html and f'id="channel-{ours.pk}"' not in html

    client.force_login(admin_user)
    html = client.get(reverse("channels:list")).content.decode()
    for channel in (ours, theirs, nobodys):
        assert reverse("channels:detail", args=[channel.pk]) in html
    assert reverse("channels:add") in html


def test_channels_that_need_attention_come_first_with_a_summary(client, admin_user):
    now = timezone.now()
    paused = factories.make_mastodon_channel(name="A paused", status=ChannelStatus.PAUSED)
    healthy = factories.make_mastodon_channel(name="B healthy")
    limited = factories.make_mastodon_channel(
        name="C limited", rate_limited_until=now + timedelta(minutes=5)
    )
    failing = factories.make_mastodon_channel(
        name="D failing", status=ChannelStatus.FAILING, consecutive_failures=2
    )
    reauth = factories.make_mastodon_channel(name="E reauth", status=ChannelStatus.NEEDS_REAUTH)

    client.force_login(admin_user)
    html = client.get(reverse("channels:list")).content.decode()
    order = [
        html.index(f'id="channel-{c.pk}"') for c in (reauth, failing, limited, healthy, paused)
    ]
    assert order == sorted(order)
    summary = html[
        html.index('class="health-summary') : html.index("</p>", html.index("health-summary"))
    ]
    assert "3 of 5 channels need attention" in summary
    assert "1 needs re-authorization" in summary and "1 failing" in summary
    assert "1 rate-limited" in summary and "1 paused" in summary


def test_all_healthy_says_so(client, admin_user):
    factories.make_mastodon_channel(name="Fine")
    client.force_login(admin_user)
    html = client.get(reverse("channels:list")).content.decode()
    assert "All 1 channel healthy." in html and "summary-ok" in html


# Skipped items


def test_the_skipped_items_page_lists_reason_time_id_and_escaped_payload(
    client, agent, outsider, department
):
    channel = factories.make_mastodon_channel(department=department, name="Brand")
    SkippedItem.objects.create(
        channel_account=channel,
        external_id="34975999",
        reason="status without an account",
        payload={"id": "34975999", "status": {"content": HOSTILE}},
    )
    client.force_login(agent)
    listing = client.get(reverse("channels:list")).content.decode()
    assert f'<a href="{reverse("channels:skipped", args=[channel.pk])}">1</a>' in listing

    html = client.get(reverse("channels:skipped", args=[channel.pk])).content.decode()
    assert "34975999" in html and "status without an account" in html
    assert "<details>" in html and ESCAPED in html and HOSTILE not in html

    client.force_login(outsider)
    assert client.get(reverse("channels:skipped", args=[channel.pk])).status_code == 404


# The alarm banner


def test_the_banner_shows_a_channel_needing_reauth_to_an_agent_who_can_see_it(
    client, agent, outsider, department
):
    channel = factories.make_mastodon_channel(
        department=department, name="Brand page", status=ChannelStatus.NEEDS_REAUTH
    )
    client.force_login(agent)
    html = client.get("/", follow=True).content.decode()
    assert 'class="channel-alerts"' in html
    assert "Mastodon Brand page" in html and "needs re-authorization" in html
    assert f"{reverse('channels:list')}#channel-{channel.pk}" in html

    client.force_login(outsider)
    html = client.get("/", follow=True).content.decode()
    assert 'class="channel-alerts"' not in html and "Brand page" not in html


def test_the_banner_names_failing_and_rate_limited_channels_but_not_paused_ones(client, admin_user):
    failing = factories.make_mastodon_channel(
        name="X @brand", status=ChannelStatus.FAILING, consecutive_failures=3
    )
    until = timezone.now() + timedelta(minutes=10)
    factories.make_mastodon_channel(name="Slow one", rate_limited_until=until)
    factories.make_mastodon_channel(name="Resting", status=ChannelStatus.PAUSED)
    factories.make_mastodon_channel(name="All good")

    client.force_login(admin_user)
    html = client.get(reverse("inbox:list")).content.decode()
    banner = html[html.index('class="channel-alerts"') : html.index("</aside>")]
    assert "X @brand" in banner and "failing (3 errors)" in banner
    assert f"rate-limited until {formats.time_format(timezone.localtime(until))}" in banner
    assert "Resting" not in banner and "All good" not in banner
    assert reverse("channels:detail", args=[failing.pk]) in banner  # admins go to the channel
    assert banner.index("X @brand") < banner.index("Slow one")


def test_no_banner_when_all_is_well(client, agent, department):
    factories.make_mastodon_channel(department=department, status=ChannelStatus.PAUSED)
    client.force_login(agent)
    assert 'class="channel-alerts"' not in client.get(reverse("inbox:list")).content.decode()


def test_the_banner_costs_one_query_and_matches_the_access_rule(
    agent, outsider, admin_user, department, other_department, django_assert_num_queries
):
    ours = factories.make_mastodon_channel(department=department, status=ChannelStatus.FAILING)
    theirs = factories.make_mastodon_channel(
        department=other_department, status=ChannelStatus.NEEDS_REAUTH
    )
    for user in (agent, outsider, admin_user):
        with django_assert_num_queries(1):
            alerts = alerts_for(user)
        shown = {alert.channel_id for alert in alerts}
        visible = visible_channel_ids(user)
        expected = {ours.pk, theirs.pk} if visible is None else {ours.pk, theirs.pk} & visible
        assert shown == expected


# Escaping


def test_hostile_channel_names_and_errors_are_escaped_everywhere(
    client, admin_user, agent, department
):
    channel = factories.make_mastodon_channel(
        department=department,
        name=HOSTILE,
        status=ChannelStatus.FAILING,
        status_reason=HOSTILE,
        last_error=HOSTILE,
        last_error_at=timezone.now(),
        consecutive_failures=1,
    )
    SkippedItem.objects.create(
        channel_account=channel, external_id=HOSTILE, reason=HOSTILE, payload=HOSTILE
    )
    pages = [
        reverse("channels:list"),
        reverse("inbox:list"),
        reverse("channels:skipped", args=[channel.pk]),
    ]
    for user in (agent, admin_user):
        client.force_login(user)
        for url in pages:
            html = client.get(url).content.decode()
            assert HOSTILE not in html, url
            assert ESCAPED in html, url
