"""Brand accounts connected to the sandbox, and small helpers to drive the publishing queue."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from socialcrm.core.db import Database, utcnow
from socialcrm.publishing import sending
from tests.connections.flow import connect, register_app


def connect_brand(api: TestClient, network: str, handle: str = "ada") -> dict[str, Any]:
    if network == "bluesky":
        response = api.post(
            "/api/connections",
            json={
                "provider": "bluesky",
                "scope": "brand",
                "identifier": f"{handle}.bsky.social",
                "app_password": "app-password",
            },
        )
        assert response.status_code == 201, response.text
        return response.json()  # type: ignore[no-any-return]
    if network == "x":
        register_app(api, "x")
    return connect(api, network, handle, scope="brand")


@pytest.fixture
def brand(api: TestClient, sandbox: object) -> dict[str, int]:
    """One brand account per network: {"x": id, "mastodon": id, "bluesky": id}."""
    return {n: int(connect_brand(api, n)["id"]) for n in ("x", "mastodon", "bluesky")}


def sandbox_posts(sandbox: object, network: str | None = None) -> list[dict[str, Any]]:
    params = {"network": network} if network else {}
    response = httpx.get(f"{sandbox.url}/_sandbox/posts", params=params)  # type: ignore[attr-defined]
    response.raise_for_status()
    body = response.json()
    return body if isinstance(body, list) else body.get("posts", [])  # type: ignore[no-any-return]


def fault(sandbox: object, **spec: object) -> None:
    httpx.post(f"{sandbox.url}/_sandbox/faults", json=spec).raise_for_status()  # type: ignore[attr-defined]


def run_due(database: Database) -> list[str]:
    """What the periodic dispatcher does, inline: publish every due target."""
    return [
        sending.publish_target(database, tenant_id, target_id, worker="test")
        for tenant_id, target_id in sending.due_targets(database, utcnow())
    ]
