"""Wall-clock times in a chosen IANA time zone, resolved to UTC honestly across DST changes.

A wall time that does not exist (the hour skipped when clocks spring forward) is refused rather
than silently moved; one that happens twice (the hour repeated in autumn) is resolved to the
earlier or later occurrence as the user chooses.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones


class Occurrence(StrEnum):
    EARLIER = "earlier"
    LATER = "later"


class InvalidLocalTime(ValueError):
    """The zone is unknown or the wall time does not exist there."""


def zone(name: str) -> ZoneInfo:
    if not name or name not in _zones():
        raise InvalidLocalTime(f"unknown time zone {name!r} (use an IANA name like Europe/Paris)")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidLocalTime(f"unknown time zone {name!r}") from exc


_ZONES: frozenset[str] | None = None


def _zones() -> frozenset[str]:
    global _ZONES
    if _ZONES is None:
        _ZONES = frozenset(available_timezones())
    return _ZONES


def to_utc(
    local: datetime, zone_name: str, occurrence: Occurrence = Occurrence.EARLIER
) -> datetime:
    """``local`` is a naive wall time in ``zone_name``; the answer is the UTC instant."""
    if local.tzinfo is not None:
        raise InvalidLocalTime("give the wall time without an offset; the zone says which")
    tz = zone(zone_name)
    first = local.replace(tzinfo=tz, fold=0)
    second = local.replace(tzinfo=tz, fold=1)
    # A skipped wall time does not survive the round trip through UTC.
    if first.astimezone(UTC).astimezone(tz).replace(tzinfo=None) != local:
        raise InvalidLocalTime(
            f"{local.isoformat(timespec='minutes')} does not exist in {zone_name} "
            "(the clocks skip that hour); pick another time"
        )
    chosen = second if occurrence == Occurrence.LATER else first
    return chosen.astimezone(UTC)


def is_ambiguous(local: datetime, zone_name: str) -> bool:
    """True when the wall time happens twice in the zone (the repeated autumn hour)."""
    tz = zone(zone_name)
    return (
        local.replace(tzinfo=tz, fold=0).utcoffset() != local.replace(tzinfo=tz, fold=1).utcoffset()
    )


def to_local(instant: datetime, zone_name: str) -> datetime:
    return instant.astimezone(zone(zone_name))
