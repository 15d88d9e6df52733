"""Who may call the API."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from socialcrm.core.db import Database
from socialcrm.core.errors import NotFound
from socialcrm.core.principal import Role
from socialcrm.core.settings import get_settings
from socialcrm.tenancy import service as tenancy_service
from socialcrm.tenancy.models import ApiKey, Tenant
from socialcrm.tenancy.service import revoke_api_key
from tests.conftest import make_api_key, make_tenant


def test_health_is_open(app_client: TestClient) -> None:
    response = app_client.get("/health")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_missing_or_wrong_key_is_unauthenticated(app_client: TestClient) -> None:
    for headers in ({}, {"Authorization": "Bearer scrm_wrong"}, {"Authorization": "Basic abc"}):
        response = app_client.get("/api/contacts", headers=headers)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "unauthenticated"


def test_inactive_tenant_is_refused(app_client: TestClient, database: Database) -> None:
    with database.session(system=True) as session:
        tenant = make_tenant(session, name="Dormant")
        key = make_api_key(session, tenant=tenant)
        tenant.active = False
    response = app_client.get("/api/contacts", headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "inactive_account"
    # A refusal is never cached: reactivated, the key works on the next request.
    with database.session(system=True) as session:
        session.execute(update(Tenant).where(Tenant.id == tenant.id).values(active=True))
    response = app_client.get("/api/contacts", headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200


def test_agents_read_campaigns_but_do_not_run_them(
    app_client: TestClient, database: Database
) -> None:
    """A support agent sees which campaign a Lead came from (and how it does); creating,
    changing, deleting and budgets are marketing's (README, Security: roles)."""
    with database.session(system=True) as session:
        tenant = make_tenant(session)
        admin = {"Authorization": f"Bearer {make_api_key(session, tenant=tenant)}"}
        agent = {"Authorization": f"Bearer {make_api_key(session, tenant=tenant, role=Role.AGENT)}"}
    campaign = app_client.post("/api/campaigns", json={"name": "Spring"}, headers=admin).json()
    lead = app_client.post(
        "/api/leads", json={"name": "Ada", "campaign_id": campaign["id"]}, headers=admin
    ).json()

    assert (
        app_client.get(f"/api/leads/{lead['id']}", headers=agent).json()["campaign_id"]
        == (campaign["id"])
    )
    seen = app_client.get(f"/api/campaigns/{campaign['id']}", headers=agent)
    assert seen.status_code == 200 and seen.json()["name"] == "Spring"
    assert [c["id"] for c in app_client.get("/api/campaigns", headers=agent).json()["items"]] == [
        campaign["id"]
    ]
    assert (
        app_client.get(f"/api/campaigns/{campaign['id']}/attribution", headers=agent).status_code
        == 200
    )

    for refused in (
        app_client.post("/api/campaigns", json={"name": "Autumn"}, headers=agent),
        app_client.patch(f"/api/campaigns/{campaign['id']}", json={"name": "X"}, headers=agent),
        app_client.put(
            f"/api/campaigns/{campaign['id']}/budget",
            json={"amount": 10, "currency": "EUR"},
            headers=agent,
        ),
        app_client.delete(f"/api/campaigns/{campaign['id']}", headers=agent),
    ):
        assert refused.status_code == 403, refused.text
        assert refused.json()["error"]["code"] == "forbidden"
    after = app_client.get(f"/api/campaigns/{campaign['id']}", headers=admin).json()
    assert after["name"] == "Spring"
    assert app_client.post("/api/contacts", json={"name": "Ok"}, headers=agent).status_code == 201


def test_keys_are_stored_hashed(database: Database) -> None:
    with database.session(system=True) as session:
        tenant: Tenant = make_tenant(session)
        raw = make_api_key(session, tenant=tenant)
        stored = session.execute(
            __import__("sqlalchemy").text("SELECT key_hash, prefix FROM api_keys")
        ).all()
    assert all(raw not in row[0] for row in stored)
    assert all(len(row[1]) < 16 for row in stored)


def test_a_revoked_key_is_refused_at_once(app_client: TestClient, database: Database) -> None:
    with database.session(system=True) as session:
        tenant = make_tenant(session, name="Revoking")
        key = make_api_key(session, tenant=tenant)
        key_id = session.scalars(select(ApiKey.id).where(ApiKey.tenant_id == tenant.id)).one()
    headers = {"Authorization": f"Bearer {key}"}
    assert app_client.get("/api/contacts", headers=headers).status_code == 200  # now cached
    with database.session(system=True) as session:
        revoke_api_key(session, key_id)
    response = app_client.get("/api/contacts", headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["message"] == "this API key has been revoked"
    with database.session(system=True) as session, pytest.raises(NotFound):
        revoke_api_key(session, key_id + 1000)


def test_a_change_made_elsewhere_is_seen_once_the_key_cache_time_passes(
    app_client: TestClient, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process deactivates the account (here: straight in the database): the key
    keeps working only until its cached authentication expires, then it is refused."""
    clock = [1000.0]
    monkeypatch.setattr(tenancy_service, "_clock", lambda: clock[0])
    with database.session(system=True) as session:
        tenant = make_tenant(session, name="Elsewhere")
        key = make_api_key(session, tenant=tenant)
    headers = {"Authorization": f"Bearer {key}"}
    assert app_client.get("/api/contacts", headers=headers).status_code == 200
    with database.session(system=True) as session:
        session.execute(update(Tenant).where(Tenant.id == tenant.id).values(active=False))
    assert app_client.get("/api/contacts", headers=headers).status_code == 200
    clock[0] += get_settings().api_key_cache_s + 0.01
    response = app_client.get("/api/contacts", headers=headers)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "inactive_account"
