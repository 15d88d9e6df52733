"""The Contact's Social tab in real headless Chromium: find, confirm, reject, add, photo."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from socialcrm.core.db import Database, make_engine, set_database
from socialcrm.core.principal import Role
from socialcrm.crm.models import Contact
from socialcrm.migrations import upgrade
from socialcrm.tenancy.service import create_api_key, create_user, get_or_create_tenant
from tests.conftest import CHROMIUM_ARGS
from tests.enrichment.conftest import ADA
from tests.live import live_app

pytestmark = pytest.mark.browser


@pytest.fixture
def site(tmp_path: Path, sandbox: Any) -> Iterator[tuple[str, int]]:
    url = f"sqlite:///{tmp_path}/social.db"
    upgrade(url)
    db = Database(make_engine(url))
    set_database(db)
    try:
        with db.session(system=True) as session:
            tenant = get_or_create_tenant(session, "Social Co")
            create_user(
                session,
                tenant=tenant,
                email="agent@social.test",
                password="correct horse",
                role=Role.ADMIN,
                name="Sam Agent",
            )
            _, key = create_api_key(session, tenant=tenant)
        with live_app() as base:
            api = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"})
            # Connected accounts the usual way (OAuth against the sandbox; Bluesky app password).
            from fastapi.testclient import TestClient

            from socialcrm.app import create_app
            from tests.enrichment.conftest import connect_bluesky, connect_x

            # The Contact first: created after the accounts, it would be enriched at once.
            with db.session(system=True) as session:
                session.info.update(system=False, tenant_id=tenant.id)
                contact = Contact(**(ADA | {"search_text": "ada"}))
                session.add(contact)
                session.flush()
                contact_id = contact.id
            with TestClient(create_app()) as client:
                client.headers["Authorization"] = f"Bearer {key}"
                connect_x(client)
                connect_bluesky(client)
            api.close()
            yield base, contact_id
    finally:
        set_database(None)
        db.engine.dispose()


def test_social_tab_find_confirm_reject_add_and_photo(
    chromium: Path, site: tuple[str, int], tmp_path: Path
) -> None:
    from playwright.sync_api import expect, sync_playwright

    base, contact_id = site
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(f"{base}/contacts/{contact_id}")
        page.get_by_label("Email").fill("agent@social.test")
        page.get_by_label("Password").fill("correct horse")
        page.get_by_role("button", name="Log in").click()
        page.get_by_role("link", name="Social", exact=True).click()
        expect(page.get_by_text("No linked profiles yet.")).to_be_visible()

        page.get_by_role("button", name="Find Social Profiles").click()
        expect(page.get_by_role("status")).to_contain_text("Search done")
        linked = page.get_by_role("article", name="x @ada")
        expect(linked).to_contain_text("1,200")
        expect(linked).to_contain_text("linked")
        suggestion = page.get_by_role("article", name="suggestion bluesky @ada.bsky.social")
        expect(suggestion).to_contain_text("name 'Ada Lovelace'")  # the reasons are shown
        page.screenshot(path=str(tmp_path / "social.png"), full_page=True)
        if os.environ.get("SOCIALCRM_SCREENSHOT_SOCIAL"):
            page.screenshot(path=os.environ["SOCIALCRM_SCREENSHOT_SOCIAL"], full_page=True)

        suggestion.get_by_role("button", name="Reject").click()
        expect(page.get_by_role("status")).to_contain_text("will not be suggested again")
        expect(page.get_by_text("No suggestions waiting.")).to_be_visible()

        linked.get_by_role("button", name="Use as contact photo").click()
        expect(page.get_by_role("status")).to_contain_text("Contact photo updated")
        expect(page.get_by_role("article", name="x @ada")).to_contain_text("Contact photo")

        page.get_by_label("Network").select_option("x")
        page.get_by_label("Handle or profile URL").fill("@nobody_here")
        page.get_by_role("button", name="Add Social Profile").click()
        expect(page.get_by_role("alert")).to_contain_text("no profile")
        page.get_by_label("Network").select_option("x")
        page.get_by_label("Handle or profile URL").fill("https://x.com/grace")
        page.get_by_role("button", name="Add Social Profile").click()
        expect(page.get_by_role("status")).to_contain_text("Profile linked")
        expect(page.get_by_role("article", name="x @grace")).to_contain_text("manual")

        page.get_by_role("link", name="Enrichment", exact=True).click()
        expect(page.get_by_role("heading", name="Coverage per network")).to_be_visible()
        expect(page.locator("table").first).to_contain_text("x")
        browser.close()
