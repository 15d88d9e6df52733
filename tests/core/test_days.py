"""The UTC day bucket on the real database (SQLite, and PostgreSQL when configured)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import literal, select, text

from socialcrm.core.days import as_day, bounds, utc_day, window
from socialcrm.core.db import Database, UTCDateTime


def test_a_late_evening_stays_on_its_utc_day_whatever_the_session_time_zone(
    database: Database,
) -> None:
    late = datetime(2026, 12, 7, 23, 30, tzinfo=UTC)
    with database.session(system=True) as session:
        if session.get_bind().dialect.name == "postgresql":
            # Plain date() would answer 8 December in Auckland (UTC+13).
            session.execute(text("SET LOCAL TIME ZONE 'Pacific/Auckland'"))
        day = session.scalar(select(utc_day(literal(late, UTCDateTime()))))
    assert as_day(day) == date(2026, 12, 7)


def test_a_window_of_days_and_its_bounds() -> None:
    days = window(date(2026, 3, 2), 3)
    assert days == [date(2026, 2, 28), date(2026, 3, 1), date(2026, 3, 2)]
    assert bounds(days[0], days[-1]) == (
        datetime(2026, 2, 28, tzinfo=UTC),
        datetime(2026, 3, 3, tzinfo=UTC),
    )
