"""Wall-clock helpers: the sandbox reads time through a clock so tests can move it."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], float]

system_clock: Clock = time.time


def as_utc(moment: datetime) -> datetime:
    """Treat naive datetimes from world files as UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def iso_z(moment: datetime) -> str:
    """``2026-01-02T03:04:05.000Z``: the one timestamp format every network answer uses."""
    utc = as_utc(moment)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def from_epoch(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)
