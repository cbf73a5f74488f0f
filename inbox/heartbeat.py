"""Heartbeats of Celery beat and the workers, read by /healthz (config/health.py).

They live in the Django cache: Redis in the services mode, where every process sees them; in
memory in the embedded mode, where the worker and beat are threads of the one web process.

- beat: its scheduler (config.celery.HeartbeatScheduler) records one on its ticks, at most every
  few seconds: the scheduler loop is alive.
- worker: beat sends `worker_heartbeat` every 15 seconds (CELERY_BEAT_SCHEDULE), stamped with the
  time it sent it; whichever worker runs it records when, on which host, and how long the task
  waited in the queue. A fresh one proves the whole path: beat, the broker, a worker consuming
  the queue; a growing latency says the workers fall behind.
"""

from __future__ import annotations

import logging
import socket
import time
from dataclasses import asdict, dataclass
from typing import Any

from celery import Task, shared_task
from django.conf import settings
from django.core.cache import cache

logger = logging.getLogger(__name__)

WORKER_HEARTBEAT_TASK = "inbox.heartbeat.worker_heartbeat"
BEAT_KEY = "heartbeat:beat"
WORKER_KEY = "heartbeat:worker"
# Kept long after the process stopped: "last seen three hours ago" tells more than "never".
KEEP_SECONDS = 7 * 24 * 3600
# Defaults of the settings HEALTH_HEARTBEAT_MAX_AGE_SECONDS and HEALTH_QUEUE_LATENCY_MAX_SECONDS.
DEFAULT_MAX_AGE_SECONDS = 60.0
DEFAULT_QUEUE_LATENCY_MAX_SECONDS = 30.0


@dataclass(frozen=True)
class Heartbeat:
    seen_at: float  # seconds since the epoch (time.time()), comparable across hosts
    hostname: str
    queue_latency_ms: float | None = None


def heartbeat_max_age() -> float:
    """Seconds after which a heartbeat is stale (worker or beat gone or stuck)."""
    return float(getattr(settings, "HEALTH_HEARTBEAT_MAX_AGE_SECONDS", DEFAULT_MAX_AGE_SECONDS))


def queue_latency_max() -> float:
    """Seconds a heartbeat may wait in the queue before the workers count as falling behind."""
    return float(
        getattr(settings, "HEALTH_QUEUE_LATENCY_MAX_SECONDS", DEFAULT_QUEUE_LATENCY_MAX_SECONDS)
    )


def record_beat_heartbeat(*, hostname: str | None = None) -> Heartbeat:
    """Record that the beat process is alive now (overwrites the previous heartbeat)."""
    heartbeat = Heartbeat(seen_at=time.time(), hostname=hostname or socket.gethostname())
    cache.set(BEAT_KEY, asdict(heartbeat), KEEP_SECONDS)
    return heartbeat


def record_worker_heartbeat(*, hostname: str, sent_at: float | None) -> Heartbeat:
    """Record that `hostname` ran a heartbeat task now, `sent_at` being when beat sent it."""
    now = time.time()
    # Clocks of two hosts may disagree by a little: a negative wait is no wait.
    latency = None if sent_at is None else round(max(now - sent_at, 0.0) * 1000, 1)
    heartbeat = Heartbeat(seen_at=now, hostname=hostname, queue_latency_ms=latency)
    cache.set(WORKER_KEY, asdict(heartbeat), KEEP_SECONDS)
    return heartbeat


def read_heartbeats() -> tuple[Heartbeat | None, Heartbeat | None]:
    """The latest (worker, beat) heartbeats, None for one never recorded (one cache round trip)."""
    found = cache.get_many([WORKER_KEY, BEAT_KEY])
    return _heartbeat(found.get(WORKER_KEY)), _heartbeat(found.get(BEAT_KEY))


def is_lagging(heartbeat: Heartbeat) -> bool:
    """The heartbeat task waited longer in the queue than HEALTH_QUEUE_LATENCY_MAX_SECONDS."""
    latency = heartbeat.queue_latency_ms
    return latency is not None and latency > queue_latency_max() * 1000


def _heartbeat(value: Any) -> Heartbeat | None:
    if not isinstance(value, dict):
        return None
    try:
        return Heartbeat(**value)
    except TypeError:  # written by another version of this module during a rolling deploy
        return None


@shared_task(name=WORKER_HEARTBEAT_TASK, bind=True, ignore_result=True)
def worker_heartbeat(self: Task[Any, None], sent_at: float | None = None) -> None:
    """Record that a worker consumes the queue (see the module docstring).

    Idempotent and cheap: one cache write. `sent_at` is stamped by the beat scheduler
    (config.celery.HeartbeatScheduler); without it the latency is unknown. Warns when the
    heartbeat waited in the queue longer than HEALTH_QUEUE_LATENCY_MAX_SECONDS.
    """
    heartbeat = record_worker_heartbeat(
        hostname=self.request.hostname or socket.gethostname(), sent_at=sent_at
    )
    latency = heartbeat.queue_latency_ms
    if is_lagging(heartbeat):
        logger.warning(
            "the worker heartbeat waited %.1f s in the queue: the workers fall behind",
            (latency or 0) / 1000,
        )
