"""Connecting a social account: OAuth 2.0 + PKCE against the sandbox over real HTTP."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import time_machine
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text

from socialcrm.connections.models import OAuthState, SocialAccount
from socialcrm.core.audit import AuditLog
from socialcrm.core.db import Database, utcnow
from socialcrm.core.principal import Role
from tests.conftest import make_api_key, make_tenant
from tests.connections.flow import callback, connect, consent, register_app, start

pytestmark = pytest.mark.usefixtures("sandbox")


def count_accounts(database: Database) -> int:
    with database.session(system=True) as session:
        return int(session.scalar(select(func.count()).select_from(SocialAccount)) or 0)


def test_rfc7636_test_vector() -> None:
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert create_s256_code_challenge(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def test_authorization_url_carries_s256_pkce_and_state(api: TestClient, database: Database) -> None:
    register_app(api, "x")
    url = start(api)
    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    assert query["code_challenge_method"] == "S256"
    assert query["redirect_uri"] == "http://testserver/oauth/callback/x"
    assert len(query["state"]) >= 32
    with database.session(system=True) as session:
        record = session.scalars(select(OAuthState)).one()
        assert create_s256_code_challenge(record.code_verifier) == query["code_challenge"]
        assert record.expires_at - record.created_at == timedelta(minutes=10)


def test_connect_x_account_end_to_end(api: TestClient, database: Database) -> None:
    register_app(api, "x")
    account = connect(api, "x", "ada")
    assert account["provider"] == "x"
    assert account["handle"] == "ada"
    assert account["external_user_id"] == "1001"
    assert account["status"] == "active"
    assert account["ownership"] == "personal"
    assert "access_token" not in account and "refresh_token" not in account
    listed = api.get("/api/connections").json()["items"]
    assert [a["id"] for a in listed] == [account["id"]]
    with database.session(system=True) as session:
        actions = session.scalars(select(AuditLog.action)).all()
    assert "social_account.connect" in actions


def test_tokens_are_encrypted_at_rest(api: TestClient, database: Database) -> None:
    register_app(api, "x")
    account = connect(api)
    with database.session(system=True) as session:
        clear = session.get(SocialAccount, account["id"])
        assert clear is not None and clear.access_token and clear.refresh_token
        raw = session.execute(
            text("SELECT access_token, refresh_token FROM social_accounts WHERE id = :id"),
            {"id": account["id"]},
        ).one()
    assert clear.access_token not in raw[0] and clear.refresh_token not in raw[1]
    assert raw[0].startswith("gAAAA")


def test_replayed_state_is_refused_and_nothing_more_is_stored(
    api: TestClient, database: Database
) -> None:
    register_app(api, "x")
    params = consent(start(api), "ada")
    assert callback(api, "x", params).status_code == 303
    before = count_accounts(database)
    replay = callback(api, "x", params)
    assert replay.status_code == 400
    assert replay.json()["error"]["code"] == "oauth_error"
    assert count_accounts(database) == before


def test_bad_state_denied_consent_and_wrong_provider(api: TestClient, database: Database) -> None:
    register_app(api, "x")
    assert callback(api, "x", {"state": "forged", "code": "x"}).status_code == 400
    denied = consent(start(api), "ada", decision="deny")
    assert denied.get("error") == "access_denied"
    assert callback(api, "x", denied).status_code == 400
    params = consent(start(api), "ada")
    assert callback(api, "mastodon", params).status_code == 400  # mix-up defence
    assert count_accounts(database) == 0


def test_expired_state_is_refused(api: TestClient, database: Database) -> None:
    register_app(api, "x")
    params = consent(start(api), "ada")
    with time_machine.travel(utcnow() + timedelta(minutes=11), tick=False):
        response = callback(api, "x", params)
    assert response.status_code == 400
    assert "expired" in response.json()["error"]["message"]
    assert count_accounts(database) == 0


def test_tampered_code_is_refused(api: TestClient, database: Database) -> None:
    register_app(api, "x")
    params = consent(start(api), "ada")
    response = callback(api, "x", params | {"code": params["code"] + "x"})
    assert response.status_code == 400
    assert count_accounts(database) == 0


def test_html_callback_errors_are_a_readable_page(api: TestClient) -> None:
    response = api.get(
        "/oauth/callback/x", params={"state": "nope"}, headers={"Accept": "text/html"}
    )
    assert response.status_code == 400
    assert "text/html" in response.headers["content-type"]
    assert "start connecting again" in response.text


def test_brand_accounts_need_an_admin(app_client: TestClient, database: Database) -> None:
    with database.session(system=True) as session:
        tenant = make_tenant(session)
        admin = make_api_key(session, tenant=tenant, role=Role.ADMIN)
        agent = make_api_key(session, tenant=tenant, role=Role.AGENT)
    app_client.headers["Authorization"] = f"Bearer {agent}"
    refused = app_client.post("/api/connections", json={"provider": "x", "scope": "brand"})
    assert refused.status_code == 403
    app_client.headers["Authorization"] = f"Bearer {admin}"
    register_app(app_client, "x")
    brand = connect(app_client, "x", "ada", scope="brand")
    assert brand["ownership"] == "brand"
    assert brand["owner_user_id"] is None


def test_x_needs_app_credentials_first(api: TestClient) -> None:
    response = api.post("/api/connections", json={"provider": "x"})
    assert response.status_code == 409
    assert "provider-apps/x" in response.json()["error"]["message"]


def test_unknown_provider_is_a_validation_error(api: TestClient) -> None:
    response = api.post("/api/connections", json={"provider": "myspace"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"


def test_mastodon_registers_its_app_dynamically(api: TestClient) -> None:
    account = connect(api, "mastodon", "ada")
    assert account["provider"] == "mastodon"
    assert account["handle"] == "ada"
    apps = api.get("/api/provider-apps").json()
    assert [a["provider"] for a in apps] == ["mastodon"]
    assert apps[0]["has_secret"] is True


def test_bluesky_connects_with_an_app_password(api: TestClient, sandbox: object) -> None:
    response = api.post(
        "/api/connections",
        json={
            "provider": "bluesky",
            "identifier": "ada.bsky.social",
            "app_password": "app-password",
        },
    )
    assert response.status_code == 201, response.text
    account = response.json()
    assert account["handle"] == "ada.bsky.social"
    assert account["external_user_id"].startswith("did:")
    wrong = api.post(
        "/api/connections",
        json={"provider": "bluesky", "identifier": "ada.bsky.social", "app_password": "nope"},
    )
    assert wrong.status_code == 400


def test_provider_outage_during_callback_is_a_clear_error(
    api: TestClient, sandbox: object, database: Database
) -> None:
    register_app(api, "x")
    params = consent(start(api), "ada")
    httpx.post(
        f"{sandbox.url}/_sandbox/faults",  # type: ignore[attr-defined]
        json={"network": "x", "endpoint": "token", "status": 503, "count": 1},
    ).raise_for_status()
    response = callback(api, "x", params)
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "upstream_unavailable"
    assert count_accounts(database) == 0
