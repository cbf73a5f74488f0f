"""Medians and percentiles of durations: PostgreSQL's PERCENTILE_CONT, and the same continuous
interpolation in Python for SQLite (`make run`), which has no such aggregate."""

from __future__ import annotations

from collections.abc import Sequence

from django.db.models import Aggregate, FloatField, Func


class Percentile(Aggregate):
    """PERCENTILE_CONT(fraction) WITHIN GROUP (ORDER BY expression): PostgreSQL only."""

    function = "PERCENTILE_CONT"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()


class Seconds(Func):
    """An interval as seconds (PostgreSQL)."""

    template = "EXTRACT(EPOCH FROM %(expressions)s)"
    output_field = FloatField()


def interpolated(values: Sequence[float], fraction: float) -> float | None:
    """PERCENTILE_CONT of sorted `values` (None when empty)."""
    if not values:
        return None
    position = (len(values) - 1) * fraction
    low = int(position)
    high = min(low + 1, len(values) - 1)
    return values[low] + (values[high] - values[low]) * (position - low)
