"""The embedded worker: Celery's own worker and beat, in threads of the web process.

Used when no REDIS_URL is set (`make run` on a bare machine): the broker is Kombu's in-memory
transport, which only works inside one process, so the worker must live in the process that
enqueues. Same tasks, same code paths as the separate worker processes of the services mode.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from celery.beat import EmbeddedService

from config.celery import app

logger = logging.getLogger(__name__)


def start_embedded_worker(*, concurrency: int = 4) -> Any:
    # Beat as a thread: the worker's own `beat=True` forks it into a child process, whose
    # in-memory broker is not ours, so every scheduled task would vanish there.
    # The scheduler class as `celery beat` picks it (CELERY_BEAT_SCHEDULER): Celery's embedded
    # service would otherwise take its own default and record no heartbeats.
    beat = EmbeddedService(app, thread=True, scheduler_cls=app.conf.beat_scheduler)
    worker = app.WorkController(
        pool_cls="threads",
        concurrency=concurrency,
        without_heartbeat=True,
        without_mingle=True,
        without_gossip=True,
        loglevel="INFO",
        hostname="embedded@localhost",
    )
    thread = threading.Thread(target=worker.start, name="embedded-celery", daemon=True)
    thread.start()
    beat.start()  # type: ignore[union-attr]
    logger.info("embedded Celery worker and beat started (in-memory broker)")
    return worker
