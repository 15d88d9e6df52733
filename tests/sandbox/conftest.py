"""One sandbox per test session, over real HTTP on a loopback port; reset before every test."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from socialcrm_sandbox.schema import TEST_WORLD_PATH
from socialcrm_sandbox.testing import RunningSandbox, start_sandbox


@pytest.fixture(scope="session")
def live_sandbox() -> Iterator[RunningSandbox]:
    with start_sandbox(TEST_WORLD_PATH) as running:
        yield running


@pytest.fixture(autouse=True)
def _fresh_world(live_sandbox: RunningSandbox) -> None:
    live_sandbox.reset()


@pytest.fixture
def http(live_sandbox: RunningSandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_sandbox.url, follow_redirects=False, timeout=10.0) as client:
        yield client
