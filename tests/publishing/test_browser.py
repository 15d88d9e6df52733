"""In headless Chromium: schedule a post that the sandbox then shows as published, and reply
from a Contact's page and see the Activity."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import time_machine
from sqlalchemy import select

from socialcrm.core.db import Database, utcnow
from socialcrm.core.principal import Role
from socialcrm.crm.models import Activity, Contact
from socialcrm.tenancy.service import create_user, get_or_create_tenant
from tests.browser_site import PASSWORD, connect_x_app_and_brand, live_site, log_in
from tests.conftest import CHROMIUM_ARGS
from tests.publishing.conftest import run_due, sandbox_posts

pytestmark = pytest.mark.browser


@pytest.fixture
def site(tmp_path: Path, sandbox: Any) -> Iterator[tuple[str, Database, int]]:
    with live_site(tmp_path, "browser") as (base, db):
        with db.session(system=True) as session:
            tenant = get_or_create_tenant(session, "Publishing Co")
            tenant_id = tenant.id
            create_user(
                session,
                tenant=tenant,
                email="pat@publish.test",
                password=PASSWORD,
                role=Role.ADMIN,
                name="Pat Admin",
            )
        connect_x_app_and_brand(
            db, tenant_id, sandbox_url=sandbox.url, base=base, client_id="pub-x"
        )
        yield base, db, tenant_id


def test_schedule_a_post_that_the_sandbox_then_shows_published(
    chromium: Path,
    site: tuple[str, Database, int],
    sandbox: object,
) -> None:
    from playwright.sync_api import expect, sync_playwright

    base, db, _tenant = site
    when = (utcnow() + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        page = browser.new_page()
        log_in(page, base, "pat@publish.test", "/publishing")
        expect(page.get_by_role("heading", name="Publishing")).to_be_visible()
        page.get_by_label("Text", exact=True).fill("Our spring launch is here 🌱")
        expect(page.locator("#counters")).to_contain_text("x 28/280")
        page.get_by_role("checkbox", name="x @ada").check()
        page.get_by_label("Publish at (your wall time)").fill(when)
        page.get_by_label("Time zone").fill("UTC")
        page.get_by_role("button", name="Schedule").click()
        expect(page.get_by_role("status")).to_contain_text("saved")
        row = page.locator("tr", has_text="x @ada")
        expect(row).to_contain_text("scheduled")
        assert sandbox_posts(sandbox) == []

        # The queue worker's job, on its own thread (Playwright owns this one's loop).
        later = utcnow() + timedelta(minutes=6)
        with time_machine.travel(later, tick=True), ThreadPoolExecutor(1) as worker:
            assert worker.submit(run_due, db).result() == ["published"]
        page.reload()
        expect(page.locator("tr", has_text="x @ada")).to_contain_text("published")
        assert [p["text"] for p in sandbox_posts(sandbox, "x")] == ["Our spring launch is here 🌱"]
        browser.close()


def test_reply_from_a_contact_and_see_the_activity(
    chromium: Path,
    site: tuple[str, Database, int],
    sandbox: object,
) -> None:
    from playwright.sync_api import expect, sync_playwright

    base, db, tenant_id = site
    with db.session(tenant_id=tenant_id) as session:
        contact = Contact(name="Grace Hopper")
        session.add(contact)
        session.flush()
        contact_id = contact.id
    mention = httpx.post(
        f"{sandbox.url}/_sandbox/posts",  # type: ignore[attr-defined]
        json={"network": "x", "author_handle": "grace", "text": "@ada where is my order?"},
    ).json()["id"]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        page = browser.new_page()
        log_in(page, base, "pat@publish.test", f"/contacts/{contact_id}")
        expect(page.get_by_role("heading", name="Reply or message")).to_be_visible()
        page.get_by_label("Send from").select_option(label="x @ada (brand)")
        page.get_by_label("As", exact=True).select_option("reply")
        page.get_by_label("Post id (reply, comment) or recipient handle (DM)").fill(mention)
        page.get_by_role("textbox", name="Message").fill("It ships today, Grace!")
        page.get_by_role("button", name="Send").click()
        expect(page.get_by_role("status")).to_contain_text("reply sent")
        expect(page.locator("#engage li")).to_contain_text("It ships today, Grace!")
        expect(page.locator("#engage li")).to_contain_text("sent")
        browser.close()
    replies = [p for p in sandbox_posts(sandbox, "x") if p["in_reply_to_id"] == mention]
    assert [r["text"] for r in replies] == ["It ships today, Grace!"]
    with db.session(tenant_id=tenant_id) as session:
        activity = session.scalars(select(Activity).where(Activity.contact_id == contact_id)).one()
        assert activity.kind == "social_reply" and activity.subject.endswith("· sent")
