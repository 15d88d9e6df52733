"""Discovery test fixtures: loopback websites may be fetched, rate-limit counters start empty."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from socialcrm.core.settings import get_settings
from socialcrm.discovery.jobs import reset_rate_limits
from socialcrm.discovery.settings import get_discovery_settings


@pytest.fixture(autouse=True)
def _fresh_limits() -> Iterator[None]:
    reset_rate_limits()
    yield
    reset_rate_limits()


@pytest.fixture
def allow_loopback() -> Iterator[None]:
    """What an operator does with SOCIALCRM_ALLOW_PRIVATE_FETCH for an intranet."""
    settings = get_settings()
    previous = settings.allow_private_fetch
    settings.allow_private_fetch = ["127.0.0.0/8"]
    try:
        yield
    finally:
        settings.allow_private_fetch = previous


@pytest.fixture
def fast_crawl() -> Iterator[None]:
    """No politeness delay and short timeouts, so tests stay quick."""
    settings = get_discovery_settings()
    saved = settings.model_dump()
    settings.host_delay_s = 0.0
    settings.timeout_s = 2.0
    try:
        yield
    finally:
        for key, value in saved.items():
            setattr(settings, key, value)
