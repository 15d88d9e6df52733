"""Enrichment runs in real headless Chromium (SQLite, or PostgreSQL when configured): a failed
run says why and offers Retry; the new run's progress follows its worker without a reload."""

from __future__ import annotations

import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from socialcrm.core.db import utcnow
from socialcrm.core.principal import Role
from socialcrm.core.queue import huey
from socialcrm.crm.models import Contact
from socialcrm.enrichment import runs
from socialcrm.enrichment.models import EnrichmentRun, RunStatus
from socialcrm.tenancy.service import create_user, get_or_create_tenant
from tests.browser_site import PASSWORD, connect_x_app_and_brand, live_site, log_in
from tests.conftest import CHROMIUM_ARGS

pytestmark = pytest.mark.browser


@pytest.fixture
def site(tmp_path: Path, sandbox: Any) -> Iterator[dict[str, Any]]:
    with live_site(tmp_path, "runs_browser") as (base, db):
        with db.session(system=True) as session:
            tenant = get_or_create_tenant(session, "Runs Co")
            tenant_id = tenant.id
            create_user(
                session,
                tenant=tenant,
                email="mo@runs.test",
                password=PASSWORD,
                role=Role.MARKETING,
            )
            session.info.update(system=False, tenant_id=tenant.id)
            session.add_all(
                [
                    Contact(name="Grace Hopper"),
                    Contact(name="Ada Lovelace"),
                ]
            )
            # What the worker leaves when the network kept failing for hours.
            session.add(
                EnrichmentRun(
                    trigger="nightly",
                    status=RunStatus.FAILED,
                    total=2,
                    processed=1,
                    error="the provider kept failing: x answered 503",
                    finished_at=utcnow(),
                )
            )
        connect_x_app_and_brand(
            db, tenant_id, sandbox_url=sandbox.url, base=base, client_id="runs-x"
        )
        yield {"base": base, "db": db, "tenant": tenant_id}


def test_a_failed_run_says_why_and_its_retry_fills_live(
    chromium: Path, site: dict[str, Any]
) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1366, "height": 900})
        log_in(page, site["base"], "mo@runs.test", "/enrichment")
        failed = page.get_by_role("alert")
        expect(failed).to_contain_text("The last run failed: the provider kept failing")
        huey.immediate = False  # the test is the worker: the page sees the run go
        try:
            failed.get_by_role("button", name="Retry").click()
            expect(page.get_by_role("status")).to_contain_text("Enrichment run started")
        finally:
            huey.flush()
            huey.immediate = True
        expect(page.get_by_role("alert")).to_have_count(0)
        with site["db"].session(tenant_id=site["tenant"]) as session:
            run_id = session.scalars(
                select(EnrichmentRun.id).where(EnrichmentRun.status == RunStatus.QUEUED)
            ).one()
        row = page.locator(f"#run-{run_id}")
        expect(row).to_contain_text("queued")
        expect(row).to_contain_text("0 / 2")
        page.evaluate("window.sameDocument = true")

        with ThreadPoolExecutor(1) as worker:
            worker.submit(runs.process_run, site["db"], site["tenant"], run_id).result()

        expect(row).to_contain_text("completed")
        expect(row).to_contain_text("2 / 2")
        expect(row.get_by_role("progressbar")).to_have_attribute("value", re.compile("^2"))
        assert page.evaluate("window.sameDocument") is True
        browser.close()
