"""Serve the whole product: the ASGI app (Daphne), the worker and scheduler, optionally the fakes.

- Embedded (no REDIS_URL): one process. Celery's worker and beat run in threads on the in-memory
  broker, the channel layer is in memory, and the fake platforms run in a thread.
- Services (REDIS_URL set): the worker, beat and fake platforms are started as their own
  processes, as in production, and stopped with this one.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

logger = logging.getLogger(__name__)

# The worker pool and concurrency we ship (docker-compose.yml starts the same): polls and
# deliveries wait on platform APIs, and bench/poll.py measured threads against prefork and gevent
# (docs/performance.md, "Polling throughput").
WORKER_POOL_OPTIONS = ("--pool", "threads", "--concurrency", "32")


class Command(BaseCommand):
    help = "Serve the app with its worker and scheduler (embedded or as separate processes)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument(
            "--with-fake-platforms",
            action="store_true",
            help="Also run the fake platform servers with the demo mention generator.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        children: list[subprocess.Popen[bytes]] = []
        try:
            if settings.EMBEDDED_WORKER:
                if options["with_fake_platforms"]:
                    from channels_integrations.fake_platforms import start_fake_platforms

                    start_fake_platforms(
                        host=settings.FAKE_PLATFORM_HOST,
                        port=settings.FAKE_PLATFORM_PORT,
                        mention_interval=settings.DEMO_MENTION_INTERVAL,
                        imap_port=settings.FAKE_MAIL_IMAP_PORT,
                        smtp_port=settings.FAKE_MAIL_SMTP_PORT,
                    )
                from config.embedded import start_embedded_worker

                start_embedded_worker()
                mode = "embedded worker, in-memory broker and channel layer"
            else:
                manage = [sys.executable, "manage.py"]
                celery = [sys.executable, "-m", "celery", "-A", "config"]
                worker = [*celery, "worker", *WORKER_POOL_OPTIONS, "-l", "INFO"]
                children.append(subprocess.Popen(worker))  # noqa: S603
                children.append(subprocess.Popen([*celery, "beat", "-l", "INFO"]))  # noqa: S603
                if options["with_fake_platforms"]:
                    children.append(subprocess.Popen([*manage, "run_fake_platforms"]))  # noqa: S603
                mode = "Celery worker and beat as separate processes on Redis"
            self.stdout.write(
                f"Serving on http://{options['host']}:{options['port']}/ ({mode}). Ctrl+C stops."
            )
            self._run_daphne(options["host"], options["port"])
        finally:
            for child in children:
                child.terminate()
            for child in children:
                try:
                    child.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    child.kill()

    def _run_daphne(self, host: str, port: int) -> None:
        from channels.routing import get_default_application
        from daphne.endpoints import build_endpoint_description_strings
        from daphne.server import Server

        Server(
            application=get_default_application(),
            endpoints=build_endpoint_description_strings(host=host, port=port),
            signal_handlers=True,
            verbosity=1,
        ).run()
