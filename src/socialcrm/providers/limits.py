"""The limit signals of networks that do not use plain rate-limit headers.

Pure: headers, bodies and ``now`` in, values out. LinkedIn counts calls per UTC day and
answers a bare 429; YouTube counts quota units per day, reset at midnight Pacific time; Meta
reports usage as percentages in ``X-App-Usage`` / ``X-Business-Use-Case-Usage`` and refuses
with error codes 4, 17, 32, 613 (and 80001-80014 for business use cases).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from socialcrm.providers.base import RateBudget
from socialcrm.providers.ratelimit import RateHeaders, ResetFormat

PACIFIC = ZoneInfo("America/Los_Angeles")
APP_USAGE_HEADER = "x-app-usage"
BUSINESS_USAGE_HEADER = "x-business-use-case-usage"
# Meta's throttling codes: app (4), user (17), page (32), custom/endpoint (613),
# business use cases 80001-80014 (pages, instagram, ads, ...).
META_THROTTLE_CODES = frozenset({4, 17, 32, 613}) | frozenset(range(80001, 80015))
# Meta's app-level and user-level windows are a rolling hour.
META_DEFAULT_WAIT = timedelta(hours=1)
META_CUSTOM_WAIT = timedelta(minutes=5)  # code 613: per-endpoint limits, shorter windows


def next_midnight(now: datetime, zone: ZoneInfo | None = None) -> datetime:
    """The next midnight after ``now`` in ``zone`` (UTC when None), as a UTC datetime."""
    tz = zone or ZoneInfo("UTC")
    local = now.astimezone(tz)
    tomorrow = local.date() + timedelta(days=1)
    return datetime.combine(tomorrow, time(0, 0), tzinfo=tz).astimezone(UTC)


def next_utc_midnight(now: datetime) -> datetime:
    """LinkedIn's daily application and member windows end at midnight UTC."""
    return next_midnight(now)


def next_pacific_midnight(now: datetime) -> datetime:
    """YouTube's daily quota resets at midnight Pacific time (PST or PDT)."""
    return next_midnight(now, PACIFIC)


def _percent(value: Any) -> int | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return max(0, min(int(value), 100))
    return None


def _json_header(headers: Mapping[str, str], name: str) -> Any:
    lowered = {k.lower(): v for k, v in headers.items()}
    raw = lowered.get(name)
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None


def _usage_entries(headers: Mapping[str, str]) -> list[Mapping[str, Any]]:
    entries: list[Mapping[str, Any]] = []
    app = _json_header(headers, APP_USAGE_HEADER)
    if isinstance(app, dict):
        entries.append(app)
    business = _json_header(headers, BUSINESS_USAGE_HEADER)
    if isinstance(business, dict):
        for values in business.values():
            if isinstance(values, list):
                entries += [v for v in values if isinstance(v, dict)]
    return entries


def meta_budget(headers: Mapping[str, str], now: datetime) -> RateBudget | None:
    """The tightest of the announced usages as a budget of 100 (percent), or None."""
    entries = _usage_entries(headers)
    used: list[int] = []
    waits: list[int] = []
    for entry in entries:
        for key in ("call_count", "total_cputime", "total_time"):
            pct = _percent(entry.get(key))
            if pct is not None:
                used.append(pct)
        wait = _percent_or_minutes(entry.get("estimated_time_to_regain_access"))
        if wait:
            waits.append(wait)
    if not used and not waits:
        return None
    top = max(used, default=0)
    reset_at = now + timedelta(minutes=max(waits)) if waits else None
    return RateBudget(limit=100, remaining=100 - top, reset_at=reset_at)


def _percent_or_minutes(value: Any) -> int | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return int(value)
    return None


def meta_retry_at(code: int, headers: Mapping[str, str], now: datetime) -> datetime:
    """When a throttled Meta call may be tried again.

    ``estimated_time_to_regain_access`` (minutes, in the business-use-case header) wins; else
    the rolling hour of app and user limits, or a few minutes for per-endpoint limits (613).
    """
    budget = meta_budget(headers, now)
    if budget is not None and budget.reset_at is not None and budget.reset_at > now:
        return budget.reset_at
    return now + (META_CUSTOM_WAIT if code == 613 else META_DEFAULT_WAIT)


# Networks that announce no budget in plain headers (LinkedIn, YouTube, TikTok, Meta's JSON
# usage headers are read by ``meta_budget``): no header name matches.
NO_RATE_HEADERS = RateHeaders("", "", "", ResetFormat.EPOCH)
