"""The Lead API with each Lead's social attribution and its filters, the Ticket queue's
filters, and converting a social Lead to a Contact (its handle and history follow)."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from socialcrm.core.db import Database, utcnow
from socialcrm.crm import leads
from socialcrm.crm.models import Activity, Contact, Ticket
from socialcrm.identity.models import IdentityProfile
from socialcrm.listening.models import SocialMention
from tests.conftest import make_api_key
from tests.listening.factories import ingest, make_rule, make_user, post
from tests.listening.test_api import tenant_id


def _social_lead(database: Database, tenant: int, **rule: object) -> tuple[int, int]:
    """A Lead listening made from a mention on X: (lead id, mention id)."""
    make_rule(database, tenant, query="pricing", actions=["lead"], **rule)
    stored = ingest(
        database,
        tenant,
        post(
            "what is your pricing?",
            author="prospect",
            user_id="9001",
            url="https://x.com/prospect/status/1",
        ),
    )
    with database.session(tenant_id=tenant) as session:
        mention = session.get(SocialMention, stored.mention_ids[0])
        assert mention is not None and mention.lead_id is not None
        return mention.lead_id, mention.id


def test_the_lead_api_says_where_a_social_lead_came_from(
    api: TestClient, database: Database
) -> None:
    tenant = tenant_id(database)
    owner = make_user(database, tenant, "router@crm.test")
    campaign = api.post("/api/campaigns", json={"name": "Pricing push"}).json()["id"]
    lead_id, mention_id = _social_lead(database, tenant, owner_id=owner, campaign_id=campaign)
    manual = api.post("/api/leads", json={"name": "Walk-in"}).json()
    assert manual["social"] is None and manual["owner_id"] is None

    social = api.get(f"/api/leads/{lead_id}").json()
    assert social["social"] == {
        "network": "x",
        "handle": "prospect",
        "user_id": "9001",
        "mention_id": mention_id,
        "mention_url": "https://x.com/prospect/status/1",
        "form_id": "",
        "campaign_id": campaign,
        "routing_reason": "rule owner",
    }
    assert social["owner_id"] == owner  # routed to the rule's owner: the Lead's owner
    listed = {item["id"]: item for item in api.get("/api/leads").json()["items"]}
    assert listed[lead_id]["social"]["handle"] == "prospect"
    assert listed[manual["id"]]["social"] is None


def test_leads_filter_by_status_network_owner_and_campaign(
    api: TestClient, database: Database
) -> None:
    tenant = tenant_id(database)
    owner = make_user(database, tenant, "owner@crm.test")
    campaign = api.post("/api/campaigns", json={"name": "C"}).json()["id"]
    social_id, _ = _social_lead(database, tenant)
    mine = api.post(
        "/api/leads", json={"name": "Mine", "owner_id": owner, "campaign_id": campaign}
    ).json()["id"]
    api.patch(f"/api/leads/{mine}", json={"status": "qualified"})

    def ids(**params: object) -> list[int]:
        answer = api.get("/api/leads", params=params)
        assert answer.status_code == 200, answer.text
        return [item["id"] for item in answer.json()["items"]]

    assert ids(network="x") == [social_id]
    assert ids(network="mastodon") == []
    assert ids(owner_id=owner) == [mine]
    assert ids(unassigned=True) == [social_id]
    assert ids(campaign_id=campaign) == [mine]
    assert ids(status="qualified") == [mine]
    assert api.get("/api/leads", params={"status": "hot"}).status_code == 400


def test_a_social_lead_becomes_a_contact_with_its_handle_and_history(
    api: TestClient, database: Database
) -> None:
    tenant = tenant_id(database)
    lead_id, _ = _social_lead(database, tenant)
    api.post("/api/activities", json={"kind": "call", "subject": "Intro call", "lead_id": lead_id})
    with database.session(tenant_id=tenant) as session:
        contact = leads.convert_to_contact(session, lead_id)
        contact_id = contact.id
    with database.session(tenant_id=tenant) as session:
        contact = session.get(Contact, contact_id)
        assert contact is not None
        assert contact.handles == [{"network": "x", "handle": "prospect", "user_id": "9001"}]
        call = session.scalars(select(Activity).where(Activity.kind == "call")).one()
        assert call.contact_id == contact_id  # the Lead's history is the Contact's now
        profile = session.scalars(
            select(IdentityProfile).where(IdentityProfile.user_id.contains("9001"))
        ).one()
        assert profile.contact_id == contact_id  # identity resolution knows them now
    lead = api.get(f"/api/leads/{lead_id}").json()
    assert (lead["status"], lead["contact_id"]) == ("converted", contact_id)
    with database.session(tenant_id=tenant) as session:  # converting twice: the same Contact
        assert leads.convert_to_contact(session, lead_id).id == contact_id


def test_the_ticket_queue_filters_by_sla_state(api: TestClient, database: Database) -> None:
    tenant = tenant_id(database)
    due = api.post("/api/tickets", json={"subject": "Running"}).json()["id"]
    late = api.post("/api/tickets", json={"subject": "Late"}).json()["id"]
    answered = api.post("/api/tickets", json={"subject": "Answered"}).json()["id"]
    api.patch(f"/api/tickets/{answered}", json={"status": "pending"})
    with database.session(tenant_id=tenant) as session:
        ticket = session.get(Ticket, late)
        assert ticket is not None
        ticket.first_response_due_at = utcnow() - timedelta(minutes=5)  # not yet flagged

    def ids(**params: object) -> list[int]:
        answer = api.get("/api/tickets", params=params)
        assert answer.status_code == 200, answer.text
        return sorted(item["id"] for item in answer.json()["items"])

    assert ids(sla="breached") == [late]
    assert ids(sla="due") == [due]
    assert ids(sla="responded") == [answered]
    assert ids(sla="none") == []
    assert ids(status="open", sla="due") == [due]
    assert api.get("/api/tickets", params={"sla": "late"}).status_code == 400


def test_another_tenants_leads_and_attribution_stay_hidden(
    api: TestClient, app_client: TestClient, database: Database
) -> None:
    tenant = tenant_id(database)
    lead_id, _ = _social_lead(database, tenant)
    with database.session(system=True) as session:
        from tests.conftest import make_tenant

        other_key = make_api_key(session, tenant=make_tenant(session, name="Tenant B"))
    other = {"Authorization": f"Bearer {other_key}"}
    assert app_client.get(f"/api/leads/{lead_id}", headers=other).status_code == 404
    assert app_client.get("/api/leads", params={"network": "x"}, headers=other).json() == {
        "items": [],
        "next_cursor": None,
    }
