"""The CRM records in real headless Chromium, on a live server over a committed database
(PostgreSQL when configured): each page's main path — create, edit, a refused input shown
beside its field with what was typed kept, delete after asking — and a Ticket's reply."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from socialcrm.core.principal import Role
from socialcrm.crm import service as crm
from socialcrm.crm.models import Campaign, Contact, Lead, Ticket
from socialcrm.listening import ingestion as listening
from socialcrm.listening.models import SocialMention
from socialcrm.tenancy.service import create_api_key, create_user, get_or_create_tenant
from tests.browser_site import PASSWORD, live_site, log_in
from tests.conftest import CHROMIUM_ARGS
from tests.listening.factories import make_rule, post
from tests.listening.test_live import connect_x

pytestmark = pytest.mark.browser


@pytest.fixture
def site(tmp_path: Path, sandbox: Any) -> Iterator[dict[str, Any]]:
    with live_site(tmp_path, "crm_browser") as (base, db):
        with db.session(system=True) as session:
            tenant = get_or_create_tenant(session, "Browser CRM Co")
            admin = create_user(
                session,
                tenant=tenant,
                email="bea@crm.test",
                password=PASSWORD,
                role=Role.ADMIN,
                name="Bea Admin",
            )
            create_user(
                session,
                tenant=tenant,
                email="sam@crm.test",
                password=PASSWORD,
                role=Role.AGENT,
                name="Sam Agent",
            )
            key = create_api_key(session, tenant=tenant, role=Role.ADMIN)[1]
            ids = {"tenant": tenant.id, "admin": admin.id}
        yield {"base": base, "db": db, "key": key, "sandbox": sandbox.url, **ids}


def _browser(pw: Any, chromium: Path) -> Any:
    return pw.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)


def test_contacts_and_accounts_are_created_edited_merged_and_deleted(
    chromium: Path, site: dict[str, Any], tmp_path: Path
) -> None:
    from playwright.sync_api import expect, sync_playwright

    base, db = site["base"], site["db"]
    with db.session(tenant_id=site["tenant"]) as session:
        crm.create(session, Contact, {"name": "G. Hopper", "title": "Admiral"})
    with sync_playwright() as pw:
        browser = _browser(pw, chromium)
        page = browser.new_page(viewport={"width": 1366, "height": 900})
        log_in(page, base, "bea@crm.test", "/contacts")
        expect(page.get_by_role("heading", name="Contacts")).to_be_visible()
        # The navigation has the records and fits in one line at 1366 px.
        nav = page.get_by_role("navigation", name="Main")
        for name in ("Leads", "Tickets", "Campaigns"):
            expect(nav.get_by_role("link", name=name)).to_be_visible()
        fits = "document.documentElement.scrollWidth <= window.innerWidth"
        assert page.evaluate(fits)
        heights = {
            link.bounding_box()["y"] for link in nav.get_by_role("link").all()
        }  # one row of links
        assert len(heights) == 1, heights

        # Create, with the keyboard for the last step.
        page.get_by_role("link", name="New contact").click()
        page.get_by_label("Name (required)").fill("Grace Hopper")
        page.get_by_label("Company").fill("US Navy")
        page.get_by_label("Type of email 1").select_option("work")
        page.get_by_label("Email 1", exact=True).fill("grace@navy.mil")
        page.get_by_label("Type of phone 1").select_option("mobile")
        page.get_by_label("Phone 1", exact=True).fill("+1 555 0100")
        page.get_by_label("Network of handle 1").select_option("mastodon")
        page.get_by_label("Handle 1", exact=True).fill("@grace@hachyderm.io")
        page.get_by_label("Tier").select_option("gold")
        page.get_by_label("Owner").select_option(label="Bea Admin")
        page.get_by_label("May be enriched from public social profiles").check()
        page.get_by_label("Location").press("Enter")
        expect(page.get_by_role("status").filter(has_text="Created.")).to_be_visible()
        facts = page.locator("dl.facts")
        expect(facts).to_contain_text("grace@navy.mil (work)")
        expect(facts).to_contain_text("+1 555 0100 (mobile)")
        expect(facts).to_contain_text("mastodon @grace@hachyderm.io")
        expect(facts).to_contain_text("Bea Admin")

        # A refused edit: each error beside its field, what was typed kept.
        page.get_by_role("link", name="Edit").click()
        page.get_by_label("Name (required)").fill("")
        page.get_by_label("Phone 1", exact=True).fill("call me maybe")
        page.get_by_label("Website").fill("javascript:alert(1)")
        page.get_by_role("button", name="Save").click()
        expect(page.get_by_role("alert")).to_contain_text("please correct the 3 fields")
        expect(page.locator("#err-name")).to_have_text("Name is required.")
        expect(page.locator("#err-phones-0")).to_contain_text("digits, spaces")
        expect(page.locator("#err-website")).to_contain_text("http(s) address")
        expect(page.get_by_label("Phone 1", exact=True)).to_have_value("call me maybe")
        expect(page.get_by_label("Company")).to_have_value("US Navy")
        page.screenshot(path=str(tmp_path / "contact-error.png"), full_page=True)
        page.get_by_label("Name (required)").fill("Grace Hopper")
        page.get_by_label("Phone 1", exact=True).fill("+1 555 0199")
        page.get_by_label("Website").fill("navy.mil")
        page.get_by_role("button", name="Save").click()
        expect(page.get_by_role("status").filter(has_text="Saved.")).to_be_visible()
        expect(facts).to_contain_text("+1 555 0199 (mobile)")

        # Found by its handle; then the duplicate is merged in, side by side.
        page.goto(f"{base}/contacts?q=%40grace")
        expect(page.locator("tbody tr")).to_have_count(1)
        page.get_by_role("link", name="Grace Hopper").click()
        page.get_by_role("link", name="Merge with…").click()
        page.get_by_label("Find a contact").fill("hopper")
        page.get_by_role("button", name="Find").click()
        page.get_by_role("link", name="Compare with G. Hopper").click()
        row = page.locator("tr[data-field=title]")
        expect(row).to_contain_text("Admiral")
        row.get_by_label("Admiral").check()
        page.get_by_role("button", name="Merge G. Hopper into Grace Hopper").click()
        expect(page.get_by_role("status").filter(has_text="Merged")).to_be_visible()
        expect(page.locator(".muted").filter(has_text="Admiral")).to_be_visible()

        # Delete asks first; keeping it changes nothing.
        page.get_by_role("link", name="Delete").click()
        expect(page.get_by_role("heading", name="Delete contact “Grace Hopper”?")).to_be_visible()
        page.get_by_role("link", name="Keep it").click()
        expect(page.get_by_role("heading", name="Grace Hopper")).to_be_visible()
        page.get_by_role("link", name="Delete").click()
        page.get_by_role("button", name="Delete contact").click()
        expect(page.get_by_role("status").filter(has_text="Deleted.")).to_be_visible()
        expect(page.get_by_text("No contacts")).to_be_visible()

        # Accounts: create, a refused website, fixed.
        nav.get_by_role("link", name="Accounts", exact=True).click()
        page.get_by_role("link", name="New account").click()
        page.get_by_label("Name (required)").fill("Acme")
        page.get_by_label("Website").fill("javascript:void(0)")
        page.get_by_role("button", name="Create account").click()
        expect(page.locator("#err-website")).to_contain_text("http(s) address")
        expect(page.get_by_label("Name (required)")).to_have_value("Acme")
        page.get_by_label("Website").fill("acme.example")
        page.get_by_role("button", name="Create account").click()
        expect(page.get_by_role("status").filter(has_text="Created.")).to_be_visible()
        expect(page.get_by_role("heading", name="Acme")).to_be_visible()
        browser.close()
    with db.session(tenant_id=site["tenant"]) as session:
        assert session.scalars(select(Contact)).all() == []


def test_a_campaign_and_its_lead_from_creation_to_a_contact(
    chromium: Path, site: dict[str, Any], tmp_path: Path
) -> None:
    from playwright.sync_api import expect, sync_playwright

    base, db = site["base"], site["db"]
    with sync_playwright() as pw:
        browser = _browser(pw, chromium)
        page = browser.new_page(viewport={"width": 1366, "height": 900})
        log_in(page, base, "bea@crm.test", "/campaigns")
        page.get_by_role("link", name="New campaign").click()
        page.get_by_label("Name (required)").fill("Spring launch")
        page.get_by_label("Status").select_option("active")
        page.get_by_label("Starts on").fill("2025-03-01")
        page.get_by_role("button", name="Create campaign").click()
        expect(page.get_by_role("heading", name="Campaign: Spring launch")).to_be_visible()
        expect(page.get_by_role("heading", name="Over time")).to_be_visible()

        page.get_by_label("Amount").fill("a lot")
        page.get_by_role("button", name="Save budget").click()
        expect(page.locator("#err-budget")).to_contain_text("three-letter currency")
        expect(page.get_by_label("Amount")).to_have_value("a lot")
        page.get_by_label("Amount").fill("1200")
        page.get_by_label("Currency").fill("EUR")
        page.get_by_role("button", name="Save budget").click()
        expect(page.get_by_role("status").filter(has_text="Budget saved.")).to_be_visible()
        expect(page.locator("dl.facts")).to_contain_text("1200.00 EUR")

        page.get_by_role("navigation", name="Main").get_by_role("link", name="Leads").click()
        page.get_by_role("link", name="New lead").click()
        page.get_by_label("Name (required)").fill("Alan Turing")
        page.get_by_label("Campaign").select_option(label="Spring launch")
        page.get_by_role("button", name="Create lead").click()
        expect(page.get_by_role("status").filter(has_text="Created.")).to_be_visible()
        page.get_by_label("Owner").select_option(label="Sam Agent")
        page.get_by_role("button", name="Assign").click()
        expect(page.locator("dl.facts")).to_contain_text("Sam Agent")
        page.get_by_label("Status").select_option("qualified")
        page.get_by_role("button", name="Change status").click()
        expect(page.locator("dl.facts")).to_contain_text("qualified")
        page.get_by_label("Subject").fill("Met at the fair")
        page.get_by_role("button", name="Add to timeline").click()
        expect(page.locator("#timeline")).to_contain_text("Met at the fair")

        page.goto(f"{base}/leads")
        page.get_by_label("Owner").select_option(label="Sam Agent")
        page.get_by_label("Campaign").select_option(label="Spring launch")
        page.get_by_role("button", name="Filter").click()
        expect(page.locator("tbody tr")).to_have_count(1)
        page.get_by_role("link", name="Alan Turing").click()
        page.get_by_role("button", name="Convert to contact").click()
        expect(page.get_by_role("status").filter(has_text="now a contact")).to_be_visible()
        expect(page.get_by_role("heading", name="Alan Turing")).to_be_visible()
        expect(page.locator("#timeline")).to_contain_text("Met at the fair")
        page.screenshot(path=str(tmp_path / "converted.png"), full_page=True)
        browser.close()
    with db.session(tenant_id=site["tenant"]) as session:
        lead = session.scalars(select(Lead)).one()
        campaign = session.scalars(select(Campaign)).one()
        assert (lead.status, lead.campaign_id) == ("converted", campaign.id)
        assert lead.contact_id is not None


def test_an_agent_works_a_social_ticket_from_the_queue(
    chromium: Path, site: dict[str, Any], tmp_path: Path
) -> None:
    from playwright.sync_api import expect, sync_playwright

    base, db = site["base"], site["db"]
    connect_x(base, site["key"], site["sandbox"])
    make_rule(db, site["tenant"], name="Support", query="help", support=True)
    created = httpx.post(
        f"{site['sandbox']}/_sandbox/posts",
        json={"network": "x", "author_handle": "grace", "text": "@ada help, printer on fire"},
    )
    created.raise_for_status()
    post_id = str(created.json()["id"])
    listening.ingest_committed(
        db,
        site["tenant"],
        [post("@ada help, printer on fire", external_id=post_id, author="grace")],
    )
    with db.session(tenant_id=site["tenant"]) as session:
        ticket_id = session.scalars(select(SocialMention.ticket_id)).one()
    with sync_playwright() as pw:
        browser = _browser(pw, chromium)
        page = browser.new_page(viewport={"width": 1366, "height": 900})
        log_in(page, base, "sam@crm.test", "/tickets")
        page.get_by_label("SLA").select_option("due")
        page.get_by_role("button", name="Filter").click()
        row = page.locator(f"tr[data-ticket='{ticket_id}']")
        expect(row.locator("[data-sla=due]")).to_contain_text("due in")
        row.get_by_role("link").click()
        expect(page.locator("#conversation")).to_contain_text("printer on fire")

        page.get_by_label("Message").fill("x" * 300)
        page.get_by_role("button", name="Send reply").click()
        expect(page.locator("#err-reply-text")).to_contain_text("too long for x")
        expect(page.get_by_label("Message")).to_have_value("x" * 300)
        page.get_by_label("Message").fill("On it, Grace! A technician is on the way.")
        page.get_by_role("button", name="Send reply").click()
        expect(page.get_by_role("status").filter(has_text="Reply sent")).to_be_visible()
        expect(page.locator("ol.thread li.outbound")).to_contain_text("A technician is on the way")
        expect(page.locator("#sla-clock [data-sla]")).to_have_attribute("data-sla", "responded")

        page.get_by_label("Status", exact=True).select_option("pending")
        page.get_by_label("Assignee").select_option(label="Sam Agent")
        page.get_by_role("button", name="Update ticket").click()
        expect(page.get_by_role("status").filter(has_text="Saved.")).to_be_visible()
        expect(page.locator("dl.facts")).to_contain_text("Sam Agent")
        page.screenshot(path=str(tmp_path / "ticket.png"), full_page=True)
        browser.close()
    replies = httpx.get(f"{site['sandbox']}/_sandbox/posts", params={"network": "x"}).json()
    posts = replies if isinstance(replies, list) else replies.get("posts", [])
    assert any(p.get("in_reply_to_id") == post_id for p in posts)
    with db.session(tenant_id=site["tenant"]) as session:
        ticket = session.get(Ticket, ticket_id)
        assert ticket is not None and ticket.status == "pending"
        assert ticket.first_responded_at is not None


def test_the_sla_clock_counts_down_without_a_reload(chromium: Path, site: dict[str, Any]) -> None:
    from playwright.sync_api import expect, sync_playwright

    base, db = site["base"], site["db"]
    with db.session(tenant_id=site["tenant"]) as session:
        ticket = crm.create(session, Ticket, {"subject": "Soon due"})
        ticket.first_response_due_at = ticket.created_at + timedelta(minutes=3)
        ticket_id = ticket.id
    with sync_playwright() as pw:
        browser = _browser(pw, chromium)
        page = browser.new_page()
        page.clock.install()
        log_in(page, base, "sam@crm.test", f"/tickets/{ticket_id}")
        clock = page.locator("#sla-clock [data-sla]")
        expect(clock).to_have_text(re.compile(r"due in [23] min"))
        page.evaluate("window.__sameDocument = true")
        page.clock.fast_forward("05:00")
        expect(clock).to_have_text("SLA breached")
        expect(clock).to_have_attribute("data-sla", "breached")
        assert page.evaluate("window.__sameDocument") is True  # no reload happened
        browser.close()
