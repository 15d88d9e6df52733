"""The publishing calendar: what goes out (or went out) on each UTC day of a week or a month.

The grid is pure date arithmetic (weeks start on Monday); the entries are one bounded query
over the tenant's targets, placed on their day in Python so SQLite and PostgreSQL agree.
"""

from __future__ import annotations

import calendar as stdlib_calendar
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from socialcrm.connections.models import SocialAccount
from socialcrm.core.days import bounds
from socialcrm.publishing.models import PostTarget, ScheduledPost

MAX_ENTRIES = 2000  # a month of a busy team; beyond this the page says how many it left out


class View(StrEnum):
    WEEK = "week"
    MONTH = "month"


@dataclass(frozen=True, slots=True)
class Period:
    """What one page of the calendar shows: the grid's days and where the arrows lead."""

    view: View
    start: date  # the Monday of the week, or the 1st of the month
    first: date  # the grid's first day (a Monday)
    last: date  # the grid's last day (a Sunday)
    previous: date
    next: date

    @property
    def title(self) -> str:
        if self.view is View.MONTH:
            return self.start.strftime("%B %Y")
        return f"Week of {self.start.day} {self.start:%B %Y}"


def period(view: View, anchor: date) -> Period:
    """The week (Monday to Sunday) or the month (whole weeks around it) holding ``anchor``."""
    if view is View.WEEK:
        monday = anchor - timedelta(days=anchor.weekday())
        return Period(
            view,
            monday,
            monday,
            monday + timedelta(days=6),
            monday - timedelta(days=7),
            monday + timedelta(days=7),
        )
    first_of_month = anchor.replace(day=1)
    days_in_month = stdlib_calendar.monthrange(anchor.year, anchor.month)[1]
    last_of_month = anchor.replace(day=days_in_month)
    previous = (first_of_month - timedelta(days=1)).replace(day=1)
    return Period(
        view,
        first_of_month,
        first_of_month - timedelta(days=first_of_month.weekday()),
        last_of_month + timedelta(days=6 - last_of_month.weekday()),
        previous,
        last_of_month + timedelta(days=1),
    )


@dataclass(frozen=True, slots=True)
class Entry:
    """One post on one account, at the time it went out or is due."""

    target_id: int
    post_id: int
    network: str
    handle: str
    status: str
    at: datetime
    text: str


@dataclass(slots=True)
class Day:
    day: date
    in_period: bool
    is_today: bool
    entries: list[Entry] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        """Posts of the day by status, for the cell's summary."""
        return dict(Counter(e.status for e in self.entries))


@dataclass(frozen=True, slots=True)
class Calendar:
    period: Period
    weeks: list[list[Day]]
    left_out: int  # entries beyond MAX_ENTRIES, not shown

    @property
    def total(self) -> int:
        return sum(len(d.entries) for week in self.weeks for d in week)


def grid(p: Period, entries: list[Entry], today: date) -> list[list[Day]]:
    """The period's days in weeks of seven, each with its entries in time order."""
    dates = [p.first + timedelta(days=n) for n in range((p.last - p.first).days + 1)]
    days = {
        d: Day(d, in_period=p.view is View.WEEK or d.month == p.start.month, is_today=d == today)
        for d in dates
    }
    for entry in sorted(entries, key=lambda e: (e.at, e.target_id)):
        found = days.get(entry.at.astimezone(UTC).date())
        if found is not None:
            found.entries.append(entry)
    ordered = list(days.values())
    return [ordered[n : n + 7] for n in range(0, len(ordered), 7)]


def calendar(session: Session, view: View, anchor: date, *, today: date) -> Calendar:
    """The tenant's posts of the week or month holding ``anchor``: each target on the UTC day
    it was published, or is due (drafts with no time are not on the calendar)."""
    p = period(view, anchor)
    low, high = bounds(p.first, p.last)
    when = func.coalesce(PostTarget.published_at, PostTarget.due_at, ScheduledPost.publish_at)
    rows = session.execute(
        select(
            PostTarget.id,
            PostTarget.post_id,
            PostTarget.network,
            SocialAccount.handle,
            PostTarget.status,
            when,
            ScheduledPost.text,
        )
        .join(ScheduledPost, ScheduledPost.id == PostTarget.post_id)
        .outerjoin(SocialAccount, SocialAccount.id == PostTarget.social_account_id)
        .where(when >= low, when < high)
        .order_by(when, PostTarget.id)
        .limit(MAX_ENTRIES + 1)
    ).all()
    entries = [
        Entry(
            target_id=row[0],
            post_id=row[1],
            network=row[2],
            handle=row[3] or "",
            status=str(row[4]),
            at=row[5],
            text=(row[6] or "")[:120],
        )
        for row in rows[:MAX_ENTRIES]
    ]
    left_out = 0
    if len(rows) > MAX_ENTRIES:
        left_out = (
            session.scalar(
                select(func.count())
                .select_from(PostTarget)
                .join(ScheduledPost, ScheduledPost.id == PostTarget.post_id)
                .where(when >= low, when < high)
            )
            or 0
        )
        left_out -= MAX_ENTRIES
    return Calendar(p, grid(p, entries, today), left_out)
