"""The publishing list in real headless Chromium (SQLite, or PostgreSQL when configured):
a target's status follows the worker without a reload (scheduled → failed, with the reason);
Retry publishes it; a failure of the account's grant offers Reconnect, and Retry then says
to reconnect first."""

from __future__ import annotations

import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import time_machine
from sqlalchemy import select

from socialcrm.connections.models import SocialAccount
from socialcrm.core.db import utcnow
from socialcrm.core.principal import Role
from socialcrm.tenancy.service import create_user, get_or_create_tenant
from tests.browser_site import PASSWORD, connect_x_app_and_brand, live_site, log_in
from tests.conftest import CHROMIUM_ARGS
from tests.publishing.conftest import fault, run_due, sandbox_posts

pytestmark = pytest.mark.browser


@pytest.fixture
def site(tmp_path: Path, sandbox: Any) -> Iterator[dict[str, Any]]:
    with live_site(tmp_path, "pub_live") as (base, db):
        with db.session(system=True) as session:
            tenant = get_or_create_tenant(session, "Live Publishing Co")
            tenant_id = tenant.id
            create_user(
                session,
                tenant=tenant,
                email="mia@publish.test",
                password=PASSWORD,
                role=Role.MARKETING,
                name="Mia Marketer",
            )
        connect_x_app_and_brand(
            db, tenant_id, sandbox_url=sandbox.url, base=base, client_id="live-x"
        )
        yield {"base": base, "db": db, "tenant": tenant_id}


def _revoke_at_the_network(site: dict[str, Any], sandbox: Any) -> None:
    """The brand revokes our app on X's side: both tokens die there."""
    with site["db"].session(tenant_id=site["tenant"]) as session:
        refresh = session.scalars(select(SocialAccount.refresh_token)).one()
    httpx.post(
        f"{sandbox.url}/x/2/oauth2/revoke",
        data={"token": refresh, "client_id": "ignored"},
        auth=("live-x", "live-x-secret"),
    ).raise_for_status()


def test_a_failing_publish_shows_why_live_and_is_retried(
    chromium: Path, site: dict[str, Any], sandbox: Any
) -> None:
    from playwright.sync_api import expect, sync_playwright

    when = (utcnow() + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1366, "height": 900})
        log_in(page, site["base"], "mia@publish.test", "/publishing")
        page.get_by_label("Text", exact=True).fill("Spring sale starts now")
        page.get_by_role("checkbox", name="x @ada").check()
        page.get_by_label("Publish at (your wall time)").fill(when)
        page.get_by_label("Time zone").fill("UTC")
        page.get_by_role("button", name="Schedule").click()
        row = page.locator("tr", has_text="Spring sale")
        expect(row).to_contain_text("scheduled")
        expect(row.get_by_role("button", name="Retry")).to_have_count(0)
        page.evaluate("window.sameDocument = true")

        # The network refuses the post when the worker sends it, five minutes later.
        fault(sandbox, network="x", endpoint="publish", status=403, count=1)
        later = utcnow() + timedelta(minutes=6)
        with time_machine.travel(later, tick=True), ThreadPoolExecutor(1) as worker:
            assert worker.submit(run_due, site["db"]).result() == ["failed"]

        # The list follows without a reload: failed, why, and the next step.
        expect(row).to_contain_text("failed")
        expect(row.locator(".notice.error")).to_contain_text("the network refused the post")
        expect(row.get_by_role("button", name="Retry")).to_be_visible()
        expect(row.get_by_role("link", name="Reconnect")).to_have_count(0)  # not an auth failure
        assert page.evaluate("window.sameDocument") is True
        assert sandbox_posts(sandbox, "x") == []

        row.get_by_role("button", name="Retry").click()
        expect(page.get_by_role("status")).to_contain_text("Publishing again")
        expect(row).to_contain_text("published")
        expect(row.get_by_role("link", name="view")).to_be_visible()
        assert [p["text"] for p in sandbox_posts(sandbox, "x")] == ["Spring sale starts now"]

        # The grant is gone: the failure says so and offers Reconnect before Retry.
        _revoke_at_the_network(site, sandbox)
        page.get_by_label("Text", exact=True).fill("Second post")
        page.get_by_role("checkbox", name="x @ada").check()
        page.get_by_role("button", name="Publish now").click()
        second = page.locator("tr", has_text="Second post")
        expect(second).to_contain_text("failed")
        expect(second).to_contain_text("the account needs reconnecting")
        reconnect = second.get_by_role("link", name="Reconnect")
        expect(reconnect).to_have_attribute("href", re.compile(r"^/connections#account-\d+$"))
        second.get_by_role("button", name="Retry").click()
        expect(page.get_by_role("alert")).to_contain_text("needs reconnecting first")
        reconnect = page.locator("tr", has_text="Second post").get_by_role("link", name="Reconnect")
        reconnect.click()
        # a brand account is reconnected by an admin (roles); a marketer is told so
        expect(page.get_by_text("Only an admin can reconnect this account.")).to_be_visible()
        browser.close()
