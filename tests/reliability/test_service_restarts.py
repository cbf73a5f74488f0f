"""Redis and PostgreSQL restarted under a running product: nothing is lost, nothing is doubled.

The product runs as in production (Daphne, Celery worker and beat as processes) on a private
Redis and a private PostgreSQL (tests/reliability/services.py), while a fake Mastodon gets a new
mention every few hundred milliseconds and agents are connected on the live socket:

- Redis stopped for a few seconds and started again EMPTY (no persistence, the harshest case):
  pages keep answering, /healthz says "degraded" meanwhile, the agents' pages are told to resync
  (the layer's resync, or a reconnect as live.js does) and get the mentions that arrive after, a
  reply queued just before and one queued during the outage are each posted once, and every
  mention is in the inbox exactly once.
- PostgreSQL stopped (`pg_ctl stop -m fast`, as a restart begins) for a few seconds while a
  worker is inside a reply's delivery, then started; then a quick `pg_ctl restart -m fast`
  between two requests: /healthz answers 503 and pages 500 while it is away, pages answer again
  at once after, without restarting any process; every mention exactly once, the reply (whose
  worker could not record the platform's answer) posted once.
- The worker's guard against a dropped broker connection (config.celery.survive_lost_broker),
  without servers.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import requests
from websockets.exceptions import WebSocketException
from websockets.sync.client import connect

from tests import factories
from tests.conftest import ServedMastodon
from tests.reliability.services import (
    PrivatePostgres,
    Stack,
    login,
    private_postgres,
    private_redis,
    served_stack,
)
from tests.stack import test_database_url as stack_database_url
from tests.stack import wait_for

# Lost hand-offs are repaired by leases and sweeps; short ones here, so the test takes seconds.
# (Until config/settings.py reads OUTBOX_SWEEP_SECONDS, the sweep runs every 60 s and a lost
# reply waits for it: up to about 50 s more per test.)
STACK_SETTINGS = {
    "POLL_LEASE_SECONDS": "10",
    "OUTBOX_STALL_SECONDS": "10",
    "OUTBOX_SWEEP_SECONDS": "2",
}
MENTION_EVERY_SECONDS = 0.25
# How long a service stays away: pages are fetched throughout.
OUTAGE_SECONDS = 3.0
# The platform takes a reply but answers this late, so a delivery is in flight at the outage.
PLATFORM_ANSWERS_AFTER_SECONDS = 2.0
# A reply whose hand-off was lost waits for the outbox sweep (requeue_stalled_deliveries):
# OUTBOX_STALL_SECONDS after it was queued, at the sweep's next run.
REPLY_DEADLINE_SECONDS = 90


@dataclass
class World:
    postgres: PrivatePostgres

    def rows(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        """The test's own read of the private database, on a fresh connection each time: a
        restart breaks every connection open across it."""
        db = self.postgres.connect("inbox")
        try:
            with db.cursor() as cursor:
                cursor.execute(sql, params or [])
                return list(cursor.fetchall())
        finally:
            db.close()


def ingested_texts(world: World) -> list[str]:
    """The mention markers of every inbound message in the private database (duplicates kept)."""
    rows = world.rows("SELECT text FROM inbox_message WHERE direction = 'inbound'")
    return [word for (text,) in rows for word in text.split() if word.startswith("mention-")]


def conversation_of(world: World, mention_text: str) -> int | None:
    rows = world.rows(
        "SELECT conversation_id FROM inbox_message WHERE text LIKE %s", [f"%{mention_text}%"]
    )
    return rows[0][0] if rows else None


def outbox_states(world: World) -> list[str]:
    return sorted(state for (state,) in world.rows("SELECT state FROM inbox_outboundaction"))


def reply(stack: Stack, session: requests.Session, conversation_id: int, text: str) -> int:
    response = session.post(
        f"{stack.base_url}/inbox/c/{conversation_id}/reply/",
        data={"text": text},
        headers={"X-CSRFToken": session.cookies["csrftoken"], "HX-Request": "true"},
        timeout=30,
    )
    return response.status_code


def get_status(session: requests.Session, url: str) -> int:
    try:
        return session.get(url, timeout=15).status_code
    except requests.RequestException:
        return 0


def pages_until(session: requests.Session, url: str, until: float) -> list[int]:
    """The status of the page fetched about four times a second (an agent clicking, not a
    flood) until the monotonic time `until`."""
    statuses = []
    pace = threading.Event()
    while time.monotonic() < until:
        statuses.append(get_status(session, url))
        pace.wait(0.25)
    return statuses


def reply_posts(fake: ServedMastodon) -> list[dict[str, Any]]:
    return [
        call
        for call in fake.calls()
        if call["method"] == "POST" and call["path"] == "/api/v1/statuses"
    ]


def posted_replies(fake: ServedMastodon) -> list[str]:
    return [status["status"] for status in fake.received_statuses()]


@dataclass
class MentionStream:
    """Mentions posted to the fake platform at a steady rate, from a thread, until stopped."""

    fake: ServedMastodon
    posted: list[tuple[float, str]] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None

    def start(self) -> None:
        self.thread = threading.Thread(target=self._run, name="mentions", daemon=True)
        self.thread.start()

    def stop(self) -> list[str]:
        self.stopping.set()
        if self.thread is not None:
            self.thread.join(timeout=10)
        return self.texts()

    def texts(self) -> list[str]:
        return [text for _at, text in list(self.posted)]

    def posted_after(self, moment: float) -> list[str]:
        return [text for at, text in list(self.posted) if at > moment]

    def _run(self) -> None:
        for n in itertools.count(1):
            if self.stopping.wait(MENTION_EVERY_SECONDS):
                return
            text = f"mention-{n:04d}"
            self.fake.add_mention(f"Hallo @brand {text} bitte", username=f"user{n}")
            self.posted.append((time.monotonic(), text))


@contextmanager
def mention_stream(fake: ServedMastodon) -> Iterator[MentionStream]:
    stream = MentionStream(fake)
    stream.start()
    try:
        yield stream
    finally:
        stream.stop()


class LiveClient:
    """One browser tab's live socket, reconnecting as static/js/live.js does: after a close or
    a failed attempt it waits (growing, capped) and connects again, for as long as it runs."""

    def __init__(self, base_url: str, session: requests.Session, name: str) -> None:
        self.url = base_url.replace("http://", "ws://") + "/ws/live/"
        self.headers = {
            "Origin": base_url,
            "Cookie": f"sessionid={session.cookies['sessionid']}",
        }
        self.name = name
        self.lock = threading.Lock()
        self.events: list[dict[str, Any]] = []
        self.connected_at: list[float] = []
        self.closed_at: list[float] = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"live-{name}", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=10)

    def connections(self) -> int:
        with self.lock:
            return len(self.connected_at)

    def created_previews(self) -> set[str]:
        """The mention texts this tab was told about as new conversations."""
        with self.lock:
            events = list(self.events)
        return {
            text
            for event in events
            if event.get("type") == "conversation.changed" and event.get("created")
            for text in _mention_texts(event.get("html", ""))
        }

    def _run(self) -> None:
        attempts = 0
        while not self.stopping.is_set():
            try:
                with connect(
                    self.url, additional_headers=self.headers, open_timeout=5, close_timeout=1
                ) as socket:
                    hello = json.loads(socket.recv(timeout=5))
                    assert hello["type"] == "hello", hello
                    attempts = 0
                    with self.lock:
                        self.connected_at.append(time.monotonic())
                    while not self.stopping.is_set():
                        try:
                            message = socket.recv(timeout=0.5)
                        except TimeoutError:
                            continue
                        with self.lock:
                            self.events.append(json.loads(message))
            except (WebSocketException, OSError, TimeoutError, AssertionError, ValueError):
                pass
            with self.lock:
                self.closed_at.append(time.monotonic())
            attempts += 1
            # live.js: 0.5 s * 2^attempts, capped at 30 s; capped at 1 s here, so the test
            # does not wait out a long back-off after the outage.
            self.stopping.wait(min(1.0, 0.25 * 2**attempts))


def _mention_texts(html: str) -> list[str]:
    return [
        word
        for word in html.replace("<", " ").replace(">", " ").split()
        if word.startswith("mention-")
    ]


def told_to_resync(client: LiveClient) -> bool:
    if client.connections() >= 2:
        return True
    with client.lock:
        return any(event.get("type") == "resync" for event in client.events)


def told_of(client: LiveClient, texts: list[str]) -> bool:
    return set(texts) <= client.created_previews()


@contextmanager
def live_clients(
    stack: Stack, *sessions: tuple[str, requests.Session]
) -> Iterator[list[LiveClient]]:
    clients = [LiveClient(stack.base_url, session, name) for name, session in sessions]
    try:
        yield clients
    finally:
        for client in clients:
            client.stop()


@pytest.fixture
def world(
    tmp_path: Path, fake_mastodon: ServedMastodon, department: Any, agent: Any, lead: Any
) -> Iterator[World]:
    """A private PostgreSQL holding a copy of the test database, with the personas and a
    channel on the fake polled every second."""
    factories.make_mastodon_channel(
        fake_mastodon.url, department=department, name="Mastodon @brand", poll_interval_seconds=1
    )
    with private_postgres() as postgres:
        postgres.copy_database(stack_database_url(), "inbox")
        yield World(postgres=postgres)


def first_conversation(world: World, fake: ServedMastodon) -> int:
    """Post one mention and wait for its conversation: the channel's first poll has happened,
    so from now on every mention is paged forward from the cursor."""
    fake.add_mention("Hallo @brand mention-0000 bitte", username="first")
    conversation = wait_for(
        lambda: conversation_of(world, "mention-0000"), timeout=30, what="the first mention"
    )
    assert conversation is not None
    return conversation


def assert_each_mention_once(world: World, posted: list[str]) -> None:
    def all_in() -> bool:
        return set(posted) <= set(ingested_texts(world))

    wait_for(all_in, timeout=40, what="every posted mention in the inbox", interval=0.5)
    ingested = ingested_texts(world)
    doubled = sorted({text for text in ingested if ingested.count(text) > 1})
    assert doubled == [], f"ingested more than once: {doubled}"
    assert sorted(ingested) == sorted(["mention-0000", *posted])


def stack_on(world: World, redis_url: str, tmp_path: Path) -> Any:
    return served_stack(
        database_url=world.postgres.url("inbox"),
        redis_url=redis_url,
        var_dir=tmp_path / "var",
        log_path=tmp_path / "stack.log",
        **STACK_SETTINGS,
    )


def reply_in_flight(
    stack: Stack, session: requests.Session, fake: ServedMastodon, conversation: int, text: str
) -> None:
    """Queue a reply that the platform takes but answers only after a while: when this returns,
    a worker is inside the delivery (its task not yet acknowledged), waiting for the answer."""
    fake.accept_then_stall(PLATFORM_ANSWERS_AFTER_SECONDS, path_prefix="/api/v1/statuses")
    assert reply(stack, session, conversation, text) == 200
    wait_for(
        lambda: any(text in status for status in posted_replies(fake)),
        timeout=15,
        what="the reply to reach the platform",
    )


@pytest.mark.django_db(transaction=True)
def test_a_redis_restart_loses_and_doubles_nothing(
    world: World, fake_mastodon: ServedMastodon, agent: Any, lead: Any, tmp_path: Path
) -> None:
    # No persistence: Redis comes back empty (queued messages and socket groups gone), the
    # harshest restart; a Redis with AOF keeps them (see docs/reliability.md).
    with (
        private_redis(tmp_path / "redis", appendonly=False) as redis_server,
        stack_on(world, redis_server.url, tmp_path) as stack,
    ):
        conversation = first_conversation(world, fake_mastodon)
        agent_session = login(stack.base_url, agent.username, factories.PASSWORD)
        lead_session = login(stack.base_url, lead.username, factories.PASSWORD)
        inbox_url = stack.base_url + "/inbox/"
        with (
            live_clients(stack, ("agent", agent_session), ("lead", lead_session)) as clients,
            mention_stream(fake_mastodon) as stream,
        ):
            wait_for(
                lambda: all(client.connections() == 1 for client in clients),
                timeout=15,
                what="both agents connected",
            )
            wait_for(lambda: len(stream.posted) >= 2, timeout=10, what="mentions arriving")
            # A worker holds an unacknowledged task when Redis goes: the case that stopped
            # Celery's worker for good (config.celery.survive_lost_broker).
            reply_in_flight(stack, agent_session, fake_mastodon, conversation, "Vor dem Ausfall")
            outage_started = time.monotonic()
            redis_server.stop()

            # Sessions are in the database and pages need no cache: they keep answering.
            # /healthz says so without making a load balancer take the site out.
            health = agent_session.get(stack.base_url + "/healthz", timeout=15)
            assert health.status_code == 200
            assert health.json()["status"] == "degraded"
            assert health.json()["redis"]["status"] == "down"
            # The hand-off to the worker fails; the outbox row waits for the sweep.
            assert reply(stack, agent_session, conversation, "Während des Ausfalls") == 200
            pages = pages_until(agent_session, inbox_url, outage_started + OUTAGE_SECONDS)
            assert set(pages) == {200}, pages

            redis_server.start()
            restarted = time.monotonic()
            # The pages learn they missed events: the web process's layer, subscribed again,
            # asks every socket to resync (inbox/live_layer.py); a socket that dropped instead
            # reconnects and resyncs as live.js does.
            wait_for(
                lambda: all(told_to_resync(client) for client in clients),
                timeout=30,
                what="both agents' pages told to resync",
            )
            reconnected = time.monotonic()
            wait_for(
                lambda: len(stream.posted_after(reconnected)) >= 8,
                timeout=15,
                what="mentions after the reconnect",
            )
            posted = stream.stop()
            # Mentions posted once the sockets were back reach both agents live.
            later = stream.posted_after(reconnected + 0.5)
            for client in clients:
                wait_for(
                    partial(told_of, client, later),
                    timeout=30,
                    what=f"the {client.name}'s live events after the restart ({stack.log_path})",
                )
        assert_each_mention_once(world, posted)
        wait_for(
            lambda: outbox_states(world) == ["sent", "sent"],
            timeout=REPLY_DEADLINE_SECONDS,
            what="both replies sent",
            interval=0.5,
        )
        assert sorted(posted_replies(fake_mastodon)) == [
            "@first@example.social Vor dem Ausfall",
            "@first@example.social Während des Ausfalls",
        ]
        print(
            f"\nredis: down {restarted - outage_started:.1f}s, pages told to resync"
            f" {reconnected - restarted:.1f}s after, {len(posted)} mentions, replies sent after"
            f" {time.monotonic() - restarted:.1f}s"
        )


@pytest.mark.django_db(transaction=True)
def test_a_postgresql_restart_loses_and_doubles_nothing(
    world: World, fake_mastodon: ServedMastodon, agent: Any, tmp_path: Path
) -> None:
    with (
        private_redis(tmp_path / "redis", appendonly=True) as redis_server,
        stack_on(world, redis_server.url, tmp_path) as stack,
    ):
        conversation = first_conversation(world, fake_mastodon)
        session = login(stack.base_url, agent.username, factories.PASSWORD)
        inbox_url = stack.base_url + "/inbox/"
        with mention_stream(fake_mastodon) as stream:
            wait_for(lambda: len(stream.posted) >= 2, timeout=10, what="mentions arriving")
            # The worker will get the platform's answer with the database away: it cannot
            # record that the reply went out.
            reply_in_flight(stack, session, fake_mastodon, conversation, "Vor dem Neustart")
            outage_started = time.monotonic()
            world.postgres.stop("fast")

            health = requests.get(stack.base_url + "/healthz", timeout=15)
            assert health.status_code == 503
            assert health.json()["database"]["status"] == "down"
            pages = pages_until(session, inbox_url, outage_started + OUTAGE_SECONDS)

            world.postgres.start()
            restarted = time.monotonic()
            # Nothing is restarted: the web process answers again on its own.
            first_page = get_status(session, inbox_url)
            # A quick restart between two requests: the web process still holds a connection
            # from before it, which must not cost the next page.
            world.postgres.restart()
            page_after_restart = get_status(session, inbox_url)
            wait_for(
                lambda: len(stream.posted_after(restarted)) >= 8,
                timeout=15,
                what="mentions after the restart",
            )
            posted = stream.stop()
        assert requests.get(stack.base_url + "/healthz", timeout=15).status_code == 200
        assert_each_mention_once(world, posted)
        wait_for(
            lambda: outbox_states(world) == ["sent"],
            timeout=REPLY_DEADLINE_SECONDS,
            what="the reply marked sent",
            interval=0.5,
        )
        # The sweep handed it out again, and it was sent again with the same Idempotency-Key
        # (the outcome was unknown): the platform kept one.
        posts = reply_posts(fake_mastodon)
        assert len(posts) >= 2
        assert len({post["headers"]["Idempotency-Key"] for post in posts}) == 1
        assert posted_replies(fake_mastodon) == ["@first@example.social Vor dem Neustart"]
        print(
            f"\npostgres: down {restarted - outage_started:.1f}s, pages {sorted(set(pages))},"
            f" first page after {first_page}, after a quick restart {page_after_restart},"
            f" {len(posted)} mentions, reply marked sent after {time.monotonic() - restarted:.1f}s"
        )
        assert pages and set(pages) <= {500}, pages
        assert (first_page, page_after_restart) == (200, 200)


def test_a_worker_channel_whose_broker_connection_was_dropped_fails_as_a_connection_error() -> None:
    """What keeps the worker alive above, without servers: Celery catches connection errors
    around the put-back and the acknowledgement, but not the AttributeError kombu raised."""
    import redis
    from kombu.transport import redis as redis_transport

    import config.celery  # noqa: F401  (installs the guard, as every Celery process does)

    channel: Any = redis_transport.Channel.__new__(redis_transport.Channel)
    channel.connection = None  # what Celery leaves after dropping a broken connection
    with pytest.raises(redis.exceptions.ConnectionError):
        channel._connparams()
