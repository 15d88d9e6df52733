"""The campaign page's pictures: engagement, clicks, leads and mentions per UTC day."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from fastapi.testclient import TestClient
from selectolax.lexbor import LexborHTMLParser

from socialcrm.core.db import Database
from socialcrm.core.principal import Role
from socialcrm.crm.models import Campaign, Lead
from socialcrm.listening.models import SocialMention
from socialcrm.publishing import attribution
from socialcrm.publishing.charts import day_axis, per_day
from socialcrm.publishing.models import EngagementDaily
from socialcrm.tenancy.service import create_user
from tests.conftest import make_tenant, ui_login

PASSWORD = "correct horse battery staple"


def test_the_day_axis_has_no_gaps_and_spans_the_campaign() -> None:
    rows = [[{"day": "2026-03-03"}], [{"day": "2026-03-01"}]]
    assert day_axis(rows, None, None) == [date(2026, 3, d) for d in (1, 2, 3)]
    assert day_axis(rows, date(2026, 2, 27), date(2026, 3, 1))[0] == date(2026, 2, 27)
    assert day_axis(rows, None, date(2026, 3, 5))[-1] == date(2026, 3, 5)
    assert day_axis([[], []], None, None) == []
    long = day_axis([[{"day": "2020-01-01"}, {"day": "2026-01-01"}]], None, None)
    assert len(long) == 366 and long[-1] == date(2026, 1, 1)


def test_per_day_fills_the_days_without_rows_with_zero() -> None:
    days = [date(2026, 3, d) for d in (1, 2, 3)]
    assert per_day([{"day": "2026-03-02", "likes": 4}], "likes", days) == [0, 4, 0]


@pytest.fixture
def campaign(database: Database) -> tuple[int, int]:
    """Spring, 1 to 4 March: engagement on the 1st and 3rd, leads on the 2nd (two, one late in
    the evening) and the 4th, mentions on the 3rd; a lead of another campaign."""
    with database.session(system=True) as session:
        tenant = make_tenant(session, name="Spring Co")
        create_user(
            session, tenant=tenant, email="kim@spring.test", password=PASSWORD, role=Role.AGENT
        )
        spring = Campaign(
            tenant_id=tenant.id,
            name="Spring",
            starts_at=datetime(2026, 3, 1, tzinfo=UTC),
            ends_at=datetime(2026, 3, 4, tzinfo=UTC),
        )
        other = Campaign(tenant_id=tenant.id, name="Other")
        session.add_all([spring, other])
        session.flush()
        for day, likes, clicks in ((1, 5, 2), (3, 1, 7)):
            session.add(
                EngagementDaily(
                    tenant_id=tenant.id,
                    campaign_id=spring.id,
                    day=date(2026, 3, day),
                    likes=likes,
                    comments=1,
                    clicks=clicks,
                )
            )
        for n, (campaign_id, at) in enumerate(
            (
                (spring.id, datetime(2026, 3, 2, 9, 0, tzinfo=UTC)),
                (spring.id, datetime(2026, 3, 2, 23, 59, tzinfo=UTC)),
                (spring.id, datetime(2026, 3, 4, 8, 0, tzinfo=UTC)),
                (other.id, datetime(2026, 3, 2, 9, 0, tzinfo=UTC)),
            )
        ):
            session.add(
                Lead(tenant_id=tenant.id, name=f"Lead {n}", campaign_id=campaign_id, created_at=at)
            )
        for n, sentiment in enumerate(("positive", "positive", "negative")):
            session.add(
                SocialMention(
                    tenant_id=tenant.id,
                    network="x",
                    external_id=f"spring-{n}",
                    sentiment_label=sentiment,
                    campaign_id=spring.id,
                    posted_at=datetime(2026, 3, 3, 12, n, tzinfo=UTC),
                )
            )
        session.flush()
        return tenant.id, spring.id


def test_leads_are_counted_per_utc_day_of_creation(
    database: Database, campaign: tuple[int, int]
) -> None:
    tenant_id, campaign_id = campaign
    with database.session(tenant_id=tenant_id) as session:
        result = attribution.campaign_attribution(session, campaign_id)
        first_days = attribution.campaign_attribution(
            session, campaign_id, start=date(2026, 3, 1), end=date(2026, 3, 2)
        )
    assert result.leads_series == [
        {"day": "2026-03-02", "leads": 2},
        {"day": "2026-03-04", "leads": 1},
    ]
    assert first_days.leads_series == [{"day": "2026-03-02", "leads": 2}]
    assert [d["day"] for d in result.mentions["series"]] == ["2026-03-03"]


def _chart(page: LexborHTMLParser, title: str) -> LexborHTMLParser:
    for svg in page.css("svg.chart-svg"):
        if svg.css_first("title").text() == title:
            return svg
    raise AssertionError(f"no chart {title!r}")


def test_the_campaign_page_draws_engagement_clicks_leads_and_mentions_per_day(
    app_client: TestClient, campaign: tuple[int, int]
) -> None:
    ui = ui_login(app_client, "kim@spring.test", PASSWORD)
    campaigns = LexborHTMLParser(ui.get("/campaigns").text)
    assert campaigns.css_first(f'a[href="/campaigns/{campaign[1]}"]') is not None
    page = LexborHTMLParser(ui.get(f"/campaigns/{campaign[1]}").text)

    engagement = _chart(page, "Engagement per day")
    assert len(engagement.css("circle.chart-point")) == 4 * 3  # 4 days x likes, comments, shares
    axis = [t.text() for t in engagement.css(".chart-axis text")]
    assert "1 Mar" in axis and "4 Mar" in axis

    def bars(title: str) -> list[str]:
        return [r.css_first("title").text() for r in _chart(page, title).css("rect.chart-bar")]

    assert bars("Link clicks per day") == ["2026-03-01: 2 clicks", "2026-03-03: 7 clicks"]
    assert bars("Leads per day") == ["2026-03-02: 2 leads", "2026-03-04: 1 leads"]
    assert bars("Mentions per day by sentiment") == [
        "2026-03-03: 2 positive",
        "2026-03-03: 1 negative",
    ]
    funnel = _chart(page, "Leads funnel")
    assert funnel.attributes["aria-label"] == "Leads funnel: leads 3, qualified 0, converted 0."
    assert page.css_first("details.chart-data table") is not None
