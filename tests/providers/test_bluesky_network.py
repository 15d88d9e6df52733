"""Bluesky as the real network behaves (atproto specs and the reference PDS), through the
product: log in at the account's own PDS, and DMs need a privileged app password."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from socialcrm.connections.models import SocialAccount
from socialcrm.core.db import Database
from tests.publishing.conftest import connect_brand

pytestmark = pytest.mark.usefixtures("sandbox")


def connect_bluesky(api: TestClient, password: str) -> dict[str, object]:
    response = api.post(
        "/api/connections",
        json={
            "provider": "bluesky",
            "scope": "brand",
            "identifier": "ada.bsky.social",
            "app_password": password,
        },
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def dm(api: TestClient, account_id: int, key: str) -> dict[str, object]:
    response = api.post(
        "/api/engage/messages",
        json={
            "kind": "dm",
            "account_id": account_id,
            "text": "Hi Grace",
            "recipient": "grace.bsky.social",
        },
        headers={"Idempotency-Key": key},
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def test_a_dm_with_an_app_password_without_dm_access_says_how_to_fix_it(
    api: TestClient,
) -> None:
    account = connect_bluesky(api, "basic-app-password")
    assert account["scopes"] == ["com.atproto.appPass"]
    sent = dm(api, int(account["id"]), "bsky-dm-basic-01")  # type: ignore[call-overload]
    assert sent["status"] == "failed"
    assert "Allow access to your direct messages" in str(sent["error"])


def test_a_dm_with_a_privileged_app_password_is_sent(api: TestClient) -> None:
    account = connect_bluesky(api, "app-password")
    assert account["scopes"] == ["com.atproto.appPassPrivileged"]
    sent = dm(api, int(account["id"]), "bsky-dm-priv-001")  # type: ignore[call-overload]
    assert sent["status"] == "sent", sent


def test_the_accounts_pds_is_found_through_its_did_document_and_kept(
    api: TestClient, database: Database, sandbox: object
) -> None:
    account = connect_brand(api, "bluesky")
    with database.session(system=True) as session:
        row = session.get(SocialAccount, int(account["id"]))
        assert row is not None
        assert row.instance_url == f"{sandbox.url}/bsky"  # type: ignore[attr-defined]
