"""The review queue: list, merge (carrying every relation along), reject; all audit-logged."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from socialcrm.core.audit import AuditLog
from socialcrm.core.db import Database
from socialcrm.core.principal import Role
from socialcrm.crm.models import Activity, Contact, Lead, Ticket
from socialcrm.identity.graph import record_identity
from socialcrm.identity.models import HandleAlias, IdentityProfile
from tests.conftest import make_api_key, make_tenant
from tests.identity.conftest import make_contact, resolve


def _only_review(api: TestClient) -> dict[str, object]:
    items = api.get("/api/identity/reviews").json()["items"]
    assert len(items) == 1, items
    return dict(items[0])


def test_merging_a_confusable_review_links_the_handle(
    api: TestClient, database: Database, tenant_id: int
) -> None:
    contact_id = make_contact(database, tenant_id, handles=[{"network": "x", "handle": "john_doe"}])
    assert resolve(api, "j0hn_doe", user_id="31")["review_required"] is True
    review = _only_review(api)
    assert review["kind"] == "confusable" and review["candidate_contact_id"] == contact_id

    # A look-alike names no contact for the person: the merge names it.
    assert api.post(f"/api/identity/reviews/{review['id']}/merge").status_code == 400
    merged = api.post(
        f"/api/identity/reviews/{review['id']}/merge", json={"contact_id": contact_id}
    )
    assert merged.status_code == 200, merged.text
    assert merged.json()["review"]["status"] == "merged"
    # A person said it is the same customer: now it resolves, by user id.
    body = resolve(api, "j0hn_doe", user_id="31")
    assert body["resolved"] is True and body["customer_id"] == contact_id
    assert api.get("/api/identity/reviews").json()["items"] == []
    again = api.post(f"/api/identity/reviews/{review['id']}/merge", json={"contact_id": contact_id})
    assert again.status_code == 409
    with database.session(tenant_id=tenant_id) as session:
        entry = session.scalars(
            select(AuditLog).where(AuditLog.action == "identity.review.merge")
        ).one()
        assert entry.target_id == str(review["id"]) and entry.actor.startswith("api_key:")


def test_rejected_questions_are_not_asked_again(
    api: TestClient, database: Database, tenant_id: int
) -> None:
    make_contact(database, tenant_id, handles=[{"network": "x", "handle": "john_doe"}])
    resolve(api, "j0hn_doe")
    review = _only_review(api)
    rejected = api.post(f"/api/identity/reviews/{review['id']}/reject", json={"note": "impostor"})
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    body = resolve(api, "j0hn_doe")
    assert body["resolved"] is False
    assert body["review_required"] is False and body["reason"] == "rejected_in_review"
    assert api.get("/api/identity/reviews").json()["items"] == []
    done = api.get("/api/identity/reviews", params={"status": "rejected"}).json()["items"]
    assert [r["id"] for r in done] == [review["id"]]
    with database.session(tenant_id=tenant_id) as session:
        entry = session.scalars(
            select(AuditLog).where(AuditLog.action == "identity.review.reject")
        ).one()
        assert entry.details["note"] == "impostor"


def test_merging_a_guest_lead_into_a_contact_carries_its_identity(
    api: TestClient, database: Database, tenant_id: int
) -> None:
    contact_id = make_contact(database, tenant_id, name="Real Customer")
    guest = resolve(api, "mystery", user_id="900", create_lead=True)
    lead_id = guest["lead_id"]
    review = _only_review(api)
    assert review["kind"] == "new_lead" and review["lead_id"] == lead_id
    # No candidate: a person must name the contact.
    assert api.post(f"/api/identity/reviews/{review['id']}/merge").status_code == 400
    merged = api.post(
        f"/api/identity/reviews/{review['id']}/merge", json={"contact_id": contact_id}
    )
    assert merged.status_code == 200, merged.text
    lead = api.get(f"/api/leads/{lead_id}").json()
    assert lead["contact_id"] == contact_id and lead["status"] == "converted"
    body = resolve(api, "mystery", user_id="900")
    assert body["resolved"] is True and body["customer_id"] == contact_id
    contact = api.get(f"/api/contacts/{contact_id}").json()
    assert {"network": "x", "handle": "mystery", "user_id": "900"} in contact["handles"]


def test_merging_two_contacts_moves_every_relation_and_keeps_the_survivors_values(
    api: TestClient, database: Database, tenant_id: int
) -> None:
    survivor = make_contact(
        database, tenant_id, name="Ada Lovelace", company="Analytical", emails=["ada@a.example"]
    )
    duplicate = make_contact(
        database,
        tenant_id,
        name="A. Lovelace",
        company="Old Co",
        title="Countess",
        emails=["ada@b.example"],
        handles=[{"network": "x", "handle": "ada", "user_id": "1001"}],
    )
    with database.session(tenant_id=tenant_id) as session:
        session.add(Activity(kind="note", subject="hello", contact_id=duplicate))
        session.add(Ticket(subject="broken", contact_id=duplicate))
        session.add(Lead(name="lead", contact_id=duplicate))
        session.flush()
        # The survivor is claimed for the same X account: a conflict review is opened.
        clash = record_identity(session, survivor, "x", "1001", "ada", "enrichment")
        assert clash.conflict_contact_id == duplicate
        from socialcrm.identity import reviews

        reviews.open_conflict(session, tenant_id, clash.profile, survivor)
    review = _only_review(api)
    assert review["kind"] == "conflict"
    merged = api.post(
        f"/api/identity/reviews/{review['id']}/merge",
        json={"contact_id": survivor, "keep": ["title"]},
    )
    assert merged.status_code == 200, merged.text
    moved = merged.json()["moved"]
    assert moved["activities.contact_id"] == 1 and moved["tickets.contact_id"] == 1
    assert moved["leads.contact_id"] == 1 and moved["identity_profiles.contact_id"] == 1

    assert api.get(f"/api/contacts/{duplicate}").status_code == 404
    kept = api.get(f"/api/contacts/{survivor}").json()
    assert kept["name"] == "Ada Lovelace" and kept["company"] == "Analytical"
    assert kept["title"] == "Countess"  # picked from the merged record
    assert kept["emails"] == ["ada@a.example", "ada@b.example"]
    assert kept["handles"] == [{"network": "x", "handle": "ada", "user_id": "1001"}]
    with database.session(tenant_id=tenant_id) as session:
        assert session.scalars(select(Activity.contact_id)).all() == [survivor]
        assert session.scalars(select(Ticket.contact_id)).all() == [survivor]
        profile = session.scalars(select(IdentityProfile)).one()
        assert profile.contact_id == survivor
        assert session.scalars(select(HandleAlias.handle)).all() == ["ada"]
        entry = session.scalars(
            select(AuditLog).where(AuditLog.action == "identity.review.merge")
        ).one()
        assert entry.details["source_contact"]["name"] == "A. Lovelace"  # nothing is lost
    body = resolve(api, "ada", user_id="1001")
    assert body["customer_id"] == survivor


def test_decisions_need_a_deciding_role_and_an_existing_review(
    app_client: TestClient, api: TestClient, database: Database, tenant_id: int
) -> None:
    make_contact(database, tenant_id, handles=[{"network": "x", "handle": "john_doe"}])
    resolve(api, "j0hn_doe")
    review = _only_review(api)
    with database.session(system=True) as session:
        tenant = make_tenant(session, name="Tenant A")
        marketing = make_api_key(session, tenant=tenant, role=Role.MARKETING)
    headers = {"Authorization": f"Bearer {marketing}"}
    denied = app_client.post(f"/api/identity/reviews/{review['id']}/reject", headers=headers)
    assert denied.status_code == 403
    assert api.post("/api/identity/reviews/999999/merge").status_code == 404
    assert api.post("/api/identity/reviews/0/merge").status_code == 400
    bad_field = api.post(f"/api/identity/reviews/{review['id']}/merge", json={"keep": ["emails"]})
    assert bad_field.status_code == 400
    with database.session(tenant_id=tenant_id) as session:
        assert session.get(Contact, review["candidate_contact_id"]) is not None


def test_cli_sync_backfills_contacts_imported_without_the_graph(
    api: TestClient, database: Database, tenant_id: int
) -> None:
    from sqlalchemy import insert
    from typer.testing import CliRunner

    from socialcrm.cli import app
    from socialcrm.core.db import utcnow

    now = utcnow()
    with database.session(tenant_id=tenant_id) as session:
        # A bulk import that bypasses the ORM (and so the automatic linking).
        session.execute(
            insert(Contact),
            [
                {
                    "tenant_id": tenant_id,
                    "name": "Imported",
                    "emails": [],
                    "phones": [],
                    "handles": [{"network": "bluesky", "handle": "imp.bsky.social"}],
                    "created_at": now,
                    "updated_at": now,
                }
            ],
        )
    assert resolve(api, "imp.bsky.social", "bluesky")["resolved"] is False
    result = CliRunner().invoke(app, ["identity", "sync", "--tenant", "Tenant A"])
    assert result.exit_code == 0, result.output
    assert "1 handles of 1 contacts" in result.output
    assert resolve(api, "imp.bsky.social", "bluesky")["resolved"] is True
    missing = CliRunner().invoke(app, ["identity", "sync", "--tenant", "Nope"])
    assert missing.exit_code == 2
    bad = CliRunner().invoke(
        app, ["identity", "resolve", "--tenant", "Tenant A", "--channel", "x", "not valid!"]
    )
    assert bad.exit_code == 2
