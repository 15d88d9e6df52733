"""Identity tests: every test starts with an empty cache, fresh rate-limit counts and
policies re-read from the database."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient
from sqlalchemy import select

from socialcrm.core.db import Database
from socialcrm.core.settings import get_settings
from socialcrm.crm import service as crm
from socialcrm.crm.models import Contact
from socialcrm.identity import cachebus, ratelimit, tenant_policy
from socialcrm.identity.cache import resolution_cache
from socialcrm.tenancy.models import Tenant


@pytest.fixture(autouse=True)
def _fresh_identity_state() -> Iterator[None]:
    resolution_cache.clear()
    ratelimit.reset_limiter()
    tenant_policy.forget_policies()
    yield
    resolution_cache.clear()
    ratelimit.reset_limiter()
    tenant_policy.forget_policies()


@pytest.fixture
def redis_queue(redis_url: str) -> Iterator[redis.Redis]:
    """The queue (so the cache bus and the rate limits) in Redis for this test."""
    settings = get_settings()
    previous = settings.queue_url
    settings.queue_url = redis_url
    client = redis.Redis.from_url(redis_url)
    try:
        yield client
    finally:
        cachebus.stop_listening()
        settings.queue_url = previous
        client.close()


@pytest.fixture
def tenant_id(database: Database, tenant_key: str) -> int:
    with database.session(system=True) as session:
        return int(session.scalars(select(Tenant.id).where(Tenant.name == "Tenant A")).one())


def make_contact(
    database: Database, tenant_id: int, *, name: str = "John Doe", **values: Any
) -> int:
    with database.session(tenant_id=tenant_id) as session:
        contact = crm.create(session, Contact, {"name": name, **values})
        return int(contact.id)


def set_policy(api: TestClient, **changes: Any) -> None:
    current = api.get("/api/identity/settings").json()
    response = api.put("/api/identity/settings", json={**current, **changes})
    assert response.status_code == 200, response.text


def resolve(api: TestClient, handle: str, channel: str = "x", **extra: Any) -> dict[str, Any]:
    response = api.post("/api/v1/resolve", json={"handle": handle, "channel": channel, **extra})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body
