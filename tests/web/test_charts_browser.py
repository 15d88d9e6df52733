"""The pictures in real headless Chromium: the inbox's chart renders and follows its filters
without a reload, and the publishing calendar switches between a week and a month."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from socialcrm.connections.models import Ownership, SocialAccount
from socialcrm.core.db import utcnow
from socialcrm.core.principal import Role
from socialcrm.core.settings import get_settings
from socialcrm.listening.models import SocialMention
from socialcrm.publishing.models import PostTarget, ScheduledPost, TargetStatus
from socialcrm.tenancy.service import create_user, get_or_create_tenant
from tests.conftest import CHROMIUM_ARGS, committed_database
from tests.live import live_app

pytestmark = pytest.mark.browser
PASSWORD = "correct horse"


@pytest.fixture
def site(tmp_path: Path) -> Iterator[str]:
    """A live server over a committed database: a marketer, mentions of today and yesterday,
    one post due today."""
    settings = get_settings()
    previous_base = settings.base_url
    with committed_database(tmp_path, "charts_browser") as (db, _url):
        try:
            with live_app() as base:
                settings.base_url = base
                now = utcnow()
                with db.session(system=True) as session:
                    tenant = get_or_create_tenant(session, "Browser Charts Co")
                    create_user(
                        session,
                        tenant=tenant,
                        email="mo@charts.test",
                        password=PASSWORD,
                        role=Role.MARKETING,
                    )
                    moments = [
                        (now - timedelta(days=1), "positive"),
                        (now - timedelta(days=1), "positive"),
                        (now, "negative"),
                    ]
                    for n, (at, sentiment) in enumerate(moments):
                        session.add(
                            SocialMention(
                                tenant_id=tenant.id,
                                network="x",
                                external_id=f"browser-chart-{n}",
                                text=f"a {sentiment} word",
                                sentiment_label=sentiment,
                                posted_at=at,
                            )
                        )
                    account = SocialAccount(
                        tenant_id=tenant.id,
                        provider="x",
                        external_user_id="brand",
                        handle="brand",
                        ownership=Ownership.BRAND,
                    )
                    post = ScheduledPost(tenant_id=tenant.id, text="Due today", publish_at=now)
                    session.add_all([account, post])
                    session.flush()
                    session.add(
                        PostTarget(
                            tenant_id=tenant.id,
                            post_id=post.id,
                            social_account_id=account.id,
                            network="x",
                            text="Due today",
                            status=TargetStatus.SCHEDULED,
                            due_at=now,
                        )
                    )
                yield base
        finally:
            settings.base_url = previous_base


def _log_in(page: Any, base: str, path: str) -> None:
    page.goto(f"{base}{path}")
    page.get_by_label("Email").fill("mo@charts.test")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def test_the_inbox_chart_renders_and_the_calendar_switches_week_and_month(
    chromium: Path, site: str
) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1366, "height": 900})
        _log_in(page, site, "/listening/inbox")
        chart = page.get_by_role("img", name="Mentions per day by sentiment", exact=False)
        expect(chart).to_be_visible()
        box = chart.bounding_box()
        assert box is not None and box["width"] > 400 and box["height"] > 100
        bars = page.locator('#inbox-chart svg[data-chart="bar"] rect.chart-bar')
        expect(bars).to_have_count(2)  # yesterday's positives, today's negative
        expect(page.locator("#inbox-chart .chart-legend")).to_contain_text("negative")
        # The numbers are one click away, as a table.
        page.locator("#inbox-chart details.chart-data summary").first.click()
        expect(page.locator("#inbox-chart details.chart-data table").first).to_be_visible()
        # A filter swaps the chart in without a reload.
        page.get_by_label("Sentiment", exact=True).select_option("negative")
        expect(bars).to_have_count(1)
        expect(bars.first.locator("title")).to_contain_text("1 negative")
        # The window's links: a week.
        page.get_by_role("link", name="7 days").click()
        expect(page.get_by_role("heading", name="Mentions per day, last 7 days")).to_be_visible()

        page.get_by_role("link", name="Publishing", exact=True).click()
        page.get_by_role("link", name="Calendar").click()
        expect(page.get_by_role("heading", name="Week of", exact=False)).to_be_visible()
        expect(page.locator("td.day")).to_have_count(7)
        today = page.locator('td[aria-current="date"]')
        expect(today).to_contain_text("Due today")
        expect(today).to_contain_text("scheduled")
        page.get_by_role("link", name="Month").click()
        expect(page.get_by_role("link", name="Month")).to_have_attribute("aria-current", "page")
        assert page.locator("td.day").count() in (28, 35, 42)  # whole weeks around the month
        expect(page.locator("td.day.outside").first).to_be_attached()
        expect(page.locator('td[aria-current="date"]')).to_contain_text("Due today")
        page.get_by_role("link", name="Week").click()
        expect(page.locator("td.day")).to_have_count(7)
        expect(page.locator('td[aria-current="date"]')).to_contain_text("Due today")  # same week
        fits = "document.documentElement.scrollWidth <= window.innerWidth"
        assert page.evaluate(fits)
        # On a phone the week scrolls inside its card; the page itself does not widen.
        page.set_viewport_size({"width": 390, "height": 800})
        assert page.evaluate(fits)
        page.goto(f"{site}/listening/inbox")  # its chart and its table scroll in their cards
        assert page.evaluate(fits)
        browser.close()
