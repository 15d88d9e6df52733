"""Discovery jobs in real headless Chromium, on a live server over a committed database
(PostgreSQL when configured): a refused list is shown beside its field with what was typed
kept; a job made of pasted sites fills its progress bar from the jobs API's event stream
without a reload, shows its failures by reason and offers its CSV; a waiting job is cancelled."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from socialcrm.core.principal import Role
from socialcrm.core.queue import huey
from socialcrm.discovery import runner
from socialcrm.discovery.models import DiscoveryJob
from socialcrm.tenancy.service import create_user, get_or_create_tenant
from tests.conftest import CHROMIUM_ARGS, committed_database
from tests.discovery.sites import Site, serve_site
from tests.live import live_app

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("allow_loopback", "fast_crawl")]
PASSWORD = "correct horse"
PAGES = Path(__file__).parent / "pages"


@pytest.fixture
def site(tmp_path: Path) -> Iterator[dict[str, Any]]:
    with committed_database(tmp_path, "jobs_browser") as (db, _url):
        with db.session(system=True) as session:
            tenant = get_or_create_tenant(session, "Jobs Co")
            create_user(
                session,
                tenant=tenant,
                email="mo@jobs.test",
                password=PASSWORD,
                role=Role.MARKETING,
                name="Mo Marketer",
            )
            tenant_id = tenant.id
        with live_app() as base:
            yield {"base": base, "db": db, "tenant": tenant_id}


@pytest.fixture
def queued() -> Iterator[None]:
    """Chunks stay in the queue: the test is the worker, so the page sees the job run."""
    huey.immediate = False
    try:
        yield
    finally:
        huey.flush()
        huey.immediate = True


@pytest.fixture
def bakery() -> Iterator[Site]:
    with serve_site() as bakery:
        bakery.page("/", (PAGES / "bakery_wordpress_footer.html").read_text())
        yield bakery


def _log_in(page: Any, base: str) -> None:
    page.goto(f"{base}/discovery/jobs")
    page.get_by_label("Email").fill("mo@jobs.test")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def _run_every_chunk(site: dict[str, Any], job_id: str) -> None:
    """What a worker does with the job's queued chunks."""
    with site["db"].session(tenant_id=site["tenant"]) as session:
        chunks = session.get(DiscoveryJob, job_id).chunks_total
    for chunk in range(chunks):
        runner.run_chunk(site["db"], site["tenant"], job_id, chunk)


def test_a_job_of_pasted_sites_fills_its_bar_live_and_offers_its_csv(
    chromium: Path, site: dict[str, Any], bakery: Site, queued: None, tmp_path: Path
) -> None:
    from playwright.sync_api import expect, sync_playwright

    with serve_site() as broken, sync_playwright() as pw:
        broken.page("/", "<html>oops</html>", status=500)
        browser = pw.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1366, "height": 900}, accept_downloads=True)
        _log_in(page, site["base"])
        nav = page.get_by_role("navigation", name="Main")
        expect(nav.get_by_role("link", name="Discovery")).to_have_attribute("aria-current", "page")
        expect(page.get_by_role("heading", name="Discovery jobs")).to_be_visible()
        expect(page.get_by_text("No jobs yet")).to_be_visible()

        # Nothing pasted, then nothing usable: the reason beside the field, the text kept.
        sites = page.get_by_label("Sites, one per line")
        page.get_by_role("button", name="Start job").click()
        expect(page.locator("#e-sites")).to_have_text(
            "paste at least one site, or choose a CSV file"
        )
        sites.fill("not a site\nmailto:x@y.z")
        page.get_by_role("button", name="Start job").click()
        expect(page.locator("#e-sites")).to_contain_text("none of these is a web address")
        expect(sites).to_have_value("not a site\nmailto:x@y.z")
        expect(sites).to_have_attribute("aria-invalid", "true")

        # Pasted sites: a job waiting for its worker.
        sites.fill(f"{bakery.url}\n\n{broken.url}\n{bakery.url}/closed-down\n")
        page.get_by_role("button", name="Start job").click()
        expect(page.get_by_role("status")).to_have_text(re.compile("Job created"))
        job_id = page.url.split("/discovery/jobs/", 1)[1].split("?", 1)[0]
        percent = page.locator("[data-live-percent]")
        expect(percent).to_have_text("0%")
        expect(page.get_by_role("button", name="Cancel job")).to_be_visible()
        page.evaluate("window.sameDocument = true")

        _run_every_chunk(site, job_id)

        # The bar reaches 100% from the event stream, in the same document (no reload).
        expect(percent).to_have_text("100%")
        expect(page.get_by_role("progressbar")).to_have_attribute("value", "1")
        expect(page.locator("[data-live-status]")).to_have_text("completed")
        outcome = page.locator("#job-outcome")
        expect(outcome).to_contain_text("the site has a server error (HTTP 500)")
        expect(outcome).to_contain_text("page not found (HTTP 404)")
        expect(page.get_by_role("button", name="Cancel job")).to_have_count(0)
        assert page.evaluate("window.sameDocument") is True

        with page.expect_download() as download:
            page.get_by_role("link", name="Download CSV").click()
        rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
        assert [r["site_web"] for r in rows] == [
            bakery.url,
            broken.url,
            f"{bakery.url}/closed-down",
        ]
        assert rows[0]["social_facebook"] == "https://www.facebook.com/rosewoodbakerypdx"
        with page.expect_download() as download:
            page.get_by_role("link", name="Download JSON").click()
        assert '"social_instagram"' in Path(download.value.path()).read_text()

        # The list: status, progress and EF charged.
        page.get_by_role("link", name="Discovery jobs").first.click()
        row = page.get_by_role("row").filter(has_text="completed")
        expect(row).to_contain_text("0.00165")
        expect(row.get_by_role("progressbar")).to_have_attribute("value", "1.0")
        browser.close()


def test_a_waiting_job_is_cancelled_from_its_page(
    chromium: Path, site: dict[str, Any], bakery: Site, queued: None
) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        page = browser.new_context().new_page()
        _log_in(page, site["base"])
        page.get_by_label("Sites, one per line").fill(bakery.url)
        page.get_by_role("button", name="Start job").click()
        expect(page.locator("[data-live-status]")).to_have_text("pending")
        listing = page.context.new_page()  # the list, open in another tab meanwhile
        listing.goto(f"{site['base']}/discovery/jobs")
        expect(listing.get_by_role("row").nth(1)).to_contain_text("pending")
        page.get_by_role("button", name="Cancel job").click()
        expect(page.get_by_role("status")).to_have_text(re.compile("Job cancelled"))
        expect(page.locator("[data-live-status]")).to_have_text("cancelled")
        expect(page.get_by_role("link", name="Download CSV")).to_be_visible()
        expect(listing.get_by_role("row").nth(1)).to_contain_text("cancelled")  # no reload
        job_id = page.url.split("/discovery/jobs/", 1)[1].split("?", 1)[0]
        browser.close()
    # The worker that takes a chunk of a cancelled job reads nothing.
    assert runner.run_chunk(site["db"], site["tenant"], job_id, 0) == 0
    assert bakery.seen == []
