"""Profiles enrichment links to a Contact (auto-linked or confirmed) are in the identity graph,
keyed by the network's user id; a Mastodon handle without its instance is never dropped
silently."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from socialcrm.connections.models import ProviderApp
from socialcrm.core.db import Database
from socialcrm.identity.models import IdentityProfile
from tests.enrichment import conftest as enrichment
from tests.enrichment.conftest import ADA, make_contact
from tests.identity.conftest import resolve

ADA_DID = "did:plc:ada0000000000000000001"


@pytest.fixture
def connected(api: TestClient, sandbox: Any) -> None:
    """The tenant connected to the sandbox's X and Bluesky, which enrichment searches."""
    enrichment.connect_x(api)
    enrichment.connect_bluesky(api)


def find(api: TestClient, contact_id: int) -> dict[str, dict[str, Any]]:
    body = api.post(f"/api/contacts/{contact_id}/social/find").json()
    return {link["provider"]: link for link in body["social"]["links"]}


def test_auto_linked_and_confirmed_profiles_resolve_by_their_user_id(
    api: TestClient,
    connected: None,
    tenant_id: int,
) -> None:
    contact = make_contact(api, **ADA)
    links = find(api, contact["id"])
    assert (links["x"]["status"], links["x"]["external_user_id"]) == ("linked", "1001")
    # Resolved by the immutable id, under a handle the CRM never saw.
    by_id = resolve(api, "ada_renamed", "x", user_id="1001")
    assert by_id["resolved"] is True and by_id["customer_id"] == contact["id"]
    assert by_id["match"]["method"] == "user_id"

    assert links["bluesky"]["status"] == "suggested"
    assert resolve(api, "ada.bsky.social", "bluesky", user_id=ADA_DID)["resolved"] is False
    assert api.post(f"/api/social-links/{links['bluesky']['id']}/confirm").status_code == 200
    confirmed = resolve(api, "ada.bsky.social", "bluesky", user_id=ADA_DID)
    assert confirmed["resolved"] is True and confirmed["customer_id"] == contact["id"]
    assert confirmed["match"]["method"] == "user_id"
    networks = confirmed["social_graph"]
    assert [p["user_id"] for p in networks["bluesky"]] == [ADA_DID]
    assert [p["user_id"] for p in networks["x"]] == ["1001"]
    # Enrichment's links are shown with the Contact's social profiles, not copied into handles.
    handles = api.get(f"/api/contacts/{contact['id']}").json()["handles"]
    assert [h["network"] for h in handles] == ["x"]


def test_a_rejected_link_leaves_the_graph(
    api: TestClient,
    connected: None,
    tenant_id: int,
) -> None:
    contact = make_contact(api, **ADA)
    bluesky = find(api, contact["id"])["bluesky"]["id"]
    assert api.post(f"/api/social-links/{bluesky}/confirm").status_code == 200
    assert resolve(api, "ada.bsky.social", "bluesky", user_id=ADA_DID)["resolved"] is True
    assert api.post(f"/api/social-links/{bluesky}/reject").status_code == 200
    after = resolve(api, "ada.bsky.social", "bluesky", user_id=ADA_DID)
    assert after["resolved"] is False and after["cached"] is False


def test_a_mastodon_handle_without_instance_takes_the_tenants_instance(
    api: TestClient, database: Database, tenant_id: int
) -> None:
    with database.session(tenant_id=tenant_id) as session:
        session.add(
            ProviderApp(provider="mastodon", instance_url="https://fosstodon.org", client_id="c")
        )
    contact = make_contact(
        api, name="Tomás", handles=[{"network": "mastodon", "handle": "tomash", "user_id": "77"}]
    )
    body = resolve(api, "@tomash@fosstodon.org", "mastodon", user_id="77")
    assert body["resolved"] is True and body["customer_id"] == contact["id"]
    assert body["social_graph"]["mastodon"][0]["user_id"] == "77@fosstodon.org"


def test_a_mastodon_handle_that_cannot_be_placed_is_reported_not_dropped(
    api: TestClient, database: Database, tenant_id: int
) -> None:
    contact = make_contact(
        api, name="Tomás", handles=[{"network": "mastodon", "handle": "tomash", "user_id": "77"}]
    )
    reviews = api.get("/api/identity/reviews").json()["items"]
    assert [(r["kind"], r["handle"], r["candidate_contact_id"]) for r in reviews] == [
        ("not_linked", "tomash", contact["id"])
    ]
    assert "needs its instance" in reviews[0]["reason"]
    merge = api.post(f"/api/identity/reviews/{reviews[0]['id']}/merge")
    assert merge.status_code == 409  # a report: dismissed, not merged
    with database.session(tenant_id=tenant_id) as session:
        assert session.scalars(select(IdentityProfile)).all() == []
