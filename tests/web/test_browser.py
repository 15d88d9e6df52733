"""One flow in real headless Chromium: log in, connect a sandbox account, see it, disconnect."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from socialcrm.connections.models import ProviderApp
from socialcrm.core.db import Database, make_engine, set_database
from socialcrm.core.principal import Role
from socialcrm.core.settings import get_settings
from socialcrm.migrations import upgrade
from socialcrm.tenancy.service import create_user, get_or_create_tenant
from tests.conftest import CHROMIUM_ARGS
from tests.live import live_app

pytestmark = pytest.mark.browser


@pytest.fixture
def site(tmp_path: Path, sandbox: object) -> Iterator[str]:
    url = f"sqlite:///{tmp_path}/browser.db"
    upgrade(url)
    db = Database(make_engine(url))
    set_database(db)
    settings = get_settings()
    previous_base = settings.base_url
    try:
        with live_app() as base:
            settings.base_url = base
            sandbox_url = sandbox.url  # type: ignore[attr-defined]
            httpx.post(
                f"{sandbox_url}/_sandbox/apps",
                json={
                    "network": "x",
                    "client_id": "browser-x",
                    "client_secret": "browser-x-secret",
                    "redirect_uris": [f"{base}/oauth/callback/x"],
                },
            ).raise_for_status()
            with db.session(system=True) as session:
                tenant = get_or_create_tenant(session, "Browser Co")
                create_user(
                    session,
                    tenant=tenant,
                    email="admin@browser.test",
                    password="correct horse",
                    role=Role.ADMIN,
                    name="Bea Admin",
                )
                session.info.update(system=False, tenant_id=tenant.id)
                session.add(
                    ProviderApp(
                        provider="x", client_id="browser-x", client_secret="browser-x-secret"
                    )
                )
            yield base
    finally:
        settings.base_url = previous_base
        set_database(None)
        db.engine.dispose()


def test_log_in_connect_see_it_and_disconnect(chromium: Path, site: str, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 860})
        page.goto(f"{site}/connections")
        expect(page).to_have_url(f"{site}/login?next=/connections")
        page.get_by_label("Email").fill("admin@browser.test")
        page.get_by_label("Password").fill("correct horse")
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_role("heading", name="Connected accounts")).to_be_visible()

        page.get_by_role("button", name="Connect X").click()
        # The sandbox's consent page, on the network's side.
        expect(page.get_by_role("button", name="Allow")).to_be_visible()
        page.get_by_label("Sign in as").select_option("ada")
        page.get_by_role("button", name="Allow").click()

        expect(page.get_by_role("status").filter(has_text="Account connected")).to_be_visible()
        row = page.locator("tr", has_text="@ada")
        expect(row).to_contain_text("active")
        page.screenshot(path=str(tmp_path / "connected.png"), full_page=True)
        if os.environ.get("SOCIALCRM_SCREENSHOT"):
            page.screenshot(path=os.environ["SOCIALCRM_SCREENSHOT"], full_page=True)

        row.get_by_text("Disconnect", exact=True).click()  # it asks first
        row.get_by_role("button", name="Yes, disconnect").click()
        expect(page.locator("tr", has_text="@ada")).to_contain_text("revoked")
        revoked = page.locator("tr", has_text="@ada")
        expect(revoked.get_by_text("Disconnect", exact=True)).to_have_count(0)
        browser.close()
