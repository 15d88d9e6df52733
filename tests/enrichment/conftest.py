"""Enrichment test helpers: connected sandbox accounts and Contacts made through the API."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from socialcrm.core.db import Database
from socialcrm.enrichment.models import SocialProfileLink
from tests.conftest import TEST_WORLD
from tests.connections.flow import connect, connect_facebook_page, register_app


def connect_x(api: TestClient, handle: str = "grace") -> dict[str, Any]:
    register_app(api, "x")
    return connect(api, "x", handle)


def connect_mastodon(api: TestClient, handle: str = "alan") -> dict[str, Any]:
    register_app(api, "mastodon")
    return connect(api, "mastodon", handle)


def connect_bluesky(
    api: TestClient, identifier: str = "grace.bsky.social", password: str = "grace-app-pass"
) -> dict[str, Any]:
    response = api.post(
        "/api/connections",
        json={"provider": "bluesky", "identifier": identifier, "app_password": password},
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def make_contact(api: TestClient, **values: Any) -> dict[str, Any]:
    body = {"name": "Ada Lovelace"} | values
    response = api.post("/api/contacts", json=body)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


ADA = {
    "name": "Ada Lovelace",
    "emails": ["ada@example.com"],
    "company": "Analytical Engines Ltd",
    "website": "https://ada.example.com",
    "location": "London",
    "handles": [{"network": "x", "handle": "ada"}],
}


def links_of(database: Database, tenant_id: int | None = None) -> list[SocialProfileLink]:
    with database.session(system=True) as session:
        rows = list(session.scalars(select(SocialProfileLink).order_by(SocialProfileLink.id)))
        for row in rows:
            session.expunge(row)
        return rows


@pytest.fixture
def world_restore(sandbox: Any) -> Iterator[Any]:
    """For tests that load their own world: the test world is back afterwards."""

    try:
        yield sandbox
    finally:
        sandbox.load_world(json.loads(TEST_WORLD.read_text()))


@pytest.fixture
def accounts(api: TestClient, sandbox: Any) -> dict[str, dict[str, Any]]:
    """The tenant connected to X (as grace), Mastodon (as alan) and Bluesky (as grace)."""
    return {"x": connect_x(api), "mastodon": connect_mastodon(api), "bluesky": connect_bluesky(api)}


@pytest.fixture
def facebook(api: TestClient, world_restore: Any) -> None:
    """A connected Facebook Page, and a second Page to look up (the test world has one)."""
    world = json.loads(TEST_WORLD.read_text())
    world["people"].append(
        {
            "name": "Hopper Lectures",
            "accounts": [
                {
                    "network": "facebook",
                    "user_id": "104000000093",
                    "handle": "hopperlectures",
                    "account_type": "page",
                    "display_name": "Hopper Lectures",
                }
            ],
        }
    )
    world_restore.load_world(world)
    register_app(api, "facebook")
    connect_facebook_page(api)
