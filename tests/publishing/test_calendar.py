"""The publishing calendar: the week and month grids, and each post on its UTC day."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest
import time_machine
from fastapi.testclient import TestClient
from selectolax.lexbor import LexborHTMLParser

from socialcrm.connections.models import Ownership, SocialAccount
from socialcrm.core.db import Database
from socialcrm.core.principal import Role
from socialcrm.publishing import calendar
from socialcrm.publishing.calendar import View
from socialcrm.publishing.models import PostTarget, ScheduledPost, TargetStatus
from socialcrm.tenancy.service import create_user
from tests.conftest import make_tenant, ui_login

PASSWORD = "correct horse battery staple"
NOW = datetime(2026, 12, 9, 12, 0, tzinfo=UTC)  # a Wednesday


@pytest.mark.parametrize(
    ("view", "anchor", "expected"),
    [
        # first, last, previous, next
        (View.WEEK, date(2026, 12, 9), ("2026-12-07", "2026-12-13", "2026-11-30", "2026-12-14")),
        (View.WEEK, date(2026, 12, 7), ("2026-12-07", "2026-12-13", "2026-11-30", "2026-12-14")),
        (View.WEEK, date(2027, 1, 3), ("2026-12-28", "2027-01-03", "2026-12-21", "2027-01-04")),
        (View.MONTH, date(2026, 12, 9), ("2026-11-30", "2027-01-03", "2026-11-01", "2027-01-01")),
        (View.MONTH, date(2027, 2, 28), ("2027-02-01", "2027-02-28", "2027-01-01", "2027-03-01")),
        (View.MONTH, date(2028, 2, 10), ("2028-01-31", "2028-03-05", "2028-01-01", "2028-03-01")),
    ],
)
def test_a_period_is_whole_weeks_from_monday(
    view: View, anchor: date, expected: tuple[str, ...]
) -> None:
    p = calendar.period(view, anchor)
    assert tuple(d.isoformat() for d in (p.first, p.last, p.previous, p.next)) == expected
    assert (p.last - p.first).days % 7 == 6


def test_a_month_grid_marks_the_days_outside_the_month() -> None:
    p = calendar.period(View.MONTH, date(2026, 12, 9))
    weeks = calendar.grid(p, [], today=date(2026, 12, 9))
    assert len(weeks) == 5 and all(len(w) == 7 for w in weeks)
    outside = [d.day.isoformat() for w in weeks for d in w if not d.in_period]
    assert outside == ["2026-11-30", "2027-01-01", "2027-01-02", "2027-01-03"]
    assert [d.day for w in weeks for d in w if d.is_today] == [date(2026, 12, 9)]


def _target(
    session: object, account: SocialAccount, text: str, status: TargetStatus, **times: datetime
) -> None:
    post = ScheduledPost(tenant_id=account.tenant_id, text=text, publish_at=times.get("publish"))
    session.add(post)  # type: ignore[attr-defined]
    session.flush()  # type: ignore[attr-defined]
    session.add(  # type: ignore[attr-defined]
        PostTarget(
            tenant_id=account.tenant_id,
            post_id=post.id,
            social_account_id=account.id,
            network=account.provider,
            text=text,
            status=status,
            due_at=times.get("due"),
            published_at=times.get("published"),
        )
    )


@pytest.fixture
def posts(database: Database) -> Iterator[int]:
    """Tenant "Cal Co": one post published on Tuesday the 8th, one due late on Thursday the
    10th, a draft with no time, one due the next week; and another tenant's post that week."""
    with database.session(system=True) as session:
        mine = make_tenant(session, name="Cal Co")
        other = make_tenant(session, name="Other Cal Co")
        create_user(session, tenant=mine, email="max@cal.test", password=PASSWORD, role=Role.AGENT)
        accounts = []
        for tenant, handle in ((mine, "brand"), (other, "rival")):
            account = SocialAccount(
                tenant_id=tenant.id,
                provider="x",
                external_user_id=handle,
                handle=handle,
                ownership=Ownership.BRAND,
            )
            session.add(account)
            accounts.append(account)
        session.flush()
        ours, theirs = accounts
        _target(
            session,
            ours,
            "Launch day",
            TargetStatus.PUBLISHED,
            published=datetime(2026, 12, 8, 10, 5, tzinfo=UTC),
        )
        late = datetime(2026, 12, 10, 23, 30, tzinfo=UTC)
        _target(session, ours, "Late reminder", TargetStatus.SCHEDULED, due=late, publish=late)
        _target(session, ours, "Someday", TargetStatus.DRAFT)
        _target(
            session,
            ours,
            "Next week",
            TargetStatus.AWAITING_APPROVAL,
            publish=datetime(2026, 12, 15, 9, 0, tzinfo=UTC),
        )
        _target(
            session,
            theirs,
            "Not ours",
            TargetStatus.PUBLISHED,
            published=datetime(2026, 12, 8, 11, 0, tzinfo=UTC),
        )
        tenant_id = mine.id
    with time_machine.travel(NOW, tick=False):
        yield tenant_id


def _by_day(cal: calendar.Calendar) -> dict[str, list[tuple[str, str]]]:
    return {
        d.day.isoformat(): [(e.text, e.status) for e in d.entries]
        for week in cal.weeks
        for d in week
        if d.entries
    }


def test_each_post_sits_on_its_utc_day_of_the_week_or_month(database: Database, posts: int) -> None:
    with database.session(tenant_id=posts) as session:
        week = calendar.calendar(session, View.WEEK, date(2026, 12, 9), today=NOW.date())
        month = calendar.calendar(session, View.MONTH, date(2026, 12, 9), today=NOW.date())
    assert _by_day(week) == {
        "2026-12-08": [("Launch day", "published")],
        "2026-12-10": [("Late reminder", "scheduled")],
    }
    assert _by_day(month) == {
        **_by_day(week),
        "2026-12-15": [("Next week", "awaiting_approval")],
    }
    assert (week.total, month.total, week.left_out) == (2, 3, 0)
    entry = week.weeks[0][1].entries[0]
    assert (entry.network, entry.handle, entry.at.hour) == ("x", "brand", 10)


@pytest.fixture
def ui(app_client: TestClient, posts: int) -> TestClient:
    return ui_login(app_client, "max@cal.test", PASSWORD)


def test_the_calendar_page_shows_a_week_or_a_month_of_posts(ui: TestClient) -> None:
    publishing = LexborHTMLParser(ui.get("/publishing").text)
    assert publishing.css_first('a[href="/publishing/calendar"]') is not None

    week = LexborHTMLParser(ui.get("/publishing/calendar").text)  # this week by default
    assert len(week.css("td.day")) == 7
    assert week.css_first("h2").text(strip=True).startswith("Week of 7 December 2026")
    entries = [li.attributes["data-status"] for li in week.css("li.entry")]
    assert entries == ["published", "scheduled"]
    thursday = week.css_first('td[data-day="2026-12-10"]').text(separator=" ", strip=True)
    assert "23:30" in thursday and "1 scheduled" in thursday and "Late reminder" in thursday
    assert week.css_first('td[aria-current="date"]').attributes["data-day"] == "2026-12-09"
    month_link = week.css_first('nav.calendar-views a[href*="view=month"]')
    assert month_link.attributes["href"] == "/publishing/calendar?view=month&start=2026-12-09"

    month = LexborHTMLParser(ui.get("/publishing/calendar?view=month&start=2026-12-09").text)
    assert len(month.css("td.day")) == 35
    assert len(month.css("td.day.outside")) == 4
    assert len(month.css("li.entry")) == 3
    assert month.css_first("h2").text(strip=True).startswith("December 2026")
    prev = month.css_first('a[rel="prev"]').attributes["href"]
    assert prev == "/publishing/calendar?view=month&start=2026-11-01"
    # Back to the week: the same week as before, not the month's first.
    week_link = month.css_first('nav.calendar-views a[href*="view=week"]')
    assert week_link.attributes["href"] == "/publishing/calendar?view=week&start=2026-12-09"


@pytest.mark.parametrize("query", ["view=year", "start=2026-13-01", "start=yesterday"])
def test_a_bad_view_or_date_is_refused(ui: TestClient, query: str) -> None:
    answer = ui.get(f"/publishing/calendar?{query}")
    assert answer.status_code == 400
    assert 'id="calendar"' not in answer.text
