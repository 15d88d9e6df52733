"""Server-rendered SVG charts: no script, no build step, no network (the product works offline).

Every chart is a ``<figure>``: an ``<svg role="img">`` with a ``<title>`` and an ``aria-label``
that says what the picture shows in words, a legend in text, and the numbers themselves in a
``<details>`` table. Only numbers are drawn from data; every label goes through ``escape``.
The scale, tick and summary functions are pure and small, so they are tested on their own.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date

from markupsafe import Markup, escape

# Each colour has at least 3:1 contrast against the white card (WCAG 1.4.11 for graphics);
# text is the page's ink colour. Colour is never the only cue: a legend names each series and
# the data table below the picture has every number.
BLUE, GREEN, BROWN, RED, GREY, PURPLE = (
    "#2d5bd7",
    "#1e7b45",
    "#8a5a00",
    "#b3261e",
    "#5f6b7a",
    "#7b3fb0",
)
PALETTE = (BLUE, GREEN, BROWN, RED, PURPLE, GREY)
SENTIMENT_COLOURS = {"positive": GREEN, "neutral": GREY, "negative": RED}
INK, RULE = "#3b4350", "#dde2ea"
MINUS = "\u2212"  # a real minus sign reads better than a hyphen in front of a number

WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 52, 14, 12, 30
MOST_X_LABELS = 8


@dataclass(frozen=True, slots=True)
class Series:
    """One named row of values, one value per label of the chart."""

    name: str
    values: Sequence[float]
    colour: str
    additive: bool = True  # counts add up over days; an average score does not


Format = Callable[[float], str]


# --- pure pieces --------------------------------------------------------------------------


def nice_step(raw: float) -> float:
    """The 1, 2 or 5 times a power of ten nearest ``raw`` (a step people read easily)."""
    if raw <= 0 or not math.isfinite(raw):
        return 1.0
    exponent = math.floor(math.log10(raw))
    fraction = raw / 10**exponent
    nice = 1 if fraction < 1.5 else 2 if fraction < 3 else 5 if fraction < 7 else 10
    return float(nice * 10**exponent)


def ticks(low: float, high: float, *, count: int = 5, min_step: float = 0.0) -> list[float]:
    """Evenly spaced round values covering ``[low, high]`` and zero, about ``count`` of them;
    ``min_step`` keeps counts of things from getting half steps."""
    low, high = min(low, high, 0.0), max(low, high, 0.0)
    if low == high:
        high = low + max(min_step, 1.0)
    step = max(nice_step((high - low) / max(1, count - 1)), min_step)
    start = math.floor(low / step) * step
    if start + step <= low:  # float noise put the first tick a step too low
        start += step
    stop = math.ceil(high / step) * step
    if stop - step >= high:  # or the last one a step too high
        stop -= step
    steps = round((stop - start) / step)
    digits = max(0, 1 - math.floor(math.log10(step)))  # 0.1 + 0.2 shows as 0.3
    return [round(start + n * step, digits) + 0.0 for n in range(steps + 1)]


def linear(domain: tuple[float, float], span: tuple[float, float]) -> Callable[[float], float]:
    """Maps ``domain`` onto ``span`` linearly (a zero-width domain maps to the span's start)."""
    (d0, d1), (r0, r1) = domain, span
    if d1 == d0:
        return lambda _value: r0
    ratio = (r1 - r0) / (d1 - d0)
    return lambda value: r0 + (value - d0) * ratio


def label_indices(count: int, most: int = MOST_X_LABELS) -> list[int]:
    """Which of ``count`` x labels to print so that at most ``most`` show, evenly spread."""
    if count <= 0:
        return []
    every = math.ceil(count / max(1, most))
    return list(range(0, count, every))


def format_value(value: float) -> str:
    """A number as a tick or a table shows it: ``1,250``, ``12.5k``, ``0.25``, and negative
    numbers with a real minus sign."""
    sign = MINUS if value < 0 else ""
    size = abs(value)
    if size >= 1_000_000:
        text = f"{size / 1_000_000:.3g}M"
    elif size >= 10_000:
        text = f"{size / 1_000:.3g}k"
    elif size == int(size):
        text = f"{int(size):,}"
    else:
        text = f"{size:.2f}".rstrip("0").rstrip(".")
    return sign + text if text != "0" else "0"


def format_share(value: float) -> str:
    """A share of 1 as a percentage: ``0.425`` → ``42.5%``."""
    return f"{value * 100:.1f}".rstrip("0").rstrip(".") + "%"


def short_day(day: date) -> str:
    """``7 Dec``: short enough for an axis; the data table says the full date."""
    return f"{day.day} {day.strftime('%b')}"


def summarise(title: str, labels: Sequence[str], series: Sequence[Series], fmt: Format) -> str:
    """What the picture shows, in words: its span, and each series' total and peak (or, for
    values that do not add up, its lowest and highest)."""
    if is_empty(labels, series):
        return f"{title}: no data."
    span = labels[0] if len(labels) == 1 else f"{labels[0]} to {labels[-1]}"
    return f"{title}, {span}: " + "; ".join(_describe(s, labels, fmt) for s in series) + "."


def _describe(s: Series, labels: Sequence[str], fmt: Format) -> str:
    if not any(s.values):
        return f"{s.name} none"
    high = max(range(len(s.values)), key=lambda i: s.values[i])
    if s.additive:
        total = fmt(sum(s.values))
        return f"{s.name} {total} in all, most {fmt(s.values[high])} on {labels[high]}"
    low = min(range(len(s.values)), key=lambda i: s.values[i])
    return (
        f"{s.name} from {fmt(s.values[low])} on {labels[low]} "
        f"to {fmt(s.values[high])} on {labels[high]}"
    )


def list_items(title: str, items: Sequence[tuple[str, float]], fmt: Format) -> str:
    """A bar per item, in words: ``Coverage: x 42%, mastodon 10%.``"""
    if not items:
        return f"{title}: no data."
    return f"{title}: " + ", ".join(f"{name} {fmt(value)}" for name, value in items) + "."


def is_empty(labels: Sequence[str], series: Sequence[Series]) -> bool:
    return not labels or not series or not any(any(v for v in s.values) for s in series)


# --- drawing ------------------------------------------------------------------------------


def _text(x: float, y: float, text: str, anchor: str = "middle", size: int = 12) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" fill="{INK}" '
        f'text-anchor="{anchor}">{escape(text)}</text>'
    )


def _frame(tick_values: list[float], fmt: Format, y: Callable[[float], float]) -> str:
    """Horizontal grid lines with their values on the left; the zero line is darker."""
    parts = []
    for value in tick_values:
        yy = y(value)
        colour = INK if value == 0 else RULE
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{yy:.1f}" y2="{yy:.1f}" '
            f'stroke="{colour}" stroke-width="1"/>'
        )
        parts.append(_text(LEFT - 6, yy + 4, fmt(value), anchor="end"))
    return '<g class="chart-axis">' + "".join(parts) + "</g>"


def _x_labels(labels: Sequence[str], x: Callable[[int], float]) -> str:
    return (
        '<g class="chart-axis">'
        + "".join(_text(x(i), HEIGHT - 10, labels[i]) for i in label_indices(len(labels)))
        + "</g>"
    )


def _legend(series: Sequence[Series]) -> str:
    items = "".join(
        f'<li><svg aria-hidden="true" width="12" height="12"><rect width="12" height="12" '
        f'rx="2" fill="{s.colour}"/></svg> {escape(s.name)}</li>'
        for s in series
    )
    return f'<ul class="chart-legend">{items}</ul>'


def _table(
    caption: str, index_name: str, labels: Sequence[str], series: Sequence[Series], fmt: Format
) -> str:
    head = "".join(f'<th scope="col">{escape(s.name)}</th>' for s in series)
    rows = "".join(
        f'<tr><th scope="row">{escape(label)}</th>'
        + "".join(f"<td>{escape(fmt(s.values[i]))}</td>" for s in series)
        + "</tr>"
        for i, label in enumerate(labels)
    )
    return (
        '<details class="chart-data"><summary>Data table</summary><div class="table-wrap">'
        f'<table class="grid"><caption class="visually-hidden">{escape(caption)}</caption>'
        f'<thead><tr><th scope="col">{escape(index_name)}</th>{head}</tr></thead>'
        f"<tbody>{rows}</tbody></table></div></details>"
    )


def _figure(
    title: str, summary: str, body: str, height: int, legend: str, table: str, kind: str
) -> Markup:
    svg = (
        f'<svg class="chart-svg" role="img" aria-label="{escape(summary)}" '
        f'viewBox="0 0 {WIDTH} {height}" width="100%" preserveAspectRatio="xMidYMid meet" '
        f'data-chart="{kind}"><title>{escape(title)}</title>{body}</svg>'
    )
    # Every piece escaped its text where it was built; only numbers went in unescaped.
    caption = f"<figcaption>{escape(title)}</figcaption>"
    return Markup(f'<figure class="chart">{caption}{svg}{legend}{table}</figure>')  # noqa: S704


def _empty(message: str) -> Markup:
    return Markup('<p class="muted chart-empty">{}</p>').format(message)


def _value_axis(
    low: float, high: float, min_step: float
) -> tuple[list[float], Callable[[float], float]]:
    tick_values = ticks(low, high, min_step=min_step)
    return tick_values, linear((tick_values[0], tick_values[-1]), (HEIGHT - BOTTOM, TOP))


@dataclass(frozen=True)
class Plot:
    """Where a line or bar chart puts things: its labels (axis and table), the value axis's
    ticks and scale, and the x of the i-th label."""

    labels: Sequence[str]
    names: Sequence[str]
    tick_values: list[float]
    y: Callable[[float], float]
    x: Callable[[int], float]


def _over_days(
    title: str,
    kind: str,
    plot: Plot,
    series: Sequence[Series],
    marks: list[str],
    index_name: str,
    fmt: Format,
) -> Markup:
    """A line or bar chart's figure: the frame, the marks, the x labels, legend and table."""
    body = (
        _frame(plot.tick_values, fmt, plot.y)
        + "<g>"
        + "".join(marks)
        + "</g>"
        + _x_labels(plot.labels, plot.x)
    )
    return _figure(
        title,
        summarise(title, plot.names, series, fmt),
        body,
        HEIGHT,
        _legend(series) if len(series) > 1 else "",
        _table(title, index_name, plot.names, series, fmt),
        kind,
    )


def line_chart(
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    table_labels: Sequence[str] | None = None,
    index_name: str = "Day",
    fmt: Format = format_value,
    min_step: float = 0.0,
    empty: str = "Nothing to show yet.",
) -> Markup:
    """One line per series over the labels, with a marker (and its value) at every point."""
    if is_empty(labels, series):
        return _empty(empty)
    names = list(table_labels or labels)
    values = [v for s in series for v in s.values]
    tick_values, y = _value_axis(min(values), max(values), min_step)
    # Inset from the axis so the first and last day's labels fit under their points.
    inset = 20
    inner = WIDTH - LEFT - RIGHT - 2 * inset

    def x(i: int) -> float:
        if len(labels) == 1:
            return LEFT + inset + inner / 2
        return LEFT + inset + inner * i / (len(labels) - 1)

    marks = []
    for s in series:
        points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(s.values))
        marks.append(
            f'<polyline fill="none" stroke="{s.colour}" stroke-width="2" points="{points}"/>'
        )
        marks.extend(
            f'<circle class="chart-point" cx="{x(i):.1f}" cy="{y(v):.1f}" r="3" '
            f'fill="{s.colour}"><title>{escape(names[i])}: {escape(fmt(v))} '
            f"{escape(s.name)}</title></circle>"
            for i, v in enumerate(s.values)
        )
    plot = Plot(labels, names, tick_values, y, x)
    return _over_days(title, "line", plot, series, marks, index_name, fmt)


def bar_chart(
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    table_labels: Sequence[str] | None = None,
    index_name: str = "Day",
    fmt: Format = format_value,
    min_step: float = 1.0,
    empty: str = "Nothing to show yet.",
) -> Markup:
    """One column per label, its series stacked (positives up from zero, negatives down)."""
    if is_empty(labels, series):
        return _empty(empty)
    names = list(table_labels or labels)
    ups = [sum(max(0.0, s.values[i]) for s in series) for i in range(len(labels))]
    downs = [sum(min(0.0, s.values[i]) for s in series) for i in range(len(labels))]
    tick_values, y = _value_axis(min(downs), max(ups), min_step)
    band = (WIDTH - LEFT - RIGHT) / len(labels)
    bar = max(1.0, band * 0.7)

    def x(i: int) -> float:
        return LEFT + band * i + band / 2

    marks = []
    for i in range(len(labels)):
        up = down = 0.0
        for s in series:
            value = s.values[i]
            if not value:
                continue
            base = up if value > 0 else down
            top, bottom = sorted((y(base), y(base + value)))
            if value > 0:
                up += value
            else:
                down += value
            marks.append(
                f'<rect class="chart-bar" x="{x(i) - bar / 2:.1f}" y="{top:.1f}" '
                f'width="{bar:.1f}" height="{max(0.5, bottom - top):.1f}" fill="{s.colour}">'
                f"<title>{escape(names[i])}: {escape(fmt(value))} {escape(s.name)}</title></rect>"
            )
    plot = Plot(labels, names, tick_values, y, x)
    return _over_days(title, "bar", plot, series, marks, index_name, fmt)


def hbar_chart(
    title: str,
    items: Sequence[tuple[str, float]],
    *,
    value_name: str,
    index_name: str,
    fmt: Format = format_value,
    top: float | None = None,
    colours: Sequence[str] = (BLUE,),
    empty: str = "Nothing to show yet.",
) -> Markup:
    """One horizontal bar per item (a share per network, a funnel's steps), its value beside it;
    ``top`` fixes the scale's end (1.0 for shares) instead of the largest value; the items take
    ``colours`` in turn (one colour for all by default)."""
    labels = [name for name, _ in items]
    series = [Series(value_name, [value for _, value in items], colours[0])]
    if is_empty(labels, series):
        return _empty(empty)
    row, left, right = 30, 130, 70
    height = row * len(items) + 10
    end = top if top is not None else max(value for _, value in items)
    x = linear((0.0, end or 1.0), (left, WIDTH - right))
    marks = []
    for n, (name, value) in enumerate(items):
        yy = 5 + n * row
        shown = name if len(name) <= 18 else name[:17] + "…"
        marks.append(_text(left - 8, yy + 15, shown, anchor="end"))
        marks.append(
            f'<rect x="{left}" y="{yy}" width="{WIDTH - right - left}" height="20" '
            f'fill="{RULE}" opacity="0.5"/>'
        )
        width = max(0.0, x(value) - left)
        colour = colours[n % len(colours)]
        marks.append(
            f'<rect class="chart-bar" x="{left}" y="{yy}" width="{width:.1f}" height="20" '
            f'fill="{colour}"><title>{escape(name)}: {escape(fmt(value))}</title></rect>'
        )
        marks.append(_text(WIDTH - right + 6, yy + 15, fmt(value), anchor="start"))
    return _figure(
        title,
        list_items(title, items, fmt),
        "".join(marks),
        height,
        "",
        _table(title, index_name, labels, series, fmt),
        "hbar",
    )
