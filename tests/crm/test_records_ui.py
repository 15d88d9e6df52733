"""The CRM record pages through the real app: create, edit, errors beside their fields, delete
after asking, timelines, roles and tenants exactly as the API enforces them."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from socialcrm.core.audit import AuditLog
from socialcrm.core.db import Database
from socialcrm.core.principal import Role
from socialcrm.crm import service as crm
from socialcrm.crm.models import Account, Activity, Campaign, Contact, Lead, Ticket
from tests.crm.ui_helpers import login, make_user, submit, text_of, value_of

CONTACT_FORM: dict[str, Any] = {
    "form": "full",
    "name": "Grace Hopper",
    "company": "US Navy",
    "title": "Rear Admiral",
    "emails_kind": ["work", "personal", ""],
    "emails_value": ["grace@navy.mil", "grace@example.com", ""],
    "phones_kind": ["mobile", ""],
    "phones_value": ["+1 555 0100", ""],
    "handles_kind": ["x", "mastodon", "x"],
    "handles_value": ["@grace", "grace@hachyderm.io", ""],
    "website": "navy.mil",
    "location": "Arlington",
    "tier": "gold",
    "preferred_channel": "email",
    "language": "en_us",
    "owner_id": "",
    "account_id": "",
    "enrichment_consent": "on",
}


@pytest.fixture
def people(database: Database) -> dict[str, int]:
    tenant, ada = make_user(database, "Tenant A", "ada@crm.test", Role.ADMIN, "Ada Admin")
    _, sam = make_user(database, "Tenant A", "sam@crm.test", Role.AGENT, "Sam Agent")
    return {"tenant": tenant, "ada": ada, "sam": sam}


@pytest.fixture
def ui(app_client: TestClient, people: dict[str, int]) -> TestClient:
    return login(app_client, "ada@crm.test")


def _contact(database: Database, tenant: int, **values: Any) -> int:
    with database.session(tenant_id=tenant) as session:
        return crm.create(session, Contact, {"name": "Someone", **values}).id


def _audit_actions(database: Database, tenant: int) -> list[str]:
    with database.session(tenant_id=tenant) as session:
        return [row.action for row in session.scalars(select(AuditLog).order_by(AuditLog.id))]


# --- Contacts ---------------------------------------------------------------------------------


def test_a_contact_is_created_with_typed_emails_phones_handles_and_owner(
    ui: TestClient, database: Database, people: dict[str, int]
) -> None:
    answer = submit(
        ui, "/contacts/new", "/contacts", {**CONTACT_FORM, "owner_id": str(people["sam"])}
    )
    assert answer.status_code == 303
    assert answer.headers["location"].endswith("?done=created")
    page = ui.get(answer.headers["location"]).text
    assert "Created." in page
    assert "grace@navy.mil (work)" in text_of(page, "dl.facts")
    assert "+1 555 0100 (mobile)" in text_of(page, "dl.facts")
    assert "Sam Agent" in text_of(page, "dl.facts")
    with database.session(tenant_id=people["tenant"]) as session:
        contact = session.scalars(select(Contact)).one()
        assert contact.emails == ["grace@navy.mil", "grace@example.com"]
        assert contact.email_types == {"grace@navy.mil": "work", "grace@example.com": "personal"}
        assert contact.phones == [{"number": "+1 555 0100", "type": "mobile"}]
        assert contact.handles == [
            {"network": "x", "handle": "grace"},
            {"network": "mastodon", "handle": "grace@hachyderm.io"},
        ]
        assert (contact.tier, contact.owner_id) == ("gold", people["sam"])
        assert (contact.preferred_channel, contact.language) == ("email", "en-US")
        assert (contact.enrichment_consent, contact.marketing_consent) == (True, False)
    assert "contact.create" in _audit_actions(database, people["tenant"])


def test_bad_input_is_said_beside_each_field_and_what_was_typed_stays(
    ui: TestClient, database: Database, people: dict[str, int]
) -> None:
    form = {
        **CONTACT_FORM,
        "name": "",
        "emails_value": ["grace@navy.mil", "not an address", ""],
        "phones_value": ["call me maybe", ""],
        "website": "javascript:alert(1)",
        "language": "Klingon",
    }
    answer = submit(ui, "/contacts/new", "/contacts", form)
    assert answer.status_code == 400
    page = answer.text
    assert text_of(page, "#err-name") == "Name is required."
    assert "second email" in text_of(page, "#err-emails-1")
    assert "@-sign" in text_of(page, "#err-emails-1")
    assert "digits, spaces" in text_of(page, "#err-phones-0")
    assert "http(s) address" in text_of(page, "#err-website")
    assert "BCP 47 tag" in text_of(page, "#err-language")
    assert value_of(page, "#f-language") == "Klingon"
    for jargon in ("String should", "Value error", "string_pattern", "handles.0", "pydantic"):
        assert jargon not in page
    # Everything typed is still there, in its place.
    assert value_of(page, "#f-emails-0") == "grace@navy.mil"
    assert value_of(page, "#f-emails-1") == "not an address"
    assert value_of(page, "#f-phones-0") == "call me maybe"
    assert value_of(page, "#f-company") == "US Navy"
    assert value_of(page, "#f-handles-1") == "grace@hachyderm.io"
    assert 'aria-describedby="err-website"' in page or "err-website" in page
    with database.session(tenant_id=people["tenant"]) as session:
        assert session.scalars(select(Contact)).all() == []


def test_an_owner_of_another_tenant_is_refused_beside_the_owner_field(
    ui: TestClient, database: Database, people: dict[str, int]
) -> None:
    _, stranger = make_user(database, "Tenant B", "eve@other.test")
    answer = submit(ui, "/contacts/new", "/contacts", {**CONTACT_FORM, "owner_id": str(stranger)})
    assert answer.status_code == 400
    assert "does not exist" in text_of(answer.text, "#err-owner_id")
    assert value_of(answer.text, "#f-name") == "Grace Hopper"


def test_a_contact_is_edited_and_unticked_consent_is_saved(
    ui: TestClient, database: Database, people: dict[str, int]
) -> None:
    contact_id = _contact(
        database,
        people["tenant"],
        emails=["old@example.com"],
        email_types={"old@example.com": "work"},
        enrichment_consent=True,
        preferred_channel="sms",
        language="de",
    )
    edit = ui.get(f"/contacts/{contact_id}/edit").text
    assert value_of(edit, "#f-emails-0") == "old@example.com"
    form = {**CONTACT_FORM, "name": "Grace B. Hopper", "preferred_channel": "", "language": ""}
    form.pop("enrichment_consent")  # unticked: a browser sends nothing
    answer = submit(ui, f"/contacts/{contact_id}/edit", f"/contacts/{contact_id}/edit", form)
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/contacts/{contact_id}?done=saved"
    with database.session(tenant_id=people["tenant"]) as session:
        contact = session.get(Contact, contact_id)
        assert contact is not None
        assert contact.name == "Grace B. Hopper"
        assert contact.enrichment_consent is False
        assert (contact.preferred_channel, contact.language) == (None, None)  # emptied
        assert contact.emails == ["grace@navy.mil", "grace@example.com"]
        assert "old@example.com" not in contact.email_types


def test_search_accepts_a_handle_with_its_at(
    ui: TestClient, database: Database, people: dict[str, int]
) -> None:
    _contact(database, people["tenant"], name="Grace", handles=[{"network": "x", "handle": "gh"}])
    _contact(database, people["tenant"], name="Ghost", company="ghx handles")
    found = ui.get("/contacts", params={"q": "@gh"}).text
    assert "Grace" in found and "Ghost" not in found
    assert "Ghost" in ui.get("/contacts", params={"q": "gh"}).text


def test_deleting_asks_first_then_deletes(
    ui: TestClient, database: Database, people: dict[str, int]
) -> None:
    contact_id = _contact(database, people["tenant"], name="Temporary")
    page = ui.get(f"/contacts/{contact_id}").text
    assert f'href="/contacts/{contact_id}/delete"' in page  # a link to a question, not a POST
    question = ui.get(f"/contacts/{contact_id}/delete")
    assert "Delete contact “Temporary”?" in question.text
    with database.session(tenant_id=people["tenant"]) as session:
        assert session.get(Contact, contact_id) is not None  # asking changed nothing
    answer = submit(ui, f"/contacts/{contact_id}/delete", f"/contacts/{contact_id}/delete", {})
    assert answer.headers["location"] == "/contacts?done=deleted"
    with database.session(tenant_id=people["tenant"]) as session:
        assert session.get(Contact, contact_id) is None
    assert "contact.delete" in _audit_actions(database, people["tenant"])


def test_a_post_without_the_forms_token_changes_nothing(
    ui: TestClient, database: Database, people: dict[str, int]
) -> None:
    contact_id = _contact(database, people["tenant"], name="Kept")
    answer = ui.post(f"/contacts/{contact_id}/delete", data={"csrf": "forged"})
    assert answer.status_code == 403
    with database.session(tenant_id=people["tenant"]) as session:
        assert session.get(Contact, contact_id) is not None


def test_the_banner_comes_from_a_fixed_list_not_from_the_address(
    ui: TestClient, database: Database, people: dict[str, int]
) -> None:
    contact_id = _contact(database, people["tenant"])
    page = ui.get(f"/contacts/{contact_id}", params={"done": "Your account is locked"}).text
    assert "Your account is locked" not in page
    assert "Saved." in ui.get(f"/contacts/{contact_id}", params={"done": "saved"}).text


# --- the other records ------------------------------------------------------------------------


def test_an_account_is_created_edited_and_refused_a_script_website(
    ui: TestClient, database: Database, people: dict[str, int]
) -> None:
    form = {"form": "full", "name": "Acme", "website": "acme.example", "tier": "standard"}
    created = submit(ui, "/accounts/new", "/accounts", form)
    assert created.status_code == 303
    account_path = created.headers["location"].split("?")[0]
    bad = submit(
        ui, f"{account_path}/edit", f"{account_path}/edit", {**form, "website": "javascript:x"}
    )
    assert bad.status_code == 400
    assert "http(s) address" in text_of(bad.text, "#err-website")
    assert value_of(bad.text, "#f-website") == "javascript:x"
    saved = submit(
        ui, f"{account_path}/edit", f"{account_path}/edit", {**form, "industry": "Anvils"}
    )
    assert saved.status_code == 303
    with database.session(tenant_id=people["tenant"]) as session:
        account = session.scalars(select(Account)).one()
        assert (account.name, account.industry, account.website) == (
            "Acme",
            "Anvils",
            "acme.example",
        )
    assert "Anvils" in ui.get(account_path).text


def test_a_lead_is_created_assigned_moved_on_and_converted_to_a_contact(
    ui: TestClient, database: Database, people: dict[str, int]
) -> None:
    created = submit(
        ui, "/leads/new", "/leads", {"form": "full", "name": "Alan Turing", "source": "event"}
    )
    lead_path = created.headers["location"].split("?")[0]
    assigned = submit(ui, lead_path, f"{lead_path}/edit", {"owner_id": str(people["sam"])})
    assert assigned.headers["location"] == f"{lead_path}?done=saved"
    moved = submit(ui, lead_path, f"{lead_path}/edit", {"status": "qualified"})
    assert moved.status_code == 303
    with database.session(tenant_id=people["tenant"]) as session:
        lead = session.scalars(select(Lead)).one()
        assert (lead.owner_id, lead.status, lead.source, lead.name) == (
            people["sam"],
            "qualified",
            "event",
            "Alan Turing",
        )  # a quick form changes its own fields only
    converted = submit(ui, lead_path, f"{lead_path}/convert", {})
    assert converted.headers["location"].endswith("?done=converted")
    with database.session(tenant_id=people["tenant"]) as session:
        lead = session.scalars(select(Lead)).one()
        contact = session.scalars(select(Contact)).one()
        assert (lead.status, lead.contact_id) == ("converted", contact.id)
        assert (contact.name, contact.owner_id) == ("Alan Turing", people["sam"])
    assert "The lead is now a contact." in ui.get(converted.headers["location"]).text


def test_the_ticket_queue_filters_and_a_ticket_is_changed(
    ui: TestClient, database: Database, people: dict[str, int]
) -> None:
    with database.session(tenant_id=people["tenant"]) as session:
        mine = crm.create(session, Ticket, {"subject": "Mine", "assignee_id": people["sam"]}).id
        crm.create(session, Ticket, {"subject": "Billing", "queue": "billing"})
        crm.create(session, Ticket, {"subject": "Old", "status": "closed"})
    queue = ui.get("/tickets").text
    assert "Mine" in queue and "Billing" in queue and "Old" not in queue  # open ones first
    assert "due in" in queue  # the SLA clock of each
    billing = ui.get("/tickets", params={"queue": "billing"}).text
    assert "Billing" in billing and "Mine" not in billing
    assert "Old" in ui.get("/tickets", params={"status": "any"}).text
    sams = ui.get("/tickets", params={"assignee": str(people["sam"])}).text
    assert "Mine" in sams and "Billing" not in sams
    changed = submit(
        ui,
        f"/tickets/{mine}",
        f"/tickets/{mine}/edit",
        {"status": "pending", "priority": "high", "assignee_id": ""},
    )
    assert changed.headers["location"] == f"/tickets/{mine}?done=saved"
    with database.session(tenant_id=people["tenant"]) as session:
        ticket = session.get(Ticket, mine)
        assert ticket is not None
        assert (ticket.status, ticket.priority, ticket.assignee_id) == ("pending", "high", None)
        assert ticket.first_responded_at is not None  # handled: the clock stopped
    page = ui.get(f"/tickets/{mine}").text
    assert 'data-sla="responded"' in page


def test_a_campaign_is_created_budgeted_and_linked_from_its_leads(
    ui: TestClient, database: Database, people: dict[str, int]
) -> None:
    created = submit(
        ui,
        "/campaigns/new",
        "/campaigns",
        {"form": "full", "name": "Spring", "status": "active", "starts_at": "2025-03-01"},
    )
    campaign_path = created.headers["location"].split("?")[0]
    campaign_id = int(campaign_path.rsplit("/", 1)[1])
    assert "Spring" in ui.get("/campaigns").text
    bad = submit(ui, campaign_path, f"{campaign_path}/budget", {"amount": "lots"})
    assert bad.status_code == 400
    assert "three-letter currency" in text_of(bad.text, "#err-budget")
    assert value_of(bad.text, "#budget-amount") == "lots"
    good = submit(
        ui, campaign_path, f"{campaign_path}/budget", {"amount": "1200", "currency": "eur"}
    )
    assert good.headers["location"] == f"{campaign_path}?done=budget#budget"
    page = ui.get(campaign_path).text
    assert "Budget 1200.00 EUR" in text_of(page, "dl.facts")
    assert "Budget saved." in ui.get(good.headers["location"]).text
    lead = submit(
        ui, "/leads/new", "/leads", {"form": "full", "name": "Ann", "campaign_id": campaign_id}
    )
    lead_page = ui.get(lead.headers["location"]).text
    assert f'href="/campaigns/{campaign_id}"' in lead_page
    with database.session(tenant_id=people["tenant"]) as session:
        campaign = session.get(Campaign, campaign_id)
        assert campaign is not None and campaign.starts_at is not None
        assert campaign.starts_at.isoformat() == "2025-03-01T00:00:00+00:00"


def test_activities_land_on_the_timeline_of_their_record(
    ui: TestClient, database: Database, people: dict[str, int]
) -> None:
    with database.session(tenant_id=people["tenant"]) as session:
        account = crm.create(session, Account, {"name": "Acme"})
        contact = crm.create(session, Contact, {"name": "Wile", "account_id": account.id})
        lead = crm.create(session, Lead, {"name": "Roadrunner"})
        ids = {"contact": contact.id, "lead": lead.id, "account": account.id}
    logged = submit(
        ui,
        f"/contacts/{ids['contact']}",
        "/activities",
        {"contact_id": ids["contact"], "kind": "call", "subject": "Called about anvils"},
    )
    assert logged.headers["location"] == f"/contacts/{ids['contact']}?done=logged#timeline"
    assert "Called about anvils" in text_of(ui.get(f"/contacts/{ids['contact']}").text, "#timeline")
    assert "Called about anvils" in text_of(ui.get(f"/accounts/{ids['account']}").text, "#timeline")
    submit(
        ui,
        f"/leads/{ids['lead']}",
        "/activities",
        {"lead_id": ids["lead"], "kind": "note", "body": "Met at the fair"},
    )
    assert "Met at the fair" in text_of(ui.get(f"/leads/{ids['lead']}").text, "#timeline")
    with database.session(tenant_id=people["tenant"]) as session:
        kinds = sorted(a.kind for a in session.scalars(select(Activity)))
    assert kinds == ["call", "note"]


# --- roles and tenants ------------------------------------------------------------------------


def test_roles_are_the_apis_an_agent_runs_no_campaigns(
    app_client: TestClient, database: Database, people: dict[str, int]
) -> None:
    agent = login(app_client, "sam@crm.test")
    assert "New campaign" not in agent.get("/campaigns").text
    assert agent.get("/campaigns/new").status_code == 403
    refused = submit(agent, "/contacts", "/campaigns", {"form": "full", "name": "Sneaky"})
    assert refused.status_code == 403
    with database.session(tenant_id=people["tenant"]) as session:
        assert session.scalars(select(Campaign)).all() == []
    assert "New contact" in agent.get("/contacts").text  # agents work Contacts


def test_another_tenants_records_are_not_found_in_the_ui_too(
    ui: TestClient, database: Database, people: dict[str, int]
) -> None:
    other, _ = make_user(database, "Tenant B", "eve@other.test")
    with database.session(tenant_id=other) as session:
        theirs = {
            "contacts": crm.create(session, Contact, {"name": "Their customer"}).id,
            "accounts": crm.create(session, Account, {"name": "Their Co"}).id,
            "leads": crm.create(session, Lead, {"name": "Their lead"}).id,
            "tickets": crm.create(session, Ticket, {"subject": "Their ticket"}).id,
            "campaigns": crm.create(session, Campaign, {"name": "Their campaign"}).id,
        }
    for resource, record in theirs.items():
        for path in (f"/{resource}/{record}", f"/{resource}/{record}/edit"):
            answer = ui.get(path)
            assert answer.status_code == 404, path
            assert "Their" not in answer.text
        deleted = submit(ui, "/contacts", f"/{resource}/{record}/delete", {})
        assert deleted.status_code == 404
    merge = ui.get(
        f"/contacts/{_contact(database, people['tenant'])}/merge?other={theirs['contacts']}"
    )
    assert merge.status_code == 404
    assert "Their" not in ui.get("/leads").text + ui.get("/tickets?status=any").text
    with database.session(tenant_id=other) as session:
        assert session.get(Contact, theirs["contacts"]) is not None


def test_ids_no_row_can_have_are_not_found(ui: TestClient) -> None:
    for path in ("/contacts/0", "/leads/99999999999", "/tickets/-1/edit", "/campaigns/0/delete"):
        assert ui.get(path).status_code == 404, path


def test_every_control_of_the_record_pages_has_a_label(
    ui: TestClient, database: Database, people: dict[str, int]
) -> None:
    from selectolax.lexbor import LexborHTMLParser

    with database.session(tenant_id=people["tenant"]) as session:
        contact = crm.create(session, Contact, {"name": "Labelled"}).id
        lead = crm.create(session, Lead, {"name": "Lead"}).id
        ticket = crm.create(session, Ticket, {"subject": "Ticket"}).id
        campaign = crm.create(session, Campaign, {"name": "Campaign"}).id
    pages = [
        "/contacts",
        "/contacts/new",
        f"/contacts/{contact}",
        f"/contacts/{contact}/edit",
        f"/contacts/{contact}/merge",
        "/accounts/new",
        "/leads",
        "/leads/new",
        f"/leads/{lead}",
        "/tickets",
        f"/tickets/{ticket}",
        "/campaigns/new",
        f"/campaigns/{campaign}",
    ]
    for path in pages:
        tree = LexborHTMLParser(ui.get(path).text)
        labelled = {node.attributes.get("for") for node in tree.css("label[for]")}
        for control in tree.css("main input, main select, main textarea"):
            attrs = control.attributes
            if attrs.get("type") in ("hidden", "submit"):
                continue
            parent, wrapped = control.parent, False
            while parent is not None and not wrapped:
                wrapped, parent = parent.tag == "label", parent.parent
            assert attrs.get("id") in labelled or attrs.get("aria-label") or wrapped, (
                path,
                control.html,
            )
