"""Fault injection for the reliability tests: held platform calls, killable Celery workers, task
routing to a private queue, and a simulated broker for outages that last minutes of fake time."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pytest
import redis
from django.utils import timezone

from channels_integrations.fake_server import json_response

WsgiApp = Callable[[dict[str, Any], Any], Iterable[bytes]]


class HeldCall:
    """WSGI middleware: the `nth` call matching (method, path part) is carried out by the fake,
    then its answer is held back until `release()`: the platform did the work and the client is
    still waiting, which is the moment a worker is killed in these tests."""

    def __init__(self, app: WsgiApp) -> None:
        self.app = app
        self._lock = threading.Lock()
        self._rule: tuple[str, str, int] | None = None
        self._seen = 0
        self.held = threading.Event()
        self._released = threading.Event()

    def hold(self, method: str, path_part: str, *, nth: int = 1) -> None:
        """Hold the `nth` `method` call whose path contains `path_part`."""
        with self._lock:
            self._rule, self._seen = (method.upper(), path_part, nth), 0
            self.held.clear()
            self._released.clear()

    def release(self) -> None:
        self._released.set()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        body = list(self.app(environ, start_response))  # the fake's work is done here
        hold = False
        with self._lock:
            rule = self._rule
            if (
                rule is not None
                and environ["REQUEST_METHOD"] == rule[0]
                and rule[1] in environ.get("PATH_INFO", "")
            ):
                self._seen += 1
                hold = self._seen == rule[2]
        if hold:
            self.held.set()
            # Bounded, so a test that fails before releasing cannot hang the server thread.
            self._released.wait(timeout=60)
        return body


def kill_worker(worker: subprocess.Popen[bytes]) -> None:
    """kill -9 the worker's whole process group: no shutdown code, no acknowledgement, no
    rollback sent by the client; only what the kernel and PostgreSQL do for a dead process."""
    with suppress(ProcessLookupError):
        os.killpg(worker.pid, signal.SIGKILL)
    worker.wait(timeout=10)


def stop_worker(worker: subprocess.Popen[bytes]) -> None:
    if worker.poll() is not None:
        return
    worker.terminate()
    with suppress(subprocess.TimeoutExpired):
        worker.wait(timeout=10)
    kill_worker(worker)


def forget_queues(redis_url: str, queues: Iterable[str]) -> None:
    """Remove what Celery left in Redis for these private queues: the queue lists, the exchange
    bindings, and the messages of killed workers that wait in the shared `unacked` hash for
    their visibility timeout (then another run's worker would restore them to a dead queue)."""
    names = set(queues)
    client = redis.Redis.from_url(redis_url)
    try:
        for name in names:
            for key in client.scan_iter(match=f"*{name}*"):
                client.delete(key)
        for tag, raw in client.hscan_iter("unacked"):
            try:
                routing_key = json.loads(raw)[2]
            except (ValueError, IndexError, TypeError):
                continue
            if routing_key in names:
                client.hdel("unacked", tag)
                client.zrem("unacked_index", tag)
    finally:
        client.close()


def route_to_queue(monkeypatch: pytest.MonkeyPatch, queue: str, *tasks: Any) -> None:
    """Tasks the product sends from this process (after commit, from the beat functions) go to
    `queue`, where this test's worker listens, instead of the run's shared default queue."""
    for task in tasks:
        monkeypatch.setattr(task, "queue", queue, raising=False)
        # Celery caches the task's send options on first use.
        monkeypatch.setattr(task, "_exec_options", None)


@dataclass(order=True)
class _Queued:
    due: datetime
    seq: int
    task: str = field(compare=False)
    args: tuple[Any, ...] = field(compare=False)


class SimulatedBroker:
    """Replaces the Redis broker for in-process runs under time_machine: tasks are kept with
    their ETA and run by `run_due()` through the real task functions, so an outage of many
    minutes takes as many loop turns as the product asks for, not minutes."""

    def __init__(self) -> None:
        self._queued: list[_Queued] = []
        self._seq = 0
        self._tasks: dict[str, Any] = {}
        self.sent: list[tuple[str, tuple[Any, ...], datetime]] = []

    def install(self, monkeypatch: pytest.MonkeyPatch, *tasks: Any) -> None:
        for task in tasks:
            self._tasks[task.name] = task

            def apply_async(
                args: tuple[Any, ...] = (), kwargs: Any = None, *, _name: str = task.name, **o: Any
            ) -> None:
                self.send(_name, tuple(args), o.get("eta"))

            monkeypatch.setattr(task, "apply_async", apply_async)

    def send(self, name: str, args: tuple[Any, ...], eta: datetime | None) -> None:
        due = eta or timezone.now()
        self._seq += 1
        self._queued.append(_Queued(due, self._seq, name, args))
        self.sent.append((name, args, due))

    def run_due(self) -> int:
        """Run every task due by now (and those they enqueue for now); returns how many ran."""
        ran = 0
        while True:
            now = timezone.now()
            due = sorted(item for item in self._queued if item.due <= now)
            if not due:
                return ran
            item = due[0]
            self._queued.remove(item)
            self._tasks[item.task].run(*item.args)
            ran += 1

    def pending(self, name: str) -> list[tuple[tuple[Any, ...], datetime]]:
        return [(item.args, item.due) for item in sorted(self._queued) if item.task == name]


class Outage:
    """WSGI middleware: while started, every API call gets the given answer instead of the
    fake's (the platform is down or throttling); calls are counted per phase and path."""

    def __init__(self, app: WsgiApp) -> None:
        self.app = app
        self._lock = threading.Lock()
        self._answer: tuple[int, object, dict[str, str]] | None = None
        self._calls: list[tuple[str, str]] = []  # (phase, path)

    def start(
        self, status: int, *, body: object = None, headers: dict[str, str] | None = None
    ) -> None:
        with self._lock:
            self._answer = (status, body, dict(headers or {}))

    def end(self) -> None:
        with self._lock:
            self._answer = None

    def calls_during(self, path_prefix: str) -> Counter[str]:
        """Calls under `path_prefix` by phase: the status answered, or "up"."""
        with self._lock:
            return Counter(phase for phase, path in self._calls if path.startswith(path_prefix))

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        with self._lock:
            answer = self._answer
            if not path.startswith("/__admin"):
                self._calls.append((str(answer[0]) if answer else "up", path))
        if answer is None or path.startswith("/__admin"):
            return self.app(environ, start_response)
        status, body, headers = answer
        return json_response(body, status, headers)(environ, start_response)
