"""Charts as SVG drawn on the server: columns, horizontal bars, lines and a heat map, with axes,
labels, a legend and a title. Every mark carries a <title>, which browsers show on hover, with
the exact figure. Colours come from CSS classes (static/css/reports.css), so the charts follow
the app's palette and no style attribute is needed (the CSP forbids them).

A chart is drawn for a width in SVG units; the page draws each one twice, wide for desktops and
narrow for phones (CSS shows one), so that text keeps a readable size on both instead of
shrinking with the picture. Every text that goes in is escaped by format_html.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from django.utils.html import conditional_escape, format_html
from django.utils.safestring import SafeString, mark_safe

Format = Callable[[float], str]

WIDE = 1200
HALF = 720
NARROW = 400
PLOT_HEIGHT = 170
LEFT = 60
RIGHT = 16
BOTTOM = 34
# Roughly how wide a character of the 12-unit font is, for laying out legends and labels.
CHAR = 6.6


@dataclass(frozen=True)
class Series:
    label: str
    values: Sequence[float | None]
    # A CSS class from reports.css: series-1 ... series-4, or a meaning (series-good, ...).
    css: str
    dashed: bool = False


def _join(parts: Iterable[SafeString | str]) -> SafeString:
    # conditional_escape keeps format_html's safe output as it is and escapes anything else.
    return mark_safe("".join(conditional_escape(part) for part in parts))  # noqa: S308


def nice_step(largest: float, ticks: int = 4, *, whole: bool = False) -> float:
    """A round step (1, 2, 2.5 or 5 times a power of ten) giving about `ticks` grid lines; at
    least 1 and never 2.5 for `whole` numbers (counts have no fractions)."""
    if largest <= 0:
        return 1.0
    raw = largest / ticks
    power = 10 ** math.floor(math.log10(raw))
    factors = (1, 2, 5, 10) if whole else (1, 2, 2.5, 5, 10)
    for factor in factors:
        if factor * power >= raw:
            return max(1.0, factor * power) if whole else factor * power
    return 10 * power


def _top(values: Iterable[float | None], *, whole: bool = True) -> tuple[float, float]:
    """The axis maximum (a whole number of round steps) and the step."""
    largest = max((v for v in values if v is not None), default=0.0)
    step = nice_step(largest, whole=whole)
    return (math.ceil(largest / step) * step if largest else step), step


def _legend(series: Sequence[Series], width: int) -> tuple[list[SafeString], float]:
    """Legend items under the title, wrapping to new rows; returns them and where the plot
    may start."""
    items, x, y = [], 8.0, 36.0
    for one in series:
        size = 24 + CHAR * len(one.label)
        if x > 8 and x + size > width - RIGHT:
            x, y = 8.0, y + 18
        line = (
            format_html(
                '<line class="swatch-line" x1="{}" x2="{}" y1="{}" y2="{}"/>',
                x,
                x + 14,
                y - 4,
                y - 4,
            )
            if one.dashed
            else format_html(
                '<rect x="{}" y="{}" width="12" height="12" rx="2"/>', x, f"{y - 10:.0f}"
            )
        )
        items.append(
            format_html(
                '<g class="legend-item {}{}">{}<text x="{}" y="{}">{}</text></g>',
                one.css,
                " dashed" if one.dashed else "",
                line,
                f"{x + 18:.0f}",
                f"{y:.0f}",
                one.label,
            )
        )
        x += size + 10
    return items, (y + 22 if series else 40.0)


def _frame(
    title: str,
    description: str,
    width: int,
    height: float,
    parts: Iterable[SafeString],
    css: str,
) -> SafeString:
    """The SVG element: the title (visible and as the accessible name), then the parts."""
    return format_html(
        '<svg class="chart {}" viewBox="0 0 {} {}" role="img" aria-label="{}" '
        'xmlns="http://www.w3.org/2000/svg"><title>{}</title><desc>{}</desc>'
        '<text class="chart-title" x="8" y="16">{}</text>{}</svg>',
        css,
        width,
        f"{height:.0f}",
        title,
        title,
        description,
        title,
        _join(parts),
    )


def _y_axis(
    width: int, plot_top: float, axis_max: float, step: float, fmt: Format
) -> list[SafeString]:
    parts = []
    value = 0.0
    while value <= axis_max + step / 1000:
        y = plot_top + PLOT_HEIGHT * (1 - value / axis_max)
        parts.append(
            format_html(
                '<line class="grid" x1="{}" x2="{}" y1="{}" y2="{}"/>'
                '<text class="tick" x="{}" y="{}" text-anchor="end">{}</text>',
                LEFT,
                width - RIGHT,
                f"{y:.1f}",
                f"{y:.1f}",
                LEFT - 6,
                f"{y + 4:.1f}",
                fmt(value),
            )
        )
        value += step
    return parts


def _x_axis(
    width: int, plot_top: float, labels: Sequence[str], centers: Sequence[float]
) -> list[SafeString]:
    longest = max((len(label) for label in labels), default=1)
    room = (width - LEFT - RIGHT) / (CHAR * longest + 14)
    every = max(1, math.ceil(len(labels) / max(1.0, room)))
    base = plot_top + PLOT_HEIGHT
    parts = []
    for index, (label, x) in enumerate(zip(labels, centers, strict=True)):
        if index % every:
            continue
        # A label centred on a bar near an edge would be cut off: it ends at the edge instead.
        half = CHAR * len(label) / 2
        anchor, at = "middle", x
        if x + half > width - 2:
            anchor, at = "end", width - 2.0
        elif x - half < 2:
            anchor, at = "start", 2.0
        parts.append(
            format_html(
                '<text class="tick" x="{}" y="{}" text-anchor="{}">{}</text>',
                f"{at:.1f}",
                f"{base + 18:.1f}",
                anchor,
                label,
            )
        )
    parts.append(
        format_html(
            '<line class="axis" x1="{}" x2="{}" y1="{}" y2="{}"/>',
            LEFT,
            width - RIGHT,
            f"{base:.1f}",
            f"{base:.1f}",
        )
    )
    return parts


def column_chart(
    *,
    title: str,
    description: str,
    labels: Sequence[str],
    series: Sequence[Series],
    fmt: Format,
    width: int = HALF,
    stacked: bool = False,
) -> SafeString:
    """Vertical columns per label: side by side, or stacked."""
    legend, plot_top = _legend(series, width)
    if stacked:
        axis_max, step = _top(sum(s.values[i] or 0 for s in series) for i in range(len(labels)))
    else:
        axis_max, step = _top(v for s in series for v in s.values)
    slot = (width - LEFT - RIGHT) / max(1, len(labels))
    gap = min(slot * 0.25, 8)
    parts = [*legend, *_y_axis(width, plot_top, axis_max, step, fmt)]
    centers = []
    for index, label in enumerate(labels):
        x0 = LEFT + index * slot + gap / 2
        centers.append(LEFT + (index + 0.5) * slot)
        base = 0.0
        for position, one in enumerate(series):
            value = one.values[index] or 0
            height = PLOT_HEIGHT * value / axis_max
            if stacked:
                x, w, y = x0, slot - gap, plot_top + PLOT_HEIGHT - base - height
                base += height
            else:
                w = (slot - gap) / len(series)
                x, y = x0 + position * w, plot_top + PLOT_HEIGHT - height
            parts.append(
                format_html(
                    '<rect class="mark {}" x="{}" y="{}" width="{}" height="{}">'
                    "<title>{}, {}: {}</title></rect>",
                    one.css,
                    f"{x:.1f}",
                    f"{y:.1f}",
                    f"{max(w - 0.5, 0.5):.1f}",
                    f"{height:.1f}",
                    label,
                    one.label,
                    fmt(value),
                )
            )
    parts += _x_axis(width, plot_top, labels, centers)
    return _frame(
        title, description, width, plot_top + PLOT_HEIGHT + BOTTOM, parts, "chart-columns"
    )


def line_chart(
    *,
    title: str,
    description: str,
    labels: Sequence[str],
    series: Sequence[Series],
    fmt: Format,
    width: int = HALF,
    axis_max: float | None = None,
    whole: bool = True,
) -> SafeString:
    """One line per series over the labels, with a dot per value; gaps where it is None.
    `whole`: the values are counts (the axis steps by whole numbers)."""
    legend, plot_top = _legend(series, width)
    if axis_max is None:
        axis_max, step = _top((v for s in series for v in s.values), whole=whole)
    else:
        step = nice_step(axis_max)
    slot = (width - LEFT - RIGHT) / max(1, len(labels))
    centers = [LEFT + (i + 0.5) * slot for i in range(len(labels))]
    parts = [*legend, *_y_axis(width, plot_top, axis_max, step, fmt)]
    radius = 3 if slot >= 8 else 2
    for one in series:
        runs: list[list[tuple[float, float]]] = [[]]
        dots = []
        for index, value in enumerate(one.values):
            if value is None:
                runs.append([])
                continue
            x = centers[index]
            y = plot_top + PLOT_HEIGHT * (1 - min(value, axis_max) / axis_max)
            runs[-1].append((x, y))
            dots.append(
                format_html(
                    '<circle class="dot" cx="{}" cy="{}" r="{}"><title>{}, {}: {}</title></circle>',
                    f"{x:.1f}",
                    f"{y:.1f}",
                    radius,
                    labels[index],
                    one.label,
                    fmt(value),
                )
            )
        lines = [
            format_html(
                '<polyline class="line" points="{}"/>',
                " ".join(f"{x:.1f},{y:.1f}" for x, y in run),
            )
            for run in runs
            if run
        ]
        parts.append(
            format_html(
                '<g class="mark {}{}">{}{}</g>',
                one.css,
                " dashed" if one.dashed else "",
                _join(lines),
                _join(dots),
            )
        )
    parts += _x_axis(width, plot_top, labels, centers)
    return _frame(title, description, width, plot_top + PLOT_HEIGHT + BOTTOM, parts, "chart-lines")


def bar_chart(
    *,
    title: str,
    description: str,
    labels: Sequence[str],
    series: Sequence[Series],
    fmt: Format,
    width: int = HALF,
) -> SafeString:
    """Horizontal bars, one row per label (names read better across than up); the value is
    written at the end of each bar."""
    legend, plot_top = _legend(series if len(series) > 1 else [], width)
    label_width = min(190, int(width * 0.32))
    row = 26 if len(series) == 1 else 11 * len(series) + 10
    rows_height = max(1, len(labels)) * row
    axis_max, step = _top(v for s in series for v in s.values)
    plot_width = width - label_width - RIGHT - 44
    parts: list[SafeString] = [*legend]
    value = 0.0
    while value <= axis_max + step / 1000:
        x = label_width + plot_width * value / axis_max
        parts.append(
            format_html(
                '<line class="grid" x1="{}" x2="{}" y1="{}" y2="{}"/>'
                '<text class="tick" x="{}" y="{}" text-anchor="middle">{}</text>',
                f"{x:.1f}",
                f"{x:.1f}",
                f"{plot_top:.0f}",
                f"{plot_top + rows_height:.0f}",
                f"{x:.1f}",
                f"{plot_top + rows_height + 16:.0f}",
                fmt(value),
            )
        )
        value += step
    longest = int(label_width / CHAR) - 1
    for index, label in enumerate(labels):
        y0 = plot_top + index * row + 4
        short = label if len(label) <= longest else label[: longest - 1] + "…"
        parts.append(
            format_html(
                '<text class="row-label" x="{}" y="{}" text-anchor="end">{}'
                "<title>{}</title></text>",
                label_width - 8,
                f"{y0 + (row - 8) / 2 + 4:.1f}",
                short,
                label,
            )
        )
        bar = (row - 8) / len(series)
        for position, one in enumerate(series):
            amount = one.values[index] or 0
            length = plot_width * amount / axis_max
            y = y0 + position * bar
            parts.append(
                format_html(
                    '<rect class="mark {}" x="{}" y="{}" width="{}" height="{}" rx="2">'
                    "<title>{}, {}: {}</title></rect>"
                    '<text class="value" x="{}" y="{}">{}</text>',
                    one.css,
                    label_width,
                    f"{y:.1f}",
                    f"{max(length, 0.5):.1f}",
                    f"{bar - 2:.1f}",
                    label,
                    one.label,
                    fmt(amount),
                    f"{label_width + length + 4:.1f}",
                    f"{y + bar / 2 + 3:.1f}",
                    fmt(amount),
                )
            )
    height = plot_top + rows_height + BOTTOM
    return _frame(title, description, width, height, parts, "chart-bars")


def heat_map(
    *,
    title: str,
    description: str,
    rows: Sequence[str],
    values: Sequence[Sequence[int]],
    fmt: Format,
    legend_low: str,
    legend_high: str,
    width: int = HALF,
) -> SafeString:
    """A grid of rows (weekdays) by 24 hours, darker where more happened: empty, then five
    shades for the fifths of the busy cells."""
    label_width = 44
    plot_top = 48.0
    cell_w = (width - label_width - RIGHT) / 24
    cell_h = 24 if width > NARROW else 20
    # Six shades by rank, not by size: one very busy hour must not wash out all the others.
    ranked = sorted(v for row in values for v in row if v)
    parts: list[SafeString] = []
    every = 1 if cell_w >= 24 else 3
    for hour in range(0, 24, every):
        parts.append(
            format_html(
                '<text class="tick" x="{}" y="{}" text-anchor="middle">{}</text>',
                f"{label_width + (hour + 0.5) * cell_w:.1f}",
                f"{plot_top - 6:.0f}",
                f"{hour:02d}",
            )
        )
    for r, (name, row) in enumerate(zip(rows, values, strict=True)):
        y = plot_top + r * cell_h
        parts.append(
            format_html(
                '<text class="row-label" x="{}" y="{}" text-anchor="end">{}</text>',
                label_width - 6,
                f"{y + cell_h / 2 + 4:.1f}",
                name,
            )
        )
        for hour, value in enumerate(row):
            level = 1 + min(4, 5 * bisect_left(ranked, value) // len(ranked)) if value else 0
            parts.append(
                format_html(
                    '<rect class="cell level-{}" x="{}" y="{}" width="{}" height="{}" rx="2">'
                    "<title>{}, {}:00\u2013{}:00: {}</title></rect>",
                    level,
                    f"{label_width + hour * cell_w + 1:.1f}",
                    f"{y + 1:.1f}",
                    f"{cell_w - 2:.1f}",
                    cell_h - 2,
                    name,
                    f"{hour:02d}",
                    f"{(hour + 1) % 24:02d}",
                    fmt(value),
                )
            )
    height = plot_top + len(rows) * cell_h + 34
    scale_x = width - RIGHT - 6 * 16 - CHAR * len(legend_high) - 6
    parts.append(
        format_html(
            '<text class="tick" x="{}" y="{}" text-anchor="end">{}</text>',
            f"{scale_x - 6:.0f}",
            f"{height - 10:.0f}",
            legend_low,
        )
    )
    for level in range(6):
        parts.append(
            format_html(
                '<rect class="cell level-{}" x="{}" y="{}" width="14" height="10" rx="2"/>',
                level,
                f"{scale_x + level * 16:.0f}",
                f"{height - 19:.0f}",
            )
        )
    parts.append(
        format_html(
            '<text class="tick" x="{}" y="{}">{}</text>',
            f"{scale_x + 6 * 16 + 2:.0f}",
            f"{height - 10:.0f}",
            legend_high,
        )
    )
    return _frame(title, description, width, height, parts, "chart-heat")
