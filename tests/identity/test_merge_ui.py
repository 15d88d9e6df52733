"""Merging two Contacts from the UI: their differing fields side by side, the chosen values
kept, everything of the other one moved over, and an audit record of it."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from socialcrm.core.audit import AuditLog
from socialcrm.core.db import Database
from socialcrm.core.principal import Role
from socialcrm.crm import service as crm
from socialcrm.crm.models import Contact, Ticket
from tests.crm.ui_helpers import login, make_user, submit


def test_two_contacts_are_merged_keeping_the_chosen_values(
    app_client: TestClient, database: Database
) -> None:
    tenant, _ = make_user(database, "Merge Co", "ada@merge.test", Role.AGENT)
    with database.session(tenant_id=tenant) as session:
        keep = crm.create(
            session,
            Contact,
            {"name": "Grace Hopper", "company": "Navy", "title": "", "emails": ["g@navy.mil"]},
        ).id
        dupe = crm.create(
            session,
            Contact,
            {
                "name": "G. Hopper",
                "company": "US Navy",
                "title": "Admiral",
                "emails": ["grace@example.com"],
                "email_types": {"grace@example.com": "personal"},
                "handles": [{"network": "x", "handle": "grace"}],
            },
        ).id
        ticket = crm.create(session, Ticket, {"subject": "Hi", "contact_id": dupe}).id
    ui = login(app_client, "ada@merge.test")
    assert "G. Hopper" in ui.get(f"/contacts/{keep}/merge", params={"q": "hopper"}).text
    compare = ui.get(f"/contacts/{keep}/merge", params={"other": dupe}).text
    assert 'data-field="name"' in compare and 'data-field="company"' in compare
    assert 'data-field="title"' in compare  # empty here, set there: offered too
    assert 'data-field="tier"' not in compare  # the same on both: nothing to choose
    with database.session(tenant_id=tenant) as session:
        assert session.get(Contact, dupe) is not None  # the comparison changed nothing

    merged = submit(
        ui,
        f"/contacts/{keep}/merge?other={dupe}",
        f"/contacts/{keep}/merge",
        {"other": dupe, "keep_name": "ours", "keep_company": "other", "keep_title": "other"},
    )
    assert merged.headers["location"] == f"/contacts/{keep}?done=merged"
    with database.session(tenant_id=tenant) as session:
        survivor = session.get(Contact, keep)
        assert survivor is not None and session.get(Contact, dupe) is None
        assert (survivor.name, survivor.company, survivor.title) == (
            "Grace Hopper",
            "US Navy",
            "Admiral",
        )
        assert survivor.emails == ["g@navy.mil", "grace@example.com"]
        assert survivor.email_types == {"grace@example.com": "personal"}
        assert survivor.handles == [{"network": "x", "handle": "grace"}]
        moved = session.get(Ticket, ticket)
        assert moved is not None and moved.contact_id == keep
        entry = session.scalars(select(AuditLog).where(AuditLog.action == "contact.merge")).one()
        assert entry.details["source_contact"]["name"] == "G. Hopper"
    assert "Merged" in ui.get(f"/contacts/{keep}?done=merged").text


def test_a_contact_cannot_be_merged_into_itself(app_client: TestClient, database: Database) -> None:
    tenant, _ = make_user(database, "Merge Co", "ada@merge.test")
    with database.session(tenant_id=tenant) as session:
        only = crm.create(session, Contact, {"name": "Solo"}).id
    ui = login(app_client, "ada@merge.test")
    refused = submit(ui, f"/contacts/{only}/merge", f"/contacts/{only}/merge", {"other": only})
    assert refused.status_code == 400
    assert "cannot be merged into itself" in refused.text
