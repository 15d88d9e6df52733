"""Days of the calendar in UTC, for charts: a window of days, and a day bucket that SQLite and
PostgreSQL compute alike (PostgreSQL's own ``date()`` would use the session's time zone)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Date
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

MAX_DAYS = 400  # a window longer than this is refused by the callers' parameters


class utc_day(FunctionElement[date]):
    """``utc_day(column)``: the UTC calendar day of a UTC timestamp column, as a ``date``."""

    type = Date()
    name = "utc_day"
    inherit_cache = True


@compiles(utc_day, "sqlite")
def _sqlite_day(element: utc_day, compiler: Any, **kw: Any) -> str:
    # Timestamps are stored as UTC text ('2026-12-07 23:30:00.000000'): its date part.
    return f"date({compiler.process(element.clauses, **kw)})"


@compiles(utc_day, "postgresql")
def _postgresql_day(element: utc_day, compiler: Any, **kw: Any) -> str:
    return f"CAST(({compiler.process(element.clauses, **kw)} AT TIME ZONE 'UTC') AS DATE)"


@compiles(utc_day)
def _other_day(element: utc_day, compiler: Any, **kw: Any) -> str:
    return f"CAST({compiler.process(element.clauses, **kw)} AS DATE)"


def window(last: date, days: int) -> list[date]:
    """The ``days`` calendar days ending with ``last``, oldest first."""
    return [last - timedelta(days=n) for n in range(days - 1, -1, -1)]


def bounds(first: date, last: date) -> tuple[datetime, datetime]:
    """The UTC instants ``[first 00:00, the day after last 00:00)``: a bounded range query."""
    return (
        datetime.combine(first, time.min, UTC),
        datetime.combine(last + timedelta(days=1), time.min, UTC),
    )


def as_day(value: date | str) -> date:
    """A bucket as the database answered it (a date; some drivers answer ISO text)."""
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])
