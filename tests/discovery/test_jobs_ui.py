"""The discovery jobs pages without a browser: an uploaded CSV starts a job, a refused file or
list is answered beside its field (400) with what was typed kept, a fixed notice only, a
finished job cannot be cancelled, and another tenant's job is not found."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from selectolax.lexbor import LexborHTMLParser

from socialcrm.core.db import Database
from socialcrm.core.principal import Role
from socialcrm.core.queue import huey
from socialcrm.discovery.models import DiscoveryJob
from socialcrm.tenancy.service import create_user
from tests.conftest import csrf_of, make_api_key, make_tenant, ui_login
from tests.discovery.sites import serve_site

PAGES = Path(__file__).parent / "pages"
PASSWORD = "correct horse battery staple"
HTML = {"Accept": "text/html"}
pytestmark = pytest.mark.usefixtures("allow_loopback", "fast_crawl")


@pytest.fixture
def ui(app_client: TestClient, database: Database) -> TestClient:
    with database.session(system=True) as session:
        tenant = make_tenant(session, name="Tenant A")
        create_user(session, tenant=tenant, email="a@a.test", password=PASSWORD, role=Role.AGENT)
    return ui_login(app_client, "a@a.test", PASSWORD)


def _post(ui: TestClient, sites: str = "", file: tuple[str, bytes] | None = None) -> object:
    csrf = csrf_of(ui.get("/discovery/jobs", headers=HTML).text)
    files = {"file": (file[0], file[1], "text/csv")} if file else None
    return ui.post(
        "/discovery/jobs",
        data={"csrf": csrf, "sites": sites},
        files=files,
        headers=HTML,
        follow_redirects=False,
    )


def _error(page: str, field: str) -> str:
    node = LexborHTMLParser(page).css_first(f"#e-{field}")
    assert node is not None, f"no error beside {field}"
    return node.text(strip=True)


def test_an_uploaded_csv_starts_a_job_that_keeps_its_columns(ui: TestClient) -> None:
    with serve_site() as bakery:
        bakery.page("/", (PAGES / "bakery_wordpress_footer.html").read_text())
        body = f"name,site_web,city\nRosewood Bakery,{bakery.url},Portland\nNo site,,\n"
        answer = _post(ui, file=("leads.csv", body.encode()))
    assert answer.status_code == 303  # type: ignore[attr-defined]
    location = answer.headers["location"]  # type: ignore[attr-defined]
    assert re.fullmatch(r"/discovery/jobs/[0-9a-f-]{36}\?done=created", location)
    page = ui.get(location, headers=HTML).text
    assert "Job created" in page and "completed" in page
    assert "1 lines skipped" in page  # the row without a site
    job_id = location.split("/")[-1].split("?")[0]
    rows = ui.get(f"/api/jobs/{job_id}/results?format=json").json()
    assert rows[0]["city"] == "Portland"
    assert rows[0]["social_facebook"] == "https://www.facebook.com/rosewoodbakerypdx"


@pytest.mark.parametrize(
    ("sites", "file", "field", "reason"),
    [
        ("", None, "sites", "paste at least one site, or choose a CSV file"),
        ("  \n\n", None, "sites", "paste at least one site, or choose a CSV file"),
        ("just words\nmailto:a@b.c", None, "sites", "none of these is a web address"),
        ("", ("x.csv", b"name,url\nA,a.example\n"), "file", "has no site_web column"),
        ("", ("x.csv", b"site_web\n"), "file", "has a header but no rows"),
        ("", ("x.csv", b"site_web\n\xff\xfe\n"), "file", "is not UTF-8 text"),
        ("a.example", ("x.csv", b"site_web\nb.example\n"), "sites", "not both"),
    ],
)
def test_a_refused_list_or_file_is_answered_beside_its_field(
    ui: TestClient, sites: str, file: tuple[str, bytes] | None, field: str, reason: str
) -> None:
    answer = _post(ui, sites, file)
    assert answer.status_code == 400  # type: ignore[attr-defined]
    page = answer.text  # type: ignore[attr-defined]
    assert reason in _error(page, field)
    if sites.strip():
        tree = LexborHTMLParser(page)
        assert tree.css_first("#f-sites").text() == sites  # what was typed is kept


def test_the_notice_is_one_of_a_fixed_set(ui: TestClient) -> None:
    page = ui.get("/discovery/jobs?done=<b>pwned</b>", headers=HTML).text
    assert "pwned" not in page


def test_a_finished_job_cannot_be_cancelled_and_a_stranger_job_is_not_found(
    ui: TestClient, app_client: TestClient, database: Database
) -> None:
    with serve_site() as site:
        site.page("/", "<html>hello</html>")
        location = _post(ui, site.url).headers["location"]  # type: ignore[attr-defined]
    job_path = location.split("?")[0]
    csrf = csrf_of(ui.get(job_path, headers=HTML).text)
    refused = ui.post(f"{job_path}/cancel", data={"csrf": csrf}, headers=HTML)
    assert refused.status_code == 409
    assert "only a pending or running job can be cancelled" in refused.text
    with database.session(system=True) as session:
        other = make_api_key(session, tenant=make_tenant(session, name="Tenant B"))
    huey.immediate = False  # their job waits for a worker: nothing is fetched
    try:
        theirs = app_client.post(
            "/api/jobs/socials",
            json={"items": [{"site_web": "https://b.example"}]},
            headers={"Authorization": f"Bearer {other}"},
        ).json()["id"]
    finally:
        huey.flush()
        huey.immediate = True
    assert ui.get(f"/discovery/jobs/{theirs}", headers=HTML).status_code == 404
    forged = ui.post(f"/discovery/jobs/{theirs}/cancel", data={"csrf": csrf}, headers=HTML)
    assert forged.status_code == 404
    with database.session(system=True) as session:
        assert session.get(DiscoveryJob, theirs).status == "pending"  # type: ignore[union-attr]
