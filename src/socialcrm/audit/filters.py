"""The audit log's filters, parsed from what a person types (pure: no I/O)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from socialcrm.core import numbers
from socialcrm.core.errors import ValidationFailed


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """``actor`` exact (``user:3``, ``api_key:7``, ``system``, ``cli``); ``action`` exact or a
    prefix ending in ``*`` (``identity.*``); ``target`` a type (``ticket``) or ``type:id``;
    ``since`` inclusive, ``until`` exclusive."""

    actor: str | None = None
    action: str | None = None
    target_type: str | None = None
    target_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def parse_filter(
    *,
    actor: str | None = None,
    action: str | None = None,
    target: str | None = None,
    since: str | None = None,
    until: str | None = None,
) -> AuditFilter:
    target_type, _, target_id = (target or "").strip().partition(":")
    start = parse_moment("from", since, end=False)
    end = parse_moment("to", until, end=True)
    if start is not None and end is not None and start >= end:
        raise ValidationFailed("'from' must be before 'to'", details={"from": since, "to": until})
    return AuditFilter(
        actor=(actor or "").strip() or None,
        action=(action or "").strip() or None,
        target_type=target_type or None,
        target_id=target_id or None,
        since=start,
        until=end,
    )


def parse_moment(name: str, value: str | None, *, end: bool) -> datetime | None:
    """An ISO 8601 date or date-time (UTC unless it says otherwise). A date as ``to`` means
    the end of that day, so ``from=2026-03-01&to=2026-03-31`` is the whole of March."""
    text = (value or "").strip()
    if not text:
        return None
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            moment = datetime.combine(day + timedelta(days=1 if end else 0), time(), UTC)
        else:
            moment = datetime.fromisoformat(text)
        moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except (ValueError, OverflowError):  # not a date; or at the very edge of the calendar
        raise ValidationFailed(
            f"'{name}' is not an ISO 8601 date or date-time (2026-03-01 or 2026-03-01T09:30:00Z)",
            details={name: value},
        ) from None
    return moment


def parse_cursor(value: str | None) -> int | None:
    """The cursor a page gave (the id of its last entry)."""
    return numbers.parse_cursor((value or "").strip())
