"""Small server-rendered SVG charts (no build step, no script): values are numbers only, and
every label goes through ``html.escape``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

WIDTH, HEIGHT, PAD = 640, 200, 28
SERIES = (
    ("likes", "#2d5bd7"),
    ("comments", "#1e7b45"),
    ("shares", "#8a5a00"),
    ("clicks", "#b3261e"),
)


def engagement_over_time(series: Sequence[Mapping[str, Any]]) -> str:
    """One line per engagement kind over the days of the campaign."""
    if not series:
        return '<p class="muted">No engagement yet.</p>'
    top = max(1, *(int(day[k]) for day in series for k, _ in SERIES))
    step = (WIDTH - 2 * PAD) / max(1, len(series) - 1)

    def point(i: int, value: int) -> str:
        x = PAD + i * step
        y = HEIGHT - PAD - (HEIGHT - 2 * PAD) * value / top
        return f"{x:.1f},{y:.1f}"

    lines = [
        f'<polyline fill="none" stroke="{color}" stroke-width="2" points="'
        + " ".join(point(i, int(day[key])) for i, day in enumerate(series))
        + f'"><title>{escape(key)}</title></polyline>'
        for key, color in SERIES
    ]
    legend = "".join(
        f'<text x="{PAD + n * 90}" y="14" fill="{color}" font-size="12">{escape(key)}</text>'
        for n, (key, color) in enumerate(SERIES)
    )
    axis = (
        f'<text x="{PAD}" y="{HEIGHT - 6}" font-size="11">{escape(str(series[0]["day"]))}</text>'
        f'<text x="{WIDTH - PAD}" y="{HEIGHT - 6}" font-size="11" text-anchor="end">'
        f"{escape(str(series[-1]['day']))}</text>"
        f'<text x="2" y="{PAD}" font-size="11">{top}</text>'
    )
    return (
        f'<svg role="img" aria-label="Engagement over time" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="100%" height="{HEIGHT}">{legend}{"".join(lines)}{axis}</svg>'
    )


def bars(values: Mapping[str, int], label: str) -> str:
    """Horizontal bars, one per key."""
    if not values or not any(values.values()):
        return f'<p class="muted">{escape(label)}: nothing yet.</p>'
    top = max(values.values()) or 1
    row = 26
    parts = []
    for n, (key, value) in enumerate(values.items()):
        width = (WIDTH - 200) * int(value) / top
        y = n * row + 4
        parts.append(
            f'<text x="0" y="{y + 15}" font-size="13">{escape(str(key))}</text>'
            f'<rect x="110" y="{y}" width="{width:.1f}" height="18" fill="#2d5bd7"></rect>'
            f'<text x="{116 + width:.1f}" y="{y + 15}" font-size="13">{int(value)}</text>'
        )
    height = row * len(values) + 8
    return (
        f'<svg role="img" aria-label="{escape(label)}" viewBox="0 0 {WIDTH} {height}" '
        f'width="100%" height="{height}">{"".join(parts)}</svg>'
    )
