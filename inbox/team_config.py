"""The team's configuration (routing rules, SLA policies, department calendars, memberships) as
ingest reads it: cached per process, so a page of new items does not read a dozen tables again.

A change made in this process (any save or delete of those rows, any change of who owns which
channel) drops every cached copy at once (inbox.signals calls `forget_team_config`). Other
processes (more web servers and workers) pick it up when their copy expires, within
TEAM_CONFIG_SECONDS: a new rule or policy applies to conversations arriving after that.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")

# How long another process may go on using rules and policies an admin has just changed.
TEAM_CONFIG_SECONDS = 30.0

_lock = threading.Lock()
_generation = 0


def forget_team_config() -> None:
    """Every cached copy is read again on its next use (called on every relevant change)."""
    global _generation
    with _lock:
        _generation += 1


class TeamConfigCache(Generic[T]):
    """One loaded value, read again when older than `seconds` or after forget_team_config()."""

    def __init__(self, load: Callable[[], T], *, seconds: float = TEAM_CONFIG_SECONDS) -> None:
        self._load = load
        self._seconds = seconds
        self._value: tuple[int, float, T] | None = None

    def get(self) -> T:
        cached = self._value
        now = time.monotonic()
        if cached is not None and cached[0] == _generation and now - cached[1] < self._seconds:
            return cached[2]
        generation = _generation
        value = self._load()
        # Stored with the generation it was read under: a change during the read makes the
        # next get() read again rather than keep what may predate it.
        self._value = (generation, now, value)
        return value
