"""The pure limit readers: day windows and Meta's usage headers."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from socialcrm.providers.limits import (
    PACIFIC,
    meta_budget,
    meta_retry_at,
    next_pacific_midnight,
    next_utc_midnight,
)

NOW = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)
moments = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)


@given(moments)
def test_next_utc_midnight_is_the_coming_day_boundary(now: datetime) -> None:
    reset = next_utc_midnight(now)
    assert reset > now and reset - now <= timedelta(days=1)
    assert (reset.hour, reset.minute, reset.second, reset.microsecond) == (0, 0, 0, 0)


@given(moments)
def test_next_pacific_midnight_is_midnight_in_los_angeles(now: datetime) -> None:
    reset = next_pacific_midnight(now)
    local = reset.astimezone(PACIFIC)
    assert reset > now and reset - now <= timedelta(hours=25)
    assert (local.hour, local.minute) == (0, 0)


@pytest.mark.parametrize(
    ("headers", "remaining", "reset"),
    [
        ({}, None, None),
        ({"X-App-Usage": "not json"}, None, None),
        (
            {"X-App-Usage": json.dumps({"call_count": 10, "total_cputime": 5, "total_time": 7})},
            90,
            None,
        ),
        (
            {
                "x-business-use-case-usage": json.dumps(
                    {
                        "1": [
                            {
                                "type": "pages",
                                "call_count": 95,
                                "estimated_time_to_regain_access": 0,
                            }
                        ],
                        "2": [
                            {
                                "type": "instagram",
                                "total_time": 100,
                                "estimated_time_to_regain_access": 9,
                            }
                        ],
                    }
                )
            },
            0,
            NOW + timedelta(minutes=9),
        ),
    ],
)
def test_meta_budget(
    headers: dict[str, str], remaining: int | None, reset: datetime | None
) -> None:
    budget = meta_budget(headers, NOW)
    if remaining is None and reset is None:
        assert budget is None
        return
    assert budget is not None and (budget.remaining, budget.reset_at) == (remaining, reset)


def test_meta_retry_defaults() -> None:
    assert meta_retry_at(4, {}, NOW) == NOW + timedelta(hours=1)
    assert meta_retry_at(613, {}, NOW) == NOW + timedelta(minutes=5)
