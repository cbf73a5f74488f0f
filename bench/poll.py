"""Benchmark the worker pools on polls: 1,000 channels on a fake Mastodon that answers after 200 ms.

Usage (from the project root; PostgreSQL and Redis as in production):
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/inbox_bench_poll \\
    REDIS_URL=redis://127.0.0.1:6379/0 .venv/bin/python bench/poll.py [--window 30]

What it shows: for each worker setup (pool and concurrency: prefork, threads, gevent with and
without psycogreen), the polls per second that one real `celery worker` process completes, next
to the no-op tasks per second the same worker runs in the same run, their ratio and the worker's
CPU. Polls go out as in production: every channel due, beat's `dispatch_due_polls` claims and
publishes them, the worker runs `poll_channel` (advisory lock, one API call, the cursor's
transaction, the success update); the worker's consumer is paused while a round is dispatched.
Polls are counted in the database: the channels whose `last_poll_at` moved past the round's
start; after the window the fake's API calls must equal them. The fake runs in a process of
its own, so it never competes with the bench for the GIL, and says how many requests it had in
flight at most.
The queue is private to the run and deleted at the end, and the channels it made are deleted.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from celery import shared_task

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.topology import services_or_exit, wait_for  # noqa: E402  (needs ROOT on the path)

# The setups compared by default: the naive reference (prefork, one process per core), what
# `manage.py serve` and docker-compose started before this bench (threads 8 and 16), more threads,
# and gevent (with the broker pool it needs) without and with psycopg2 made cooperative.
DEFAULT_SETUPS = (
    "prefork:2,threads:8,threads:16,threads:32,threads:64,gevent:64,gevent-psycogreen:64"
)


@shared_task(name="bench.poll.noop", ignore_result=True)
def noop() -> None:
    """The baseline: a task message through the same worker, doing nothing."""


@dataclass(frozen=True)
class Setup:
    """One worker setup under test: `pool` as Celery names it, plus psycogreen for gevent."""

    pool: str
    concurrency: int
    psycogreen: bool = False

    @classmethod
    def parse(cls, text: str) -> Setup:
        name, _, number = text.partition(":")
        psycogreen = name == "gevent-psycogreen"
        pool = "gevent" if psycogreen else name
        if pool not in ("prefork", "threads", "gevent") or not number.isdigit():
            raise argparse.ArgumentTypeError(f"unknown setup {text!r} (e.g. threads:32)")
        return cls(pool, int(number), psycogreen)

    @property
    def label(self) -> str:
        return "gevent + psycogreen" if self.psycogreen else self.pool

    def connections(self) -> int:
        """Database connections the worker may hold at once: one per thread, process or
        greenlet running a task, and the main process's own."""
        return self.concurrency + 2


@dataclass
class Result:
    setup: Setup
    polls: int = 0
    poll_seconds: float = 0.0
    rounds: int = 0
    failed_polls: int = 0
    # The polls counted, plus those of the last round that finished after the window closed:
    # what the fake must have seen.
    verified_polls: int = 0
    api_calls: int = 0
    noops: int = 0
    noop_seconds: float = 0.0
    worker_cpu_seconds: float = 0.0
    fake_cpu_seconds: float = 0.0
    fake_peak_in_flight: int = 0
    load: float = 0.0  # the machine's load average at the end of the window
    skipped: str = ""

    @property
    def polls_per_second(self) -> float:
        return self.polls / self.poll_seconds if self.poll_seconds else 0.0

    @property
    def noops_per_second(self) -> float:
        return self.noops / self.noop_seconds if self.noop_seconds else 0.0


# The fake platform, in a process of its own (`bench/poll.py --serve-fake`).


def serve_fake(channels: int, delay: float) -> None:
    """Serve one fake Mastodon that knows every channel's token and answers after `delay`.

    Prints the port, then serves until stdin closes. A counting middleware answers
    `/__bench/stats`: API requests so far and the most in flight at once.
    """
    from werkzeug.serving import BaseWSGIServer

    from channels_integrations.fake_server import FakeServer
    from channels_integrations.mastodon.fake import FakeMastodon

    # The fake's default listen backlog (128) would drop connections when hundreds of polls
    # connect at once; a real instance's load balancer takes them all.
    BaseWSGIServer.request_queue_size = 4096
    fake = FakeMastodon(tokens={token(n) for n in range(channels)}, rate_limit=10**9)
    fake.set_delay(delay)
    lock = threading.Lock()
    stats = {"requests": 0, "in_flight": 0, "peak_in_flight": 0}

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("PATH_INFO") == "/__bench/stats":
            with lock:
                body = json.dumps(stats).encode()
                if environ.get("QUERY_STRING") == "reset":
                    stats["requests"] = stats["peak_in_flight"] = 0
            start_response("200 OK", [("Content-Type", "application/json")])
            return [body]
        with lock:
            stats["requests"] += 1
            stats["in_flight"] += 1
            stats["peak_in_flight"] = max(stats["peak_in_flight"], stats["in_flight"])
        try:
            return list(fake.wsgi_app(environ, start_response))
        finally:
            with lock:
                stats["in_flight"] -= 1

    with FakeServer(app) as server:
        print(server.url, flush=True)
        sys.stdin.read()  # the bench closes our stdin when it is done


def token(n: int) -> str:
    return f"bench-token-{n}"


def start_fake(channels: int, delay: float, log: Path) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, __file__, "--serve-fake", f"--channels={channels}", f"--delay={delay}"],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=log.open("w"),
        text=True,
    )
    assert process.stdout is not None
    url = process.stdout.readline().strip()
    if not url.startswith("http"):
        raise SystemExit(f"the fake did not start; see {log}")
    return process, url


def fake_stats(url: str, *, reset: bool = False) -> dict[str, int]:
    import requests

    answer = requests.get(url + "/__bench/stats" + ("?reset" if reset else ""), timeout=5)
    stats: dict[str, int] = answer.json()
    return stats


def check_fake(url: str, requests_at_once: int, delay: float) -> float:
    """Seconds for `requests_at_once` concurrent API calls; near `delay` if the fake keeps up."""
    import requests

    barrier = threading.Barrier(requests_at_once)

    def call(n: int) -> int:
        barrier.wait()
        answer = requests.get(
            url + "/api/v1/notifications",
            headers={"Authorization": f"Bearer {token(n)}"},
            timeout=30,
        )
        return answer.status_code

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=requests_at_once) as pool:
        statuses = list(pool.map(call, range(requests_at_once)))
    seconds = time.perf_counter() - started
    if set(statuses) != {200}:
        raise SystemExit(f"the fake answered {sorted(set(statuses))} to the check")
    return seconds


# The worker under test: a real `celery worker` process, as `manage.py serve` starts it.


def gevent_worker(argv: list[str]) -> None:
    """`celery` for a gevent pool: patched before anything imports a socket, with a broker
    connection pool as large as the pool, and with `--psycogreen`, psycopg2 waiting through
    gevent, so a query lets the other greenlets run instead of blocking the whole process."""
    # Imported by name: neither is a requirement of the project (pip install gevent psycogreen).
    importlib.import_module("gevent.monkey").patch_all()
    if argv[0] == "--psycogreen":
        importlib.import_module("psycogreen.gevent").patch_psycopg()
        argv = argv[1:]
    from django.conf import settings

    from config.celery import app

    # Kombu's Redis channel allows 10 connections; with acks late every greenlet acknowledges
    # on a connection of its own, and the eleventh fails ("Couldn't ack ... Too many
    # connections"), so the message is delivered again.
    app.conf.broker_transport_options = {
        **settings.CELERY_BROKER_TRANSPORT_OPTIONS,
        "max_connections": int(argv[argv.index("--concurrency") + 1]) + 16,
    }
    # Without an event loop (gevent) kombu sleeps up to a second whenever the prefetch window
    # is full, so the window decides how busy the greenlets are kept.
    app.conf.worker_prefetch_multiplier = int(os.environ.get("BENCH_GEVENT_PREFETCH", "1"))
    from celery.__main__ import main as celery_main

    sys.argv = ["celery", *argv]
    celery_main()


def start_worker(
    setup: Setup, name: str, env: dict[str, str], log: Path
) -> subprocess.Popen[bytes]:
    arguments = [
        *("-A", "config", "--quiet", "worker", "--pool", setup.pool),
        *("--concurrency", str(setup.concurrency), "-n", name, "-l", "WARNING"),
        "--include=bench.poll",
    ]
    if setup.pool == "gevent":
        patches = ["--psycogreen"] if setup.psycogreen else []
        command = [sys.executable, __file__, "--gevent-worker", *patches, *arguments]
    else:
        command = [sys.executable, "-m", "celery", *arguments]
    return subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop_process(process: subprocess.Popen[Any]) -> None:
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def cpu_seconds(pid: int) -> float:
    """CPU time (user and system) of a process and all its descendants alive now."""
    psutil = importlib.import_module("psutil")  # requirements-dev; it ships no type hints

    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0.0
    for process in processes:
        with suppress(psutil.NoSuchProcess):
            times = process.cpu_times()
            total += times.user + times.system
    return total


class Stalled(TimeoutError):
    """A worker stopped making progress: the setup is reported as failed, the run goes on."""


class Bench:
    """The run's channels, queue and broker, and the measurement of one worker setup."""

    def __init__(
        self, args: argparse.Namespace, queue: str, ids: list[int], fake_url: str, fake_pid: int
    ) -> None:
        from config.celery import app

        self.args = args
        self.fake_pid = fake_pid
        self.queue = queue
        self.ids = ids
        self.fake_url = fake_url
        self.app = app
        self.last_round: tuple[Any, Any] = (None, None)
        self.redis = redis_client()

    def measure(self, setup: Setup, number: int, logs: Path) -> Result:
        result = Result(setup)
        name = f"bench-poll-{number}@{socket.gethostname()}"
        env = {
            **os.environ,
            "CELERY_QUEUE": self.queue,
            # The compose file's setting: every thread keeps its connection between tasks.
            "DATABASE_CONN_MAX_AGE": os.environ.get("BENCH_CONN_MAX_AGE", "60"),
            "LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
        }
        log = logs / f"worker-{number}-{setup.label.replace(' ', '')}-{setup.concurrency}.log"
        worker = start_worker(setup, name, env, log)
        try:

            def answers() -> bool:
                if worker.poll() is not None:
                    raise Stalled(f"the worker exited; see {log}")
                return bool(self.app.control.ping(destination=[name], timeout=0.5))

            wait_for(answers, timeout=120, what=f"worker {name} to answer", interval=0.05)
            # Warm-up: connections opened, code paths imported, threads started.
            warm = min(len(self.ids), max(2 * setup.concurrency, 20))
            self.poll_round(name, self.ids[:warm], deadline=time.monotonic() + 120)
            self.noop_round(name, setup.concurrency * 4)

            result.noops = self.args.noop_tasks
            result.noop_seconds = self.noop_round(name, result.noops)

            fake_stats(self.fake_url, reset=True)
            cpu_before = cpu_seconds(worker.pid)
            fake_cpu_before = cpu_seconds(self.fake_pid)
            deadline = time.monotonic() + self.args.window
            while time.monotonic() < deadline:
                polls, failed, seconds = self.poll_round(name, self.ids, deadline=deadline)
                result.rounds += 1
                result.polls += polls
                result.failed_polls += failed
                result.poll_seconds += seconds
            result.worker_cpu_seconds = cpu_seconds(worker.pid) - cpu_before
            result.fake_cpu_seconds = cpu_seconds(self.fake_pid) - fake_cpu_before
            result.load = os.getloadavg()[0]
            result.verified_polls = result.polls + self.finish_cut_round(name)
            stats = fake_stats(self.fake_url)
            result.api_calls = stats["requests"]
            result.fake_peak_in_flight = stats["peak_in_flight"]
        except TimeoutError as exc:  # Stalled, or wait_for's deadline
            result.skipped = f"{exc} (log: {log})"
        finally:
            stop_process(worker)
            self.drop_queue()
        return result

    @contextmanager
    def paused(self, name: str) -> Iterator[None]:
        """The worker stops taking messages while a batch is published, so the measurement
        is the worker's, not the publisher's (bench/dispatch.py measures publishing)."""
        self.app.control.cancel_consumer(self.queue, destination=[name], reply=True, timeout=5)
        yield
        self.app.control.add_consumer(self.queue, destination=[name], reply=True, timeout=5)

    def poll_round(self, name: str, ids: list[int], *, deadline: float) -> tuple[int, int, float]:
        """Make `ids` due, dispatch them as beat does, and wait until each was polled or the
        deadline passed. Returns (polls completed, of them failed, seconds consumed)."""
        from django.utils import timezone

        from channels_integrations.models import ChannelAccount
        from channels_integrations.tasks import dispatch_due_polls

        channels = ChannelAccount.objects.filter(pk__in=ids)
        # Counted from before the pause: a message the worker was already fetching when it was
        # paused runs during the dispatch, and its poll is one of this round.
        start = timezone.now()
        with self.paused(name):
            channels.update(
                next_poll_at=timezone.now() - timedelta(seconds=1), poll_lease_until=None
            )
            dispatched = 0
            while dispatched < len(ids):
                handed_out = dispatch_due_polls()
                if not handed_out:
                    break
                dispatched += handed_out
            if dispatched != len(ids):
                raise SystemExit(f"dispatched {dispatched} of {len(ids)} due channels")
        started = time.monotonic()

        def polled() -> int:
            return channels.filter(last_poll_at__gte=start).count()

        done = 0
        while time.monotonic() < deadline:
            done = polled()
            if done == len(ids):
                break
            time.sleep(0.05)
        seconds = time.monotonic() - started
        done = polled()
        failed = channels.filter(last_poll_at__gte=start).exclude(last_success_at__gte=start)
        self.last_round = (channels, start)
        return done, failed.count(), seconds

    def noop_round(self, name: str, count: int) -> float:
        """Seconds for the worker to run `count` no-op tasks published beforehand."""
        with self.paused(name), self.app.producer_or_acquire() as producer:
            for _ in range(count):
                noop.apply_async(producer=producer)
        started = time.monotonic()
        wait_for(self.queue_drained, timeout=120, what="the no-op tasks to run", interval=0.05)
        return time.monotonic() - started

    def finish_cut_round(self, name: str) -> int:
        """Let the polls running when the window closed finish, taking no new ones; returns
        how many of the last round completed after it was counted."""
        channels, start = self.last_round
        counted = channels.filter(last_poll_at__gte=start).count()
        self.app.control.cancel_consumer(self.queue, destination=[name], reply=True, timeout=5)
        previous = -1

        def settled() -> bool:
            nonlocal previous
            time.sleep(1)  # on a loaded machine a poll commits a while after its answer
            now = channels.filter(last_poll_at__gte=start).count()
            idle = fake_stats(self.fake_url)["in_flight"] == 0
            done, previous = idle and now == previous, now
            return done

        wait_for(settled, timeout=60, what="the running polls to finish", interval=0.05)
        return channels.filter(last_poll_at__gte=start).count() - counted

    def queue_drained(self) -> bool:
        """Nothing waiting and nothing delivered but unacknowledged (acks late: a task is
        acknowledged when it has run)."""
        if self.redis.llen(self.queue):
            return False
        return not self.unacked_tags()

    def unacked_tags(self) -> list[bytes]:
        tags = []
        for tag, payload in self.redis.hgetall("unacked").items():
            with suppress(ValueError, IndexError, TypeError):
                if json.loads(payload)[2] == self.queue:
                    tags.append(tag)
        return tags

    def drop_queue(self) -> None:
        """Messages left by a cut-off round (and restored by the stopped worker) go."""
        tags = self.unacked_tags()
        if tags:
            self.redis.hdel("unacked", *tags)
            self.redis.zrem("unacked_index", *tags)
        for pattern in (f"{self.queue}*", f"_kombu.binding*.{self.queue}"):
            for key in self.redis.scan_iter(match=pattern):
                self.redis.delete(key)


def redis_client() -> Any:
    import redis

    return redis.Redis.from_url(os.environ["REDIS_URL"])


def connection_headroom() -> int:
    """Connections this run may open on the server without taking others' away."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('max_connections')::int"
            " - current_setting('superuser_reserved_connections')::int"
            " - (SELECT count(*) FROM pg_stat_activity)"
        )
        (free,) = cursor.fetchone()
    # Leave some for everybody else on the server (tests, the dispatcher here, the fake).
    return int(free) - 10


def create_channels(count: int, fake_url: str, interval: int) -> list[int]:
    from django.utils import timezone

    from channels_integrations.models import ChannelAccount

    run = uuid.uuid4().hex[:8]
    channels = []
    for n in range(count):
        channel = ChannelAccount(
            platform="mastodon",
            name=f"bench poll {run} {n}",
            settings={"base_url": fake_url},
            cursor={"min_id": "0"},
            poll_interval_seconds=interval,
            next_poll_at=timezone.now() + timedelta(days=1),  # due only when a round says
        )
        channel.set_credentials({"access_token": token(n)})
        channels.append(channel)
    ChannelAccount.objects.bulk_create(channels, batch_size=500)
    return list(
        ChannelAccount.objects.filter(name__startswith=f"bench poll {run} ")
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def print_table(results: list[Result], args: argparse.Namespace, shipped: Setup) -> None:
    print()
    print(
        f"{'pool':<20} {'conc.':>5} {'polls/s':>8} {'no-op/s':>8} {'ratio':>6}"
        f" {'worker CPU':>10} {'ms CPU/poll':>11} {'fake CPU':>8} {'in flight':>9} {'load':>5}"
    )
    for r in results:
        if r.skipped:
            print(f"{r.setup.label:<20} {r.setup.concurrency:>5}  skipped: {r.skipped}")
            continue
        cpu = r.worker_cpu_seconds / r.poll_seconds if r.poll_seconds else 0.0
        per_poll = 1000 * r.worker_cpu_seconds / r.polls if r.polls else 0.0
        fake_cpu = r.fake_cpu_seconds / r.poll_seconds if r.poll_seconds else 0.0
        ratio = r.polls_per_second / r.noops_per_second if r.noops_per_second else 0.0
        print(
            f"{r.setup.label:<20} {r.setup.concurrency:>5} {r.polls_per_second:>8.1f}"
            f" {r.noops_per_second:>8.0f} {ratio:>6.3f} {cpu:>9.0%} {per_poll:>11.1f}"
            f" {fake_cpu:>8.0%} {r.fake_peak_in_flight:>9} {r.load:>5.1f}"
        )
    ceiling = {r.setup: r.setup.concurrency / args.delay for r in results}
    print()
    print("ceiling: concurrency / latency (every slot always waiting on the fake):")
    for r in results:
        if not r.skipped:
            share = r.polls_per_second / ceiling[r.setup]
            print(
                f"  {r.setup.label} {r.setup.concurrency}: {ceiling[r.setup]:.0f} polls/s,"
                f" reached {share:.0%}"
            )
    for r in results:
        if r.setup == shipped and not r.skipped:
            print(
                f"shipped setup ({shipped.label} {shipped.concurrency}): one worker keeps up with"
                f" {r.polls_per_second * args.interval:,.0f} channels polled every"
                f" {args.interval} s ({r.polls_per_second:.0f} polls/s)"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--channels", type=int, default=1000)
    parser.add_argument("--delay", type=float, default=0.2, help="fake API latency, seconds")
    parser.add_argument("--window", type=float, default=30.0, help="poll seconds per setup")
    parser.add_argument("--noop-tasks", type=int, default=5000)
    parser.add_argument("--interval", type=int, default=60, help="poll interval for the summary")
    parser.add_argument(
        "--setups",
        type=lambda text: [Setup.parse(part) for part in text.split(",")],
        default=[Setup.parse(part) for part in DEFAULT_SETUPS.split(",")],
        help=f"pool:concurrency,... (default {DEFAULT_SETUPS})",
    )
    parser.add_argument("--shipped", type=Setup.parse, default=Setup("threads", 32))
    parser.add_argument("--serve-fake", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_fake:
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
        serve_fake(args.channels, args.delay)
        return

    url, name, _ = services_or_exit(redis_because="the workers take their tasks from Redis")
    from config.create_database import ensure_database

    ensure_database(url, name)
    # Ctrl+C or a kill still deletes the run's channels and stops its processes.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    queue = f"inbox-bench-poll-{uuid.uuid4().hex[:8]}"
    os.environ["CELERY_QUEUE"] = queue
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

    import django

    django.setup()
    from django.core.management import call_command
    from django.utils import timezone

    from channels_integrations.models import ChannelAccount

    call_command("migrate", verbosity=0)
    logs = Path(os.environ.get("BENCH_LOG_DIR", f"/tmp/{queue}"))  # noqa: S108
    logs.mkdir(parents=True, exist_ok=True)
    print(f"{os.cpu_count()} cores; load average {os.getloadavg()[0]:.2f}; logs in {logs}")

    fake, fake_url = start_fake(args.channels, args.delay, logs / "fake.log")
    results: list[Result] = []
    ids: list[int] = []
    saved: list[tuple[int, Any]] = []
    try:
        seconds = check_fake(fake_url, args.channels, args.delay)
        print(
            f"fake check: {args.channels} concurrent requests answered in {seconds:.2f} s"
            f" (latency {args.delay:g} s)"
        )
        ids = create_channels(args.channels, fake_url, args.interval)
        # Only this run's channels are due: everything else in the database waits.
        others = ChannelAccount.objects.exclude(pk__in=ids)
        saved = list(others.values_list("pk", "next_poll_at"))
        others.update(next_poll_at=timezone.now() + timedelta(days=1))

        bench = Bench(args, queue, ids, fake_url, fake.pid)
        for number, setup in enumerate(args.setups):
            headroom = connection_headroom()
            if setup.connections() > headroom:
                results.append(
                    Result(
                        setup, skipped=f"needs {setup.connections()} connections, {headroom} free"
                    )
                )
                continue
            result = bench.measure(setup, number, logs)
            results.append(result)
            print(
                f"{setup.label} {setup.concurrency}: {result.polls_per_second:.1f} polls/s"
                f" ({result.polls} in {result.poll_seconds:.1f} s, {result.failed_polls} failed;"
                f" {result.verified_polls} in the database after the window,"
                f" {result.api_calls} API calls), {result.noops_per_second:.0f} no-op tasks/s",
                flush=True,
            )
    finally:
        if ids:
            ChannelAccount.objects.filter(pk__in=ids).delete()
        for pk, when in saved:
            ChannelAccount.objects.filter(pk=pk).update(next_poll_at=when)
        assert fake.stdin is not None
        fake.stdin.close()
        fake.wait(timeout=10)

    print_table(results, args, args.shipped)
    measured = [r for r in results if not r.skipped]
    # Every poll the database counts reached the fake once, and none failed. More calls than
    # polls means a channel was polled twice in a round (each round dispatches it once).
    for r in measured:
        if r.api_calls != r.verified_polls:
            print(
                f"  {r.setup.label} {r.setup.concurrency}: {r.api_calls - r.verified_polls}"
                f" API calls more than polls in the database"
            )
    ok = all(r.failed_polls == 0 and r.api_calls == r.verified_polls for r in measured)
    verdict = "PASS" if ok else "FAIL"
    print(f"{verdict}: every poll counted in the database made one API call, none failed")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--gevent-worker":
        gevent_worker(sys.argv[2:])
    else:
        main()
