"""The Celery app of every process (web, worker, beat), configured from Django's settings.

Also here, because they must hold in every process that runs Celery:
- HeartbeatScheduler, beat's scheduler (CELERY_BEAT_SCHEDULER): it records beat's own heartbeat
  and stamps the worker heartbeat task with the time it was sent (inbox/heartbeat.py);
- the logging hooks: Celery leaves logging to Django's LOGGING (JSON lines in production), and
  every record a task logs carries its task id and name (config/logging.py);
- a worker that survives a Redis restart (survive_lost_broker).
"""

from __future__ import annotations

import copy
import logging
import logging.config
import os
import threading
import time
from contextvars import Token
from typing import TYPE_CHECKING, Any, cast

from celery import Celery, Task
from celery.beat import PersistentScheduler, ScheduleEntry
from celery.signals import setup_logging, task_postrun, task_prerun

from config.logging import task_id_var, task_name_var

if TYPE_CHECKING:
    from inbox.heartbeat import Heartbeat

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

# Task modules outside the apps' `tasks` modules that autodiscovery reads are listed in
# settings.CELERY_IMPORTS (the heartbeat, webhooks, data protection).
app = Celery("inbox")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

logger = logging.getLogger(__name__)


def survive_lost_broker() -> None:
    """Let a worker that loses Redis while it holds unacknowledged messages reconnect.

    With late acks a busy worker nearly always holds some (the tasks it runs, the one it
    prefetched). When Redis goes away, Celery (5.7) drops the broken connection; kombu's Redis
    channel then still uses it twice: closing the channel tries to put those messages back into
    their queue, and a task that finishes later acknowledges its message on it. Both ask the
    dropped connection for its address and raise AttributeError, which is no connection error,
    so Celery stops the whole worker ("Unrecoverable error") instead of reconnecting: one
    Redis restart stopped every busy worker for good under `manage.py serve`.

    Here a channel whose connection is gone raises redis' ConnectionError instead, which Celery
    and kombu handle: the put-back and the acknowledgement are logged and skipped. The messages
    stay in Redis's unacked set, and Redis hands them out again after the visibility timeout
    (when it kept its data); a task run twice is harmless (polls re-read the cursor,
    deliveries are claimed in the database). tests/reliability/test_service_restarts.py shows
    the worker carrying on.
    """
    import redis
    from kombu.transport import redis as redis_transport

    channel: Any = redis_transport.Channel
    original = channel._connparams
    if getattr(original, "checks_lost_broker", False):
        return

    def _connparams(self: Any, asynchronous: bool = False) -> Any:
        if getattr(self.connection, "client", None) is None:
            raise redis.exceptions.ConnectionError("the connection to the broker was dropped")
        return original(self, asynchronous=asynchronous)

    _connparams.checks_lost_broker = True  # type: ignore[attr-defined]
    channel._connparams = _connparams


survive_lost_broker()

# How often beat records that it is alive; far below the health check's staleness threshold.
BEAT_HEARTBEAT_SECONDS = 5


class HeartbeatScheduler(PersistentScheduler):
    """Celery's persistent scheduler (the schedule file in INBOX_VAR_DIR) that also says it is
    alive: `tick` records beat's heartbeat at most every BEAT_HEARTBEAT_SECONDS, and the worker
    heartbeat task is sent with `sent_at`, the time of sending, so the worker can measure how
    long it waited in the queue.

    A heartbeat that cannot be written (Redis away) is logged and skipped: beat keeps running.
    """

    # Wake at least this often, so the heartbeat stays fresh whatever the schedule holds.
    max_interval = BEAT_HEARTBEAT_SECONDS
    _last_heartbeat: float | None = None
    _written: Heartbeat | None = None

    def tick(self, *args: Any, **kwargs: Any) -> float:
        now = time.monotonic()
        if self._last_heartbeat is None or now - self._last_heartbeat >= BEAT_HEARTBEAT_SECONDS:
            self._last_heartbeat = now
            try:
                self._record_heartbeat()
            except Exception:
                logger.warning("could not record the beat heartbeat", exc_info=True)
        delay: float = super().tick(*args, **kwargs)
        return delay

    def _record_heartbeat(self) -> None:
        # config is imported before Django's settings exist: import the heartbeat when beat runs.
        from inbox.heartbeat import read_heartbeats, record_beat_heartbeat

        if self._written is not None:
            found = read_heartbeats()[1]
            if found is not None and found != self._written:
                # Two beats send every task twice: harmless (claims are locked) but wasteful.
                logger.warning(
                    "another beat process (on %s) records heartbeats too: run exactly one beat",
                    found.hostname,
                )
        self._written = record_beat_heartbeat()

    def apply_async(
        self,
        entry: ScheduleEntry,
        producer: Any = None,
        advance: bool = True,
        **kwargs: Any,
    ) -> Any:
        from inbox.heartbeat import WORKER_HEARTBEAT_TASK

        if entry.task != WORKER_HEARTBEAT_TASK:
            return super().apply_async(entry, producer, advance, **kwargs)
        # Stamp a copy: the schedule keeps (and persists) the entry without a send time.
        # (reserve returns the next ScheduleEntry; celery-types says it may be a heap event.)
        reserved = cast(ScheduleEntry, self.reserve(entry)) if advance else entry
        stamped = copy.copy(reserved)
        stamped.kwargs = {**(reserved.kwargs or {}), "sent_at": time.time()}
        return super().apply_async(stamped, producer, False, **kwargs)


@setup_logging.connect
def use_django_logging(**kwargs: Any) -> None:
    """Keep Django's LOGGING in the worker and beat (JSON lines, one handler).

    Any receiver of this signal stops Celery from replacing the root logger's handlers with its
    own format; Django has configured logging already (django.setup()) or will, from LOGGING.
    """
    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)


# The context to restore after each running task, by task id (a task may run another eagerly)
# and thread (a redelivered task may run twice at once in one worker).
_task_log_tokens: dict[tuple[str, int], tuple[Token[str | None], Token[str | None]]] = {}


@task_prerun.connect
def enter_task_log_context(*, task_id: str, task: Task[Any, Any], **kwargs: Any) -> None:
    """Tag every record the task logs with its id and name (until task_postrun)."""
    _task_log_tokens[task_id, threading.get_ident()] = (
        task_id_var.set(task_id),
        task_name_var.set(task.name),
    )


@task_postrun.connect
def leave_task_log_context(*, task_id: str, **kwargs: Any) -> None:
    tokens = _task_log_tokens.pop((task_id, threading.get_ident()), None)
    if tokens is not None:
        task_id_var.reset(tokens[0])
        task_name_var.reset(tokens[1])
