"""Benchmark the beat dispatcher: hand 5,000 due channels to the poll queue in one run.

Usage (from the project root; PostgreSQL and Redis as in production):
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/inbox_bench \\
    REDIS_URL=redis://127.0.0.1:6379/0 .venv/bin/python bench/dispatch.py [--channels 5000]

What it shows: one `dispatch_due_polls` run (claims with SELECT ... FOR UPDATE SKIP LOCKED in
batches, leases, and publishes one Celery message per channel to Redis) against, in the same
run, the bare publishing of the same number of no-op task messages to Redis. The channels that
one beat interval can hand out, against what 5,000 channels polled every minute need, says
whether the dispatcher keeps up. The queue is private to the run and deleted at the end, and
the channels it made are deleted.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.topology import services_or_exit  # noqa: E402  (needs ROOT on the path)
from config.create_database import ensure_database  # noqa: E402

QUEUE = f"inbox-bench-dispatch-{uuid.uuid4().hex[:8]}"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ["CELERY_QUEUE"] = QUEUE  # nobody consumes it: the messages are counted, then dropped


def redis_client() -> Any:
    """A plain Redis client on the broker, to count and drop the run's queue."""
    import redis

    return redis.Redis.from_url(os.environ["REDIS_URL"])


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--channels", type=int, default=5000)
    parser.add_argument("--interval", type=int, default=60, help="poll interval of each channel")
    args = parser.parse_args()
    url, name, _ = services_or_exit(redis_because="the dispatcher publishes to Redis")
    ensure_database(url, name)

    import django

    django.setup()
    from celery import shared_task
    from django.conf import settings
    from django.core.management import call_command
    from django.utils import timezone

    from channels_integrations import tasks
    from channels_integrations.models import ChannelAccount
    from config.celery import app

    call_command("migrate", verbosity=0)

    @shared_task(name="bench.noop", ignore_result=True)
    def noop(account_id: int) -> None:
        """The baseline: a task message with the same argument, doing nothing."""

    run = uuid.uuid4().hex[:8]
    past = timezone.now() - timedelta(seconds=5)
    template = ChannelAccount(platform="mastodon", name="template", settings={"base_url": "x"})
    template.set_credentials({"access_token": "bench"})
    ChannelAccount.objects.bulk_create(
        ChannelAccount(
            platform="mastodon",
            name=f"bench {run} {n}",
            settings=template.settings,
            credentials_encrypted=template.credentials_encrypted,
            next_poll_at=past,
            poll_interval_seconds=args.interval,
        )
        for n in range(args.channels)
    )
    ids = list(
        ChannelAccount.objects.filter(name__startswith=f"bench {run} ").values_list("pk", flat=True)
    )
    try:
        # Only this run's channels are due: everything else in the database waits.
        others = ChannelAccount.objects.exclude(pk__in=ids)
        saved = list(others.values_list("pk", "next_poll_at"))
        others.update(next_poll_at=timezone.now() + timedelta(days=1))

        # Beat runs the dispatcher every POLL_DISPATCH_SECONDS; each run stops at that budget,
        # so a backlog (here: every channel due at once, as after a restart) takes a few runs.
        started = time.perf_counter()
        runs: list[int] = []
        while sum(runs) < len(ids):
            runs.append(tasks.dispatch_due_polls())
            if runs[-1] == 0:
                break
        dispatch_seconds = time.perf_counter() - started
        dispatched = sum(runs)

        started = time.perf_counter()
        with app.producer_or_acquire() as producer:
            for account_id in ids:
                noop.apply_async((account_id,), producer=producer)
        bare_seconds = time.perf_counter() - started

        queued = redis_client().llen(QUEUE)

        for pk, when in saved:
            ChannelAccount.objects.filter(pk=pk).update(next_poll_at=when)
    finally:
        ChannelAccount.objects.filter(pk__in=ids).delete()
        redis_client().delete(QUEUE)

    per_second = dispatched / dispatch_seconds
    bare_per_second = len(ids) / bare_seconds
    needed = args.channels / args.interval
    beat = settings.POLL_DISPATCH_SECONDS
    print(f"channels due                 {args.channels}")
    print(
        f"dispatched                   {dispatched} in {dispatch_seconds:.2f} s, beat runs {runs}"
    )
    print(f"dispatcher                   {per_second:,.0f} channels/s")
    print(f"bare publish (baseline)      {bare_per_second:,.0f} messages/s")
    print(f"ratio dispatcher / bare      {per_second / bare_per_second:.2f}")
    print(f"messages in the queue        {queued} (both runs)")
    print(
        f"needed for {args.channels} channels every {args.interval} s: {needed:,.0f} channels/s;"
        f" one beat ({beat:g} s) can hand out {per_second * beat:,.0f}"
    )
    ok = dispatched == args.channels and per_second > needed * 5
    print(
        f"{'PASS' if ok else 'FAIL'}: every due channel handed out once; capacity "
        f"{per_second / needed:.1f}x what {args.channels} channels need (target 5x)"
    )
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
