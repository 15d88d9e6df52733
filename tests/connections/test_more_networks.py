"""Connecting LinkedIn, Facebook Pages, Instagram, YouTube and TikTok accounts through the
CRM's own connect flow (start, consent at the sandbox network, callback, disconnect)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text

from socialcrm.connections import service
from socialcrm.connections.models import AccountChoice, SocialAccount
from socialcrm.core.db import Database, utcnow
from socialcrm.providers.base import CallContext, Capability, PostData, Provider
from socialcrm.providers.registry import PROVIDERS
from socialcrm.sandbox.testing import RunningSandbox

from .flow import callback, connect, consent, register_app, start

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
    tokens = sandbox.control.get("/tokens", params={"network": network}).json()
    can_revoke = Capability.REVOKE in PROVIDERS[network].capabilities
    assert (tokens["revoked"] > 0) == can_revoke, tokens


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
        tenant_id, tokens = rows[0].tenant_id, {r.access_token for r in rows}
        raw = session.execute(text("SELECT access_token FROM social_accounts")).scalars().all()
    assert len(tokens) == 2 and not tokens & set(raw)  # two Page tokens, encrypted at rest
    posted = service.with_account(database, tenant_id, accounts[0]["id"], publish)
    assert posted.id.startswith("104000000001_")
    assert service.with_account(database, tenant_id, accounts[1]["id"], publish).id.startswith(
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
    assert service.purge_expired_states(database) >= 1
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
