"""Who may call the API."""

from __future__ import annotations

from fastapi.testclient import TestClient

from socialcrm.core.db import Database
from socialcrm.tenancy.models import Role, Tenant
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


def test_agents_cannot_run_campaigns(app_client: TestClient, database: Database) -> None:
    with database.session(system=True) as session:
        key = make_api_key(session, tenant=make_tenant(session), role=Role.AGENT)
    headers = {"Authorization": f"Bearer {key}"}
    response = app_client.post("/api/campaigns", json={"name": "Spring"}, headers=headers)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"
    assert app_client.post("/api/contacts", json={"name": "Ok"}, headers=headers).status_code == 201


def test_keys_are_stored_hashed(database: Database) -> None:
    with database.session(system=True) as session:
        tenant: Tenant = make_tenant(session)
        raw = make_api_key(session, tenant=tenant)
        stored = session.execute(
            __import__("sqlalchemy").text("SELECT key_hash, prefix FROM api_keys")
        ).all()
    assert all(raw not in row[0] for row in stored)
    assert all(len(row[1]) < 16 for row in stored)
