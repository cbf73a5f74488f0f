"""Two Celery worker processes on PostgreSQL and Redis never poll the same channel at once, even
when every poll task is delivered twice (a redelivery after a lost acknowledgement)."""

from __future__ import annotations

import os
import subprocess
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, suppress
from typing import Any

import pytest

from channels_integrations.fake_server import FakeServer
from channels_integrations.mastodon.fake import FakeMastodon
from channels_integrations.models import ChannelAccount
from channels_integrations.tasks import poll_channel
from inbox.models import Message
from tests import factories
from tests.stack import start_worker, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

CHANNELS = 12


class InFlight:
    """WSGI middleware: the most requests in flight at once, per access token."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.lock = threading.Lock()
        self.now: Counter[str] = Counter()
        self.peak: Counter[str] = Counter()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        token = environ.get("HTTP_AUTHORIZATION", "")
        with self.lock:
            self.now[token] += 1
            self.peak[token] = max(self.peak[token], self.now[token])
        try:
            return list(self.app(environ, start_response))
        finally:
            with self.lock:
                self.now[token] -= 1


@pytest.fixture
def slow_fake() -> Iterator[tuple[FakeMastodon, InFlight, str]]:
    tokens = {f"token-{n}" for n in range(CHANNELS)}
    fake = FakeMastodon(tokens=tokens)
    fake.set_delay(0.3)  # long enough for a duplicate task to overlap the first
    counter = InFlight(fake.wsgi_app)
    with FakeServer(counter) as server:
        yield fake, counter, server.url


def test_two_worker_processes_never_poll_one_channel_concurrently(slow_fake, tmp_path):
    fake, in_flight, url = slow_fake
    channels = []
    for n in range(CHANNELS):
        channel = factories.make_mastodon_channel(url, token=f"token-{n}", name=f"Channel {n}")
        channel.cursor = {"min_id": "0"}
        channel.save(update_fields=["cursor"])
        channels.append(channel)
    for n in range(3):
        fake.add_mention(f"Frage {n}")

    queue = f"inbox-workers-{uuid.uuid4().hex[:8]}"
    with ExitStack() as stack:
        workers = [start_worker(queue, tmp_path / f"worker{n}.log") for n in range(2)]
        for worker in workers:
            stack.callback(_stop, worker)
        for channel in channels:
            for _ in range(2):  # every poll delivered twice, to both workers
                poll_channel.apply_async((channel.pk,), queue=queue)

        def all_polled() -> bool:
            polled = ChannelAccount.objects.filter(last_success_at__isnull=False).count()
            return polled == CHANNELS

        wait_for(all_polled, timeout=60, what="every channel to be polled by the workers")

    assert max(in_flight.peak.values()) == 1, in_flight.peak
    # Every channel sees the same three mentions; each channel has them exactly once.
    for channel in channels:
        assert Message.objects.filter(channel_account=channel).count() == 3


def _stop(worker: subprocess.Popen[bytes]) -> None:
    worker.terminate()
    with suppress(subprocess.TimeoutExpired):
        worker.wait(timeout=10)
    with suppress(ProcessLookupError):
        os.killpg(worker.pid, 9)
    worker.wait(timeout=5)
