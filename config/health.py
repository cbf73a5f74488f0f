"""GET /healthz: can this deployment do its work? The database, Redis (when configured), and the
heartbeats of the Celery worker and beat (inbox/heartbeat.py).

- "down" (HTTP 503): the database does not answer; this web process cannot serve, and a load
  balancer should take it out;
- "degraded" (HTTP 200): Redis does not answer (pages and sign-ins still work from PostgreSQL;
  live updates pause, and new polls and deliveries wait until it is back: every web process sees
  the same Redis, so taking them all out would turn a Redis blip into an outage), or the worker
  or beat heartbeat is stale or missing, or the queue lags. `?strict=1` (for monitoring)
  answers 503 then;
- "ok" (HTTP 200).

Cheap enough to call every few seconds: one `SELECT 1`, one Redis PING, one cache read, each
bounded by a short timeout. The body names no host, address or error message of the backing
services (only the exception's class): it is served to anyone who can reach the site.

`python -m config.health worker|beat` prints one heartbeat's check and exits 0 when it is ok:
the beat container's health check.
"""

from __future__ import annotations

import functools
import json
import sys
import time
from datetime import UTC, datetime
from typing import Any

import redis
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from redis.backoff import NoBackoff
from redis.retry import Retry

from inbox.heartbeat import Heartbeat, heartbeat_max_age, is_lagging, read_heartbeats

# Seconds the Redis check may take (connect and answer) before Redis counts as down.
REDIS_TIMEOUT_SECONDS = 1.0

Check = dict[str, Any]


@require_safe  # GET, and HEAD for load balancers that check with it
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    body = health_report()
    strict = request.GET.get("strict", "").lower() in {"1", "true", "yes"}
    failing = body["status"] == "down" or (strict and body["status"] != "ok")
    return JsonResponse(body, status=503 if failing else 200)


def health_report() -> dict[str, Any]:
    """Every check, and the overall status (see the module docstring)."""
    report: dict[str, Any] = {"status": "ok", "database": check_database()}
    services = [report["database"]]
    if settings.REDIS_URL:
        report["redis"] = check_redis(settings.REDIS_URL)
        services.append(report["redis"])
    # In the services mode the heartbeats are in Redis: when it is down they cannot be read,
    # and waiting for the cache's own (longer) timeouts would only slow the answer down.
    if all(check["status"] == "ok" for check in services):
        report["worker"], report["beat"] = check_heartbeats()
    else:
        report["worker"] = report["beat"] = {"status": "unknown"}
    if report["database"]["status"] != "ok":
        report["status"] = "down"
    elif any(check["status"] != "ok" for check in (*services, report["worker"], report["beat"])):
        report["status"] = "degraded"
    return report


def check_database() -> Check:
    started = time.monotonic()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        # A failed connection must not be reused by the next request of this thread.
        connection.close_if_unusable_or_obsolete()
        return {"status": "down", "error": type(exc).__name__}
    return {"status": "ok", "latency_ms": _elapsed_ms(started)}


def check_redis(url: str) -> Check:
    started = time.monotonic()
    try:
        _redis_client(url).ping()
    except redis.RedisError as exc:
        return {"status": "down", "error": type(exc).__name__}
    return {"status": "ok", "latency_ms": _elapsed_ms(started)}


@functools.lru_cache(maxsize=4)
def _redis_client(url: str) -> redis.Redis:
    # One connection pool per process, reused by every check, not a new connection each time.
    # No retries: redis-py retries three times by default, which would turn a hung Redis into
    # a hung health check.
    return redis.Redis.from_url(
        url,
        socket_timeout=REDIS_TIMEOUT_SECONDS,
        socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
        retry=Retry(NoBackoff(), 0),
    )


def check_heartbeats() -> tuple[Check, Check]:
    """(worker, beat) checks from the latest heartbeats; "unknown" when they cannot be read."""
    try:
        worker, beat = read_heartbeats()
    except Exception as exc:
        unknown = {"status": "unknown", "error": type(exc).__name__}
        return unknown, dict(unknown)
    worker_check = _heartbeat_check(worker)
    if worker is not None:
        worker_check["queue_latency_ms"] = worker.queue_latency_ms
        if worker_check["status"] == "ok" and is_lagging(worker):
            worker_check["status"] = "lagging"
    return worker_check, _heartbeat_check(beat)


def _heartbeat_check(heartbeat: Heartbeat | None) -> Check:
    if heartbeat is None:
        return {"status": "missing", "last_seen": None, "age_seconds": None}
    age = max(time.time() - heartbeat.seen_at, 0.0)
    return {
        "status": "ok" if age <= heartbeat_max_age() else "stale",
        "last_seen": datetime.fromtimestamp(heartbeat.seen_at, tz=UTC).isoformat(
            timespec="seconds"
        ),
        "age_seconds": round(age, 1),
    }


def _elapsed_ms(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 1)


def main(argv: list[str]) -> int:
    """`python -m config.health worker|beat`: exit 0 when that heartbeat is ok, 1 otherwise."""
    if len(argv) != 1 or argv[0] not in {"worker", "beat"}:
        print("usage: python -m config.health worker|beat", file=sys.stderr)
        return 2
    worker, beat = check_heartbeats()
    check = worker if argv[0] == "worker" else beat
    print(json.dumps(check))
    return 0 if check["status"] == "ok" else 1


if __name__ == "__main__":
    import os

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    sys.exit(main(sys.argv[1:]))
