"""Contacts through the HTTP API: what an integrator relies on."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from socialcrm.core.errors import ValidationFailed
from socialcrm.crm.models import Contact
from socialcrm.crm.service import list_page
from socialcrm.tenancy.models import Tenant


def new_contact(api: TestClient, **overrides: object) -> dict[str, object]:
    body = {"name": "Ada Lovelace", "emails": ["ada@example.com"], "company": "Analytical"}
    body.update(overrides)
    response = api.post("/api/contacts", json=body)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def test_create_then_read_back(api: TestClient) -> None:
    created = new_contact(
        api,
        phones=["+44 20 7946 0958"],
        handles=[{"network": "X", "handle": "@ada"}],
        tier="gold",
        enrichment_consent=True,
    )
    fetched = api.get(f"/api/contacts/{created['id']}").json()
    assert fetched["name"] == "Ada Lovelace"
    assert fetched["emails"] == ["ada@example.com"]
    assert fetched["handles"] == [{"network": "x", "handle": "ada", "user_id": None}]
    assert fetched["tier"] == "gold"
    assert fetched["enrichment_consent"] is True


def test_list_pages_through_everything_once_newest_first(api: TestClient) -> None:
    ids = [new_contact(api, name=f"Person {i}")["id"] for i in range(5)]
    seen: list[int] = []
    cursor = None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = api.get("/api/contacts", params=params).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(ids, reverse=True)


def test_search_finds_by_name_email_company_and_handle(api: TestClient) -> None:
    ada = new_contact(api, handles=[{"network": "mastodon", "handle": "countess"}])
    new_contact(api, name="Grace Hopper", emails=["grace@navy.example"], company="Navy")
    for query in ("lovelace", "ADA@EXAMPLE", "analytical", "countess"):
        items = api.get("/api/contacts", params={"q": query}).json()["items"]
        assert [c["id"] for c in items] == [ada["id"]], query
    assert api.get("/api/contacts", params={"q": "100%_"}).json()["items"] == []


def test_a_search_with_a_nul_is_a_validation_error(
    api: TestClient, system_session: Session
) -> None:
    """SQLite's FTS5 reads its query as a C string ('unterminated string', a 500) and
    PostgreSQL refuses NUL in text: the search refuses it first, whoever calls it."""
    new_contact(api)
    tenant_id = system_session.scalars(select(Tenant.id)).first()
    system_session.info.update(system=False, tenant_id=tenant_id)
    for query in ("\x00\x00\x00", "lov\x00elace", "@ad\x00a"):
        with pytest.raises(ValidationFailed):
            list_page(system_session, Contact, limit=10, cursor=None, query=query)


def test_patch_changes_only_given_fields_and_search_follows(api: TestClient) -> None:
    contact = new_contact(api)
    response = api.patch(f"/api/contacts/{contact['id']}", json={"company": "Babbage & Co"})
    assert response.status_code == 200
    assert response.json()["company"] == "Babbage & Co"
    assert response.json()["emails"] == ["ada@example.com"]
    found = api.get("/api/contacts", params={"q": "babbage"}).json()["items"]
    assert [c["id"] for c in found] == [contact["id"]]


def test_delete_removes_the_contact(api: TestClient) -> None:
    contact = new_contact(api)
    assert api.delete(f"/api/contacts/{contact['id']}").status_code == 204
    missing = api.get(f"/api/contacts/{contact['id']}")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"


def test_bad_input_gets_the_error_envelope(api: TestClient) -> None:
    cases = [
        {"name": "X", "emails": ["not-an-email"]},
        {"name": ""},
        {"name": "X", "handles": [{"network": "myspace", "handle": "tom"}]},
        {"name": "X", "unexpected": 1},
        {"name": "X", "account_id": 999999},
        {"name": "X", "tier": "diamond"},
    ]
    for body in cases:
        response = api.post("/api/contacts", json=body)
        assert response.status_code == 400, body
        error = response.json()["error"]
        assert error["code"] == "validation_error", body
        assert error["message"]
    assert api.get("/api/contacts", params={"cursor": "abc"}).status_code == 400
    assert api.get("/api/contacts", params={"limit": 0}).status_code == 400
    malformed = api.post(
        "/api/contacts", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert malformed.status_code == 400
    assert malformed.json()["error"]["code"] == "validation_error"
    assert api.get("/api/contacts", params={"limit": 50}).json()["items"] == []


def test_other_records_have_the_same_crud(api: TestClient) -> None:
    contact = new_contact(api)
    bodies = {
        "accounts": {"name": "Analytical Ltd", "website": "https://analytical.example"},
        "leads": {"name": "Interested in tents", "contact_id": contact["id"]},
        "tickets": {"subject": "Broken zip", "contact_id": contact["id"], "priority": "high"},
        "activities": {"kind": "note", "body": "Called", "contact_id": contact["id"]},
        "campaigns": {"name": "Spring", "tracking_tag": "spring26"},
    }
    for resource, body in bodies.items():
        created = api.post(f"/api/{resource}", json=body)
        assert created.status_code == 201, (resource, created.text)
        record_id = created.json()["id"]
        assert api.get(f"/api/{resource}/{record_id}").status_code == 200
        listed = api.get(f"/api/{resource}").json()["items"]
        assert [r["id"] for r in listed] == [record_id]
        assert api.delete(f"/api/{resource}/{record_id}").status_code == 204
        assert api.get(f"/api/{resource}/{record_id}").status_code == 404
