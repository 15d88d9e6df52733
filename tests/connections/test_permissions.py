"""Who may disconnect which connected account: a brand account is an admin's alone, a personal
account its owner's; a key without a user owns nothing (``None`` is never "the owner")."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from socialcrm.connections.models import AccountStatus, SocialAccount
from socialcrm.core.db import Database
from socialcrm.core.principal import Role
from socialcrm.tenancy.models import User
from socialcrm.tenancy.service import create_api_key, create_user
from tests.conftest import make_tenant, ui_login
from tests.connections.flow import callback, connect, consent, register_app, start

pytestmark = pytest.mark.usefixtures("sandbox")

NON_ADMINS = [Role.MARKETING, Role.AGENT]


def key_for(database: Database, role: Role, *, with_user: bool) -> str:
    """A key of tenant A in ``role``: as `socialcrm api-key create` makes it (no user), or one
    that acts for a person of that role."""
    with database.session(system=True) as session:
        tenant = make_tenant(session)
        key, raw = create_api_key(session, tenant=tenant, role=role)
        if with_user:
            user = create_user(
                session,
                tenant=tenant,
                email=f"{role.value}-{key.id}@acme.test",
                password="correct horse battery",
                role=role,
            )
            key.user_id = user.id
        return raw


def as_key(client: TestClient, raw: str) -> TestClient:
    client.headers["Authorization"] = f"Bearer {raw}"
    return client


def stored(database: Database, account_id: int) -> SocialAccount:
    with database.session(system=True) as session:
        account = session.get(SocialAccount, account_id)
        assert account is not None
        session.expunge(account)
        return account


def network_accepts(sandbox: object, account: SocialAccount) -> bool:
    me = httpx.get(
        f"{sandbox.url}/x/2/users/me",  # type: ignore[attr-defined]
        headers={"Authorization": f"Bearer {account.access_token}"},
    )
    return me.status_code == 200


@pytest.fixture
def brand(app_client: TestClient, database: Database) -> dict[str, Any]:
    as_key(app_client, key_for(database, Role.ADMIN, with_user=False))
    register_app(app_client, "x")
    account = connect(app_client, "x", "ada", scope="brand")
    assert account["owner_user_id"] is None
    return account


@pytest.mark.parametrize("with_user", [False, True], ids=["cli-key", "key-of-a-person"])
@pytest.mark.parametrize("role", NON_ADMINS, ids=lambda r: r.value)
def test_only_an_admin_disconnects_a_brand_account(
    app_client: TestClient,
    database: Database,
    sandbox: object,
    brand: dict[str, Any],
    role: Role,
    with_user: bool,
) -> None:
    account_id = int(brand["id"])
    as_key(app_client, key_for(database, role, with_user=with_user))

    refused = app_client.delete(f"/api/connections/{account_id}")

    assert refused.status_code == 403, refused.text
    assert refused.json()["error"]["code"] == "forbidden"
    after = stored(database, account_id)
    assert after.status == AccountStatus.ACTIVE
    assert after.revoked_at is None and after.provider_revoked is False
    assert network_accepts(sandbox, after), "the brand's token was revoked at the network"

    as_key(app_client, key_for(database, Role.ADMIN, with_user=False))
    done = app_client.delete(f"/api/connections/{account_id}")
    assert done.status_code == 200, done.text
    assert stored(database, account_id).status == AccountStatus.REVOKED
    assert not network_accepts(sandbox, after)


@pytest.mark.parametrize("role", NON_ADMINS, ids=lambda r: r.value)
def test_a_key_without_a_user_owns_no_personal_account(
    app_client: TestClient, database: Database, sandbox: object, role: Role
) -> None:
    """An admin's CLI key that connects a "personal" account leaves it without an owner: another
    key without a user neither sees it nor disconnects it."""
    as_key(app_client, key_for(database, Role.ADMIN, with_user=False))
    register_app(app_client, "x")
    account = connect(app_client, "x", "ada")
    assert account["owner_user_id"] is None

    as_key(app_client, key_for(database, role, with_user=False))
    assert app_client.get(f"/api/connections/{account['id']}").status_code == 404
    assert account["id"] not in [
        a["id"] for a in app_client.get("/api/connections").json()["items"]
    ]
    refused = app_client.delete(f"/api/connections/{account['id']}")
    assert refused.status_code == 404, refused.text
    assert refused.json()["error"]["code"] == "not_found"
    assert stored(database, int(account["id"])).status == AccountStatus.ACTIVE


@pytest.mark.parametrize("role", NON_ADMINS, ids=lambda r: r.value)
def test_the_owner_of_a_personal_account_disconnects_it(
    app_client: TestClient, database: Database, sandbox: object, role: Role
) -> None:
    raw = key_for(database, role, with_user=True)
    with database.session(system=True) as session:
        owner = session.scalars(select(User).where(User.role == role)).one()
    as_key(app_client, key_for(database, Role.ADMIN, with_user=False))
    register_app(app_client, "x")
    as_key(app_client, raw)
    account = connect(app_client, "x", "ada")
    assert account["owner_user_id"] == owner.id

    done = app_client.delete(f"/api/connections/{account['id']}")
    assert done.status_code == 200, done.text
    assert stored(database, int(account["id"])).status == AccountStatus.REVOKED


def test_a_page_choice_is_only_its_starters(
    app_client: TestClient, database: Database, sandbox: object
) -> None:
    """Facebook's Page pick waits for the key that started it; another key without a user
    (``None`` again) neither sees the offered Pages nor connects them."""
    starter = key_for(database, Role.ADMIN, with_user=False)
    as_key(app_client, starter)
    register_app(app_client, "facebook")
    answer = callback(
        app_client, "facebook", consent(start(app_client, "facebook"), "ada.lovelace")
    )
    assert answer.status_code == 303, answer.text
    key = answer.headers["location"].rsplit("/", 1)[1]

    as_key(app_client, key_for(database, Role.MARKETING, with_user=False))
    assert app_client.get(f"/api/connections/choices/{key}").status_code == 404
    stolen = app_client.post(f"/api/connections/choices/{key}", json={"ids": ["104000000001"]})
    assert stolen.status_code == 404, stolen.text
    assert app_client.get("/api/connections").json()["items"] == []

    as_key(app_client, starter)
    picked = app_client.post(f"/api/connections/choices/{key}", json={"ids": ["104000000001"]})
    assert picked.status_code == 200, picked.text


@pytest.mark.parametrize("role", NON_ADMINS, ids=lambda r: r.value)
def test_a_personal_account_needs_a_person(
    app_client: TestClient, database: Database, sandbox: object, role: Role
) -> None:
    """A marketer's or agent's key without a user would connect an account nobody owns (and
    that it could then not see): refused; a key of a person connects its own."""
    as_key(app_client, key_for(database, Role.ADMIN, with_user=False))
    register_app(app_client, "x")
    as_key(app_client, key_for(database, role, with_user=False))
    refused = app_client.post("/api/connections", json={"provider": "x", "scope": "personal"})
    assert refused.status_code == 403, refused.text
    assert refused.json()["error"]["code"] == "forbidden"
    as_key(app_client, key_for(database, role, with_user=True))
    started = app_client.post("/api/connections", json={"provider": "x", "scope": "personal"})
    assert started.status_code == 201, started.text


def test_the_connections_page_offers_disconnect_only_to_who_may(
    app_client: TestClient, database: Database, sandbox: object, brand: dict[str, Any]
) -> None:
    """An agent sees the brand's account but no Disconnect button it would be refused."""
    with database.session(system=True) as session:
        tenant = make_tenant(session)
        for role in (Role.AGENT, Role.ADMIN):
            create_user(
                session,
                tenant=tenant,
                email=f"{role.value}@acme.test",
                password="correct horse battery",
                role=role,
            )
    del app_client.headers["Authorization"]
    form = f'action="/connections/{brand["id"]}/disconnect"'

    agent = ui_login(app_client, "agent@acme.test", "correct horse battery")
    page = agent.get("/connections").text
    assert f'id="account-{brand["id"]}"' in page and form not in page

    admin = ui_login(app_client, "admin@acme.test", "correct horse battery")
    assert form in admin.get("/connections").text
