"""Each network's rate-limit headers → RateBudget / RateLimited(retry_at), and pacing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from socialcrm.providers.base import RateBudget, RateLimited
from socialcrm.providers.ratelimit import (
    BLUESKY_HEADERS,
    DEFAULT_BACKOFF,
    MASTODON_HEADERS,
    X_HEADERS,
    RateHeaders,
    pause_before_next_call,
    rate_limited,
    read_budget,
    retry_at,
)

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
EPOCH_IN_15_MIN = str(int((NOW + timedelta(minutes=15)).timestamp()))


@pytest.mark.parametrize(
    ("headers", "scheme", "expected"),
    [
        (
            {
                "x-rate-limit-limit": "900",
                "x-rate-limit-remaining": "899",
                "x-rate-limit-reset": EPOCH_IN_15_MIN,
            },
            X_HEADERS,
            RateBudget(900, 899, NOW + timedelta(minutes=15)),
        ),
        (
            {
                "X-RateLimit-Limit": "300",
                "X-RateLimit-Remaining": "12",
                "X-RateLimit-Reset": "2026-01-02T03:09:05.000Z",
            },
            MASTODON_HEADERS,
            RateBudget(300, 12, NOW + timedelta(minutes=5)),
        ),
        (
            {"X-RateLimit-Reset": "2026-01-02T04:09:05.123456+01:00"},
            MASTODON_HEADERS,
            RateBudget(None, None, NOW + timedelta(minutes=5, microseconds=123456)),
        ),
        (
            {
                "RateLimit-Limit": "3000",
                "RateLimit-Remaining": "0",
                "RateLimit-Reset": EPOCH_IN_15_MIN,
                "RateLimit-Policy": "3000;w=300",
            },
            BLUESKY_HEADERS,
            RateBudget(3000, 0, NOW + timedelta(minutes=15)),
        ),
        (
            {"x-rate-limit-limit": "abc", "x-rate-limit-reset": "soon"},
            X_HEADERS,
            RateBudget(None, None, None),
        ),
    ],
)
def test_read_budget(headers: dict[str, str], scheme: RateHeaders, expected: RateBudget) -> None:
    assert read_budget(headers, scheme) == expected


def test_no_rate_headers_means_no_budget() -> None:
    assert read_budget({"content-type": "application/json"}, X_HEADERS) is None


@pytest.mark.parametrize(
    ("headers", "scheme", "expected"),
    [
        (
            {"x-rate-limit-reset": EPOCH_IN_15_MIN, "x-rate-limit-remaining": "0"},
            X_HEADERS,
            NOW + timedelta(minutes=15),
        ),
        (
            {"X-RateLimit-Reset": "2026-01-02T03:05:05.000Z"},
            MASTODON_HEADERS,
            NOW + timedelta(minutes=1),
        ),
        ({"RateLimit-Reset": EPOCH_IN_15_MIN}, BLUESKY_HEADERS, NOW + timedelta(minutes=15)),
        ({"Retry-After": "120"}, X_HEADERS, NOW + timedelta(seconds=120)),
        (
            {"Retry-After": "Fri, 02 Jan 2026 03:14:05 GMT"},
            MASTODON_HEADERS,
            NOW + timedelta(minutes=10),
        ),
        # Retry-After is about this very answer, so it wins over the window reset
        (
            {"Retry-After": "30", "RateLimit-Reset": EPOCH_IN_15_MIN},
            BLUESKY_HEADERS,
            NOW + timedelta(seconds=30),
        ),
        ({}, X_HEADERS, NOW + DEFAULT_BACKOFF),
        ({"x-rate-limit-reset": "garbage"}, X_HEADERS, NOW + DEFAULT_BACKOFF),
        ({"x-rate-limit-reset": str(int(NOW.timestamp()) - 5)}, X_HEADERS, NOW + DEFAULT_BACKOFF),
        ({"Retry-After": "not a date"}, X_HEADERS, NOW + DEFAULT_BACKOFF),
    ],
)
def test_retry_at(headers: dict[str, str], scheme: RateHeaders, expected: datetime) -> None:
    assert retry_at(headers, scheme, NOW) == expected


def test_rate_limited_carries_retry_at() -> None:
    outcome = rate_limited({"x-rate-limit-reset": EPOCH_IN_15_MIN}, X_HEADERS, NOW)
    assert isinstance(outcome, RateLimited)
    assert outcome.retry_at == NOW + timedelta(minutes=15)


def test_default_backoff_is_configurable() -> None:
    assert retry_at({}, X_HEADERS, NOW, timedelta(seconds=5)) == NOW + timedelta(seconds=5)


@pytest.mark.parametrize(
    ("budget", "expected"),
    [
        (RateBudget(), timedelta(0)),
        (RateBudget(900, None, NOW + timedelta(minutes=15)), timedelta(0)),
        (RateBudget(900, 900, None), timedelta(0)),
        (RateBudget(900, 900, NOW + timedelta(minutes=15)), timedelta(seconds=1)),
        (RateBudget(15, 3, NOW + timedelta(minutes=15)), timedelta(minutes=5)),
        (RateBudget(15, 0, NOW + timedelta(minutes=15)), timedelta(minutes=15)),
        (RateBudget(15, 0, NOW - timedelta(seconds=1)), timedelta(0)),
    ],
)
def test_pause_before_next_call(budget: RateBudget, expected: timedelta) -> None:
    assert pause_before_next_call(budget, NOW) == expected


@given(st.integers(0, 10_000), st.integers(0, 3600))
def test_spreading_never_overshoots_the_reset(remaining: int, seconds_left: int) -> None:
    reset = NOW + timedelta(seconds=seconds_left)
    pause = pause_before_next_call(RateBudget(None, remaining, reset), NOW)
    assert timedelta(0) <= pause <= reset - NOW
    if remaining:
        assert pause * remaining <= (reset - NOW) + timedelta(microseconds=remaining)
