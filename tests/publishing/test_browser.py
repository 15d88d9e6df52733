"""In headless Chromium: schedule a post that the sandbox then shows as published, and reply
from a Contact's page and see the Activity."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import time_machine
from sqlalchemy import select

from socialcrm.connections import service as connections
from socialcrm.connections.models import Ownership, ProviderApp
from socialcrm.core.db import Database, make_engine, set_database, utcnow
from socialcrm.core.settings import get_settings
from socialcrm.crm.models import Activity, Contact
from socialcrm.migrations import upgrade
from socialcrm.tenancy.models import Role
from socialcrm.tenancy.service import Principal, create_user, get_or_create_tenant
from tests.conftest import CHROMIUM_ARGS
from tests.live import live_app
from tests.publishing.conftest import run_due, sandbox_posts

pytestmark = pytest.mark.browser


def _connect_brand_x(db: Database, tenant_id: int) -> None:
    principal = Principal(tenant_id=tenant_id, role=Role.ADMIN, user_id=None, api_key_id=0)
    with db.session(tenant_id=tenant_id) as session:
        start = connections.start_oauth(session, principal, provider="x", ownership=Ownership.BRAND)
    parts = urlsplit(start.authorization_url)
    form = {k: v[0] for k, v in parse_qs(parts.query).items()} | {
        "account": "ada",
        "decision": "allow",
    }
    answer = httpx.post(f"{parts.scheme}://{parts.netloc}{parts.path}", data=form)
    back = {k: v[0] for k, v in parse_qs(urlsplit(answer.headers["location"]).query).items()}
    connections.complete_oauth(db, provider="x", params=back)


@pytest.fixture
def site(tmp_path: Path, sandbox: object) -> Iterator[tuple[str, Database, int]]:
    url = f"sqlite:///{tmp_path}/browser.db"
    upgrade(url)
    db = Database(make_engine(url))
    set_database(db)
    settings = get_settings()
    previous_base = settings.base_url
    try:
        with live_app() as base:
            settings.base_url = base
            httpx.post(
                f"{sandbox.url}/_sandbox/apps",  # type: ignore[attr-defined]
                json={
                    "network": "x",
                    "client_id": "pub-x",
                    "client_secret": "pub-x-secret",
                    "redirect_uris": [f"{base}/oauth/callback/x"],
                },
            ).raise_for_status()
            with db.session(system=True) as session:
                tenant = get_or_create_tenant(session, "Publishing Co")
                tenant_id = tenant.id
                create_user(
                    session,
                    tenant=tenant,
                    email="pat@publish.test",
                    password="correct horse",
                    role=Role.ADMIN,
                    name="Pat Admin",
                )
                session.info.update(system=False, tenant_id=tenant.id)
                session.add(
                    ProviderApp(provider="x", client_id="pub-x", client_secret="pub-x-secret")
                )
            _connect_brand_x(db, tenant_id)
            yield base, db, tenant_id
    finally:
        settings.base_url = previous_base
        set_database(None)
        db.engine.dispose()


def _log_in(page: object, site_url: str, path: str) -> None:
    page.goto(f"{site_url}{path}")  # type: ignore[attr-defined]
    page.get_by_label("Email").fill("pat@publish.test")  # type: ignore[attr-defined]
    page.get_by_label("Password").fill("correct horse")  # type: ignore[attr-defined]
    page.get_by_role("button", name="Log in").click()  # type: ignore[attr-defined]


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
        _log_in(page, base, "/publishing")
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
        _log_in(page, base, f"/contacts/{contact_id}")
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
