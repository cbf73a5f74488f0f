"""The product as separate processes, as in production: N Daphne web processes (each on its own
port), M Celery workers and one beat on one PostgreSQL database and one Redis, for a bench or a
test.

Every run gets a private Celery queue and channel-layer prefix, so messages left in Redis by other
runs (or other people's test runs on the same Redis) are never picked up, and its own var
directory (beat's schedule file). Each process is started in its own session, waited for with a
deadline (web: serves the login page; worker: logs "ready"; beat: logs that it started) and killed
with its whole process group at exit. Every database session of the processes carries
`application_name`, so a caller can wait until they have all ended (a test database cannot be
flushed or dropped while they linger).

Fakes of the platforms run in the caller's process (`serving_fake_mastodons`): the caller creates
items on them directly and they stay cheap (a poll a second per channel).

bench/ must not import tests/, so what a bench and a test both need lives here.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.error import URLError
from urllib.parse import urlsplit
from urllib.request import urlopen

if TYPE_CHECKING:
    from channels_integrations.mastodon.fake import FakeMastodon

ROOT = Path(__file__).resolve().parent.parent
FAKE_TOKEN = "bench-token"  # noqa: S105  (the fakes' access token, not a secret)
T = TypeVar("T")


def wait_for(condition: Callable[[], T], *, timeout: float, what: str, interval: float = 0.1) -> T:
    """Poll `condition` until it returns something truthy, or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def services_or_exit(*, redis_because: str) -> tuple[str, str, str]:
    """The DATABASE_URL (PostgreSQL, naming its database), that name, and the REDIS_URL a bench
    runs on; without them the bench exits with status 2 and says why."""
    url = os.environ.get("DATABASE_URL", "")
    name = urlsplit(url).path.lstrip("/")
    if not url.startswith(("postgres://", "postgresql://")) or not name:
        print("DATABASE_URL must name a PostgreSQL database (see the usage)", file=sys.stderr)
        sys.exit(2)
    redis_url = os.environ.get("REDIS_URL", "")
    if not redis_url:
        print(f"REDIS_URL must be set: {redis_because}", file=sys.stderr)
        sys.exit(2)
    return url, name, redis_url


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Process:
    """One started process of the topology: its role ("web", "worker", "beat"), pid and log."""

    role: str
    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    url: str = ""

    @property
    def pid(self) -> int:
        return self.popen.pid

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@dataclass
class Topology:
    """The running processes. `queue` and `prefix` are the run's Celery queue and channel-layer
    (and cache) prefix: a caller that talks to the same layer must use the same prefix."""

    processes: list[Process]
    queue: str
    prefix: str
    application_name: str
    log_dir: Path
    env: dict[str, str] = field(repr=False, default_factory=dict)

    def of(self, role: str) -> list[Process]:
        return [process for process in self.processes if process.role == role]

    @property
    def web_urls(self) -> list[str]:
        return [process.url for process in self.of("web")]

    def pids(self) -> dict[str, list[int]]:
        """Pids by role, for CPU measurement."""
        found: dict[str, list[int]] = {}
        for process in self.processes:
            found.setdefault(process.role, []).append(process.pid)
        return found

    def check_alive(self) -> None:
        """Raise if any process has exited: a bench must not measure a topology half down."""
        for process in self.processes:
            if process.popen.poll() is not None:
                raise RuntimeError(
                    f"{process.name} exited with {process.popen.returncode}; see {process.log_path}"
                )


@contextmanager
def running_topology(
    *,
    database_url: str,
    redis_url: str,
    log_dir: Path,
    webs: int = 2,
    workers: int = 2,
    beat: bool = True,
    concurrency: int = 8,
    poll_dispatch_seconds: float = 0.2,
    application_name: str | None = None,
    extra_env: dict[str, str] | None = None,
    ready_timeout: float = 90,
) -> Iterator[Topology]:
    """Start the processes, wait until each is ready, yield them; kill them all at exit."""
    log_dir.mkdir(parents=True, exist_ok=True)
    run = uuid.uuid4().hex[:8]
    application_name = application_name or f"inbox-topology-{run}"
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "CELERY_QUEUE": f"inbox-topology-{run}",
        "CHANNEL_LAYER_PREFIX": f"inbox-topology-{run}",
        "POLL_DISPATCH_SECONDS": str(poll_dispatch_seconds),
        "INBOX_VAR_DIR": str(log_dir),
        "PYTHONUNBUFFERED": "1",
        "LOG_FORMAT": "plain",
        # libpq tags every database session of the processes, so a caller can wait for them.
        "PGAPPNAME": application_name,
        **(extra_env or {}),
    }
    topology = Topology(
        processes=[],
        queue=env["CELERY_QUEUE"],
        prefix=env["CHANNEL_LAYER_PREFIX"],
        application_name=application_name,
        log_dir=log_dir,
        env=env,
    )
    with ExitStack() as stack:
        stack.callback(_stop_all, topology.processes)
        python = sys.executable
        for n in range(1, webs + 1):
            port = free_port()
            daphne = [python, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port)]
            process = _start("web", f"web{n}", [*daphne, "config.asgi:application"], env, log_dir)
            process.url = f"http://127.0.0.1:{port}"
            topology.processes.append(process)
        celery = [python, "-m", "celery", "-A", "config"]
        for n in range(1, workers + 1):
            command = [
                *(*celery, "worker", "--pool", "threads", "--concurrency", str(concurrency)),
                *("-n", f"w{n}@%h", "-Q", topology.queue, "--loglevel", "INFO"),
                *("--without-heartbeat", "--without-mingle", "--without-gossip"),
            ]
            topology.processes.append(_start("worker", f"worker{n}", command, env, log_dir))
        if beat:
            schedule = str(log_dir / "celerybeat-schedule")
            command = [*celery, "beat", "--loglevel", "INFO", "--schedule", schedule]
            topology.processes.append(_start("beat", "beat", command, env, log_dir))

        for process in topology.processes:
            wait_for(
                _readiness(process),
                timeout=ready_timeout,
                what=f"{process.name} to be ready (log: {process.log_path})",
                interval=0.2,
            )
        yield topology


def _readiness(process: Process) -> Callable[[], bool]:
    """The readiness check of one process; raises at once if the process has died."""

    def ready() -> bool:
        if process.popen.poll() is not None:
            raise RuntimeError(f"{process.name} exited; see {process.log_path}")
        if process.role == "web":
            try:
                with urlopen(process.url + "/accounts/login/", timeout=2) as response:  # noqa: S310
                    return bool(response.status == 200)
            except (URLError, OSError):
                return False
        if process.role == "worker":
            return " ready." in process.log_text()
        return "beat: Starting" in process.log_text()

    return ready


def _start(role: str, name: str, command: list[str], env: dict[str, str], log_dir: Path) -> Process:
    log_path = log_dir / f"{name}.log"
    with log_path.open("wb") as log:
        popen = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            # Its own process group: the whole group (Daphne, Celery's pool) is killed at exit.
            start_new_session=True,
        )
    return Process(role=role, name=name, popen=popen, log_path=log_path)


def _stop_all(processes: list[Process]) -> None:
    for process in processes:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + 15
    for process in processes:
        with suppress(subprocess.TimeoutExpired):
            process.popen.wait(timeout=max(0.1, deadline - time.monotonic()))
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.popen.wait(timeout=5)


def database_sessions(application_name: str) -> int:
    """Open sessions of this topology on the current database (Django's default connection)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND application_name = %s",
            [application_name],
        )
        row = cursor.fetchone()
    return int(row[0]) if row else 0


def django_database_url() -> str:
    """The URL of Django's default database (in a test: the test database)."""
    from django.conf import settings

    db: Any = settings.DATABASES["default"]
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@contextmanager
def serving_fake_mastodons(
    count: int, *, token: str = FAKE_TOKEN, rate_limit: int = 10**9
) -> Iterator[list[tuple[FakeMastodon, str]]]:
    """`count` fake Mastodon instances in this process, each on its own loopback port (one brand
    account per instance, so one instance is one channel); yields (fake, base URL) pairs. The
    rate limit is lifted by default: a bench polls every second for minutes."""
    from channels_integrations.fake_server import FakeServer
    from channels_integrations.mastodon.fake import FakeMastodon

    with ExitStack() as stack:
        served = []
        for _ in range(count):
            fake = FakeMastodon(tokens={token}, rate_limit=rate_limit)
            server = stack.enter_context(FakeServer(fake.wsgi_app))
            served.append((fake, server.url))
        yield served
