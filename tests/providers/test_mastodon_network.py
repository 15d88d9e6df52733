"""Mastodon as the real network behaves (docs.joinmastodon.org and Mastodon's source), through
the product: connect, email lookup, remote accounts, filtered mentions, pre-4.3 instances.

The sandbox refuses what Mastodon refuses; each test failed against the adapter as it was."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient

from socialcrm.connections import tokens
from socialcrm.core.db import Database
from socialcrm.core.principal import Role
from socialcrm.providers.base import CallContext, PostData, ProfileData, Provider
from socialcrm.providers.outcomes import ScopeMissing
from socialcrm.tenancy.models import Tenant
from tests.conftest import make_api_key
from tests.connections.flow import callback, connect, consent

pytestmark = pytest.mark.usefixtures("sandbox")


def tenant_of(database: Database) -> int:
    with database.session(system=True) as session:
        return session.query(Tenant).filter_by(name="Tenant A").one().id


def connect_with_email_lookup(api: TestClient, handle: str = "ada") -> dict[str, object]:
    started = api.post(
        "/api/connections",
        json={"provider": "mastodon", "scope": "brand", "permissions": ["email_lookup"]},
    )
    assert started.status_code == 201, started.text
    url = started.json()["authorization_url"]
    assert "admin:read:accounts" in parse_qs(urlsplit(url).query)["scope"][0].split()
    answer = callback(api, "mastodon", consent(url, handle))
    assert answer.status_code == 303, answer.text
    account_id = int(answer.headers["location"].split("connected=")[1])
    got: dict[str, object] = api.get(f"/api/connections/{account_id}").json()
    return got


def lookup_email(database: Database, account_id: int, email: str) -> ProfileData | None:
    async def action(p: Provider, ctx: CallContext) -> ProfileData | None:
        return await p.lookup_email(ctx, email)

    return tokens.with_account(database, tenant_of(database), account_id, action)


def test_email_lookup_needs_the_permission_asked_for_at_connect(
    api: TestClient, database: Database
) -> None:
    """The app used to be registered with ``read write`` only, so no grant could ever carry
    ``admin:read:accounts`` and lookup by email could never work."""
    providers = {p["name"]: p for p in api.get("/api/providers").json()}
    assert providers["mastodon"]["optional_permissions"] == ["email_lookup"]
    account = connect_with_email_lookup(api)
    assert "admin:read:accounts" in account["scopes"]  # type: ignore[operator]
    found = lookup_email(database, int(account["id"]), "Ada@Example.com")  # type: ignore[call-overload]
    assert found is not None and (found.user_id, found.email) == ("2001", "ada@example.com")


def test_a_prefix_of_an_address_is_not_that_person(api: TestClient, database: Database) -> None:
    """Mastodon's filter is ``ILIKE 'value%'``: asked for ada@example.co it returns
    ada@example.com, who must not be linked to a Contact with the shorter address."""
    account = connect_with_email_lookup(api)
    assert lookup_email(database, int(account["id"]), "ada@example.co") is None  # type: ignore[call-overload]
    assert lookup_email(database, int(account["id"]), "nobody@example.com") is None  # type: ignore[call-overload]


def test_without_the_manage_users_role_lookup_is_scope_missing(
    api: TestClient, database: Database
) -> None:
    account = connect_with_email_lookup(api, handle="grace")  # an ordinary user there
    with pytest.raises(ScopeMissing, match="Manage Users"):
        lookup_email(database, int(account["id"]), "ada@example.com")  # type: ignore[call-overload]


def test_extra_permissions_are_known_and_an_admins_to_ask(
    app_client: TestClient, database: Database
) -> None:
    with database.session(system=True) as session:
        tenant = session.query(Tenant).filter_by(name="Tenant A").one_or_none()
        from tests.conftest import make_tenant

        tenant = tenant or make_tenant(session)
        admin = make_api_key(session, tenant=tenant)
        agent = make_api_key(session, tenant=tenant, role=Role.AGENT)
    body = {"provider": "mastodon", "permissions": ["email_lookup"]}
    refused = app_client.post(
        "/api/connections", json=body, headers={"Authorization": f"Bearer {agent}"}
    )
    assert refused.status_code == 403
    unknown = app_client.post(
        "/api/connections",
        json={"provider": "mastodon", "permissions": ["read_minds"]},
        headers={"Authorization": f"Bearer {admin}"},
    )
    assert unknown.status_code == 400 and "read_minds" in unknown.text
    x = app_client.post(
        "/api/connections",
        json={"provider": "x", "permissions": ["email_lookup"]},
        headers={"Authorization": f"Bearer {admin}"},
    )
    assert x.status_code == 400


def test_a_remote_account_the_instance_has_not_seen_is_found(
    api: TestClient, database: Database
) -> None:
    """``accounts/lookup`` skips WebFinger and answered 404, which read as "gone"."""
    account = connect(api, "mastodon", "ada")

    async def action(p: Provider, ctx: CallContext) -> ProfileData:
        return await p.lookup_handle(ctx, "@katherine@remote.example")

    found = tokens.with_account(database, tenant_of(database), int(account["id"]), action)
    assert (found.user_id, found.handle) == ("2005", "katherine@remote.example")


def test_private_mentions_from_strangers_are_not_filtered_away(
    api: TestClient, database: Database, sandbox: object
) -> None:
    """Mastodon 4.3's default notification policy hides private mentions from people the
    account does not follow (a customer's DM) unless ``include_filtered`` is asked for."""
    account = connect(api, "mastodon", "ada")
    grace = connect_as(sandbox, "grace")
    httpx.post(
        f"{sandbox.url}/mastodon/api/v1/statuses",  # type: ignore[attr-defined]
        json={"status": "@ada my order never arrived", "visibility": "direct"},
        headers={"Authorization": f"Bearer {grace}"},
    ).raise_for_status()

    async def action(p: Provider, ctx: CallContext) -> list[PostData]:
        return (await p.mentions(ctx, None)).posts

    posts = tokens.with_account(database, tenant_of(database), int(account["id"]), action)
    assert "@ada my order never arrived" in [p.text for p in posts]


def connect_as(sandbox: object, handle: str) -> str:
    from tests.sandbox.flows import connect_mastodon

    with httpx.Client(base_url=sandbox.url) as http:  # type: ignore[attr-defined]
        return str(connect_mastodon(http, account=handle)["access_token"])


def test_an_instance_older_than_4_3_still_connects(api: TestClient, sandbox: object) -> None:
    """PKCE arrived in Mastodon 4.3; an older instance ignores the challenge and has no
    OAuth server metadata, and connecting must work all the same."""
    base = sandbox.url  # type: ignore[attr-defined]
    httpx.post(f"{base}/_sandbox/config", json={"mastodon_version": "4.2.9"}).raise_for_status()
    metadata = httpx.get(f"{base}/mastodon/.well-known/oauth-authorization-server")
    assert metadata.status_code == 404
    account = connect(api, "mastodon", "ada")
    assert account["handle"] == "ada" and account["status"] == "active"
