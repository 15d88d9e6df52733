"""The enrichment window in real headless Chromium: tick values per participant, Save."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from socialcrm.core.db import Database, make_engine, set_database
from socialcrm.core.principal import Role
from socialcrm.crm import service as crm
from socialcrm.crm.models import Contact
from socialcrm.migrations import upgrade
from socialcrm.signatures import intake
from socialcrm.tenancy.service import create_user, get_or_create_tenant
from tests.conftest import CHROMIUM_ARGS
from tests.live import live_app
from tests.signatures.mail import message

pytestmark = pytest.mark.browser

THREAD = (
    "Thursday works.\n\nKind regards,\nDaniel Price\nOperations Director, Harbor Logistics\n"
    "Direct: (312) 555-0178\n\n"
    "On Tue, Mar 4, 2025 at 9:41 AM Rachel Kim <rachel.kim@clientcorp.com> wrote:\n"
    "> Hi Daniel,\n> could we move it?\n>\n> Thanks,\n> Rachel Kim\n"
    "> Customer Success Manager\n> ClientCorp Inc.\n> +1 646 555 0104\n"
)


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[str, int, int]]:
    url = f"sqlite:///{tmp_path}/browser.db"
    upgrade(url)
    db = Database(make_engine(url))
    set_database(db)
    try:
        with db.session(system=True) as session:
            tenant = get_or_create_tenant(session, "Browser Co")
            create_user(
                session,
                tenant=tenant,
                email="agent@browser-co.com",
                password="correct horse",
                role=Role.AGENT,
                name="Ada Agent",
            )
            tenant_id = tenant.id
        with db.session(tenant_id=tenant_id) as session:
            rachel = crm.create(
                session, Contact, {"name": "Rachel Kim", "emails": ["rachel.kim@clientcorp.com"]}
            )
            raw = message(
                sender="Daniel Price <dprice@harborlogistics.com>",
                subject="Re: Delivery window",
                body=THREAD,
            )
            email = intake.ingest(session, tenant_id, raw).email
            ids = (email.id, rachel.id)
        with live_app() as base:
            yield base, *ids
    finally:
        set_database(None)
        db.engine.dispose()


def test_enrich_from_the_email_window(
    chromium: Path,
    site: tuple[str, int, int],
    tmp_path: Path,
) -> None:
    from playwright.sync_api import expect, sync_playwright

    base, email_id, rachel_id = site
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(f"{base}/emails")
        page.get_by_label("Email").fill("agent@browser-co.com")
        page.get_by_label("Password").fill("correct horse")
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_role("heading", name="Emails")).to_be_visible()
        page.get_by_role("link", name="Re: Delivery window").click()

        page.get_by_role("button", name="Enrich contacts").click()
        window = page.get_by_role("dialog")
        expect(window).to_be_visible()
        daniel = window.locator("fieldset", has_text="dprice@harborlogistics.com")
        rachel = window.locator("fieldset", has_text="rachel.kim@clientcorp.com")
        expect(daniel).to_contain_text("not a contact yet")
        expect(rachel.get_by_role("checkbox")).to_have_count(3)  # title, company, phone
        rachel.get_by_role("checkbox", name="Customer Success Manager").uncheck()
        daniel.get_by_role("checkbox", name="Create contact").check()
        page.screenshot(path=str(tmp_path / "window.png"), full_page=True)
        if os.environ.get("SOCIALCRM_SCREENSHOT_ENRICH"):
            page.screenshot(path=os.environ["SOCIALCRM_SCREENSHOT_ENRICH"], full_page=True)
        window.get_by_role("button", name="Save").click()
        expect(page.get_by_role("status").filter(has_text="Enrichment saved")).to_be_visible()

        page.goto(f"{base}/contacts/{rachel_id}")
        expect(page.get_by_text("ClientCorp Inc.")).to_be_visible()
        expect(page.get_by_text("+1 646-555-0104 (business)")).to_be_visible()  # with its type
        page.get_by_role("link", name="Data from email").click()
        expect(page.locator(".enriched")).to_contain_text("ClientCorp Inc.")
        expect(page.locator(".enriched")).to_contain_text("Re: Delivery window")
        expect(page.locator(".completeness")).to_have_text("50%")
        # The unticked title is remembered as rejected: nothing is pending any more.
        expect(page.get_by_text("No new data from email.")).to_be_visible()

        page.goto(f"{base}/contacts")
        expect(page.get_by_role("link", name="Daniel Price")).to_be_visible()
        browser.close()
    assert email_id > 0
