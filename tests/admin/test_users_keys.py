"""Users and roles, and API keys, in the Admin area: the service's own checks beside the field,
a key's secret shown exactly once, revoke and deactivate refused at once, all audit-logged."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import select

from socialcrm.core.audit import AuditLog
from socialcrm.core.db import Database
from socialcrm.tenancy.models import ApiKey, User
from tests.admin.conftest import PASSWORD, People, error_of, post_form, value_of
from tests.conftest import ui_login

Login = Callable[[str], TestClient]


def audit_actions(database: Database, tenant_id: int) -> list[str]:
    with database.session(tenant_id=tenant_id) as session:
        return list(session.scalars(select(AuditLog.action).order_by(AuditLog.id)))


def session_cookie_text(client: TestClient) -> str:
    """What the browser holds in its session cookie (Starlette: base64 JSON, then a signature)."""
    raw = client.cookies.get("socialcrm_session") or ""
    payload = raw.split(".")[0]
    return base64.b64decode(payload + "=" * (-len(payload) % 4)).decode()


def test_a_new_keys_secret_is_shown_once_and_never_stored_in_clear(
    app_client: TestClient, database: Database, people: People, login: Login
) -> None:
    ada = login("ada@a.test")
    created = post_form(ada, "/admin/api-keys", "/admin/api-keys", name="helpdesk", role="agent")
    assert (created.status_code, created.headers["location"]) == (303, "/admin/api-keys")
    assert "scrm_" not in session_cookie_text(ada)  # carried to the next page encrypted
    assert "scrm_" not in json.dumps(dict(created.headers))

    page = ada.get("/admin/api-keys").text
    secret = re.search(r'id="new-secret" readonly value="(scrm_[^"]+)"', page)
    assert secret is not None
    assert "scrm_" not in ada.get("/admin/api-keys").text.split('<h2 id="keys-h">')[0]
    with database.session(tenant_id=people.tenant_a) as session:
        (key,) = session.scalars(select(ApiKey)).all()
        assert (key.name, key.role) == ("helpdesk", "agent")
        assert secret[1] not in (key.key_hash, key.prefix)
        key_id = key.id

    api = {"Authorization": f"Bearer {secret[1]}"}
    assert app_client.get("/api/contacts", headers=api).status_code == 200
    revoked = post_form(ada, "/admin/api-keys", f"/admin/api-keys/{key_id}/revoke")
    assert revoked.headers["location"] == "/admin/api-keys?done=key-revoked"
    assert app_client.get("/api/contacts", headers=api).status_code == 401  # refused at once
    assert "API key revoked" in ada.get(revoked.headers["location"]).text
    assert audit_actions(database, people.tenant_a) == ["api_key.create", "api_key.revoke"]


def test_a_bad_key_name_is_refused_beside_the_field(people: People, login: Login) -> None:
    ada = login("ada@a.test")
    answer = post_form(ada, "/admin/api-keys", "/admin/api-keys", name="k" * 121, role="agent")
    assert answer.status_code == 400
    assert error_of(answer.text, "name") == "must have at most 120 characters"
    assert value_of(answer.text, "name") == "k" * 121
    answer = post_form(ada, "/admin/api-keys", "/admin/api-keys", name="ok", role="owner")
    assert error_of(answer.text, "role") == "choose one of admin, marketing or agent"


def test_a_user_is_added_with_the_services_checks_beside_each_field(
    app_client: TestClient, database: Database, people: People, login: Login
) -> None:
    ada = login("ada@a.test")
    cases = [
        ({"email": "not-an-email", "password": "long enough"}, "email", "is not a valid email"),
        ({"email": "new@a.test", "password": "short"}, "password", "at least 8 characters"),
        ({"email": "sam@a.test", "password": "long enough"}, "email", "already exists"),
        ({"email": "bob@b.test", "password": "long enough"}, "email", "already exists"),
    ]
    for fields, name, words in cases:
        answer = post_form(ada, "/admin/users", "/admin/users", role="agent", name="N", **fields)
        assert answer.status_code in (400, 409), fields
        assert words in error_of(answer.text, name), (fields, answer.text[-2000:])
        assert value_of(answer.text, "email") == fields["email"]  # what was typed stays
        assert fields["password"] not in answer.text  # a password is never sent back

    added = post_form(
        ada,
        "/admin/users",
        "/admin/users",
        email="Nia@A.test",
        name="Nia",
        role="marketing",
        password="a good password",
    )
    assert added.headers["location"] == "/admin/users?done=user-added"
    with database.session(tenant_id=people.tenant_a) as session:
        nia = session.scalars(select(User).where(User.email == "nia@a.test")).one()
        assert (nia.tenant_id, nia.role, nia.name) == (people.tenant_a, "marketing", "Nia")
    ui_login(app_client, "nia@a.test", "a good password")
    assert audit_actions(database, people.tenant_a) == ["user.create"]


def test_roles_change_and_a_deactivated_user_is_logged_out_at_once(
    database: Database, people: People, login: Login
) -> None:
    ada = login("ada@a.test")
    sam = login("sam@a.test")
    assert sam.get("/contacts", follow_redirects=False).status_code == 200

    answer = post_form(ada, "/admin/users", f"/admin/users/{people.agent}/role", role="marketing")
    assert answer.headers["location"] == "/admin/users?done=user-changed"
    answer = post_form(ada, "/admin/users", f"/admin/users/{people.agent}/deactivate")
    assert answer.headers["location"] == "/admin/users?done=user-deactivated"
    assert sam.get("/contacts", follow_redirects=False).status_code == 303  # out, at once
    assert "deactivated" in ada.get("/admin/users").text

    post_form(ada, "/admin/users", f"/admin/users/{people.agent}/activate")
    with database.session(tenant_id=people.tenant_a) as session:
        user = session.get(User, people.agent)
        assert user is not None and (user.role, user.active) == ("marketing", True)
    assert audit_actions(database, people.tenant_a) == ["user.change"] * 3


def test_an_admin_cannot_lock_themselves_or_the_tenant_out(
    database: Database, people: People, login: Login
) -> None:
    ada = login("ada@a.test")
    for path, fields in [
        (f"/admin/users/{people.admin}/role", {"role": "agent"}),
        (f"/admin/users/{people.admin}/deactivate", {}),
    ]:
        answer = post_form(ada, "/admin/users", path, **fields)
        assert answer.status_code == 409
        assert "your own admin access" in answer.text
    # With a second admin, the first may be demoted by the second, but not the last one.
    post_form(ada, "/admin/users", f"/admin/users/{people.marketer}/role", role="admin")
    mia = login("mia@a.test")
    assert (
        post_form(
            mia, "/admin/users", f"/admin/users/{people.admin}/role", role="agent"
        ).status_code
        == 303
    )
    with database.session(tenant_id=people.tenant_a) as session:
        roles = {u.email: u.role for u in session.scalars(select(User))}
    assert (roles["ada@a.test"], roles["mia@a.test"]) == ("agent", "admin")
    assert login("ada@a.test").get("/admin").status_code == 403
    assert PASSWORD  # the fixture's users log in with it
