"""Start the product as separate processes (Daphne, Celery worker and beat) for end-to-end tests.

The processes use the test database and the real Redis, so what a test writes is what they see.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import requests
from django.conf import settings

from bench.topology import free_port, wait_for

ROOT = Path(__file__).resolve().parents[1]
STACK_APPLICATION_NAME = "inbox-e2e-stack"


def test_database_url() -> str:
    db: Any = settings.DATABASES["default"]
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@contextmanager
def served(
    *,
    database_url: str,
    redis_url: str,
    var_dir: Path,
    log_path: Path,
    application_name: str = STACK_APPLICATION_NAME,
    **env: str,
) -> Iterator[str]:
    """`manage.py serve` in services mode (Daphne, Celery worker and beat as processes) on the
    given database and Redis; yields the base URL, stops every process after. `env` adds or
    overrides settings."""
    port = free_port()
    environment = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        # A queue of its own: messages left in Redis by other runs are never picked up here.
        "CELERY_QUEUE": f"inbox-e2e-{uuid.uuid4().hex[:8]}",
        "CHANNEL_LAYER_PREFIX": f"inbox-e2e-{uuid.uuid4().hex[:8]}",
        "POLL_DISPATCH_SECONDS": "0.5",
        "INBOX_VAR_DIR": str(var_dir),
        "PYTHONUNBUFFERED": "1",
        # libpq tags the stack's database sessions, so teardown can wait for exactly those.
        "PGAPPNAME": application_name,
        **env,
    }
    log = log_path.open("wb")
    process = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--port", str(port)],
        cwd=ROOT,
        env=environment,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:

        def serving() -> bool:
            if process.poll() is not None:
                raise AssertionError(f"the server exited; see {log_path}")
            try:
                return requests.get(base_url + "/accounts/login/", timeout=1).status_code == 200
            except requests.RequestException:
                return False

        wait_for(serving, timeout=60, what="the web process to serve", interval=0.25)
        yield base_url
    finally:
        process.terminate()
        with suppress(subprocess.TimeoutExpired):
            process.wait(timeout=15)
        # Children (worker, beat) share the session: make sure none outlives the test.
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)
        log.close()


@contextmanager
def running_stack(var_dir: Path, *, log_path: Path) -> Iterator[str]:
    """The product on the test database and the real Redis; yields the base URL. After it, waits
    until the stack's database sessions are gone (the test database is dropped next)."""
    try:
        with served(
            database_url=test_database_url(),
            redis_url=os.environ["REDIS_URL"],
            var_dir=var_dir,
            log_path=log_path,
        ) as base_url:
            yield base_url
    finally:
        wait_for(_stack_sessions_closed, timeout=15, what="the stack's database sessions to end")


def start_worker(queue: str, log: Path, **env: str) -> subprocess.Popen[bytes]:
    """A real `celery worker` on the test database and Redis, consuming only `queue`, in a process
    group of its own (so a SIGKILL of the group reaches every process of it)."""
    process_env = {
        **os.environ,
        "DATABASE_URL": test_database_url(),
        "CELERY_QUEUE": queue,
        "PYTHONUNBUFFERED": "1",
        **env,
    }
    return subprocess.Popen(
        [
            *(sys.executable, "-m", "celery", "-A", "config", "worker", "--pool", "threads"),
            *("--concurrency", "4", "--without-heartbeat", "--without-mingle", "--without-gossip"),
            *("-Q", queue, "--loglevel", "INFO"),
        ],
        cwd=ROOT,
        env=process_env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _stack_sessions_closed() -> bool:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND application_name = %s",
            [STACK_APPLICATION_NAME],
        )
        (sessions,) = cursor.fetchone()
    return bool(sessions == 0)
