"""Benchmark live updates under load: from an item created on the platform to every browser
allowed to see it, on the production topology.

Usage (from the project root; PostgreSQL and Redis as in production):
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/inbox_bench_l \\
    REDIS_URL=redis://127.0.0.1:6379/0 .venv/bin/python bench/live.py \\
        [--clients 50,200,1000] [--rate 100] [--seconds 60]

What it shows: two Daphne web processes, two Celery workers (threads pool, as `manage.py serve`)
and beat on PostgreSQL and Redis (bench/topology.py); fake Mastodon instances in this process,
one per channel, in departments that each own a share of the channels; for each client count,
that many websockets (one asyncio process, `websockets`) logged in as agents of the departments,
spread over the web processes. Items are created on the fakes at `--rate` per second for
`--seconds`, each carrying its sequence number in its text ("bench-seq-0000123"); the workers poll
(every second, the shortest interval a channel may have), ingest and publish; each client records
when a frame for an item first arrives. Printed per client count:

- latency, platform created -> client received (p50, p95, p99), split into platform -> ingested
  (the message row's creation inside the ingest transaction: mostly the poll wait) and
  ingested -> client (commit, rendering, channel layer, Daphne, websocket);
- lost: items of a client's channels that never reached it (by sequence number; must be 0);
- leaked: items of channels the client's user may not see that reached it (must be 0);
- CPU seconds of the web, worker and beat processes (and of the clients and this process, which
  share the machine) and their share of the phase;
- the baseline: a bare `channel_layer.group_send` of a payload of the same size, at the same
  rate, into the same channel groups the consumers listen on, so it reaches the same clients
  through the same Daphne processes and consumers (as inbox.live.send_events does: a
  "live.events" message with the event encoded once, which the consumer forwards); its
  latency and the ratio p95(app) / p95(bare).

PASS/FAIL lines against the targets (p95 <= 1 s, ratio <= 10, nothing lost, nothing leaked) are
printed; the exit code is 1 only when the bench itself broke. It deletes what it created (the
run's channels with their conversations, contacts, users, departments and sessions).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import pickle
import re
import subprocess
import sys
import threading
import time
import uuid
from array import array
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.topology import (  # noqa: E402
    running_topology,
    services_or_exit,
    serving_fake_mastodons,
    wait_for,
)
from config.create_database import ensure_database  # noqa: E402  (needs ROOT on the path)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

APP_MARK = "bench-seq-"
BARE_MARK = "bench-bare-"
SEQ_DIGITS = 7
# Live events are JSON objects whose first key is their type.
TYPE_RE = re.compile(r'\{"type": "([^"]+)"')
ROW_EVENTS = {"conversation.changed", "message.changed"}
TOKEN = "bench-token"  # noqa: S105  (the fakes' token, not a secret)
TEXTS = [
    "Hallo, wo bleibt meine Bestellung? Seit einer Woche kein Versand, bitte melden.",
    "The app logs me out every few minutes since the update. Anyone else?",
    "Danke für die schnelle Hilfe gestern, das Problem ist gelöst!",
    "Why was I charged twice for my subscription this month? Please check.",
]
# Readiness and draining deadlines: generous, the machine is shared.
CLIENTS_READY_TIMEOUT = 300
CONNECT_ATTEMPTS = 5
DRAIN_QUIET_SECONDS = 15
DRAIN_TIMEOUT = 120


# The client process --------------------------------------------------------------------------


class ClientState:
    """What one websocket received: sequence numbers and arrival times, app and bare apart."""

    def __init__(self) -> None:
        self.app_seq = array("l")
        self.app_at = array("d")
        self.bare_seq = array("l")
        self.bare_at = array("d")
        self.other_seq = array("l")
        self.other_at = array("d")
        self.app_bytes = 0
        self.types: Counter[str] = Counter()
        self.closed = ""

    def record(self, frame: str, now: float) -> None:
        start = frame.find("bench-")
        if start < 0:
            return
        if frame.startswith(APP_MARK, start):
            begin = start + len(APP_MARK)
            seq = int(frame[begin : begin + SEQ_DIGITS])
            match = TYPE_RE.match(frame)
            kind = match.group(1) if match else "?"
            self.types[kind] += 1
            # The list row (or the message in an open thread) is what shows the item; the
            # notification the same item causes is counted apart.
            if kind in ROW_EVENTS:
                self.app_seq.append(seq)
                self.app_at.append(now)
                self.app_bytes += len(frame)
            else:
                self.other_seq.append(seq)
                self.other_at.append(now)
        elif frame.startswith(BARE_MARK, start):
            begin = start + len(BARE_MARK)
            self.bare_seq.append(int(frame[begin : begin + SEQ_DIGITS]))
            self.bare_at.append(now)


async def _listen(url: str, cookie: str, ready: asyncio.Semaphore, retries: list[int]) -> Any:
    import websockets

    uri = url.replace("http://", "ws://") + "/ws/live/"
    async with ready:  # a thousand handshakes at once would only time out
        for attempt in range(CONNECT_ATTEMPTS):
            try:
                connection = await websockets.connect(
                    uri,
                    additional_headers={"Cookie": cookie, "Origin": url},
                    compression=None,
                    ping_interval=None,
                    open_timeout=60,
                    max_size=None,
                )
                hello = await asyncio.wait_for(connection.recv(), 60)
            except (OSError, TimeoutError, websockets.exceptions.WebSocketException):
                # A busy server drops a handshake now and then; live.js reconnects, so do we.
                if attempt == CONNECT_ATTEMPTS - 1:
                    raise
                retries.append(1)
                await asyncio.sleep(1 + attempt)
                continue
            if '"hello"' not in hello:
                raise RuntimeError(f"expected hello, got {hello[:200]!r}")
            return connection
    raise AssertionError("unreachable")


async def _receive(connection: Any, state: ClientState) -> None:
    try:
        async for frame in connection:
            state.record(frame, time.time())
    except Exception as exc:  # a dropped socket is reported, not fatal
        state.closed = f"{type(exc).__name__}: {exc}"


async def _client_main(spec: dict[str, Any], out: Path) -> None:
    states = [ClientState() for _ in spec["clients"]]
    ready = asyncio.Semaphore(20)
    retries: list[int] = []
    connections = await asyncio.gather(
        *(_listen(client["url"], client["cookie"], ready, retries) for client in spec["clients"])
    )
    receivers = [
        asyncio.create_task(_receive(connection, state))
        for connection, state in zip(connections, states, strict=True)
    ]
    print(f"ready {len(retries)}", flush=True)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while True:
        line = (await reader.readline()).decode().strip()
        if line == "count" or not line:
            counts = {
                "app": sum(len(state.app_seq) for state in states),
                "bare": sum(len(state.bare_seq) for state in states),
                "other": sum(len(state.other_seq) for state in states),
                "app_bytes": sum(state.app_bytes for state in states),
                "closed": sum(1 for state in states if state.closed),
                "types": dict(sum((state.types for state in states), Counter())),
            }
            print(json.dumps(counts), flush=True)
        if line == "stop" or not line:
            break
    for connection in connections:
        with suppress(Exception):
            await connection.close()
    for receiver in receivers:
        receiver.cancel()
    dump = [
        {
            "app_seq": state.app_seq.tobytes(),
            "app_at": state.app_at.tobytes(),
            "bare_seq": state.bare_seq.tobytes(),
            "bare_at": state.bare_at.tobytes(),
            "other_seq": state.other_seq.tobytes(),
            "other_at": state.other_at.tobytes(),
            "closed": state.closed,
        }
        for state in states
    ]
    out.write_bytes(pickle.dumps(dump))
    print("done", flush=True)


def client_process_main(spec_path: Path, out: Path) -> int:
    spec = json.loads(spec_path.read_text())
    asyncio.run(_client_main(spec, out))
    return 0


class ClientProcess:
    """One client process: its slice of the clients, spoken to over stdin/stdout."""

    def __init__(self, clients: list[dict[str, Any]], work_dir: Path, n: int) -> None:
        self.spec = work_dir / f"clients-{n}.json"
        self.out = work_dir / f"clients-{n}.pickle"
        self.log = work_dir / f"clients-{n}.log"
        self.spec.write_text(json.dumps({"clients": clients}))
        self.stderr = self.log.open("wb")
        command = [sys.executable, __file__, "--client-spec", str(self.spec)]
        self.popen = subprocess.Popen(
            [*command, "--client-out", str(self.out)],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            text=True,
        )
        self.lines: list[str] = []
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        stdout: IO[str] | None = self.popen.stdout
        assert stdout is not None
        for line in stdout:
            with self._lock:
                self.lines.append(line.strip())

    def _expect(self, predicate: Any, what: str, timeout: float) -> str:
        def found() -> str | None:
            if self.popen.poll() is not None:
                raise RuntimeError(f"the client process exited; see {self.log}")
            with self._lock:
                for index, line in enumerate(self.lines):
                    if predicate(line):
                        del self.lines[: index + 1]
                        return line
            return None

        return str(wait_for(found, timeout=timeout, what=what, interval=0.05))

    def wait_ready(self) -> int:
        """Wait until every client has its hello; returns the handshakes that were retried."""
        line = self._expect(
            lambda line: line.startswith("ready"), "the clients to connect", CLIENTS_READY_TIMEOUT
        )
        return int(line.split()[1])

    def _command(self, command: str) -> None:
        stdin = self.popen.stdin
        assert stdin is not None
        stdin.write(command + "\n")
        stdin.flush()

    def counts(self) -> dict[str, Any]:
        self._command("count")
        line = self._expect(lambda line: line.startswith("{"), "the clients' counts", 300)
        counts: dict[str, Any] = json.loads(line)
        return counts

    def stop(self) -> list[dict[str, Any]]:
        self._command("stop")
        self._expect(lambda line: line == "done", "the clients to write their results", 120)
        self.popen.wait(timeout=30)
        results: list[dict[str, Any]] = pickle.loads(self.out.read_bytes())  # noqa: S301  (ours)
        return results

    def kill(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait(timeout=10)
        self.stderr.close()


# The workspace ------------------------------------------------------------------------------


@dataclass
class Workspace:
    run: str
    channel_ids: list[int]  # by channel index
    channel_department: list[int]  # department index of each channel
    fakes: list[Any]
    users_by_department: list[list[Any]]
    department_ids: list[int]
    scopes: list[str]
    session_keys: list[str] = field(default_factory=list)

    def allowed(self, department: int) -> set[int]:
        """Channel indexes an agent of this department may see."""
        return {i for i, d in enumerate(self.channel_department) if d == department}


def build_workspace(run: str, served: list[tuple[Any, str]], args: argparse.Namespace) -> Workspace:
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from channels_integrations.models import ChannelAccount, Platform
    from inbox.models import Department, Membership, MembershipRole

    departments = [
        Department.objects.create(name=f"Bench live {run} {d}", slug=f"bench-live-{run}-{d}")
        for d in range(args.departments)
    ]
    channel_ids, channel_department = [], []
    for index, (_fake, url) in enumerate(served):
        channel = ChannelAccount(
            platform=Platform.MASTODON,
            name=f"bench live {run} {index}",
            settings={"base_url": url},
            poll_interval_seconds=1,
            next_poll_at=timezone.now(),
            cursor={"min_id": "0"},
        )
        channel.set_credentials({"access_token": TOKEN})
        channel.save()
        department = index % args.departments
        departments[department].channel_accounts.add(channel)
        channel_ids.append(channel.pk)
        channel_department.append(department)
    users_by_department = []
    user_model = get_user_model()
    for d, department in enumerate(departments):
        users = []
        for u in range(args.users_per_department):
            user = user_model.objects.create_user(username=f"bench-live-{run}-{d}-{u}")
            Membership.objects.create(user=user, department=department, role=MembershipRole.AGENT)
            users.append(user)
        users_by_department.append(users)
    return Workspace(
        run=run,
        channel_ids=channel_ids,
        channel_department=channel_department,
        fakes=[fake for fake, _url in served],
        users_by_department=users_by_department,
        department_ids=[department.pk for department in departments],
        scopes=[urlsplit(url).netloc for _fake, url in served],
    )


def make_sessions(workspace: Workspace, users: Sequence[Any]) -> list[str]:
    """One session per client, as one per browser, written straight into the session store."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    cookies = []
    for user in users:
        session = SessionStore()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.create()
        assert session.session_key is not None
        workspace.session_keys.append(session.session_key)
        cookies.append(f"{settings.SESSION_COOKIE_NAME}={session.session_key}")
    return cookies


def delete_workspace(workspace: Workspace) -> None:
    from django.contrib.auth import get_user_model
    from django.contrib.sessions.models import Session

    from channels_integrations.models import ChannelAccount
    from inbox.models import Contact, Department, Person

    Session.objects.filter(session_key__in=workspace.session_keys).delete()
    ChannelAccount.objects.filter(pk__in=workspace.channel_ids).delete()
    contacts = Contact.objects.filter(scope__in=workspace.scopes)
    person_ids = list(contacts.values_list("person_id", flat=True))
    contacts.delete()
    Person.objects.filter(pk__in=person_ids, contacts__isnull=True).delete()
    get_user_model().objects.filter(username__startswith=f"bench-live-{workspace.run}-").delete()
    Department.objects.filter(pk__in=workspace.department_ids).delete()


# Measuring ----------------------------------------------------------------------------------


def cpu_seconds(pids: dict[str, list[int]]) -> dict[str, float]:
    import psutil

    seconds = {}
    for role, role_pids in pids.items():
        total = 0.0
        for pid in role_pids:
            with suppress(psutil.NoSuchProcess):
                times = psutil.Process(pid).cpu_times()
                total += times.user + times.system
        seconds[role] = total
    return seconds


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest rank on sorted values."""
    if not values:
        return float("nan")
    return values[min(len(values) - 1, max(0, math.ceil(q * len(values)) - 1))]


def spread(values: list[float]) -> str:
    values.sort()
    if not values:
        return "no samples"
    return (
        f"p50 {percentile(values, 0.5) * 1000:7.0f} ms  p95 {percentile(values, 0.95) * 1000:7.0f}"
        f" ms  p99 {percentile(values, 0.99) * 1000:7.0f} ms  (n={len(values):,})"
    )


def paced(count: int, rate: float) -> Iterator[int]:
    """0..count-1, each yielded at its slot (start + k/rate); late slots go at once."""
    start = time.monotonic()
    for k in range(count):
        delay = start + k / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        yield k


def create_items(workspace: Workspace, first_seq: int, count: int, rate: float) -> dict[int, Any]:
    """Items on the fakes, channel after channel; seq -> (time stored, channel index)."""
    created: dict[int, tuple[float, int]] = {}
    channels = len(workspace.fakes)
    for k in paced(count, rate):
        seq = first_seq + k
        index = k % channels
        at = time.time()  # taken before the fake stores it: the latency is never flattered
        workspace.fakes[index].add_mention(
            f"{APP_MARK}{seq:0{SEQ_DIGITS}d} {TEXTS[seq % len(TEXTS)]}",
            username=f"kunde{seq % 500}",
            display_name=f"Kunde {seq % 500}",
        )
        created[seq] = (at, index)
    return created


def bare_payload(seq: int, size: int) -> dict[str, Any]:
    """A live event like an ingest's new row, padded to `size` characters of JSON."""
    payload: dict[str, Any] = {
        "type": "conversation.changed",
        "conversation_id": 0,
        "created": True,
        "facts": {},
        "was": None,
        "sort": {},
        "html": f'<li class="conv-row">{BARE_MARK}{seq:0{SEQ_DIGITS}d} </li>',
        "head_html": "",
    }
    missing = size - len(json.dumps(payload))
    if missing > 0:
        payload["html"] = payload["html"][:-5] + "x" * missing + "</li>"
    return payload


def send_bare(
    workspace: Workspace, first_seq: int, count: int, rate: float, size: int
) -> dict[int, Any]:
    """The baseline: one group_send per item into its channel's group, nothing else."""
    from channels.layers import get_channel_layer

    from inbox.live import channel_group

    layer = get_channel_layer()
    created: dict[int, tuple[float, int]] = {}
    groups = [channel_group(pk) for pk in workspace.channel_ids]

    async def send_all() -> None:
        loop = asyncio.get_running_loop()
        start = loop.time()
        for k in range(count):
            delay = start + k / rate - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            seq = first_seq + k
            index = k % len(groups)
            # What inbox.live.send_events sends: one message, the event encoded once.
            message = {"type": "live.events", "texts": [json.dumps(bare_payload(seq, size))]}
            at = time.time()
            await layer.group_send(groups[index], message)
            created[seq] = (at, index)

    asyncio.run(send_all())
    return created


def drain(clients: list[ClientProcess], key: str, expected: int) -> int:
    """Wait until the clients got `expected` frames of `key`, or nothing arrived for a while."""
    deadline = time.monotonic() + DRAIN_TIMEOUT
    last, last_change = -1, time.monotonic()
    while True:
        received = sum(client.counts()[key] for client in clients)
        if received != last:
            last, last_change = received, time.monotonic()
        quiet = time.monotonic() - last_change
        if received >= expected or quiet > DRAIN_QUIET_SECONDS or time.monotonic() > deadline:
            return received
        time.sleep(0.5)


def ingested_at(workspace: Workspace) -> dict[int, float]:
    """seq -> when ingest created the message row (inside its transaction, before commit)."""
    from inbox.models import Message

    pattern = re.compile(re.escape(APP_MARK) + r"(\d{" + str(SEQ_DIGITS) + "})")
    found = {}
    rows = Message.objects.filter(channel_account_id__in=workspace.channel_ids).values_list(
        "text", "created_at"
    )
    for text, created in rows.iterator():
        match = pattern.search(text or "")
        if match:
            found[int(match.group(1))] = created.timestamp()
    return found


@dataclass
class Scenario:
    clients: int
    items: int
    generate_seconds: float
    load: tuple[float, float, float]
    connect_seconds: float
    retried: int
    app: list[float] = field(default_factory=list)
    platform_to_ingest: list[float] = field(default_factory=list)
    ingest_to_client: list[float] = field(default_factory=list)
    notifications: list[float] = field(default_factory=list)
    bare: list[float] = field(default_factory=list)
    expected: int = 0
    lost: int = 0
    leaked: int = 0
    bare_lost: int = 0
    duplicates: int = 0
    dropped_sockets: int = 0
    frame_size: int = 0
    frame_types: dict[str, int] = field(default_factory=dict)
    app_wall: float = 0.0
    bare_wall: float = 0.0
    app_cpu: dict[str, float] = field(default_factory=dict)
    bare_cpu: dict[str, float] = field(default_factory=dict)


def run_scenario(
    n_clients: int,
    topology: Any,
    workspace: Workspace,
    args: argparse.Namespace,
    first_seq: int,
    work_dir: Path,
) -> Scenario:
    departments = len(workspace.users_by_department)
    users, client_departments = [], []
    for i in range(n_clients):
        department = i % departments
        pool = workspace.users_by_department[department]
        users.append(pool[(i // departments) % len(pool)])
        client_departments.append(department)
    cookies = make_sessions(workspace, users)
    urls = topology.web_urls
    specs = [{"url": urls[i % len(urls)], "cookie": cookies[i]} for i in range(n_clients)]
    parts = max(1, min(args.client_processes, n_clients))
    clients = [ClientProcess(specs[p::parts], work_dir, p) for p in range(parts)]
    order = [i for p in range(parts) for i in range(p, n_clients, parts)]
    allowed = [workspace.allowed(d) for d in range(departments)]
    channels = len(workspace.channel_ids)
    items = int(args.rate * args.seconds)
    expected = sum(
        len(range(index, items, channels)) for d in client_departments for index in allowed[d]
    )
    try:
        connect_started = time.monotonic()
        retried = sum(client.wait_ready() for client in clients)
        connect_seconds = time.monotonic() - connect_started
        pids = {
            **topology.pids(),
            "clients": [client.popen.pid for client in clients],
            "bench": [os.getpid()],
        }
        # Warm-up, not measured: every worker thread's first ingest loads the classifier and
        # templates, and every socket's first events pay for lazy set-ups.
        warm = 3 * channels
        warm_expected = sum(
            len(range(index, warm, channels)) for d in client_departments for index in allowed[d]
        )
        create_items(workspace, first_seq, warm, args.rate)
        drain(clients, "app", warm_expected)
        first_seq += warm
        load = os.getloadavg()
        before = {
            key: sum(client.counts()[key] for client in clients) for key in ("app", "bare", "other")
        }

        cpu_before, started = cpu_seconds(pids), time.monotonic()
        created = create_items(workspace, first_seq, items, args.rate)
        generate_seconds = time.monotonic() - started
        drain(clients, "app", before["app"] + expected)
        app_wall = time.monotonic() - started
        # The notifications the items caused trail the rows; the baseline starts after them.
        drain(clients, "other", before["other"] + expected)
        app_cpu = _delta(cpu_seconds(pids), cpu_before)
        topology.check_alive()

        counts = [client.counts() for client in clients]
        frames = sum(count["app"] for count in counts)
        size = sum(count["app_bytes"] for count in counts) // max(1, frames)
        frame_types: Counter[str] = Counter()
        for count in counts:
            frame_types.update(count["types"])
        cpu_before, started = cpu_seconds(pids), time.monotonic()
        bare_created = send_bare(workspace, first_seq + items, items, args.rate, size)
        drain(clients, "bare", before["bare"] + expected)
        bare_wall = time.monotonic() - started
        bare_cpu = _delta(cpu_seconds(pids), cpu_before)
        topology.check_alive()

        results_by_part = [client.stop() for client in clients]
    finally:
        for client in clients:
            client.kill()
    flat = [result for part in results_by_part for result in part]
    results: dict[int, dict[str, Any]] = dict(zip(order, flat, strict=True))

    ingested = ingested_at(workspace)
    scenario = Scenario(
        clients=n_clients,
        items=items,
        generate_seconds=generate_seconds,
        load=load,
        connect_seconds=connect_seconds,
        retried=retried,
        platform_to_ingest=[
            ingested[seq] - at for seq, (at, _index) in created.items() if seq in ingested
        ],
        expected=expected,
        dropped_sockets=sum(1 for result in results.values() if result["closed"]),
        frame_size=size,
        frame_types=dict(frame_types),
        app_wall=app_wall,
        bare_wall=bare_wall,
        app_cpu=app_cpu,
        bare_cpu=bare_cpu,
    )
    for i, department in enumerate(client_departments):
        result, seen = results[i], allowed[department]
        rows = _first_arrivals(result["app_seq"], result["app_at"])
        scenario.duplicates += len(result["app_seq"]) // array("l").itemsize - len(rows)
        others = _first_arrivals(result["other_seq"], result["other_at"])
        bare = _first_arrivals(result["bare_seq"], result["bare_at"])
        for seq, (at, index) in created.items():
            arrived = rows.get(seq)
            if index not in seen:
                scenario.leaked += (arrived is not None) + (seq in others)
            elif arrived is None:
                scenario.lost += 1
            else:
                scenario.app.append(arrived - at)
                if seq in ingested:
                    scenario.ingest_to_client.append(arrived - ingested[seq])
                if seq in others:
                    scenario.notifications.append(others[seq] - at)
        for seq, (at, index) in bare_created.items():
            arrived = bare.get(seq)
            if index not in seen:
                scenario.leaked += arrived is not None
            elif arrived is None:
                scenario.bare_lost += 1
            else:
                scenario.bare.append(arrived - at)
    return scenario


def _first_arrivals(seq_bytes: bytes, at_bytes: bytes) -> dict[int, float]:
    seqs, ats = array("l"), array("d")
    seqs.frombytes(seq_bytes)
    ats.frombytes(at_bytes)
    first: dict[int, float] = {}
    for seq, at in zip(seqs, ats, strict=True):
        if seq not in first:
            first[seq] = at
    return first


def _delta(after: dict[str, float], before: dict[str, float]) -> dict[str, float]:
    return {role: after[role] - before.get(role, 0.0) for role in after}


# Reporting ----------------------------------------------------------------------------------


def report(scenario: Scenario, args: argparse.Namespace) -> None:
    print(
        f"\n== {scenario.clients} clients: {scenario.items:,} items at {args.rate:g}/s"
        f" (created in {scenario.generate_seconds:.1f} s); frame {scenario.frame_size:,} chars;"
        f" load average before {scenario.load[0]:.1f}"
    )
    print(
        f"  clients connected in {scenario.connect_seconds:.0f} s"
        f" ({scenario.retried} handshakes retried)"
    )
    print(f"  app   platform -> client     {spread(scenario.app)}")
    print(f"        platform -> ingested   {spread(scenario.platform_to_ingest)}")
    print(f"        ingested -> client     {spread(scenario.ingest_to_client)}")
    print(f"        notification (same item) {spread(scenario.notifications)}")
    print(f"  bare  group_send -> client   {spread(scenario.bare)}")
    app95, bare95 = percentile(scenario.app, 0.95), percentile(scenario.bare, 0.95)
    ratio = app95 / bare95 if bare95 > 0 else float("inf")
    print(f"  ratio p95 app / bare         {ratio:.1f}")
    print(
        f"  lost  {scenario.lost:,} of {scenario.expected:,} (bare: {scenario.bare_lost:,});"
        f" leaked {scenario.leaked:,}; duplicates {scenario.duplicates:,};"
        f" sockets dropped {scenario.dropped_sockets}"
    )
    kinds = ", ".join(f"{kind} {count:,}" for kind, count in sorted(scenario.frame_types.items()))
    print(f"  frames naming an item        {kinds}")
    for name, cpu, wall in (
        ("app ", scenario.app_cpu, scenario.app_wall),
        ("bare", scenario.bare_cpu, scenario.bare_wall),
    ):
        parts = "  ".join(
            f"{role} {seconds:6.1f} s ({seconds / wall * 100:3.0f}%)"
            for role, seconds in cpu.items()
        )
        print(f"  CPU {name} phase ({wall:.0f} s): {parts}")
    verdicts = [
        (app95 <= 1.0, f"p95 platform -> client {app95 * 1000:.0f} ms (target <= 1000 ms)"),
        (ratio <= 10, f"p95 app / bare group_send {ratio:.1f} (target <= 10)"),
        (scenario.lost == 0, f"{scenario.lost} events lost (target 0)"),
        (scenario.leaked == 0, f"{scenario.leaked} events leaked (target 0)"),
    ]
    for ok, line in verdicts:
        print(f"  {'PASS' if ok else 'FAIL'}: {line}")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--clients", default="50,200,1000", help="client counts, comma-separated")
    parser.add_argument("--rate", type=float, default=100.0, help="items created per second")
    parser.add_argument("--seconds", type=float, default=60.0, help="how long items are created")
    parser.add_argument("--channels", type=int, default=12)
    parser.add_argument("--departments", type=int, default=4)
    parser.add_argument("--users-per-department", type=int, default=5)
    parser.add_argument("--webs", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--client-processes", type=int, default=1)
    parser.add_argument("--dispatch-seconds", type=float, default=0.2)
    parser.add_argument("--client-spec", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--client-out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client_spec:
        sys.exit(client_process_main(args.client_spec, args.client_out))

    url, name, redis_url = services_or_exit(redis_because="the topology runs on Redis")
    try:
        client_counts = [int(part) for part in args.clients.split(",") if part.strip()]
    except ValueError:
        print("--clients takes numbers, e.g. 50,200,1000", file=sys.stderr)
        sys.exit(2)

    # This process sends the baseline into the topology's channel layer: same prefix.
    run = uuid.uuid4().hex[:8]
    private = {"CELERY_QUEUE": f"inbox-bench-live-{run}", "CHANNEL_LAYER_PREFIX": f"bench-{run}"}
    os.environ.update(private)
    ensure_database(url, name)

    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    work_dir = ROOT / "var" / f"bench-live-{run}"
    print(
        f"bench/live.py: {args.webs} Daphne, {args.workers} Celery workers (threads, 8), beat;"
        f" {args.channels} channels (fake Mastodon in this process, polled every 1 s, dispatch"
        f" every {args.dispatch_seconds:g} s) in {args.departments} departments;"
        f" logs in {work_dir}"
    )
    print(
        f"machine: {os.cpu_count()} cores shared by the web, worker and beat processes, the"
        f" client process(es) and this one (fakes and item creation); load {os.getloadavg()}"
    )
    scenarios = []
    try:
        with serving_fake_mastodons(args.channels, token=TOKEN) as served:
            workspace = build_workspace(run, served, args)
            try:
                with (
                    _paused_other_channels(workspace),
                    running_topology(
                        database_url=url,
                        redis_url=redis_url,
                        log_dir=work_dir,
                        webs=args.webs,
                        workers=args.workers,
                        poll_dispatch_seconds=args.dispatch_seconds,
                        extra_env=private,
                    ) as topology,
                ):
                    first_seq = 1
                    for count in client_counts:
                        scenario = run_scenario(
                            count, topology, workspace, args, first_seq, work_dir
                        )
                        first_seq += 3 * scenario.items + 1000
                        report(scenario, args)
                        scenarios.append(scenario)
            finally:
                delete_workspace(workspace)
    except Exception as exc:
        print(f"the bench broke: {type(exc).__name__}: {exc}", file=sys.stderr)
        raise
    print(
        "\nLatency from the platform includes the poll wait: a channel is polled about once a"
        " second (interval 1 s after the previous poll ended, plus up to one dispatch period),"
        " so about half a second of it is waiting for the next poll."
    )


@contextmanager
def _paused_other_channels(workspace: Workspace) -> Iterator[None]:
    """Only the run's channels are polled: others in the database (left by other runs, pointing
    at fakes long gone) would only add failures to the workers' load."""
    from django.utils import timezone

    from channels_integrations.models import ChannelAccount

    others = ChannelAccount.objects.exclude(pk__in=workspace.channel_ids)
    saved = list(others.values_list("pk", "next_poll_at"))
    others.update(next_poll_at=timezone.now() + timedelta(days=1))
    try:
        yield
    finally:
        for pk, when in saved:
            ChannelAccount.objects.filter(pk=pk).update(next_poll_at=when)


if __name__ == "__main__":
    main()
