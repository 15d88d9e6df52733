"""Read each network's rate-limit headers into one ``RateBudget`` / ``RateLimited``.

Pure: headers and ``now`` in, values out. X and Bluesky send the reset as epoch seconds,
Mastodon as ISO-8601; any network may send ``Retry-After`` (seconds or an HTTP-date).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from enum import Enum

from socialcrm.providers.base import RateBudget, RateLimited

DEFAULT_BACKOFF = timedelta(seconds=60)


class ResetFormat(Enum):
    EPOCH = "epoch"
    ISO8601 = "iso8601"


@dataclass(frozen=True, slots=True)
class RateHeaders:
    """Which headers a network uses for its budget (names compared case-insensitively)."""

    limit: str
    remaining: str
    reset: str
    reset_format: ResetFormat


X_HEADERS = RateHeaders(
    "x-rate-limit-limit", "x-rate-limit-remaining", "x-rate-limit-reset", ResetFormat.EPOCH
)
MASTODON_HEADERS = RateHeaders(
    "x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset", ResetFormat.ISO8601
)
BLUESKY_HEADERS = RateHeaders(
    "ratelimit-limit", "ratelimit-remaining", "ratelimit-reset", ResetFormat.EPOCH
)


def _lower_keys(headers: Mapping[str, str]) -> dict[str, str]:
    return {key.lower(): value.strip() for key, value in headers.items()}


def _int_or_none(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(float(value))
    except ValueError:
        return None


def parse_reset(value: str | None, reset_format: ResetFormat) -> datetime | None:
    """A reset header value as an aware UTC datetime, or ``None`` if absent or unreadable."""
    if not value:
        return None
    try:
        if reset_format is ResetFormat.EPOCH:
            return datetime.fromtimestamp(float(value), tz=UTC)
        parsed = datetime.fromisoformat(value)
    except (ValueError, OverflowError, OSError):
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def parse_retry_after(value: str | None, now: datetime) -> datetime | None:
    """``Retry-After``: delay in seconds or an HTTP-date."""
    if not value:
        return None
    seconds = _int_or_none(value)
    if seconds is not None:
        return now + timedelta(seconds=max(seconds, 0))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def read_budget(headers: Mapping[str, str], scheme: RateHeaders) -> RateBudget | None:
    """The budget the answer announced, or ``None`` when it carried none of the headers."""
    h = _lower_keys(headers)
    if not any(name in h for name in (scheme.limit, scheme.remaining, scheme.reset)):
        return None
    return RateBudget(
        limit=_int_or_none(h.get(scheme.limit)),
        remaining=_int_or_none(h.get(scheme.remaining)),
        reset_at=parse_reset(h.get(scheme.reset), scheme.reset_format),
    )


def retry_at(
    headers: Mapping[str, str],
    scheme: RateHeaders,
    now: datetime,
    default_backoff: timedelta = DEFAULT_BACKOFF,
) -> datetime:
    """When to try again after a 429.

    ``Retry-After`` wins (it is about this very answer), then the network's reset header;
    a missing, unreadable or already-past value means ``now + default_backoff``.
    """
    h = _lower_keys(headers)
    when = parse_retry_after(h.get("retry-after"), now) or parse_reset(
        h.get(scheme.reset), scheme.reset_format
    )
    if when is None or when <= now:
        return now + default_backoff
    return when


def rate_limited(
    headers: Mapping[str, str],
    scheme: RateHeaders,
    now: datetime,
    default_backoff: timedelta = DEFAULT_BACKOFF,
) -> RateLimited:
    """The typed outcome of a 429."""
    when = retry_at(headers, scheme, now, default_backoff)
    return RateLimited(when, f"rate limited until {when.isoformat()}")


def pause_before_next_call(budget: RateBudget, now: datetime) -> timedelta:
    """How long to wait so the remaining calls spread evenly until the window resets.

    Nothing known, or the window already reset: no pause. Budget spent: wait for the reset.
    Otherwise ``time left / remaining``, so the last call lands at the reset, never a 429.
    """
    if budget.reset_at is None or budget.remaining is None:
        return timedelta(0)
    left = budget.reset_at - now
    if left <= timedelta(0):
        return timedelta(0)
    if budget.remaining <= 0:
        return left
    return left / budget.remaining
