"""The production topology: two Daphne web processes and two Celery workers (and beat) on the
same PostgreSQL and Redis. A mention created on the platform is polled by a worker process, and
its live event reaches the department's agents connected to either web process, and not an agent
of another department, who gets only the mention of their own channel."""

from __future__ import annotations

import asyncio
import os
import re
from pathlib import Path
from typing import Any

import pytest
import websockets
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore

from bench.topology import (
    FAKE_TOKEN,
    database_sessions,
    django_database_url,
    running_topology,
    serving_fake_mastodons,
)
from tests import factories
from tests.stack import wait_for

pytestmark = pytest.mark.django_db(transaction=True)

# Generous deadlines: two web processes, two workers and beat start on a busy 2-core CI machine.
EVENT_TIMEOUT = 30


def session_cookie(user: Any) -> str:
    """A logged-in session for `user`, written where the web processes read it (the database)."""
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return f"{settings.SESSION_COOKIE_NAME}={session.session_key}"


class Socket:
    """One browser tab's live socket: every frame it received, kept for the assertions."""

    def __init__(self, url: str, cookie: str) -> None:
        self.url = url.replace("http://", "ws://") + "/ws/live/"
        self.headers = {"Cookie": cookie, "Origin": url}
        self.frames: list[str] = []
        self.connection: Any = None

    async def open(self) -> None:
        self.connection = await websockets.connect(self.url, additional_headers=self.headers)
        hello = await asyncio.wait_for(self.connection.recv(), EVENT_TIMEOUT)
        assert '"type": "hello"' in hello, hello

    async def receive_until(self, text: str) -> str:
        """The first frame carrying `text`; every frame is kept in `frames`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + EVENT_TIMEOUT
        while True:
            remaining = deadline - loop.time()
            assert remaining > 0, f"no frame with {text!r} within {EVENT_TIMEOUT}s"
            frame = await asyncio.wait_for(self.connection.recv(), remaining)
            self.frames.append(frame)
            if text in frame:
                return str(frame)

    def saw(self, text: str) -> bool:
        return any(text in frame for frame in self.frames)


def test_a_polled_mention_reaches_agents_on_both_web_processes_and_no_outsider(
    department: Any, other_department: Any, agent: Any, outsider: Any, tmp_path: Path
) -> None:
    colleague = factories.make_user("kai")
    factories.add_member(colleague, department)
    with serving_fake_mastodons(2) as [(fake, url), (other_fake, other_url)]:
        channel = factories.make_mastodon_channel(
            url, token=FAKE_TOKEN, department=department, poll_interval_seconds=1
        )
        other_channel = factories.make_mastodon_channel(
            other_url, token=FAKE_TOKEN, department=other_department, poll_interval_seconds=1
        )
        for account in (channel, other_channel):
            account.cursor = {"min_id": "0"}
            account.save(update_fields=["cursor"])
        cookies = [session_cookie(user) for user in (agent, colleague, outsider)]

        topology_cm = running_topology(
            database_url=django_database_url(),
            redis_url=os.environ["REDIS_URL"],
            log_dir=tmp_path,
            webs=2,
            workers=2,
        )
        with topology_cm as topology:
            web1, web2 = topology.web_urls
            sockets = [Socket(web1, cookies[0]), Socket(web2, cookies[1]), Socket(web2, cookies[2])]

            async def scenario() -> None:
                ours, colleagues, outsiders = sockets
                try:
                    await asyncio.gather(*(socket.open() for socket in sockets))
                    fake.add_mention("Wo bleibt Bestellung 4711?", username="erika")
                    await asyncio.gather(
                        ours.receive_until("Bestellung 4711"),
                        colleagues.receive_until("Bestellung 4711"),
                    )
                    # The outsider's socket works and is served by the same pipeline: their own
                    # channel's mention arrives, and the first mention never did.
                    other_fake.add_mention("Rechnung 815 ist falsch", username="otto")
                    await outsiders.receive_until("Rechnung 815")
                finally:
                    for socket in sockets:
                        if socket.connection is not None:
                            await socket.connection.close()

            asyncio.run(scenario())
            logs = {worker.name: worker.log_text() for worker in topology.of("worker")}
            application_name = topology.application_name

    ours, colleagues, outsiders = sockets
    assert not outsiders.saw("Bestellung 4711")
    assert not ours.saw("Rechnung 815") and not colleagues.saw("Rechnung 815")
    # The poll ran in a worker process, not in this one: its log records the ingest.
    ingested = re.compile(rf"channel {channel.pk}: 1 new in ")
    pollers = [name for name, log in logs.items() if ingested.search(log)]
    assert len(pollers) == 1, logs
    assert fake.calls() and all(call["path"] == "/api/v1/notifications" for call in fake.calls())
    # The processes' database sessions end before the test database is flushed.
    wait_for(
        lambda: database_sessions(application_name) == 0,
        timeout=15,
        what="the topology's database sessions to end",
    )
