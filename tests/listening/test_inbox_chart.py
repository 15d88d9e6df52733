"""The inbox's picture: mentions per UTC day by sentiment, and the net sentiment line."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from fastapi.testclient import TestClient
from selectolax.lexbor import LexborHTMLParser

from socialcrm.core.db import Database
from socialcrm.core.principal import Role
from socialcrm.core.web import charts
from socialcrm.listening import service
from socialcrm.listening.models import SocialMention
from socialcrm.tenancy.service import create_user
from tests.conftest import make_tenant, ui_login

PASSWORD = "correct horse battery staple"
NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
_ids = itertools.count(1)


def add_mention(
    database: Database,
    tenant_id: int,
    at: datetime,
    sentiment: str,
    *,
    network: str = "x",
) -> None:
    with database.session(tenant_id=tenant_id) as session:
        session.add(
            SocialMention(
                tenant_id=tenant_id,
                network=network,
                external_id=f"chart-{next(_ids)}",
                text="about the brand",
                sentiment_label=sentiment,
                posted_at=at,
            )
        )


@pytest.fixture
def tenants(database: Database) -> dict[str, int]:
    with database.session(system=True) as session:
        mine = make_tenant(session, name="Chart Co")
        other = make_tenant(session, name="Other Co")
        create_user(
            session, tenant=mine, email="ana@chart.test", password=PASSWORD, role=Role.AGENT
        )
        return {"mine": mine.id, "other": other.id}


@pytest.fixture
def week(database: Database, tenants: dict[str, int]) -> Iterator[None]:
    """Seven days ending 7 December: 2 positive and 1 negative on the 5th, 3 negative on the
    7th (one at 23:59 on the 6th, the evening before), and some that must not count."""
    mine = tenants["mine"]
    fifth = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
    for sentiment in ("positive", "positive", "negative"):
        add_mention(database, mine, fifth, sentiment)
    add_mention(database, mine, datetime(2026, 12, 6, 23, 59, tzinfo=UTC), "neutral")
    for minute in range(3):
        add_mention(database, mine, NOW + timedelta(minutes=minute), "negative", network="bluesky")
    add_mention(database, mine, datetime(2026, 11, 30, 23, 59, tzinfo=UTC), "positive")  # before
    add_mention(database, tenants["other"], fifth, "positive")  # another tenant's
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.mark.usefixtures("week")
def test_mentions_are_counted_per_utc_day_and_sentiment_in_the_window(
    database: Database, tenants: dict[str, int]
) -> None:
    with database.session(tenant_id=tenants["mine"]) as session:
        volume = service.mention_volume(
            session, service.InboxFilters(), last=date(2026, 12, 7), days=7
        )
        only_x = service.mention_volume(
            session, service.InboxFilters(network="x"), last=date(2026, 12, 7), days=7
        )
    assert volume.days[0] == date(2026, 12, 1) and volume.days[-1] == date(2026, 12, 7)
    assert volume.counts == {
        "positive": [0, 0, 0, 0, 2, 0, 0],
        "neutral": [0, 0, 0, 0, 0, 1, 0],
        "negative": [0, 0, 0, 0, 1, 0, 3],
    }
    assert volume.net == [0, 0, 0, 0, 1, 0, -3]
    assert volume.total == 7
    assert only_x.counts["negative"] == [0, 0, 0, 0, 1, 0, 0]


@pytest.fixture
def ui(app_client: TestClient, tenants: dict[str, int]) -> TestClient:
    return ui_login(app_client, "ana@chart.test", PASSWORD)


def _bars(page: str) -> list[str]:
    tree = LexborHTMLParser(page)
    return [b.css_first("title").text() for b in tree.css('svg[data-chart="bar"] rect.chart-bar')]


@pytest.mark.usefixtures("week")
def test_the_inbox_shows_the_days_stacked_by_sentiment_and_the_net_line(ui: TestClient) -> None:
    page = ui.get("/listening/inbox?days=7")
    assert page.status_code == 200
    # One rect per (day, sentiment) with mentions: the 5th has two, the 6th and 7th one each.
    assert _bars(page.text) == [
        "2026-12-05: 2 positive",
        "2026-12-05: 1 negative",
        "2026-12-06: 1 neutral",
        "2026-12-07: 3 negative",
    ]
    tree = LexborHTMLParser(page.text)
    net = tree.css_first('svg[data-chart="line"]')
    assert len(net.css("circle.chart-point")) == 7
    spoken = net.attributes["aria-label"] or ""
    assert f"from {charts.MINUS}3 on 2026-12-07 to 1 on 2026-12-05" in spoken
    axis = [t.text() for t in tree.css('svg[data-chart="bar"] .chart-axis text')]
    assert "1 Dec" in axis and "7 Dec" in axis
    legend = [li.text(strip=True) for li in tree.css(".chart-legend li")][:3]
    assert legend == ["positive", "neutral", "negative"]
    # The window's links keep the filters.
    month = ui.get("/listening/inbox?network=x&days=30").text
    assert 'href="/listening/inbox?network=x&amp;days=7"' in month


@pytest.mark.usefixtures("week")
def test_the_chart_follows_the_inbox_filters(ui: TestClient) -> None:
    fragment = ui.get("/listening/inbox/chart?network=bluesky&days=7")
    assert fragment.status_code == 200
    assert _bars(fragment.text) == ["2026-12-07: 3 negative"]


@pytest.mark.usefixtures("week")
def test_an_empty_window_says_so_and_a_window_out_of_range_is_refused(ui: TestClient) -> None:
    empty = ui.get("/listening/inbox/chart?network=mastodon&days=7")
    assert "No mentions in the last 7 days." in empty.text
    assert "<svg" not in empty.text
    refused = ui.get("/listening/inbox?days=5000")
    assert refused.status_code == 400
    assert "<svg" not in refused.text
