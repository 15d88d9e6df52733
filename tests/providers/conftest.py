from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from .fakes import FakeNetwork


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def net() -> FakeNetwork:
    return FakeNetwork()


@pytest.fixture
async def http(net: FakeNetwork) -> AsyncIterator[httpx.AsyncClient]:
    async with net.client() as client:
        yield client
