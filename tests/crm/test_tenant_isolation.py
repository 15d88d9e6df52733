"""A key of tenant A can neither read nor change tenant B's data."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from socialcrm.core.db import Database, TenantScopeMissing
from socialcrm.crm.models import Contact
from tests.conftest import make_api_key, make_tenant


@pytest.fixture
def two_tenants(
    app_client: TestClient, database: Database
) -> tuple[dict[str, str], dict[str, str]]:
    with database.session(system=True) as session:
        key_a = make_api_key(session, tenant=make_tenant(session, name="A"))
        key_b = make_api_key(session, tenant=make_tenant(session, name="B"))
    return {"Authorization": f"Bearer {key_a}"}, {"Authorization": f"Bearer {key_b}"}


def test_tenant_a_cannot_see_or_touch_tenant_b(
    app_client: TestClient, two_tenants: tuple[dict[str, str], dict[str, str]]
) -> None:
    a, b = two_tenants
    theirs = app_client.post("/api/contacts", json={"name": "B's customer"}, headers=b).json()
    account_b = app_client.post("/api/accounts", json={"name": "B Corp"}, headers=b).json()

    assert app_client.get(f"/api/contacts/{theirs['id']}", headers=a).status_code == 404
    assert app_client.get("/api/contacts", headers=a).json()["items"] == []
    assert (
        app_client.get("/api/contacts", params={"q": "customer"}, headers=a).json()["items"] == []
    )
    patched = app_client.patch(f"/api/contacts/{theirs['id']}", json={"name": "Mine"}, headers=a)
    assert patched.status_code == 404
    assert app_client.delete(f"/api/contacts/{theirs['id']}", headers=a).status_code == 404
    stolen_ref = app_client.post(
        "/api/contacts", json={"name": "Mine", "account_id": account_b["id"]}, headers=a
    )
    assert stolen_ref.status_code == 400

    still = app_client.get(f"/api/contacts/{theirs['id']}", headers=b).json()
    assert still["name"] == "B's customer"


def test_a_session_without_tenant_cannot_query_tenant_data(database: Database) -> None:
    with pytest.raises(TenantScopeMissing), database.session() as session:
        session.scalars(select(Contact)).all()


def test_a_tenant_session_cannot_write_into_another_tenant(database: Database) -> None:
    with database.session(system=True) as session:
        tenant_a, tenant_b = make_tenant(session, name="A"), make_tenant(session, name="B")
        a_id, b_id = tenant_a.id, tenant_b.id
    with pytest.raises(TenantScopeMissing), database.session(tenant_id=a_id) as session:
        session.add(Contact(name="Smuggled", tenant_id=b_id))
        session.flush()
