"""Who may use the Admin area: a tenant's admins only (agents and marketers get the 403 page,
nobody logged out gets past the login), and an admin acts on their own tenant only."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from socialcrm.core import audit
from socialcrm.core.audit import AuditLog
from socialcrm.core.db import Database
from socialcrm.tenancy.models import ApiKey, Tenant, User
from socialcrm.tenancy.service import create_api_key
from tests.admin.conftest import People, post_form

Login = Callable[[str], TestClient]

PAGES = [
    "/admin",
    "/admin/users",
    "/admin/api-keys",
    "/admin/enrichment",
    "/admin/identity",
    "/admin/listening",
    "/admin/publishing",
    "/admin/support",
    "/admin/email",
    "/admin/discovery",
    "/admin/provider-apps",
    "/admin/audit",
    "/admin/audit.csv",
]
ACTIONS = [
    "/admin/users",
    "/admin/users/1/role",
    "/admin/users/1/deactivate",
    "/admin/users/1/activate",
    "/admin/api-keys",
    "/admin/api-keys/1/revoke",
    "/admin/enrichment",
    "/admin/identity",
    "/admin/listening",
    "/admin/publishing",
    "/admin/support",
    "/admin/email",
    "/admin/email/mailboxes",
    "/admin/email/mailboxes/1/delete",
    "/admin/email/mailboxes/1/sync",
    "/admin/discovery",
    "/admin/provider-apps",
]


def test_an_admin_opens_every_admin_page(people: People, login: Login) -> None:
    ada = login("ada@a.test")
    for path in PAGES:
        answer = ada.get(path)
        assert answer.status_code == 200, (path, answer.text[:500])
    assert 'href="/admin"' in ada.get("/contacts").text  # the navigation's entry


@pytest.mark.parametrize("email", ["sam@a.test", "mia@a.test"])
def test_agents_and_marketers_get_the_403_page_and_change_nothing(
    database: Database, people: People, login: Login, email: str
) -> None:
    client = login(email)
    assert 'href="/admin"' not in client.get("/contacts").text
    for path in PAGES:
        answer = client.get(path, headers={"Accept": "text/html"})
        assert answer.status_code == 403, path
        assert "the Admin area is for admins" in answer.text
    for path in ACTIONS:
        answer = post_form(client, "/contacts", path, role="admin", name="x", active="on")
        assert answer.status_code == 403, path
    # The mailboxes' live stream is the page's: refused before any event is sent.
    assert client.get("/admin/email/mailboxes/events").status_code == 403
    with database.session(tenant_id=people.tenant_a) as session:
        assert session.scalars(select(ApiKey)).all() == []
        roles = {u.email: u.role for u in session.scalars(select(User))}
        tenant = session.get(Tenant, people.tenant_a)
        assert tenant is not None and tenant.policy == {}
    assert roles["sam@a.test"] == "agent" and roles["mia@a.test"] == "marketing"


def test_nobody_logged_out_gets_in(app_client: TestClient, people: People) -> None:
    for path in PAGES:
        answer = app_client.get(path, follow_redirects=False)
        assert answer.status_code == 303, path
        assert answer.headers["location"].startswith("/login")


def test_an_admin_cannot_touch_another_tenants_users_or_keys(
    database: Database, people: People, login: Login
) -> None:
    with database.session(system=True) as session:
        tenant_b = session.get(Tenant, people.tenant_b)
        assert tenant_b is not None
        key_b = create_api_key(session, tenant=tenant_b, name="B's key")[0].id
    ada = login("ada@a.test")
    assert "bob@b.test" not in ada.get("/admin/users").text
    assert "B&#39;s key" not in ada.get("/admin/api-keys").text
    for path, fields in [
        (f"/admin/api-keys/{key_b}/revoke", {}),
        (f"/admin/users/{people.admin_b}/deactivate", {}),
        (f"/admin/users/{people.admin_b}/role", {"role": "agent"}),
    ]:
        answer = post_form(ada, "/admin/users", path, **fields)
        assert answer.status_code == 404, path
    with database.session(system=True) as session:
        key = session.get(ApiKey, key_b)
        bob = session.get(User, people.admin_b)
        assert key is not None and key.revoked_at is None
        assert bob is not None and bob.active and bob.role == "admin"


def test_an_admin_reads_and_exports_their_own_tenants_audit_log_only(
    database: Database, people: People, login: Login
) -> None:
    for tenant_id, action in [(people.tenant_a, "a.thing"), (people.tenant_b, "b.secret")]:
        with database.session(tenant_id=tenant_id) as session:
            audit.record(session, actor="system", action=action, target_type="t", target_id=1)
    ada = login("ada@a.test")
    page = ada.get("/admin/audit").text
    assert "a.thing" in page and "b.secret" not in page
    assert "No entries match." in ada.get("/admin/audit?action=b.secret").text
    exported = ada.get("/admin/audit.csv").text
    assert "a.thing" in exported and "b.secret" not in exported


def test_settings_saved_by_one_tenants_admin_leave_the_other_alone(
    database: Database, people: People, login: Login
) -> None:
    ada = login("ada@a.test")
    answer = post_form(
        ada, "/admin/discovery", "/admin/discovery", ef_ceiling="50", job_rate_limit="5/hour"
    )
    assert answer.status_code == 303
    with database.session(system=True) as session:
        a = session.get(Tenant, people.tenant_a)
        b = session.get(Tenant, people.tenant_b)
        assert a is not None and b is not None
        assert (a.policy["ef_ceiling"], a.policy["job_rate_limit"]) == (50.0, "5/hour")
        assert b.policy == {}
        entry = session.scalars(
            select(AuditLog).where(AuditLog.action == "tenant.policy_changed")
        ).one()
        assert (entry.tenant_id, entry.actor) == (people.tenant_a, f"user:{people.admin}")
