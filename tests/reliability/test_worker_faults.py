"""Faults at the worker and the platform lose nothing and duplicate nothing.

- a Celery worker process killed with SIGKILL in the middle of a poll (a page ingested, the next
  page's request in flight): after the lease the channel is polled again by another worker and
  every item on the platform is in the inbox exactly once, the cursor at the newest item;
- a worker killed while the platform holds the answer to a reply it already posted: after the
  stalled delivery is requeued, another worker completes the reply without posting it again
  (Mastodon by its Idempotency-Key, Facebook by finding the reply on the page);
- a platform answering 429 and then 500 for a quarter of an hour (in fake time): the channel
  backs off instead of hammering, shows the problem and clears it, the items that arrived
  meanwhile are ingested once, and the reply queued during the outage is posted once;
- a token revoked with replies queued: one call with the refused token, the channel needs
  re-authorization, the replies are held (not failed, not retried against the platform), the
  agent sees why, and after new credentials and a resume each reply is posted exactly once
  (on a paused channel, which nothing polls, the reply fails with the reason instead).
"""

from __future__ import annotations

import os
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from channels_integrations import channel_setup, outbox, tasks
from channels_integrations.facebook.demo import demo_channel
from channels_integrations.facebook.fake import FakeFacebook
from channels_integrations.fake_server import FakeServer
from channels_integrations.mastodon.fake import FakeMastodon
from channels_integrations.models import ChannelAccount, ChannelStatus
from channels_integrations.polling import POLL_LOCK_SPACE, poll_channel
from channels_integrations.telegram.demo import demo_channel as telegram_demo_channel
from channels_integrations.telegram.fake import FakeTelegram
from channels_integrations.views import channel_health
from inbox import actions
from inbox.models import (
    Conversation,
    Direction,
    EventKind,
    Message,
    OutboundAction,
    OutboundState,
)
from tests import factories
from tests.reliability.faults import (
    HeldCall,
    Outage,
    SimulatedBroker,
    forget_queues,
    kill_worker,
    route_to_queue,
    stop_worker,
)
from tests.stack import start_worker, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

NOTIFICATIONS = "/api/v1/notifications"
STATUSES = "/api/v1/statuses"


def health(channel: ChannelAccount) -> str:
    """What the channel health page flags for the channel ("" when nothing is wrong)."""
    [row] = channel_health([ChannelAccount.objects.get(pk=channel.pk)])
    return row.attention


def private_queue(workers: ExitStack) -> str:
    """A queue for this test only, removed from Redis (with its leftovers) after the workers."""
    queue = f"inbox-faults-{uuid.uuid4().hex[:8]}"
    workers.callback(forget_queues, os.environ["REDIS_URL"], [queue])
    return queue


def poll_lock_held(account_id: int) -> bool:
    """Whether any database session holds the channel's poll lock (polling.channel_poll_lock)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
            " AND classid = %s AND objid = %s AND objsubid = 2",
            [POLL_LOCK_SPACE, account_id],
        )
        (held,) = cursor.fetchone()
    return bool(held)


@pytest.fixture
def workers() -> Iterator[ExitStack]:
    """Stops every worker and fake server a test started and forgets its queues, whatever
    happens in the test."""
    with ExitStack() as stack:
        yield stack


def test_a_worker_killed_mid_poll_loses_and_duplicates_nothing(
    tmp_path: Path, workers: ExitStack, monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    fake = FakeMastodon(tokens={"demo-token"})
    platform = HeldCall(fake.wsgi_app)
    server = workers.enter_context(FakeServer(platform))
    channel = factories.make_mastodon_channel(server.url, department=factories.make_department())
    channel.cursor = {"min_id": "0"}
    channel.save(update_fields=["cursor"])
    for n in range(100):  # three pages of 40
        fake.add_mention(f"Frage {n}", username=f"kunde{n % 7}")
    platform.hold("GET", NOTIFICATIONS, nth=2)  # page 2 is read by the platform, never answered

    first_queue, second_queue = private_queue(workers), private_queue(workers)
    first = start_worker(first_queue, tmp_path / "worker1.log")
    workers.callback(stop_worker, first)
    # The replacement boots meanwhile; it only gets work once the test routes a poll to it.
    second = start_worker(second_queue, tmp_path / "worker2.log")
    workers.callback(stop_worker, second)

    route_to_queue(monkeypatch, first_queue, tasks.poll_channel)
    assert tasks.dispatch_due_polls() == 1  # the beat task: channel handed out under a lease
    assert platform.held.wait(90), "the worker never asked for page 2"
    assert Message.objects.filter(channel_account=channel).count() == 40  # page 1 committed
    page_one_cursor = ChannelAccount.objects.get(pk=channel.pk).cursor
    assert poll_lock_held(channel.pk)

    kill_worker(first)
    platform.release()
    for n in range(5):  # the platform goes on while nobody polls
        fake.add_mention(f"Nachzügler {n}", username="spaet")

    # PostgreSQL ends the dead worker's session, and with it the poll lock.
    wait_for(lambda: not poll_lock_held(channel.pk), timeout=15, what="the poll lock to go")
    assert ChannelAccount.objects.get(pk=channel.pk).cursor == page_one_cursor
    assert tasks.dispatch_due_polls() == 0  # the lease still holds: nobody else polls it yet
    route_to_queue(monkeypatch, second_queue, tasks.poll_channel)
    lease = timedelta(seconds=settings.POLL_LEASE_SECONDS + 1)
    with time_machine.travel(timezone.now() + lease):
        assert tasks.dispatch_due_polls() == 1  # the lease ran out: handed out again, once

    on_platform = [n["status"]["id"] for n in fake.notifications()]
    wait_for(
        lambda: Message.objects.filter(channel_account=channel).count() >= len(on_platform),
        timeout=90,
        what="the second worker to ingest the rest",
    )
    wait_for(
        lambda: ChannelAccount.objects.get(pk=channel.pk).last_success_at is not None,
        timeout=30,
        what="the second worker to finish its poll",
    )
    stored = Counter(
        Message.objects.filter(channel_account=channel).values_list("external_id", flat=True)
    )
    assert stored == Counter(on_platform)  # each item once: none missing, none twice
    assert Conversation.objects.filter(channel_account=channel).count() == len(on_platform)
    channel.refresh_from_db()
    newest = max(int(n["id"]) for n in fake.notifications())
    assert channel.cursor == {"min_id": str(newest)}
    assert channel.status == ChannelStatus.ACTIVE and channel.poll_lease_until is None
    # Page 2 was asked for twice (the dead worker's request and the new one's), nothing else was.
    pages = [c for c in fake.calls() if c["path"] == NOTIFICATIONS]
    asked_from = [c["query"].get("min_id", [None])[0] for c in pages]
    assert (
        asked_from.count(page_one_cursor["min_id"]) == 2 and len(set(asked_from)) == len(pages) - 1
    )


def a_mastodon_conversation(fake: Any, url: str, department: Any) -> Conversation:
    channel = factories.make_mastodon_channel(url, department=department)
    channel.cursor = {"min_id": "0"}
    channel.save(update_fields=["cursor"])
    notification = fake.add_mention("Wo bleibt mein Paket?", username="erika")
    poll_channel(channel.pk)
    return Message.objects.get(external_id=notification["status"]["id"]).conversation


def a_facebook_conversation(fake: Any, url: str, department: Any) -> Conversation:
    settings, credentials = demo_channel(url)
    page = ChannelAccount(platform="facebook", name="Brand page", settings=settings)
    page.set_credentials(credentials)
    page.save()
    department.channel_accounts.add(page)
    post = fake.add_post("Unsere neue Winterkollektion ist da!")
    comment = fake.add_comment(post["id"], "Gibt es die Jacke auch in Blau?")
    poll_channel(page.pk)
    return Message.objects.get(channel_account=page, external_id=comment["id"]).conversation


def a_telegram_conversation(fake: Any, url: str, department: Any) -> Conversation:
    settings, credentials = telegram_demo_channel(url)
    bot = ChannelAccount(
        platform="telegram", name="Bot", settings={**settings, "long_poll_seconds": 0}
    )
    bot.set_credentials(credentials)
    bot.save()
    department.channel_accounts.add(bot)
    fake.add_private_message("Ist mein Paket schon raus?", username="paula")
    poll_channel(bot.pk)
    return Message.objects.get(channel_account=bot).conversation


def test_a_worker_killed_while_sending_replies_posts_each_exactly_once(
    tmp_path: Path, workers: ExitStack, monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    department = factories.make_department()
    agent: Any = factories.make_user("kim")
    factories.add_member(agent, department)
    mastodon, facebook = FakeMastodon(tokens={"demo-token"}), FakeFacebook()
    telegram = FakeTelegram()
    on_mastodon, on_facebook = HeldCall(mastodon.wsgi_app), HeldCall(facebook.wsgi_app)
    on_telegram = HeldCall(telegram.wsgi_app)
    toot = a_mastodon_conversation(
        mastodon, workers.enter_context(FakeServer(on_mastodon)).url, department
    )
    comment = a_facebook_conversation(
        facebook, workers.enter_context(FakeServer(on_facebook)).url, department
    )
    chat = a_telegram_conversation(
        telegram, workers.enter_context(FakeServer(on_telegram)).url, department
    )
    on_mastodon.hold("POST", STATUSES)
    on_facebook.hold("POST", "/")
    on_telegram.hold("POST", "/sendMessage")

    first_queue, second_queue = private_queue(workers), private_queue(workers)
    first = start_worker(first_queue, tmp_path / "worker1.log")
    workers.callback(stop_worker, first)
    second = start_worker(second_queue, tmp_path / "worker2.log")
    workers.callback(stop_worker, second)
    route_to_queue(monkeypatch, first_queue, tasks.deliver_outbound_action)

    to_mastodon = actions.queue_reply(user=agent, conversation=toot, text="Ist unterwegs!")
    to_facebook = actions.queue_reply(user=agent, conversation=comment, text="Ja, ab Mai!")
    to_telegram = actions.queue_reply(user=agent, conversation=chat, text="Heute verschickt.")
    # Each platform took its reply; no answer reaches the worker before it dies.
    for held in (on_mastodon, on_facebook, on_telegram):
        assert held.held.wait(90), "a reply never reached its platform"
    kill_worker(first)
    for held in (on_mastodon, on_facebook, on_telegram):
        held.release()
    assert len(mastodon.received_statuses()) == 1
    assert len([c for c in facebook.comments() if c["message"] == "Ja, ab Mai!"]) == 1
    assert len(telegram.sent_messages()) == 1
    for action in (to_mastodon, to_facebook, to_telegram):
        action.refresh_from_db()
        assert action.state == OutboundState.SENDING and action.attempts == 1

    # The beat task, once the claims are older than the stall threshold.
    route_to_queue(monkeypatch, second_queue, tasks.deliver_outbound_action)
    assert tasks.requeue_stalled_deliveries() == 0  # a slow worker is not a dead one
    stalled = timedelta(seconds=settings.OUTBOX_STALL_SECONDS + 1)
    with time_machine.travel(timezone.now() + stalled):
        assert tasks.requeue_stalled_deliveries() == 3

    def all_decided() -> bool:
        pending = [OutboundState.QUEUED, OutboundState.SENDING]
        return not OutboundAction.objects.filter(state__in=pending).exists()

    wait_for(all_decided, timeout=90, what="the second worker to complete the replies")

    # Mastodon: sent again with the same Idempotency-Key, answered with the first status.
    [status] = mastodon.received_statuses()
    posts = [c for c in mastodon.calls() if c["method"] == "POST" and c["path"] == STATUSES]
    assert len(posts) == 2
    assert {c["headers"]["Idempotency-Key"] for c in posts} == {str(to_mastodon.idempotency_key)}
    # Facebook: no key; the reply was looked up on the page and found, not posted again.
    [ours] = [c for c in facebook.comments() if c["message"] == "Ja, ab Mai!"]
    assert [a["result"] for a in facebook.actions() if a["action"] in ("comment", "reply")] == [
        ours["id"]
    ]
    assert len([c for c in facebook.calls() if c["method"] == "POST"]) == 1
    for action, platform_id, reconciled in (
        (to_mastodon, status["id"], False),
        (to_facebook, ours["id"], True),
    ):
        action.refresh_from_db()
        assert action.state == OutboundState.SENT
        assert action.result_external_id == platform_id and action.attempts == 2
        assert not action.outcome_unknown
        kind = EventKind.REPLY_RECONCILED if reconciled else EventKind.REPLY_SENT
        assert action.conversation.events.filter(kind=kind).count() == 1
        outbound = Message.objects.filter(
            conversation=action.conversation, direction=Direction.OUTBOUND
        )
        assert [m.external_id for m in outbound] == [platform_id]
    # Telegram cannot tell whether the bot sent it: the agent is told so, nothing is resent.
    to_telegram.refresh_from_db()
    assert to_telegram.state == OutboundState.FAILED
    assert to_telegram.last_error == actions.MAYBE_POSTED
    assert len(telegram.sent_messages()) == 1
    assert len([c for c in telegram.calls() if "/sendMessage" in c["path"]]) == 1


OUTAGE_START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
RATE_LIMITED_UNTIL = OUTAGE_START + timedelta(minutes=5)
RECOVERED_AT = OUTAGE_START + timedelta(minutes=15)


def test_429_then_500_for_minutes_backs_off_and_catches_up_once(
    monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    settings.POLL_BACKOFF_MAX_SECONDS = 1800
    broker = SimulatedBroker()
    broker.install(monkeypatch, tasks.poll_channel, tasks.deliver_outbound_action)
    department = factories.make_department()
    agent: Any = factories.make_user("kim")
    factories.add_member(agent, department)
    fake = FakeMastodon(tokens={"demo-token"})
    platform = Outage(fake.wsgi_app)
    with (
        FakeServer(platform) as server,
        time_machine.travel(OUTAGE_START - timedelta(minutes=2), tick=False) as clock,
    ):
        channel = factories.make_mastodon_channel(server.url, department=department)
        channel.cursor = {"min_id": "0"}
        channel.save(update_fields=["cursor"])
        first = fake.add_mention("Hallo, ist jemand da?", username="erika")
        assert tasks.dispatch_due_polls() == 1 and broker.run_due() == 1
        conversation = Message.objects.get(external_id=first["status"]["id"]).conversation

        def run_for(minutes: float) -> None:
            """The beat's schedule: dispatch every 15 s, requeue stalled deliveries each minute."""
            for step in range(int(minutes * 4)):
                clock.shift(timedelta(seconds=15))
                tasks.dispatch_due_polls()
                if step % 4 == 3:
                    tasks.requeue_stalled_deliveries()
                broker.run_due()

        clock.move_to(OUTAGE_START)
        reset = RATE_LIMITED_UNTIL.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        platform.start(
            429,
            body={"error": "Too many requests"},
            headers={
                "X-RateLimit-Limit": "300",
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": reset,
            },
        )
        reply = actions.queue_reply(user=agent, conversation=conversation, text="Ja, wir sind da!")
        fake.add_mention("Noch eine Frage", username="jonas")
        # Steps of 15 s: the 429s stop just before the window resets at 09:05.
        run_for(4.75)
        channel.refresh_from_db()
        assert channel.rate_limited_until == RATE_LIMITED_UNTIL
        assert "rate limit" in channel.last_error
        assert health(channel) == "rate_limited"

        platform.start(500, body="<html><h1>We're sorry, but something went wrong.</h1></html>")
        fake.add_mention("Hallo??", username="erika")
        run_for(5.25)
        channel.refresh_from_db()
        assert channel.status == ChannelStatus.FAILING and "HTTP 500" in channel.last_error
        assert health(channel) == "failing"
        run_for(5)
        fake.add_mention("Geht es wieder?", username="jonas")
        platform.end()
        assert timezone.now() == RECOVERED_AT
        reply.refresh_from_db()
        assert reply.state == OutboundState.QUEUED and reply.outcome_unknown
        run_for(20)

    # No hammering: one poll in the rate-limit window (which said when it resets), then
    # exponential back-off (2, 4, 8 minutes) through ten minutes of 500s instead of 40 polls.
    polls = platform.calls_during(NOTIFICATIONS)
    assert polls["429"] == 1 and polls["500"] == 3, polls
    # The reply: once into the limit, at 09:05, 09:05:30, 09:07, 09:11:30, then once for real.
    assert platform.calls_during(STATUSES) == Counter({"429": 1, "500": 4, "up": 1})

    channel.refresh_from_db()
    assert channel.status == ChannelStatus.ACTIVE and channel.last_error == ""
    assert channel.consecutive_failures == 0 and health(channel) == ""
    on_platform = [n["status"]["id"] for n in fake.notifications()]
    inbound = Message.objects.filter(channel_account=channel, direction=Direction.INBOUND)
    stored = Counter(inbound.values_list("external_id", flat=True))
    assert stored == Counter(on_platform)  # each item once: none missing, none twice

    reply.refresh_from_db()
    [status] = fake.received_statuses()
    assert reply.state == OutboundState.SENT and reply.result_external_id == status["id"]
    # Sent by the first poll that got through, not at its back-off time (09:25).
    assert reply.sent_at is not None
    assert RECOVERED_AT < reply.sent_at < RECOVERED_AT + timedelta(minutes=5)
    assert status["idempotency_key"] == str(reply.idempotency_key)


def test_a_token_revoked_with_replies_queued_holds_them_and_sends_each_once_after_reauth(
    monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    broker = SimulatedBroker()
    broker.install(monkeypatch, tasks.poll_channel, tasks.deliver_outbound_action)
    department = factories.make_department()
    agent: Any = factories.make_user("kim")
    factories.add_member(agent, department)
    admin = factories.make_user("alex", is_staff=True, is_superuser=True)
    fake = FakeMastodon(tokens={"demo-token", "new-token"})
    with FakeServer(fake.wsgi_app) as server:
        channel = factories.make_mastodon_channel(server.url, department=department)
        channel.cursor = {"min_id": "0"}
        channel.save(update_fields=["cursor"])
        for n in range(3):
            fake.add_mention(f"Frage {n}", username=f"kunde{n}")
        poll_channel(channel.pk)
        conversations = list(Conversation.objects.filter(channel_account=channel).order_by("pk"))
        fake.revoke_token("demo-token")

        replies = [
            actions.queue_reply(user=agent, conversation=c, text=f"Antwort {n}")
            for n, c in enumerate(conversations)
        ]
        broker.run_due()

        channel.refresh_from_db()
        assert channel.status == ChannelStatus.NEEDS_REAUTH
        refused = [c for c in fake.calls() if c["method"] == "POST"]
        assert [c["status"] for c in refused] == [401]  # one call with the refused token
        for reply in replies:
            reply.refresh_from_db()
            assert reply.state == OutboundState.QUEUED
            assert "re-authorized" in reply.last_error
        client = Client()
        client.force_login(agent)
        page = client.get(reverse("inbox:conversation", args=[conversations[-1].pk]))
        assert outbox.HELD_FOR_REAUTH in page.content.decode()  # beside the reply itself

        # Time passes; the beat requeues the held replies and dispatches polls: no platform call.
        calls_before = len(fake.calls())
        with time_machine.travel(
            timezone.now() + timedelta(seconds=settings.OUTBOX_STALL_SECONDS + 60)
        ):
            assert tasks.requeue_stalled_deliveries() == 3
            assert tasks.dispatch_due_polls() == 0
            broker.run_due()
        assert len(fake.calls()) == calls_before
        assert OutboundAction.objects.filter(state=OutboundState.QUEUED).count() == 3

        # The admin enters the new token and resumes the channel (the channel page's path).
        channel_setup.update_channel(
            user=admin,
            channel=channel,
            name=channel.name,
            settings={},
            new_credentials={"access_token": "new-token"},
            poll_interval_seconds=channel.poll_interval_seconds,
            departments=[department],
        )
        channel_setup.resume_channel(user=admin, channel=channel)
        assert tasks.dispatch_due_polls() == 1
        broker.run_due()
        broker.run_due()  # a second pass, as a redelivered task would

    channel.refresh_from_db()
    assert channel.status == ChannelStatus.ACTIVE
    statuses = fake.received_statuses()
    # Each reply once, to the message it answers.
    assert Counter(s["status"].split(" ", 1)[1] for s in statuses) == Counter(
        reply.text for reply in replies
    )
    assert sorted(s["in_reply_to_id"] for s in statuses) == sorted(
        reply.target_external_id for reply in replies
    )
    for reply in replies:
        reply.refresh_from_db()
        assert reply.state == OutboundState.SENT and reply.last_error == ""
        assert reply.result_external_id in {s["id"] for s in statuses}
    assert [c["status"] for c in fake.calls() if c["method"] == "POST"] == [401, 200, 200, 200]


@pytest.mark.django_db  # no other process or commit hook involved: the quick rollback will do
def test_a_token_refused_on_a_paused_channel_fails_the_reply_instead_of_holding_it(
    fake_mastodon: Any, channel: ChannelAccount, agent: Any
) -> None:
    """Nothing polls a paused channel, so nothing would release a held reply: it fails, with
    the reason, after one call."""
    channel.cursor = {"min_id": "0"}
    channel.save(update_fields=["cursor"])
    fake_mastodon.add_mention("Hallo?")
    poll_channel(channel.pk)
    ChannelAccount.objects.filter(pk=channel.pk).update(status=ChannelStatus.PAUSED)
    fake_mastodon.revoke_token("demo-token")
    conversation = Conversation.objects.get(channel_account=channel)
    reply = actions.queue_reply(user=agent, conversation=conversation, text="Gleich!")

    outbox.deliver(reply.pk)
    outbox.deliver(reply.pk)

    reply.refresh_from_db()
    assert reply.state == OutboundState.FAILED and "re-authorized" in reply.last_error
    assert [c["status"] for c in fake_mastodon.calls() if c["method"] == "POST"] == [401]
    assert ChannelAccount.objects.get(pk=channel.pk).status == ChannelStatus.PAUSED
