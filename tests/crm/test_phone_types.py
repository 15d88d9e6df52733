"""Typed phones on Contacts: each number with its communication type, changed on the Contact
page or through the API; numbers typed in without a type take the default, business."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import update

from socialcrm.core.db import Database
from socialcrm.core.principal import Role
from socialcrm.crm.models import Contact
from socialcrm.tenancy.models import Tenant
from socialcrm.tenancy.service import create_user
from tests.conftest import csrf_of, ui_login

PASSWORD = "correct horse battery staple"


def test_the_contact_page_shows_and_changes_phone_types(
    api: TestClient, database: Database
) -> None:
    created = api.post(
        "/api/contacts",
        json={
            "name": "Jonas Weber",
            "phones": ["+49 30 1234567", {"number": "+49 1512 3456789", "type": "Mobile"}],
        },
    ).json()
    assert created["phones"] == [
        {"number": "+49 30 1234567", "type": "business"},
        {"number": "+49 1512 3456789", "type": "mobile"},
    ]
    # Search still finds a Contact by its number.
    found = api.get("/api/contacts", params={"q": "1512 3456789"}).json()["items"]
    assert [c["id"] for c in found] == [created["id"]]

    with database.session(system=True) as session:
        tenant = session.query(Tenant).filter_by(name="Tenant A").one()
        create_user(
            session, tenant=tenant, email="sam@acme.test", password=PASSWORD, role=Role.AGENT
        )
    browser = TestClient(api.app)
    ui_login(browser, "sam@acme.test", PASSWORD)
    page = browser.get(f"/contacts/{created['id']}").text
    assert '+49 1512 3456789 <span class="muted">(mobile)</span>' in page
    form = {
        "csrf": csrf_of(page),
        "number": ["+49 30 1234567", "+49 1512 3456789"],
        "type": ["fax", "mobile"],
    }
    saved = browser.post(
        f"/contacts/{created['id']}/phone-types", data=form, follow_redirects=False
    )
    assert saved.status_code == 303
    assert api.get(f"/api/contacts/{created['id']}").json()["phones"][0] == {
        "number": "+49 30 1234567",
        "type": "fax",
    }
    refused = browser.post(
        f"/contacts/{created['id']}/phone-types", data={**form, "type": ["<script>", "mobile"]}
    )
    assert "a phone type is a short word" in refused.text
    assert api.get(f"/api/contacts/{created['id']}").json()["phones"][0]["type"] == "fax"


def test_a_contact_stored_with_plain_numbers_reads_as_typed(
    api: TestClient, database: Database
) -> None:
    contact_id = api.post("/api/contacts", json={"name": "Old Row"}).json()["id"]
    with database.session(system=True) as session:  # as rows written before typed phones
        session.execute(
            update(Contact).where(Contact.id == contact_id).values(phones=["+44 20 7946 0958"])
        )
    assert api.get(f"/api/contacts/{contact_id}").json()["phones"] == [
        {"number": "+44 20 7946 0958", "type": "business"}
    ]
