"""What a Campaign brought: posts, engagement over time, mentions by sentiment, leads, cost.

Engagement is read from the daily delta rows (one indexed range sum per campaign), leads from
the CRM, mentions and lead-form submissions from listening through ``listening_source``.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from socialcrm.core.days import as_day, bounds, utc_day
from socialcrm.core.errors import NotFound, ValidationFailed
from socialcrm.crm.models import Campaign, Lead, LeadStatus
from socialcrm.publishing import listening_source
from socialcrm.publishing.models import CampaignBudget, EngagementDaily, PostTarget

METRICS = ("likes", "comments", "shares", "impressions", "clicks")


@dataclass(slots=True)
class Attribution:
    campaign_id: int
    name: str
    start: date | None
    end: date | None
    posts: dict[str, int]
    engagement: dict[str, int]
    series: list[dict[str, Any]]
    leads: dict[str, int]
    mentions: dict[str, Any]
    budget: dict[str, Any] | None
    notes: list[str] = field(default_factory=list)
    leads_series: list[dict[str, Any]] = field(default_factory=list)  # leads created per day


def campaign_attribution(
    session: Session, campaign_id: int, *, start: date | None = None, end: date | None = None
) -> Attribution:
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise NotFound(f"campaign {campaign_id} not found")
    if start is not None and end is not None and start > end:
        raise ValidationFailed("from must not be after to")
    series = _series(session, campaign_id, start, end)
    totals = {m: sum(int(day[m]) for day in series) for m in METRICS}
    leads = _leads(session, campaign_id)
    mentions = listening_source.campaign_mentions(session, campaign_id, start, end)
    budget = session.scalars(
        select(CampaignBudget).where(CampaignBudget.campaign_id == campaign_id)
    ).first()
    spend = None
    if budget is not None:
        total = leads["total"]
        spend = {
            "amount": budget.amount,
            "currency": budget.currency,
            "cost_per_lead": round(budget.amount / total, 2) if total else None,
            "cost_per_conversion": (
                round(budget.amount / leads["converted"], 2) if leads["converted"] else None
            ),
        }
    notes = [] if mentions["available"] else [listening_source.UNAVAILABLE_NOTE]
    return Attribution(
        campaign_id=campaign.id,
        name=campaign.name,
        start=start,
        end=end,
        posts=_posts(session, campaign_id),
        engagement=totals,
        series=series,
        leads=leads,
        mentions=mentions,
        budget=spend,
        notes=notes,
        leads_series=_leads_series(session, campaign_id, start, end),
    )


def _series(
    session: Session, campaign_id: int, start: date | None, end: date | None
) -> list[dict[str, Any]]:
    stmt = (
        select(
            EngagementDaily.day,
            *(func.coalesce(func.sum(getattr(EngagementDaily, m)), 0) for m in METRICS),
        )
        .where(EngagementDaily.campaign_id == campaign_id)
        .group_by(EngagementDaily.day)
        .order_by(EngagementDaily.day)
    )
    if start is not None:
        stmt = stmt.where(EngagementDaily.day >= start)
    if end is not None:
        stmt = stmt.where(EngagementDaily.day <= end)
    return [
        {"day": row[0].isoformat(), **{m: int(v) for m, v in zip(METRICS, row[1:], strict=True)}}
        for row in session.execute(stmt)
    ]


def _leads_series(
    session: Session, campaign_id: int, start: date | None, end: date | None
) -> list[dict[str, Any]]:
    """Leads the campaign brought, per UTC day they were created (one grouped query)."""
    day = utc_day(Lead.created_at)
    stmt = select(day, func.count()).where(Lead.campaign_id == campaign_id)
    if start is not None:
        stmt = stmt.where(Lead.created_at >= bounds(start, start)[0])
    if end is not None:
        stmt = stmt.where(Lead.created_at < bounds(end, end)[1])
    rows = session.execute(stmt.group_by(day).order_by(day))
    return [{"day": as_day(when).isoformat(), "leads": int(n)} for when, n in rows]


def _posts(session: Session, campaign_id: int) -> dict[str, int]:
    rows = session.execute(
        select(PostTarget.status, func.count())
        .where(PostTarget.campaign_id == campaign_id)
        .group_by(PostTarget.status)
    )
    counts = {str(status): int(n) for status, n in rows}
    return {"total": sum(counts.values()), **counts}


def _leads(session: Session, campaign_id: int) -> dict[str, int]:
    rows = session.execute(
        select(Lead.status, func.count())
        .where(Lead.campaign_id == campaign_id)
        .group_by(Lead.status)
    )
    counts = {str(status): int(n) for status, n in rows}
    return {
        "total": sum(counts.values()),
        **{s.value: counts.get(s.value, 0) for s in LeadStatus},
    }


def as_dict(result: Attribution) -> dict[str, Any]:
    return {
        "campaign_id": result.campaign_id,
        "name": result.name,
        "from": result.start.isoformat() if result.start else None,
        "to": result.end.isoformat() if result.end else None,
        "posts": result.posts,
        "engagement": result.engagement,
        "series": result.series,
        "leads": result.leads,
        "mentions": result.mentions,
        "budget": result.budget,
        "notes": result.notes,
        "leads_series": result.leads_series,
    }


def as_csv(result: Attribution) -> str:
    """One row per day (engagement and mentions), then a totals row."""
    out = io.StringIO()
    writer = csv.writer(out)
    sentiments = ("positive", "neutral", "negative")
    writer.writerow(["day", *METRICS, *(f"mentions_{s}" for s in sentiments)])
    by_day = {d["day"]: d for d in result.mentions.get("series", [])}
    days = sorted({d["day"] for d in result.series} | set(by_day))
    engagement = {d["day"]: d for d in result.series}
    for day in days:
        row = engagement.get(day, {})
        mention = by_day.get(day, {})
        writer.writerow(
            [day, *(row.get(m, 0) for m in METRICS), *(mention.get(s, 0) for s in sentiments)]
        )
    by_sentiment = result.mentions.get("by_sentiment", {})
    writer.writerow(
        [
            "total",
            *(result.engagement[m] for m in METRICS),
            *(by_sentiment.get(s, 0) for s in sentiments),
        ]
    )
    return out.getvalue()
