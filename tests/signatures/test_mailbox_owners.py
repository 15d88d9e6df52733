"""A mailbox is its person's (or the admins'): a key without a user owns none, so it neither
sees, syncs nor deletes a mailbox that has no user either (``None`` is never "the owner")."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from socialcrm.core.db import Database
from socialcrm.core.principal import Role
from socialcrm.signatures import mailboxes
from socialcrm.signatures.models import ImapAccount
from tests.conftest import make_api_key, make_tenant

NON_ADMINS = [Role.MARKETING, Role.AGENT]


def mailbox_without_a_user(database: Database) -> int:
    """What an admin's CLI key leaves behind when it connects a mailbox."""
    with database.session(system=True) as session:
        tenant_id = make_tenant(session).id
    with database.session(tenant_id=tenant_id) as session:
        values = {"host": "imap.acme.test", "port": 993, "username": "sales", "password": "pw"}
        return mailboxes.create_imap_account(session, user_id=None, values=values).id


@pytest.mark.parametrize("role", NON_ADMINS, ids=lambda r: r.value)
def test_a_key_without_a_user_cannot_touch_a_mailbox_without_a_user(
    app_client: TestClient, database: Database, role: Role
) -> None:
    mailbox = mailbox_without_a_user(database)
    with database.session(system=True) as session:
        key = make_api_key(session, tenant=make_tenant(session), role=role)
    app_client.headers["Authorization"] = f"Bearer {key}"

    assert app_client.get("/api/imap-accounts").json() == []
    for answer in (
        app_client.post(f"/api/imap-accounts/{mailbox}/sync"),
        app_client.delete(f"/api/imap-accounts/{mailbox}"),
    ):
        assert answer.status_code == 404, answer.text
        assert answer.json()["error"]["code"] == "not_found"
    with database.session(system=True) as session:
        assert session.get(ImapAccount, mailbox) is not None


@pytest.mark.parametrize("role", NON_ADMINS, ids=lambda r: r.value)
def test_a_key_without_a_user_cannot_connect_a_mailbox_nobody_would_own(
    app_client: TestClient, database: Database, role: Role
) -> None:
    with database.session(system=True) as session:
        key = make_api_key(session, tenant=make_tenant(session), role=role)
    app_client.headers["Authorization"] = f"Bearer {key}"
    answer = app_client.post(
        "/api/imap-accounts",
        json={"host": "imap.acme.test", "port": 993, "username": "u", "password": "p"},
    )
    assert answer.status_code == 403, answer.text
    assert answer.json()["error"]["code"] == "forbidden"


def test_an_admin_key_still_manages_it(app_client: TestClient, database: Database) -> None:
    mailbox = mailbox_without_a_user(database)
    with database.session(system=True) as session:
        key = make_api_key(session, tenant=make_tenant(session), role=Role.ADMIN)
    app_client.headers["Authorization"] = f"Bearer {key}"
    assert [m["id"] for m in app_client.get("/api/imap-accounts").json()] == [mailbox]
    assert app_client.delete(f"/api/imap-accounts/{mailbox}").status_code == 204
