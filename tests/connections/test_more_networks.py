"""Connecting LinkedIn, Facebook Pages, Instagram, YouTube and TikTok accounts through the
CRM's own connect flow (start, consent at the sandbox network, callback, disconnect)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text

from socialcrm.connections import connecting, service, tokens
from socialcrm.connections.models import AccountChoice, SocialAccount
from socialcrm.core.db import Database, utcnow
from socialcrm.core.principal import Principal, Role
from socialcrm.providers.base import CallContext, Capability, PostData, Provider
from socialcrm.providers.registry import PROVIDERS
from socialcrm.tenancy.service import create_user
from socialcrm_sandbox.testing import RunningSandbox
from tests.conftest import csrf_of, make_tenant, ui_login

from .flow import callback, connect, consent, register_app, start, world_app

PASSWORD = "pages-password-1"

pytestmark = pytest.mark.usefixtures("sandbox")

ACCOUNTS = [
    ("linkedin", "ada-lovelace", "urn:li:person:adaLv9x"),
    ("instagram", "ada.lovelace", "17841400000000001"),
    ("youtube", "adalovelace", "UCada0000000000000000000"),
    ("tiktok", "ada.codes", "ada-open-id-0001"),
]


@pytest.mark.parametrize(("network", "handle", "user_id"), ACCOUNTS)
def test_connect_and_disconnect(
    api: TestClient, sandbox: RunningSandbox, network: str, handle: str, user_id: str
) -> None:
    register_app(api, network)
    account = connect(api, network, handle)
    assert (account["provider"], account["external_user_id"], account["status"]) == (
        network,
        user_id,
        "active",
    )
    gone = api.delete(f"/api/connections/{account['id']}")
    assert gone.status_code == 200, gone.text
    assert api.get(f"/api/connections/{account['id']}").json()["status"] == "revoked"
    # At the network: revoked where its API can revoke (Instagram's cannot: it simply expires).
    at_network = sandbox.control.get("/tokens", params={"network": network}).json()
    can_revoke = Capability.REVOKE in PROVIDERS[network].capabilities
    assert (at_network["revoked"] > 0) == can_revoke, at_network


def _facebook_choice(api: TestClient) -> str:
    """Start, consent as the person, come back: the key of the Pages to pick from."""
    register_app(api, "facebook")
    response = callback(api, "facebook", consent(start(api, "facebook"), "ada.lovelace"))
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert location.startswith("/connections/choose/")
    return location.rsplit("/", 1)[1]


def _count(database: Database, model: type) -> int:
    with database.session(system=True) as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_facebook_connect_lists_the_pages_and_each_pick_acts_with_its_page_token(
    api: TestClient, database: Database
) -> None:
    """Before: the Facebook Login *user* token was stored as if it were the Page, and every
    Page call (publish, tags, Messenger) was refused with (#190)."""
    key = _facebook_choice(api)
    assert _count(database, SocialAccount) == 0  # nothing connected until the person picks
    offered = api.get(f"/api/connections/choices/{key}")
    assert offered.status_code == 200, offered.text
    assert "token" not in offered.text.lower().replace("access_token", "")
    assert [(o["id"], o["handle"]) for o in offered.json()["options"]] == [
        ("104000000001", "analyticalengines"),
        ("104000000004", "engineclub"),
    ]
    picked = api.post(
        f"/api/connections/choices/{key}", json={"ids": ["104000000001", "104000000004"]}
    )
    assert picked.status_code == 200, picked.text
    accounts = picked.json()["items"]
    assert [(a["provider"], a["external_user_id"], a["status"]) for a in accounts] == [
        ("facebook", "104000000001", "active"),
        ("facebook", "104000000004", "active"),
    ]
    assert _count(database, AccountChoice) == 0  # single use: the offered tokens are gone
    assert (
        api.post(f"/api/connections/choices/{key}", json={"ids": ["104000000001"]}).status_code
        == 404
    )

    async def publish(provider: Provider, ctx: CallContext) -> PostData:
        return await provider.publish(ctx, "Doors open at ten")

    with database.session(system=True) as session:
        rows = session.scalars(select(SocialAccount).order_by(SocialAccount.id)).all()
        tenant_id, pages = rows[0].tenant_id, {r.access_token for r in rows}
        raw = session.execute(text("SELECT access_token FROM social_accounts")).scalars().all()
    assert len(pages) == 2 and not pages & set(raw)  # two Page tokens, encrypted at rest
    posted = tokens.with_account(database, tenant_id, accounts[0]["id"], publish)
    assert posted.id.startswith("104000000001_")
    assert tokens.with_account(database, tenant_id, accounts[1]["id"], publish).id.startswith(
        "104000000004_"
    )


def test_facebook_choice_refuses_what_was_not_offered_and_expires(
    api: TestClient, database: Database
) -> None:
    key = _facebook_choice(api)
    for ids in ([], ["104000000002"]):  # nothing, or a Page Ada does not manage
        refused = api.post(f"/api/connections/choices/{key}", json={"ids": ids})
        assert refused.status_code in (400, 422), refused.text
        assert refused.json()["error"]["code"] == "validation_error"
    assert _count(database, SocialAccount) == 0
    with database.session(system=True) as session:
        choice = session.scalars(select(AccountChoice)).one()
        choice.expires_at = utcnow() - timedelta(seconds=1)
    assert api.get(f"/api/connections/choices/{key}").status_code == 404
    assert connecting.purge_expired_states(database) >= 1
    assert _count(database, AccountChoice) == 0


def test_a_disconnected_page_forgets_its_token_without_touching_the_others(
    api: TestClient, sandbox: RunningSandbox, database: Database
) -> None:
    key = _facebook_choice(api)
    picked = api.post(
        f"/api/connections/choices/{key}", json={"ids": ["104000000001", "104000000004"]}
    ).json()["items"]
    assert api.delete(f"/api/connections/{picked[0]['id']}").status_code == 200
    gone = api.get(f"/api/connections/{picked[0]['id']}").json()
    assert (gone["status"], gone["provider_revoked"]) == ("revoked", False)
    assert api.get(f"/api/connections/{picked[1]['id']}").json()["status"] == "active"
    assert sandbox.control.get("/tokens", params={"network": "facebook"}).json()["revoked"] == 0


def test_a_person_picks_their_pages_on_the_connect_page(
    app_client: TestClient, database: Database
) -> None:
    """The browser's path: Connect Facebook, consent as the person, tick a Page, connected."""
    with database.session(system=True) as session:
        tenant = make_tenant(session, name="Pages Co")
        create_user(
            session, tenant=tenant, email="ana@pages.test", password=PASSWORD, role=Role.ADMIN
        )
    client = ui_login(app_client, "ana@pages.test", PASSWORD)
    app = world_app("facebook")
    page = client.get("/connections").text
    assert "Page Public Content Access" in page  # what reading other Pages requires
    with database.session(system=True) as session:
        session.info.update(system=False, tenant_id=tenant.id)
        admin = Principal(tenant_id=tenant.id, role=Role.ADMIN, user_id=None)
        service.set_provider_app(
            session,
            admin,
            provider="facebook",
            client_id=app["client_id"],
            client_secret=app["client_secret"],
        )
    started = client.post(
        "/connections",
        data={"provider": "facebook", "csrf": csrf_of(page)},
        follow_redirects=False,
    )
    assert started.status_code == 303, started.text
    back = client.get(
        "/oauth/callback/facebook",
        params=consent(started.headers["location"], "ada.lovelace"),
        headers={"Accept": "text/html"},
        follow_redirects=False,
    )
    assert back.status_code == 303 and back.headers["location"].startswith("/connections/choose/")
    choose = client.get(back.headers["location"])
    assert choose.status_code == 200
    assert "Analytical Engines" in choose.text and "Engine Club" in choose.text
    none_ticked = client.post(
        back.headers["location"], data={"csrf": csrf_of(choose.text)}, follow_redirects=False
    )
    assert none_ticked.status_code == 400 and "pick at least one" in none_ticked.text
    picked = client.post(
        back.headers["location"],
        data={"csrf": csrf_of(choose.text), "ids": ["104000000004"]},
        follow_redirects=False,
    )
    assert picked.status_code == 303 and "connected=" in picked.headers["location"]
    with database.session(system=True) as session:
        rows = session.scalars(select(SocialAccount)).all()
    assert [(r.provider, r.external_user_id, r.handle) for r in rows] == [
        ("facebook", "104000000004", "engineclub")
    ]


def test_instagram_connects_long_lived_and_the_crm_refreshes_it(
    api: TestClient, database: Database
) -> None:
    """Before: the one-hour token was stored as is, with no way to refresh it."""
    register_app(api, "instagram")
    account = connect(api, "instagram", "ada.lovelace")
    with database.session(system=True) as session:
        stored = session.get(SocialAccount, account["id"])
        assert stored is not None and stored.expires_at is not None
        tenant_id, before = stored.tenant_id, stored.access_token
        assert stored.expires_at - utcnow() > timedelta(days=59)
        assert stored.refresh_token == stored.access_token
    assert tokens.refresh_tokens(database, tenant_id, account["id"], force=True)

    async def whoami(provider: Provider, ctx: CallContext) -> str:
        return (await provider.me(ctx)).handle

    with database.session(system=True) as session:
        refreshed = session.get(SocialAccount, account["id"])
        assert refreshed is not None and refreshed.access_token != before
    assert tokens.with_account(database, tenant_id, account["id"], whoami) == "ada.lovelace"
