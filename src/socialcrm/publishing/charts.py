"""The campaign page's pictures, drawn from its attribution with the shared SVG charts:
engagement, clicks, leads and mentions per day on one axis of days, the sentiment mix and the
leads funnel."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from typing import Any

from markupsafe import Markup

from socialcrm.core.web import charts
from socialcrm.core.web.charts import Series
from socialcrm.publishing.attribution import Attribution

MAX_DAYS = 366  # the axis of a long campaign shows its last year
ENGAGEMENT = (("likes", charts.BLUE), ("comments", charts.GREEN), ("shares", charts.BROWN))
SENTIMENTS = ("positive", "neutral", "negative")


def day_axis(
    series: Sequence[Sequence[Mapping[str, Any]]], starts: date | None, ends: date | None
) -> list[date]:
    """Every day from the campaign's start (or its first day with data) to its end (or its
    last day with data), no gaps, at most ``MAX_DAYS`` (the latest)."""
    seen = [date.fromisoformat(str(row["day"])) for rows in series for row in rows]
    first = min([*seen, *([starts] if starts else [])], default=None)
    last = max([*seen, *([ends] if ends else [])], default=None)
    if first is None or last is None or first > last:
        return []
    first = max(first, last - timedelta(days=MAX_DAYS - 1))
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def per_day(rows: Sequence[Mapping[str, Any]], key: str, days: Sequence[date]) -> list[int]:
    """``key`` of each day of ``days`` (0 where a day has no row)."""
    found = {str(row["day"]): int(row.get(key, 0)) for row in rows}
    return [found.get(d.isoformat(), 0) for d in days]


def campaign_charts(
    result: Attribution, starts: date | None, ends: date | None
) -> dict[str, Markup]:
    """Every picture of the campaign page, by name."""
    mentions = result.mentions.get("series", [])
    days = day_axis([result.series, result.leads_series, mentions], starts, ends)
    labels = [charts.short_day(d) for d in days]
    dates = [d.isoformat() for d in days]
    by_sentiment = result.mentions.get("by_sentiment", {})
    return {
        "engagement": charts.line_chart(
            "Engagement per day",
            labels,
            [Series(k, per_day(result.series, k, days), c) for k, c in ENGAGEMENT],
            table_labels=dates,
            min_step=1,
            empty="No engagement yet: it is read from the networks every 30 minutes.",
        ),
        "clicks": charts.bar_chart(
            "Link clicks per day",
            labels,
            [Series("clicks", per_day(result.series, "clicks", days), charts.BLUE)],
            table_labels=dates,
            empty="No clicks on the campaign's tracked links yet.",
        ),
        "leads": charts.bar_chart(
            "Leads per day",
            labels,
            [Series("leads", per_day(result.leads_series, "leads", days), charts.GREEN)],
            table_labels=dates,
            empty="No leads from this campaign yet.",
        ),
        "mentions": charts.bar_chart(
            "Mentions per day by sentiment",
            labels,
            [
                Series(s, per_day(mentions, s, days), charts.SENTIMENT_COLOURS[s])
                for s in SENTIMENTS
            ],
            table_labels=dates,
            empty="No mentions of this campaign yet.",
        ),
        "sentiment": charts.hbar_chart(
            "Sentiment mix",
            [(s, by_sentiment.get(s, 0)) for s in SENTIMENTS],
            value_name="mentions",
            index_name="Sentiment",
            colours=[charts.SENTIMENT_COLOURS[s] for s in SENTIMENTS],
            empty="No mentions of this campaign yet.",
        ),
        "funnel": charts.hbar_chart(
            "Leads funnel",
            [
                ("leads", result.leads["total"]),
                ("qualified", result.leads["qualified"] + result.leads["converted"]),
                ("converted", result.leads["converted"]),
            ],
            value_name="leads",
            index_name="Step",
            colours=(charts.GREEN,),
            empty="No leads from this campaign yet.",
        ),
    }
