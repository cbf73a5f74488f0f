"""What every platform's demo generator shares: a daemon thread that calls `emit()` every
`interval` seconds (±30%), and the command line that serves one fake with its generator.

Each platform's `demo.py` only says what one new item looks like (`emit`).
"""

from __future__ import annotations

import argparse
import logging
import random
import threading
from collections.abc import Callable
from typing import Any, Self

from channels_integrations.fake_server import serve_forever

logger = logging.getLogger(__name__)


class DemoGenerator:
    """Calls `emit()` in a daemon thread every `interval` seconds (±30%).

    `stop()` returns promptly because the thread waits on an Event rather than sleeping. A
    failing `emit()` is logged and the generator goes on: a demo feeder must not die silently
    halfway through a demo.
    """

    # What one emit adds, for the thread's name and the log ("Facebook comment").
    item = "demo item"

    def __init__(self, *, interval: float, seed: int | None) -> None:
        self._interval = interval
        self._random = random.Random(seed)  # noqa: S311 (demo texts, not secrets)
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    def emit(self) -> dict[str, Any]:
        raise NotImplementedError

    def start(self) -> Self:
        if self._thread is not None:
            raise RuntimeError(f"{type(self).__name__} is already running")
        self._stopped.clear()
        self._thread = threading.Thread(target=self._run, name=self.item, daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 2.0) -> None:
        self._stopped.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                raise RuntimeError(f"the {self.item} generator did not stop in time")
            self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        while not self._stopped.wait(self._interval * self._random.uniform(0.7, 1.3)):
            try:
                self.emit()
            except Exception:
                logger.exception("could not add a %s", self.item)


def serve_demo(
    argv: list[str] | None,
    *,
    title: str,
    port: int,
    make_fake: Callable[[], Any],
    generator: Callable[..., DemoGenerator],
) -> None:
    """`python -m channels_integrations.<platform>.demo`: one fake with its generator."""
    parser = argparse.ArgumentParser(description=f"Serve a fake {title} with demo items.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=port)
    parser.add_argument("--interval", type=float, default=8.0, help="seconds between items")
    parser.add_argument("--initial", type=int, default=5, help="items to add at start")
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.INFO)
    fake = make_fake()
    feeder = generator(fake, interval=args.interval, seed=args.seed)
    for _ in range(args.initial):
        feeder.emit()
    feeder.start()
    logger.info("Fake %s on http://%s:%s (admin: /__admin/)", title, args.host, args.port)
    try:
        serve_forever(fake.wsgi_app, args.host, args.port)
    finally:
        feeder.stop()
