"""Private Redis and PostgreSQL servers that a test may stop and start, and the product served on
them as separate processes.

The machine's Redis and PostgreSQL are shared with every other test run: a fault-injection test
never touches them. It starts its own servers on free ports in its tmp dir, loads the schema
(and the rows the test made) from the pytest test database with pg_dump, and always stops them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg2
import redis
import requests

from tests.stack import free_port, served, wait_for

PG_BIN = Path("/usr/lib/postgresql/15/bin")
# Product processes started by these helpers tag their database sessions with this name.
APPLICATION_NAME = "inbox-restart-stack"


def _run(command: list[str], *, timeout: float = 60) -> None:
    result = subprocess.run(command, capture_output=True, timeout=timeout, check=False)
    if result.returncode != 0:
        raise AssertionError(
            f"{command[0]} failed ({result.returncode}): {result.stderr.decode(errors='replace')}"
        )


@dataclass
class PrivateRedis:
    """A redis-server of our own. `appendonly` decides whether it survives a restart with its
    data (queued Celery messages, channel layer groups) or comes back empty."""

    directory: Path
    appendonly: bool
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        assert shutil.which("redis-server"), "these tests start their own redis-server: install it"
        self.directory.mkdir(parents=True, exist_ok=True)
        command = [
            "redis-server",
            *("--port", str(self.port), "--bind", "127.0.0.1", "--save", ""),
            *("--appendonly", "yes" if self.appendonly else "no", "--dir", str(self.directory)),
        ]
        log = (self.directory / "redis.log").open("ab")
        self.process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        wait_for(self._answers, timeout=10, what="the private Redis to answer")

    def stop(self) -> None:
        """A clean shutdown (SIGTERM): with AOF on, Redis writes what it holds before exiting."""
        process = self.process
        if process is None:
            return
        self.process = None
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, socket_timeout=2, socket_connect_timeout=2)

    def _answers(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise AssertionError(f"redis-server exited; see {self.directory / 'redis.log'}")
        try:
            return bool(self.client().ping())
        except redis.RedisError:
            return False


@contextmanager
def private_redis(directory: Path, *, appendonly: bool) -> Iterator[PrivateRedis]:
    server = PrivateRedis(directory=directory, appendonly=appendonly)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@dataclass
class PrivatePostgres:
    """A PostgreSQL cluster of our own (initdb in a tmp dir, trust auth on 127.0.0.1), run as the
    postgres user as PostgreSQL requires."""

    directory: Path
    port: int = field(default_factory=free_port)

    @property
    def data(self) -> Path:
        return self.directory / "data"

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def init(self) -> None:
        assert (PG_BIN / "initdb").exists(), f"these tests start their own PostgreSQL: no {PG_BIN}"
        self.directory.mkdir(parents=True, exist_ok=True)
        shutil.chown(self.directory, "postgres")
        self._as_postgres(
            [
                str(PG_BIN / "initdb"),
                *("-D", str(self.data), "-A", "trust", "-U", "postgres"),
                *("-E", "UTF8", "--no-sync"),
            ]
        )

    def start(self) -> None:
        self._pg_ctl("start")

    def restart(self) -> None:
        """`pg_ctl restart -m fast`: every session is cut, the server is back a moment later."""
        self._pg_ctl("restart", "-m", "fast")

    def stop(self, mode: str = "fast") -> None:
        """`pg_ctl stop -m fast`, as a restart does first: every session is cut."""
        self._pg_ctl("stop", "-m", mode)

    def is_running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def connect(self, database: str) -> Any:
        """A psycopg2 connection in autocommit: the test's own reads, outside Django."""
        conn = psycopg2.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname=database, connect_timeout=3
        )
        conn.autocommit = True
        return conn

    def copy_database(self, source_url: str, database: str) -> None:
        """Create `database` here as a copy (schema and rows) of the database at `source_url`:
        a pg_dump of the migrated test database loads in a fraction of a second, where
        `migrate` takes several (measured: 0.3 s against 6.7 s)."""
        self._psql("postgres", f'CREATE DATABASE "{database}"')
        dump = subprocess.Popen(
            ["pg_dump", "--no-owner", "--no-privileges", source_url], stdout=subprocess.PIPE
        )
        try:
            load = subprocess.run(
                ["psql", "-q", "-v", "ON_ERROR_STOP=1", "-o", os.devnull, self.url(database)],
                stdin=dump.stdout,
                capture_output=True,
                timeout=60,
                check=False,
            )
        finally:
            if dump.stdout:
                dump.stdout.close()
            dumped = dump.wait(timeout=30)
        assert dumped == 0, "pg_dump of the test database failed"
        assert load.returncode == 0, f"loading the dump failed: {load.stderr.decode()}"

    def _psql(self, database: str, sql: str) -> None:
        _run(["psql", "-q", "-v", "ON_ERROR_STOP=1", "-c", sql, self.url(database)])

    def _pg_ctl(self, action: str, *args: str) -> None:
        options = (
            f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1"
            # Throwaway data: no fsync, so a restart costs no disk flushes on a busy CI machine.
            " -c fsync=off -c full_page_writes=off"
        )
        log = str(self.directory / "postgres.log")
        self._as_postgres(
            [
                *(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-o", options, "-l", log),
                *("-w", "-t", "30", action, *args),
            ]
        )

    def _as_postgres(self, command: list[str]) -> None:
        # PostgreSQL refuses to run as root.
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        _run([*prefix, *command])


@contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    # Not under pytest's tmp_path: its folders are private to root, and the postgres user must
    # reach the cluster's directory.
    directory = Path(tempfile.mkdtemp(prefix="inbox-restart-pg-"))
    server = PrivatePostgres(directory=directory)
    try:
        server.init()
        server.start()
        yield server
    finally:
        if server.is_running():
            with suppress(AssertionError):
                server.stop("immediate")
        shutil.rmtree(directory, ignore_errors=True)


@dataclass
class Stack:
    base_url: str
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@contextmanager
def served_stack(
    *, database_url: str, redis_url: str, var_dir: Path, log_path: Path, **env: str
) -> Iterator[Stack]:
    """The product (tests.stack.served) on the given database and Redis, with the production
    default of persistent database connections, which a restart breaks."""
    with served(
        database_url=database_url,
        redis_url=redis_url,
        var_dir=var_dir,
        log_path=log_path,
        application_name=APPLICATION_NAME,
        **{"DATABASE_CONN_MAX_AGE": "60", **env},
    ) as base_url:
        yield Stack(base_url=base_url, log_path=log_path)


def login(base_url: str, username: str, password: str) -> requests.Session:
    """A browser-like session logged in through the login form (CSRF cookie and token)."""
    session = requests.Session()
    session.headers["Referer"] = base_url + "/"
    session.get(base_url + "/accounts/login/", timeout=10).raise_for_status()
    response = session.post(
        base_url + "/accounts/login/",
        data={
            "username": username,
            "password": password,
            "csrfmiddlewaretoken": session.cookies["csrftoken"],
        },
        timeout=10,
        allow_redirects=False,
    )
    assert response.status_code == 302, f"login failed: {response.status_code}"
    return session


def monotonic_deadline(seconds: float) -> float:
    return time.monotonic() + seconds
