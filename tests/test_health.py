"""/healthz: what load balancers and monitoring rely on. The database and Redis decide whether the
web process is up (503 when either is down); the worker and beat heartbeats decide whether the
deployment is healthy ("degraded" otherwise, 503 only in strict mode)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, suppress
from datetime import timedelta
from pathlib import Path

import pytest
import redis
import time_machine
from django.core.cache import cache
from django.db import connection
from django.urls import reverse

from config.celery import HeartbeatScheduler
from config.celery import app as celery_app
from config.health import main as health_main
from inbox.heartbeat import (
    BEAT_KEY,
    WORKER_HEARTBEAT_TASK,
    WORKER_KEY,
    read_heartbeats,
    record_beat_heartbeat,
    record_worker_heartbeat,
    worker_heartbeat,
)
from tests.stack import ROOT, free_port, wait_for


@pytest.fixture(autouse=True)
def no_heartbeats() -> Iterator[None]:
    """Every test starts as if no worker or beat had ever run (the cache outlives tests)."""
    cache.delete_many([WORKER_KEY, BEAT_KEY])
    yield
    cache.delete_many([WORKER_KEY, BEAT_KEY])


@pytest.fixture
def scheduler(tmp_path: Path) -> Iterator[HeartbeatScheduler]:
    """Beat's scheduler with its own schedule file and no entries of the real schedule."""
    beat = HeartbeatScheduler(app=celery_app, schedule_filename=str(tmp_path / "schedule"))
    beat.schedule.clear()  # nothing of the product's schedule may be sent by these tests
    yield beat
    beat.close()


def fresh_heartbeats() -> None:
    record_beat_heartbeat()
    record_worker_heartbeat(hostname="celery@worker-1", sent_at=time.time() - 0.05)


def healthz(client, *, strict: bool = False):
    return client.get(reverse("healthz") + ("?strict=1" if strict else ""))


def start_worker(queue: str, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            *(sys.executable, "-m", "celery", "-A", "config", "worker", "--pool", "threads"),
            *("--concurrency", "1", "--without-heartbeat", "--without-mingle", "--without-gossip"),
            *("-Q", queue, "--loglevel", "INFO"),
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def delete_queue(name: str) -> None:
    """Heartbeats sent while the worker started would stay behind in Redis (the queue's list
    and kombu's binding sets; the name is unique to the test)."""
    broker = redis.Redis.from_url(os.environ["REDIS_URL"])
    keys = list(broker.scan_iter(f"*{name}"))
    if keys:
        broker.delete(*keys)


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    with suppress(subprocess.TimeoutExpired):
        process.wait(timeout=10)
    with suppress(ProcessLookupError):
        os.killpg(process.pid, 9)
    process.wait(timeout=5)


@pytest.mark.django_db
def test_it_is_ok_once_beat_ticks_and_a_worker_runs_the_heartbeat_it_sent(
    client, scheduler, tmp_path
):
    queue = f"inbox-health-{uuid.uuid4().hex[:8]}"
    scheduler.update_from_dict(
        {
            "worker-heartbeat": {
                "task": WORKER_HEARTBEAT_TASK,
                "schedule": 0.2,
                "options": {"queue": queue, "expires": 60},
            }
        }
    )
    with ExitStack() as stack:
        stack.callback(delete_queue, queue)
        worker = start_worker(queue, tmp_path / "worker.log")
        stack.callback(stop, worker)

        def ticked_until_a_worker_answered():
            scheduler.tick()
            return read_heartbeats()[0]

        wait_for(ticked_until_a_worker_answered, timeout=60, what="the worker heartbeat")

    response = healthz(client)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"]["status"] == "ok" and body["database"]["latency_ms"] >= 0
    assert body["redis"]["status"] == "ok"
    assert body["worker"]["status"] == "ok"
    # Which worker it was stays in the cache and the logs; the public body names no host.
    assert "hostname" not in body["worker"]
    assert read_heartbeats()[0].hostname.startswith("celery@")
    # Stamped by the scheduler when it sent the task, measured by the worker that ran it.
    assert 0 <= body["worker"]["queue_latency_ms"] < 30_000
    assert body["worker"]["age_seconds"] < 60
    assert body["beat"]["status"] == "ok" and body["beat"]["age_seconds"] < 60


def test_the_scheduler_records_a_heartbeat_at_most_every_few_seconds(scheduler, monkeypatch):
    scheduler.tick()
    beat = read_heartbeats()[1]
    assert beat is not None and beat.hostname == socket.gethostname()

    cache.delete(BEAT_KEY)
    scheduler.tick()
    assert read_heartbeats()[1] is None  # a tick right after the first writes nothing

    monkeypatch.setattr("config.celery.BEAT_HEARTBEAT_SECONDS", 0)
    scheduler.tick()
    assert read_heartbeats()[1] is not None


def test_the_scheduler_keeps_ticking_when_the_heartbeat_cannot_be_written(
    scheduler, monkeypatch, caplog
):
    def unreachable(**kwargs):
        raise ConnectionError("redis is away")

    monkeypatch.setattr("inbox.heartbeat.record_beat_heartbeat", unreachable)
    assert scheduler.tick() >= 0
    assert "could not record the beat heartbeat" in caplog.text


def test_a_second_beat_is_reported(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr("config.celery.BEAT_HEARTBEAT_SECONDS", 0)
    first = HeartbeatScheduler(app=celery_app, schedule_filename=str(tmp_path / "first"))
    second = HeartbeatScheduler(app=celery_app, schedule_filename=str(tmp_path / "second"))
    for beat in (first, second):
        beat.schedule.clear()
    try:
        first.tick()
        first.tick()
        assert "another beat process" not in caplog.text  # its own heartbeat is no rival
        second.tick()
        first.tick()
        assert "another beat process" in caplog.text
    finally:
        first.close()
        second.close()


def test_the_worker_heartbeat_measures_how_long_the_task_waited():
    worker_heartbeat.apply(kwargs={"sent_at": time.time() - 2.5})
    worker, _beat = read_heartbeats()
    assert worker is not None
    assert 2500 <= worker.queue_latency_ms < 2500 + 5000
    assert worker.hostname


@pytest.mark.django_db
def test_stale_heartbeats_make_it_degraded_and_strict_mode_fail(client):
    fresh_heartbeats()
    assert healthz(client, strict=True).status_code == 200

    with time_machine.travel(timedelta(seconds=61)):
        response = healthz(client)
        strict = healthz(client, strict=True)

    assert response.status_code == 200  # the web still serves: keep it in the load balancer
    body = response.json()
    assert body["status"] == "degraded"
    assert body["worker"]["status"] == "stale" and body["worker"]["age_seconds"] >= 61
    assert "hostname" not in body["worker"]
    assert body["beat"]["status"] == "stale"
    assert strict.status_code == 503 and strict.json()["status"] == "degraded"


@pytest.mark.django_db
def test_the_staleness_threshold_comes_from_the_settings(client, settings):
    settings.HEALTH_HEARTBEAT_MAX_AGE_SECONDS = 300
    fresh_heartbeats()
    with time_machine.travel(timedelta(seconds=120)):
        assert healthz(client).json()["status"] == "ok"


@pytest.mark.django_db
def test_a_deployment_whose_worker_never_ran_is_degraded(client):
    record_beat_heartbeat()
    body = healthz(client).json()
    assert body["status"] == "degraded"
    assert body["worker"] == {"status": "missing", "last_seen": None, "age_seconds": None}
    assert body["beat"]["status"] == "ok"


@pytest.mark.django_db
def test_a_queue_that_lags_makes_it_degraded(client):
    record_beat_heartbeat()
    record_worker_heartbeat(hostname="celery@busy", sent_at=time.time() - 45)
    body = healthz(client).json()
    assert body["status"] == "degraded"
    assert body["worker"]["status"] == "lagging"
    assert body["worker"]["queue_latency_ms"] >= 45_000


@pytest.mark.django_db
def test_load_balancers_may_check_with_head(client):
    fresh_heartbeats()
    assert client.head(reverse("healthz")).status_code == 200
    assert client.post(reverse("healthz")).status_code == 405


@pytest.mark.django_db
def test_it_costs_one_query(client, django_assert_num_queries):
    fresh_heartbeats()
    with django_assert_num_queries(1):
        assert healthz(client).status_code == 200


def test_it_answers_503_when_the_database_is_down(client, django_db_blocker):
    fresh_heartbeats()
    with django_db_blocker.unblock():
        connection.close()
        original = dict(connection.settings_dict)
        # Nothing listens there: the connection is refused, as when PostgreSQL is down.
        connection.settings_dict.update(HOST="127.0.0.1", PORT=str(free_port()))
        try:
            response = healthz(client)
        finally:
            connection.close()
            connection.settings_dict.clear()
            connection.settings_dict.update(original)

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "down"
    assert body["database"] == {"status": "down", "error": "OperationalError"}
    assert body["redis"]["status"] == "ok"
    # Nothing about the database's whereabouts reaches the public body.
    assert original["NAME"] not in response.content.decode()


def test_an_unreachable_redis_is_degraded_not_down(db, client, settings):
    # Pages work from PostgreSQL without Redis; every replica sees the same Redis, so a 503 here
    # would make a load balancer take the whole site out for a Redis blip.
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"
    response = healthz(client)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert body["redis"] == {"status": "down", "error": "ConnectionError"}
    assert body["worker"]["status"] == body["beat"]["status"] == "unknown"
    assert "127.0.0.1" not in response.content.decode()
    assert healthz(client, strict=True).status_code == 503


def test_a_hung_redis_does_not_hang_the_check(db, client, settings):
    # A server that accepts connections and never answers.
    with socket.socket() as hung:
        hung.bind(("127.0.0.1", 0))
        hung.listen(8)
        settings.REDIS_URL = f"redis://127.0.0.1:{hung.getsockname()[1]}/0"
        started = time.monotonic()
        response = healthz(client)
        elapsed = time.monotonic() - started
    assert response.status_code == 200
    assert response.json()["redis"] == {"status": "down", "error": "TimeoutError"}
    assert elapsed < 3


def test_the_heartbeat_command_exits_zero_only_for_a_fresh_heartbeat(capsys):
    assert health_main(["beat"]) == 1
    assert json.loads(capsys.readouterr().out)["status"] == "missing"
    record_beat_heartbeat()
    assert health_main(["beat"]) == 0
    with time_machine.travel(timedelta(seconds=61)):
        assert health_main(["beat"]) == 1
    assert health_main(["nonsense"]) == 2


def test_the_beat_container_health_check_reads_the_shared_heartbeat():
    record_beat_heartbeat()
    check = subprocess.run(
        [sys.executable, "-m", "config.health", "beat"],
        cwd=ROOT,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert check.returncode == 0, check.stderr.decode()
    assert json.loads(check.stdout)["status"] == "ok"
