"""Refresh, failure and disconnect of connected accounts, against the sandbox."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
import time_machine
from fastapi.testclient import TestClient
from sqlalchemy import select

from socialcrm.connections import service, tokens
from socialcrm.connections.models import AccountStatus, SocialAccount
from socialcrm.connections.tasks import refresh_due_tokens, sync_connected_profiles
from socialcrm.core.audit import AuditLog
from socialcrm.core.db import Database, utcnow
from socialcrm.core.notify import Notification
from socialcrm.crm.models import Activity
from socialcrm.providers.base import (
    CallContext,
    Capability,
    ProfileData,
    Provider,
    RateLimited,
    ReconnectRequired,
    TransientProviderError,
)
from socialcrm.providers.registry import PROVIDERS
from tests.connections.flow import callback, connect, consent, register_app, start

pytestmark = pytest.mark.usefixtures("sandbox")


@pytest.fixture
def x_account(api: TestClient) -> dict[str, object]:
    register_app(api, "x")
    return connect(api, "x", "ada")


def load(database: Database, account_id: int) -> SocialAccount:
    with database.session(system=True) as session:
        account = session.get(SocialAccount, account_id)
        assert account is not None
        session.expunge(account)
        return account


async def whoami(provider: Provider, ctx: CallContext) -> ProfileData:
    return await provider.me(ctx)


def fault(sandbox: object, **spec: object) -> None:
    httpx.post(f"{sandbox.url}/_sandbox/faults", json=spec).raise_for_status()  # type: ignore[attr-defined]


def test_refresh_rotates_and_persists_both_tokens(
    database: Database, x_account: dict[str, object]
) -> None:
    before = load(database, int(x_account["id"]))  # type: ignore[arg-type]
    assert tokens.refresh_tokens(database, before.tenant_id, before.id, force=True)
    after = load(database, before.id)
    assert after.access_token != before.access_token
    assert after.refresh_token and after.refresh_token != before.refresh_token
    assert after.token_version == before.token_version + 1
    assert after.status == AccountStatus.ACTIVE
    profile = tokens.with_account(database, after.tenant_id, after.id, whoami)
    assert profile.handle == "ada"


def test_tokens_refresh_ahead_of_expiry(database: Database, x_account: dict[str, object]) -> None:
    before = load(database, int(x_account["id"]))  # type: ignore[arg-type]
    assert before.expires_at is not None
    with time_machine.travel(before.expires_at - timedelta(minutes=2), tick=False):
        assert refresh_due_tokens.call_local() == 1
    after = load(database, before.id)
    assert after.access_token != before.access_token
    assert after.expires_at is not None and after.expires_at > before.expires_at


def test_transient_failures_never_kill_an_account(
    database: Database, x_account: dict[str, object], sandbox: object
) -> None:
    account = load(database, int(x_account["id"]))  # type: ignore[arg-type]
    fault(sandbox, network="x", endpoint="token", status=503, count=1)
    with pytest.raises(TransientProviderError):
        tokens.refresh_tokens(database, account.tenant_id, account.id, force=True)
    fault(sandbox, network="x", endpoint="token", status=429, retry_after=60, count=1)
    with pytest.raises(RateLimited):
        tokens.refresh_tokens(database, account.tenant_id, account.id, force=True)
    fault(sandbox, network="x", endpoint="profile", status=500, count=1)
    fault(sandbox, network="x", endpoint="lookup_handle", status=500, count=1)
    with pytest.raises(TransientProviderError):
        tokens.with_account(database, account.tenant_id, account.id, whoami)
    after = load(database, account.id)
    assert after.status == AccountStatus.ACTIVE
    assert after.refresh_token == account.refresh_token  # nothing lost


def test_a_grant_revoked_at_the_network_asks_the_owner_to_reconnect(
    api: TestClient, database: Database, x_account: dict[str, object], sandbox: object
) -> None:
    account = load(database, int(x_account["id"]))  # type: ignore[arg-type]
    # The user revokes our app on the network's side: both tokens die there.
    httpx.post(
        f"{sandbox.url}/x/2/oauth2/revoke",  # type: ignore[attr-defined]
        data={"token": account.refresh_token, "client_id": "ignored"},
        auth=_x_client_auth(),
    ).raise_for_status()
    with pytest.raises(Exception):  # noqa: B017 - the typed error is asserted below
        tokens.with_account(database, account.tenant_id, account.id, whoami)
    after = load(database, account.id)
    assert after.status == AccountStatus.ERROR
    assert after.access_token  # kept: a reconnect replaces it, nothing is erased
    with database.session(system=True) as session:
        notes = session.scalars(select(Notification)).all()
        assert [n.kind for n in notes] == ["reconnect_required"]
    shown = api.get(f"/api/connections/{account.id}").json()
    assert shown["status"] == "error"
    assert "reconnect" in shown["status_reason"]


def _x_client_auth() -> tuple[str, str]:
    from tests.connections.flow import world_app

    app = world_app("x")
    return app["client_id"], app["client_secret"]


def test_reconnect_keeps_the_account_and_its_history(
    api: TestClient, database: Database, x_account: dict[str, object]
) -> None:
    account_id = int(x_account["id"])  # type: ignore[arg-type]
    activity = api.post("/api/activities", json={"kind": "note", "body": "before"}).json()
    with database.session(system=True) as session:
        record = session.get(Activity, activity["id"])
        assert record is not None
        record.social_account_id = account_id
        stored = session.get(SocialAccount, account_id)
        assert stored is not None
        stored.status = AccountStatus.ERROR
    again = connect(api, "x", "ada")
    assert again["id"] == account_id
    assert again["status"] == "active"
    with database.session(system=True) as session:
        kept = session.get(Activity, activity["id"])
        assert kept is not None and kept.social_account_id == account_id


def test_disconnect_revokes_at_the_network_and_stops_all_use(
    api: TestClient, database: Database, x_account: dict[str, object], sandbox: object
) -> None:
    account = load(database, int(x_account["id"]))  # type: ignore[arg-type]
    response = api.delete(f"/api/connections/{account.id}")
    assert response.status_code == 200
    assert response.json()["status"] == "revoked"

    after = load(database, account.id)
    assert after.status == AccountStatus.REVOKED
    assert after.access_token is None and after.refresh_token is None
    assert after.provider_revoked is True
    # The network no longer accepts the old access token.
    me = httpx.get(
        f"{sandbox.url}/x/2/users/me",  # type: ignore[attr-defined]
        headers={"Authorization": f"Bearer {account.access_token}"},
    )
    assert me.status_code == 401
    # No task can use it, and periodic work no longer sees it.
    with pytest.raises(service.AccountNotActive):
        tokens.with_account(database, account.tenant_id, account.id, whoami)
    assert (account.tenant_id, account.id) not in tokens.active_accounts(database)
    assert sync_connected_profiles.call_local() == 0
    with database.session(system=True) as session:
        entry = session.scalars(
            select(AuditLog).where(AuditLog.action == "social_account.disconnect")
        ).one()
        assert entry.actor.startswith("api_key:")
    # History stays for audit; the record is still readable.
    assert api.get(f"/api/connections/{account.id}").json()["revoked_at"] is not None


def test_disconnect_while_the_network_is_down_still_stops_use(
    api: TestClient, database: Database, x_account: dict[str, object], sandbox: object
) -> None:
    account_id = int(x_account["id"])  # type: ignore[arg-type]
    fault(sandbox, network="x", endpoint="revoke", status=503, count=50)
    response = api.delete(f"/api/connections/{account_id}")
    assert response.status_code == 200
    after = load(database, account_id)
    assert after.status == AccountStatus.REVOKED
    assert after.provider_revoked is False  # the queue retries the revocation later
    assert after.refresh_token  # kept until the network confirms
    assert utcnow() >= (after.revoked_at or utcnow())


def connect_without_refresh(api: TestClient, network: str) -> int:
    """Mastodon through its redirect; Facebook through the Page pick that follows it."""
    if network == "mastodon":
        return int(connect(api, "mastodon", "ada")["id"])
    register_app(api, "facebook")
    answer = callback(api, "facebook", consent(start(api, "facebook"), "ada.lovelace"))
    key = answer.headers["location"].rsplit("/", 1)[1]
    picked = api.post(f"/api/connections/choices/{key}", json={"ids": ["104000000001"]})
    assert picked.status_code == 200, picked.text
    return int(picked.json()["items"][0]["id"])


@pytest.mark.parametrize(
    "network",
    [n for n, info in PROVIDERS.items() if Capability.REFRESH not in info.capabilities],
)
def test_a_dead_token_without_refresh_asks_to_reconnect(
    api: TestClient, database: Database, sandbox: object, network: str
) -> None:
    """Networks without refresh tokens (Mastodon, Facebook): the forced refresh cannot help,
    so the call's own ``ReconnectRequired`` marks the account (it used to be an
    ``UnboundLocalError``)."""
    account = load(database, connect_without_refresh(api, network))
    fault(sandbox, network=network, endpoint="*", status=401, count=5)
    with pytest.raises(ReconnectRequired):
        tokens.with_account(database, account.tenant_id, account.id, whoami)
    assert load(database, account.id).status == AccountStatus.ERROR
    shown = api.get(f"/api/connections/{account.id}").json()
    assert shown["status"] == "error" and "reconnect" in shown["status_reason"]
