"""Driving a connection the way a person does: start, consent at the network, come back."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from fastapi.testclient import TestClient

from socialcrm.core.db import Database
from socialcrm.tenancy.service import create_api_key, get_or_create_tenant
from tests.conftest import TEST_WORLD


def world_app(network: str) -> dict[str, Any]:
    apps = json.loads(TEST_WORLD.read_text())["apps"]
    return next(
        a
        for a in apps
        if a["network"] == network
        and f"http://testserver/oauth/callback/{network}" in a["redirect_uris"]
    )


def register_app(api: TestClient, network: str) -> None:
    app = world_app(network)
    response = api.put(
        f"/api/provider-apps/{network}",
        json={"client_id": app["client_id"], "client_secret": app["client_secret"]},
    )
    assert response.status_code == 200, response.text


def start(api: TestClient, provider: str = "x", scope: str = "personal") -> str:
    response = api.post("/api/connections", json={"provider": provider, "scope": scope})
    assert response.status_code == 201, response.text
    return str(response.json()["authorization_url"])


def consent(authorization_url: str, handle: str, decision: str = "allow") -> dict[str, str]:
    """POST the network's consent form; return the query of the redirect back to us."""
    parts = urlsplit(authorization_url)
    fields = {k: v[0] for k, v in parse_qs(parts.query).items()}
    form = fields | {"account": handle, "decision": decision}
    response = httpx.post(
        f"{parts.scheme}://{parts.netloc}{parts.path}", data=form, follow_redirects=False
    )
    assert response.status_code in (302, 303), response.text
    location = urlsplit(response.headers["location"])
    assert location.path.startswith("/oauth/callback/")
    return {k: v[0] for k, v in parse_qs(location.query).items()}


def callback(client: TestClient, provider: str, params: dict[str, str]) -> httpx.Response:
    return client.get(
        f"/oauth/callback/{provider}",
        params=params,
        headers={"Accept": "application/json"},
        follow_redirects=False,
    )


def connect(
    api: TestClient, provider: str = "x", handle: str = "ada", scope: str = "personal"
) -> dict[str, Any]:
    params = consent(start(api, provider, scope), handle)
    response = callback(api, provider, params)
    assert response.status_code == 303, response.text
    account_id = int(response.headers["location"].split("connected=")[1])
    got = api.get(f"/api/connections/{account_id}")
    assert got.status_code == 200
    return got.json()  # type: ignore[no-any-return]


@contextmanager
def api_of_new_tenant(db: Database, name: str) -> Iterator[tuple[TestClient, int]]:
    """The API as an admin of a new tenant of ``db`` (committed data), and the tenant's id."""
    with db.session(system=True) as session:
        tenant = get_or_create_tenant(session, name)
        _, key = create_api_key(session, tenant=tenant)
        tenant_id = tenant.id
    from socialcrm.app import create_app

    with TestClient(create_app()) as api:
        api.headers["Authorization"] = f"Bearer {key}"
        yield api, tenant_id


def connect_facebook_page(
    api: TestClient, page_id: str = "104000000001", person: str = "ada.lovelace"
) -> dict[str, Any]:
    """Facebook Login as the person, then pick one of the Pages they manage."""
    response = callback(api, "facebook", consent(start(api, "facebook"), person))
    assert response.status_code == 303, response.text
    key = response.headers["location"].rsplit("/", 1)[1]
    picked = api.post(f"/api/connections/choices/{key}", json={"ids": [page_id]})
    assert picked.status_code == 200, picked.text
    return picked.json()["items"][0]  # type: ignore[no-any-return]
