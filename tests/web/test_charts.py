"""The SVG charts' pure pieces: scales, ticks, labels, summaries, and what a chart draws."""

from __future__ import annotations

import itertools
import re
from datetime import date

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from selectolax.lexbor import LexborHTMLParser

from socialcrm.core.web import charts
from socialcrm.core.web.charts import Series

# What charts show: counts, scores and shares, not 1e-123.
finite = st.floats(min_value=-1e9, max_value=1e9, allow_nan=False).map(lambda v: round(v, 4))


@pytest.mark.parametrize(
    ("raw", "step"),
    [
        (0.3, 0.2),
        (0.4, 0.5),
        (1, 1),
        (1.2, 1),
        (2.5, 2),
        (3, 5),
        (7, 10),
        (23, 20),
        (0, 1),
        (-4, 1),
        (180, 200),
    ],
)
def test_nice_step_is_one_two_or_five_times_a_power_of_ten(raw: float, step: float) -> None:
    assert charts.nice_step(raw) == pytest.approx(step)


@pytest.mark.parametrize(
    ("low", "high", "min_step", "expected"),
    [
        (0, 7, 1, [0, 2, 4, 6, 8]),
        (0, 3, 1, [0, 1, 2, 3]),  # counts never get half steps
        (0, 0, 1, [0, 1]),  # nothing yet: still an axis from zero
        (-3, 5, 0, [-4, -2, 0, 2, 4, 6]),  # negative sentiment: zero is inside
        (2, 9, 0, [0, 2, 4, 6, 8, 10]),  # a bar chart starts at zero
        (-0.5, 0.3, 0, [-0.6, -0.4, -0.2, 0, 0.2, 0.4]),
        (0, 1234, 0, [0, 500, 1000, 1500]),
    ],
)
def test_ticks(low: float, high: float, min_step: float, expected: list[float]) -> None:
    assert charts.ticks(low, high, min_step=min_step) == pytest.approx(expected)


@given(finite, finite)
@example(0.0001, -280_000)  # a tiny top above a deep bottom still gets a tick above zero
def test_ticks_cover_the_values_and_zero_in_even_round_steps(a: float, b: float) -> None:
    found = charts.ticks(a, b)
    assert found[0] <= min(a, b, 0) and found[-1] >= max(a, b, 0)
    assert 0 in found
    steps = {round(y - x, 6) for x, y in itertools.pairwise(found)}
    assert len(steps) == 1
    assert 2 <= len(found) <= 12


def test_linear_scale_maps_ends_and_flips_for_the_y_axis() -> None:
    y = charts.linear((0, 10), (200, 0))
    assert (y(0), y(10), y(5)) == (200, 0, 100)
    assert charts.linear((3, 3), (10, 20))(3) == 10  # a single value: no division by zero


def test_at_most_eight_day_labels_are_printed_evenly() -> None:
    assert charts.label_indices(30) == [0, 4, 8, 12, 16, 20, 24, 28]
    assert charts.label_indices(7) == list(range(7))
    assert charts.label_indices(1) == [0]
    assert charts.label_indices(0) == []


@pytest.mark.parametrize(
    ("value", "text"),
    [(0, "0"), (7, "7"), (1250, "1,250"), (12_500, "12.5k"), (2_000_000, "2M"), (0.25, "0.25")],
)
def test_format_value(value: float, text: str) -> None:
    assert charts.format_value(value) == text


def test_negative_values_read_with_a_minus_sign() -> None:
    assert charts.format_value(-3) == charts.MINUS + "3"
    assert charts.format_value(-0.5) == charts.MINUS + "0.5"


def test_shares_and_days() -> None:
    assert charts.format_share(0.425) == "42.5%"
    assert charts.format_share(1) == "100%"
    assert charts.short_day(date(2026, 12, 7)) == "7 Dec"


def test_summary_says_totals_and_peaks_in_words() -> None:
    series = [Series("positive", [1, 4, 0], charts.GREEN), Series("negative", [0, 0, 0], "#000")]
    text = charts.summarise("Mentions", ["1 Dec", "2 Dec", "3 Dec"], series, charts.format_value)
    assert text == "Mentions, 1 Dec to 3 Dec: positive 5 in all, most 4 on 2 Dec; negative none."


def test_summary_of_values_that_do_not_add_up_gives_their_range() -> None:
    series = [Series("net", [2, -3, 1], charts.BLUE, additive=False)]
    text = charts.summarise("Net", ["a", "b", "c"], series, charts.format_value)
    assert text == "Net, a to c: net from " + charts.MINUS + "3 on b to 2 on a."


def _svg(markup: str) -> LexborHTMLParser:
    return LexborHTMLParser(str(markup))


@pytest.mark.parametrize("draw", [charts.line_chart, charts.bar_chart])
def test_empty_series_say_so_in_words_instead_of_an_empty_picture(draw: object) -> None:
    for labels, series in (([], []), (["a", "b"], [Series("x", [0, 0], charts.BLUE)])):
        out = draw("Mentions", labels, series, empty="No mentions in these days.")  # type: ignore[operator]
        assert "<svg" not in out
        assert "No mentions in these days." in out


def test_a_line_chart_has_a_point_per_value_a_title_a_summary_and_a_table() -> None:
    labels = ["1 Dec", "2 Dec", "3 Dec"]
    out = charts.line_chart(
        "Engagement",
        labels,
        [Series("likes", [1, 5, 2], charts.BLUE), Series("shares", [0, 1, 0], charts.GREEN)],
        table_labels=["2026-12-01", "2026-12-02", "2026-12-03"],
    )
    tree = _svg(out)
    svg = tree.css_first("svg")
    assert svg.attributes["role"] == "img"
    assert svg.css_first("title").text() == "Engagement"
    assert tree.css_first("figure > figcaption").text() == "Engagement"  # seen, not only heard
    assert "likes 8 in all, most 5 on 2026-12-02" in svg.attributes["aria-label"]
    assert len(tree.css("circle.chart-point")) == 6
    assert [li.text(strip=True) for li in tree.css(".chart-legend li")] == ["likes", "shares"]
    rows = [[c.text() for c in tr.css("th, td")] for tr in tree.css("details table tbody tr")]
    assert rows == [["2026-12-01", "1", "0"], ["2026-12-02", "5", "1"], ["2026-12-03", "2", "0"]]


def test_one_point_is_drawn_in_the_middle() -> None:
    out = charts.line_chart("One day", ["7 Dec"], [Series("likes", [3], charts.BLUE)])
    point = _svg(out).css_first("circle.chart-point")
    assert float(point.attributes["cx"] or 0) == pytest.approx(
        charts.LEFT + (charts.WIDTH - charts.LEFT - charts.RIGHT) / 2
    )


def test_negative_values_go_below_the_zero_line() -> None:
    out = charts.line_chart("Net", ["a", "b"], [Series("net", [2, -3], charts.BLUE)])
    tree = _svg(out)
    zero = next(
        line for line in tree.css(".chart-axis line") if line.attributes["stroke"] == charts.INK
    )
    zero_y = float(zero.attributes["y1"] or 0)
    ys = [float(c.attributes["cy"] or 0) for c in tree.css("circle.chart-point")]
    assert ys[0] < zero_y < ys[1]
    assert charts.MINUS + "3" in [t.text() for t in tree.css(".chart-axis text")]


def test_stacked_bars_draw_one_rect_per_non_zero_value_stacked_on_each_other() -> None:
    out = charts.bar_chart(
        "Mentions",
        ["1 Dec", "2 Dec"],
        [Series("positive", [2, 0], charts.GREEN), Series("negative", [1, 3], charts.RED)],
    )
    tree = _svg(out)
    bars = tree.css("rect.chart-bar")
    assert len(bars) == 3
    first_pos, first_neg = bars[0], bars[1]
    bottom_of_neg = float(first_neg.attributes["y"] or 0) + float(
        first_neg.attributes["height"] or 0
    )
    assert bottom_of_neg == pytest.approx(float(first_pos.attributes["y"] or 0))
    # Both stacks are 3 high: the axis reaches 3, in whole steps.
    assert [t.text() for t in tree.css(".chart-axis text")][:4] == ["0", "1", "2", "3"]
    assert "3" in [t.text() for t in tree.css(".chart-axis text")]


def test_labels_are_escaped() -> None:
    out = charts.hbar_chart(
        "Coverage",
        [("<script>", 0.5)],
        value_name="share",
        index_name="Network",
        fmt=charts.format_share,
        top=1.0,
    )
    assert "<script>" not in out
    assert "&lt;script&gt;" in out


def test_horizontal_bars_are_scaled_to_the_top_given() -> None:
    out = charts.hbar_chart(
        "Coverage",
        [("x", 0.5), ("mastodon", 1.0)],
        value_name="share",
        index_name="Network",
        fmt=charts.format_share,
        top=1.0,
    )
    tree = _svg(out)
    widths = [float(r.attributes["width"] or 0) for r in tree.css("rect.chart-bar")]
    assert widths[1] == pytest.approx(2 * widths[0])
    assert tree.css_first("svg").attributes["aria-label"] == "Coverage: x 50%, mastodon 100%."
    assert re.findall(r">(\d+%)<", str(out))[:2] == ["50%", "100%"]
