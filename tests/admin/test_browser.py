"""The Admin area and the notifications centre in real headless Chromium (SQLite, or
PostgreSQL when configured): change a setting, see the error beside a bad value with the typed
value kept, create and revoke an API key, deactivate a user, filter the audit log, read and
dismiss notifications; the navigation fits at 1366 px."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from socialcrm.core import audit, notify
from socialcrm.core.principal import Role
from socialcrm.tenancy.service import create_user, get_or_create_tenant
from tests.browser_site import PASSWORD, live_site, logged_in
from tests.conftest import CHROMIUM_ARGS

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.browser


@dataclass(frozen=True)
class Site:
    base: str
    admin_id: int


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    with live_site(tmp_path, "admin_ui") as (base, db):
        with db.session(system=True) as session:
            tenant = get_or_create_tenant(session, "Admin Co")
            admin = create_user(
                session,
                tenant=tenant,
                email="ada@admin.test",
                password=PASSWORD,
                role=Role.ADMIN,
                name="Ada Admin",
            )
            create_user(
                session, tenant=tenant, email="sam@admin.test", password=PASSWORD, role=Role.AGENT
            )
            admin_id = admin.id
            session.info.update(system=False, tenant_id=tenant.id)
            notify.notify(
                session,
                user_id=admin_id,
                kind="reconnect_required",
                message="Your x account @brand needs reconnecting.",
                link="/connections#account-1",
            )
            notify.notify(
                session,
                user_id=None,
                kind="ticket_sla_breached",
                message="First response overdue on ticket #7: Broken order",
            )
            audit.record(
                session,
                actor="system",
                action="ticket.sla_breached",
                target_type="ticket",
                target_id=7,
            )
        yield Site(base, admin_id)


@pytest.fixture
def browser(chromium: Path) -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def shoot(page: Page, tmp_path: Path, name: str) -> None:
    """A screenshot in the test's folder, and in SOCIALCRM_SCREENSHOT_DIR when set."""
    page.screenshot(path=str(tmp_path / f"{name}.png"), full_page=True)
    if folder := os.environ.get("SOCIALCRM_SCREENSHOT_DIR"):
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def test_a_setting_is_refused_beside_its_field_then_saved(
    browser: Browser, site: Site, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    page = logged_in(browser, site.base, "ada@admin.test")
    page.get_by_role("link", name="Admin", exact=True).click()
    expect(page.get_by_role("heading", name="Admin", exact=True)).to_be_visible()
    page.get_by_role("navigation", name="Admin sections").get_by_role(
        "link", name="Enrichment"
    ).click()
    field = page.get_by_label("Link automatically from confidence")
    expect(field).to_have_value("0.9")

    field.fill("1.5")
    page.get_by_role("button", name="Save enrichment settings").click()
    expect(page.locator("#e-auto_link_threshold")).to_have_text("must be 1 or less")
    expect(field).to_have_value("1.5")  # what was typed stays
    expect(field).to_have_attribute(
        "aria-describedby", "h-auto_link_threshold e-auto_link_threshold"
    )
    expect(page.get_by_role("alert")).to_contain_text("Nothing was saved")
    shoot(page, tmp_path, "admin-error")

    field.fill("0.95")
    page.get_by_label("Suggest from confidence").fill("0.6")
    page.get_by_role("button", name="Save enrichment settings").click()
    expect(page.get_by_role("status")).to_contain_text("Enrichment settings saved")
    assert "done=saved" in page.url  # POST-redirect-GET: a reload does not post again
    page.reload()
    expect(page.get_by_label("Link automatically from confidence")).to_have_value("0.95")
    expect(page.get_by_label("Suggest from confidence")).to_have_value("0.6")

    # The support terms: a bad minute count keeps what was typed; a good one is saved.
    page.get_by_role("link", name="Support tiers").click()
    minutes = page.locator('[id="f-tiers.gold.first_response_minutes"]')
    minutes.fill("soon")
    page.get_by_role("button", name="Save support terms").click()
    expect(page.locator('[id="e-tiers.gold.first_response_minutes"]')).to_have_text(
        "enter a whole number"
    )
    expect(minutes).to_have_value("soon")
    minutes.fill("45")
    page.locator('[id="f-escalation_queue"]').fill("escalated")
    page.get_by_role("button", name="Save support terms").click()
    expect(page.get_by_role("status")).to_contain_text("Support terms saved")
    expect(minutes).to_have_value("45")
    shoot(page, tmp_path, "admin-support")


def test_an_api_key_is_shown_once_works_and_is_revoked(
    browser: Browser, site: Site, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    page = logged_in(browser, site.base, "ada@admin.test")
    page.goto(f"{site.base}/admin/api-keys")
    page.get_by_label("Name").fill("helpdesk sync")
    page.get_by_label("Role", exact=True).select_option("agent")
    page.get_by_role("button", name="Create key").click()
    secret = page.get_by_label("The new key").input_value()
    assert secret.startswith("scrm_")
    shoot(page, tmp_path, "admin-api-keys")
    assert (
        httpx.get(
            f"{site.base}/api/contacts", headers={"Authorization": f"Bearer {secret}"}
        ).status_code
        == 200
    )

    page.reload()  # shown exactly once
    expect(page.get_by_label("The new key")).to_have_count(0)
    assert secret not in page.content()
    row = page.locator("tr", has_text="helpdesk sync")
    expect(row).to_contain_text("agent")

    row.get_by_text("Revoke", exact=True).click()  # asks first
    expect(row.get_by_text("Every request with it is refused")).to_be_visible()
    row.get_by_role("button", name="Yes, revoke").click()
    expect(page.get_by_role("status")).to_contain_text("API key revoked")
    expect(page.locator("tr", has_text="helpdesk sync")).to_contain_text("revoked")
    answer = httpx.get(f"{site.base}/api/contacts", headers={"Authorization": f"Bearer {secret}"})
    assert answer.status_code == 401

    page.goto(f"{site.base}/admin/users")
    row = page.locator("tr", has_text="sam@admin.test")
    row.get_by_text("Deactivate", exact=True).click()
    row.get_by_role("button", name="Yes, deactivate").click()
    expect(page.get_by_role("status")).to_contain_text("User deactivated")
    expect(page.locator("tr", has_text="sam@admin.test")).to_contain_text("deactivated")


def test_the_audit_log_filters_pages_and_downloads(
    browser: Browser, site: Site, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    page = logged_in(browser, site.base, "ada@admin.test")
    page.goto(f"{site.base}/admin/publishing")
    page.get_by_label("Posts by marketing and agents wait").check()
    page.get_by_role("button", name="Save publishing settings").click()
    expect(page.get_by_role("status")).to_contain_text("Publishing settings saved")

    page.goto(f"{site.base}/admin/audit")
    table = page.locator("table.audit")
    expect(table).to_contain_text("publishing.approval_policy")
    expect(table).to_contain_text("ticket.sla_breached")
    expect(table).to_contain_text("Ada Admin")  # the actor by name, not user:N

    page.get_by_label("Action").fill("publishing.*")
    page.get_by_role("button", name="Filter").click()
    expect(table.locator("tbody tr")).to_have_count(1)
    expect(table).not_to_contain_text("ticket.sla_breached")

    page.get_by_label("From").fill("last tuesday")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#e-from")).to_contain_text("not an ISO 8601 date")
    expect(page.get_by_label("From")).to_have_value("last tuesday")
    expect(page.get_by_label("Action")).to_have_value("publishing.*")
    shoot(page, tmp_path, "admin-audit-error")

    page.get_by_label("From").fill("2000-01-01")
    page.get_by_role("button", name="Filter").click()
    expect(table.locator("tbody tr")).to_have_count(1)
    with page.expect_download() as download:
        page.get_by_role("link", name="Download CSV").click()
    lines = Path(download.value.path()).read_text().splitlines()
    assert lines[0].startswith("id,created_at,actor,action")
    assert len(lines) == 2 and "publishing.approval_policy" in lines[1]


def test_notifications_are_read_opened_and_dismissed(
    browser: Browser, site: Site, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    page = logged_in(browser, site.base, "ada@admin.test")
    indicator = page.locator("header").get_by_role("link", name=re.compile("^Notifications"))
    expect(indicator).to_have_text("Notifications 2 unread")
    indicator.click()
    expect(page.get_by_role("heading", name="Notifications")).to_be_visible()
    shoot(page, tmp_path, "notifications")

    sla = page.locator("article", has_text="ticket #7")
    expect(sla).to_contain_text("for every admin")
    sla.get_by_role("button", name="Mark as read").click()
    expect(page.get_by_role("status")).to_contain_text("Marked as read")
    expect(indicator).to_have_text("Notifications 1 unread")
    page.get_by_role("link", name="Unread (1)").click()
    expect(page.locator("article")).to_have_count(1)
    expect(page.locator("article")).to_contain_text("needs reconnecting")

    page.get_by_role("button", name="Open").click()  # goes to the thing, read on the way
    expect(page).to_have_url(f"{site.base}/connections#account-1")
    expect(indicator).to_have_text("Notifications")

    page.goto(f"{site.base}/notifications")
    note = page.locator("article", has_text="ticket #7")
    note.get_by_role("button", name="Dismiss").click()
    expect(page.get_by_role("status")).to_contain_text("dismissed")
    expect(page.locator("article", has_text="ticket #7")).to_have_count(0)
    expect(page.locator("article")).to_have_count(1)


def test_the_navigation_fits_at_1366_px_and_agents_see_no_admin(
    browser: Browser, site: Site
) -> None:
    from playwright.sync_api import expect

    page = logged_in(browser, site.base, "ada@admin.test")
    for path in ("/contacts", "/admin/identity", "/admin/audit", "/notifications"):
        page.goto(f"{site.base}{path}")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 1366, (path, width)
        tops = (
            page.locator("header.topbar")
            .locator("nav a, .who > a, .who summary")
            .evaluate_all(
                "items => items.map(i => i.getBoundingClientRect()).map(r => r.top + r.height / 2)"
            )
        )
        assert max(tops) - min(tops) < 8, (path, tops)  # one line: nothing wrapped

    page.get_by_text("Ada Admin", exact=True).click()  # the user menu
    expect(page.get_by_text("Admin Co · admin")).to_be_visible()
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile("/login"))

    agent = logged_in(browser, site.base, "sam@admin.test")
    expect(agent.get_by_role("link", name="Admin", exact=True)).to_have_count(0)
    agent.goto(f"{site.base}/admin/users")
    expect(agent.get_by_role("alert")).to_contain_text("the Admin area is for admins")
