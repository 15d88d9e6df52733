"""Company Accounts with a website get profile suggestions from the same engine."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from socialcrm.core.db import Database
from socialcrm.discovery import tasks
from tests.conftest import make_api_key, make_tenant
from tests.discovery.sites import Site, serve_site

PAGES = Path(__file__).parent / "pages"
pytestmark = pytest.mark.usefixtures("allow_loopback", "fast_crawl")


@pytest.fixture
def website() -> Iterator[Site]:
    with serve_site() as site:
        site.page("/", (PAGES / "bakery_wordpress_footer.html").read_text())
        site.page("/v2", (PAGES / "shopify_store.html").read_text())
        yield site


def _profiles(api: TestClient, account_id: int) -> dict[str, Any]:
    answer = api.get(f"/api/accounts/{account_id}/profile-suggestions")
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def test_a_new_account_gets_suggestions_and_rejections_are_remembered(
    api: TestClient, website: Site
) -> None:
    created = api.post("/api/accounts", json={"name": "Rosewood Bakery", "website": website.url})
    account_id = created.json()["id"]
    body = _profiles(api, account_id)
    assert body["last_run_at"] is not None and body["last_failure"] is None
    found = {s["network"]: s for s in body["suggestions"]}
    assert {n: s["url"] for n, s in found.items()} == {
        "facebook": "https://www.facebook.com/rosewoodbakerypdx",
        "instagram": "https://www.instagram.com/rosewoodbakerypdx",
    }
    assert all(s["status"] == "suggested" for s in found.values())

    fb, ig = found["facebook"]["id"], found["instagram"]["id"]
    base = f"/api/accounts/{account_id}/profile-suggestions"
    assert api.post(f"{base}/{fb}/accept").json()["status"] == "accepted"
    rejected = api.post(f"{base}/{ig}/reject").json()
    assert rejected["status"] == "rejected" and rejected["decided_by"].startswith("api_key:")

    # the nightly run (or "discover now") reads the site again: nothing comes back
    assert api.post(f"/api/accounts/{account_id}/discover").status_code == 202
    again = {s["network"]: s["status"] for s in _profiles(api, account_id)["suggestions"]}
    assert again == {"facebook": "accepted", "instagram": "rejected"}


def test_a_changed_website_is_read_again(api: TestClient, website: Site) -> None:
    account_id = api.post("/api/accounts", json={"name": "Tidepool Swimwear"}).json()["id"]
    assert _profiles(api, account_id)["suggestions"] == []  # no website, nothing read
    api.patch(f"/api/accounts/{account_id}", json={"website": website.url + "/v2"})
    urls = {s["url"] for s in _profiles(api, account_id)["suggestions"]}
    assert "https://www.tiktok.com/@tidepoolswim" in urls


def test_an_unreachable_website_is_recorded_not_raised(api: TestClient) -> None:
    account_id = api.post(
        "/api/accounts", json={"name": "Closed", "website": "http://127.0.0.1:9/"}
    ).json()["id"]
    body = _profiles(api, account_id)
    assert body["suggestions"] == [] and body["last_failure"] == "connect_error"


def test_nightly_run_covers_every_account_with_a_website(
    api: TestClient, website: Site, database: Database
) -> None:
    api.post("/api/accounts", json={"name": "A", "website": website.url})
    api.post("/api/accounts", json={"name": "B"})
    assert tasks.nightly_account_discovery.call_local() == 1


def test_suggestions_are_per_tenant(
    api: TestClient, app_client: TestClient, website: Site, database: Database
) -> None:
    account_id = api.post("/api/accounts", json={"name": "R", "website": website.url}).json()["id"]
    suggestion = _profiles(api, account_id)["suggestions"][0]["id"]
    with database.session(system=True) as session:
        other = make_api_key(session, tenant=make_tenant(session, name="Tenant B"))
    headers = {"Authorization": f"Bearer {other}"}
    base = f"/api/accounts/{account_id}/profile-suggestions"
    assert app_client.get(base, headers=headers).status_code == 404
    answer = app_client.post(f"{base}/{suggestion}/reject", headers=headers)
    assert answer.status_code == 404
    assert api.post(f"{base}/999999/accept").status_code == 404
