"""The socials jobs API end to end: real HTTP to local websites, real database, real queue."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from socialcrm.core.db import Database
from socialcrm.core.queue import huey
from socialcrm.discovery import runner
from socialcrm.discovery.models import DiscoveryJob
from socialcrm.tenancy.models import Tenant
from tests.conftest import make_api_key, make_tenant
from tests.discovery.sites import Site, serve_site

PAGES = Path(__file__).parent / "pages"
SOCIAL_COLUMNS = [
    "social_facebook",
    "social_instagram",
    "social_linkedin",
    "social_twitter",
    "social_tiktok",
    "social_youtube",
]

pytestmark = pytest.mark.usefixtures("allow_loopback", "fast_crawl")


@pytest.fixture
def bakery() -> Iterator[Site]:
    with serve_site() as site:
        site.page("/", (PAGES / "bakery_wordpress_footer.html").read_text())
        yield site


@pytest.fixture
def quanta() -> Iterator[Site]:
    """Nothing on the homepage; the profiles are on the contact page."""
    with serve_site() as site:
        site.page("/", '<html><body><a href="/contact">Contact us</a></body></html>')
        site.page("/contact", (PAGES / "x_com_and_threads.html").read_text())
        yield site


def _post(api: TestClient, body: Any) -> Any:
    return api.post("/api/jobs/socials", json=body)


def test_a_job_enriches_items_and_keeps_their_other_keys(
    api: TestClient, bakery: Site, quanta: Site
) -> None:
    items = [
        {"name": "Rosewood Bakery", "site_web": bakery.url, "city": "Portland", "rank": 1},
        {"name": "No website", "phone": "555-0100"},
        {"name": "Quanta Robotics", "site_web": quanta.url + "/", "tags": ["b2b"]},
    ]
    parent = _post(api, {"items": items[:1]}).json()["id"]
    created = _post(api, {"items": items, "source_job_id": parent})
    assert created.status_code == 202, created.text
    body = created.json()
    assert body["job_type"] == "socials"
    assert body["status"] == "pending"
    assert body["items_count"] == 2
    assert body["dropped_count"] == 1
    assert body["ef_cost"] == pytest.approx(0.0011)

    state = api.get(f"/api/jobs/{body['id']}").json()
    assert state["status"] == "completed"
    assert state["source_job_id"] == parent
    assert (state["processed_count"], state["found_count"], state["failed_count"]) == (2, 2, 0)
    assert state["progress"] == 1.0

    results = api.get(f"/api/jobs/{body['id']}/results").json()
    assert [r["name"] for r in results] == ["Rosewood Bakery", "Quanta Robotics"]
    first, second = results
    assert first["city"] == "Portland" and first["rank"] == 1
    assert first["social_facebook"] == "https://www.facebook.com/rosewoodbakerypdx"
    assert first["social_instagram"] == "https://www.instagram.com/rosewoodbakerypdx"
    assert first["social_twitter"] == "" and first["social_linkedin"] == ""
    assert second["tags"] == ["b2b"]
    assert second["social_twitter"] == "https://x.com/quantarobotics"
    assert second["social_linkedin"] == "https://www.linkedin.com/company/quanta-robotics"
    assert second["social_threads"] == "https://www.threads.com/@quantarobotics"
    assert all(column in row for row in results for column in SOCIAL_COLUMNS)


def test_results_as_csv_by_query_or_accept_header(api: TestClient, bakery: Site) -> None:
    items = [{"name": "Rosewood Bakery", "site_web": bakery.url, "note": 'says "hi", twice'}]
    job_id = _post(api, {"items": items}).json()["id"]
    by_query = api.get(f"/api/jobs/{job_id}/results?format=csv")
    by_accept = api.get(f"/api/jobs/{job_id}/results", headers={"Accept": "text/csv"})
    for answer in (by_query, by_accept):
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(answer.text)))
        assert len(rows) == 1
        assert rows[0]["name"] == "Rosewood Bakery"
        assert rows[0]["note"] == 'says "hi", twice'
        assert rows[0]["social_facebook"] == "https://www.facebook.com/rosewoodbakerypdx"
        assert rows[0]["social_youtube"] == ""
        header = next(csv.reader(io.StringIO(answer.text)))
        assert header[:3] == ["name", "site_web", "note"]
        assert header[3:9] == SOCIAL_COLUMNS


def test_a_failing_item_never_fails_the_job(api: TestClient, bakery: Site) -> None:
    with serve_site() as broken:
        broken.page("/", "<html>oops</html>", status=500)
        items = [
            {"name": "Rosewood Bakery", "site_web": bakery.url},
            {"name": "Broken", "site_web": broken.url},
            {"name": "Gone", "site_web": bakery.url + "/closed-down"},
        ]
        job_id = _post(api, {"items": items}).json()["id"]
    state = api.get(f"/api/jobs/{job_id}").json()
    assert state["status"] == "completed"
    assert state["failed_count"] == 2
    assert state["failures"]["by_reason"] == {"http_404": 1, "http_500": 1}
    failed = {f["position"]: f for f in state["failures"]["items"]}
    assert failed[1]["reason"] == "http_500" and failed[1]["site_web"] == broken.url
    assert failed[2]["reason"] == "http_404"
    results = api.get(f"/api/jobs/{job_id}/results").json()
    assert results[0]["social_instagram"] == "https://www.instagram.com/rosewoodbakerypdx"
    assert all(results[i][c] == "" for i in (1, 2) for c in SOCIAL_COLUMNS)


def test_private_addresses_are_refused_per_item_without_the_operator_allowing_them(
    api: TestClient, bakery: Site
) -> None:
    from socialcrm.core.settings import get_settings

    get_settings().allow_private_fetch = []
    items = [
        {"name": "Loopback", "site_web": bakery.url},
        {"name": "Metadata", "site_web": "http://169.254.169.254/latest/meta-data/"},
        {"name": "Hex loopback", "site_web": "http://0x7f.1/"},
        {"name": "Mapped loopback", "site_web": f"http://[::ffff:127.0.0.1]:{bakery.port}/"},
    ]
    job_id = _post(api, {"items": items}).json()["id"]
    state = api.get(f"/api/jobs/{job_id}").json()
    assert state["status"] == "completed"
    assert state["failures"]["by_reason"] == {"refused": 4}
    assert bakery.seen == []  # not one request reached the internal site


def test_progress_is_streamed_as_server_sent_events(api: TestClient, bakery: Site) -> None:
    job_id = _post(api, {"items": [{"name": "R", "site_web": bakery.url}]}).json()["id"]
    with api.stream("GET", f"/api/jobs/{job_id}/events") as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        text = "".join(stream.iter_text())
    events = [block for block in text.split("\n\n") if block.strip()]
    names = [
        line.split(": ", 1)[1]
        for e in events
        for line in e.splitlines()
        if line.startswith("event:")
    ]
    assert names[0] == "progress" and names[-1] == "completed"
    final = json.loads(events[-1].split("data: ", 1)[1])
    assert final["processed_count"] == 1 and final["status"] == "completed"


# --- errors -----------------------------------------------------------------------------------


def _error(answer: Any, status: int, code: str) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    error: dict[str, Any] = answer.json()["error"]
    assert error["code"] == code
    return error


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"items": []},
        {"items": "https://a.example"},
        {"items": [{"site_web": "https://a.example"}] * 10_001},
        {"items": ["https://a.example"]},
        {"items": [{"site_web": "https://a.example"}], "source_job_id": "x" * 101},
        {"items": [{"site_web": "https://a.example"}], "unknown": 1},
    ],
    ids=["missing", "empty", "not-a-list", "too-many", "not-objects", "long-source", "extra"],
)
def test_invalid_bodies_are_validation_errors(api: TestClient, body: Any) -> None:
    _error(_post(api, body), 400, "validation_error")


def test_malformed_json_is_a_validation_error(api: TestClient) -> None:
    answer = api.post(
        "/api/jobs/socials", content=b'{"items": [', headers={"Content-Type": "application/json"}
    )
    _error(answer, 400, "validation_error")


def test_no_usable_site_web_is_no_eligible_items(api: TestClient) -> None:
    items = [
        {"name": "a"},
        {"site_web": ""},
        {"site_web": 42},
        {"site_web": "not a url"},
        {"site_web": "mailto:hi@a.example"},
        {"site_web": "ftp://files.example.com"},
        {"site_web": "localhost"},
    ]
    error = _error(_post(api, {"items": items}), 400, "no_eligible_items")
    assert error["details"]["submitted"] == 7


def _set_policy(database: Database, **policy: Any) -> None:
    with database.session(system=True) as session:
        tenant = make_tenant(session, name="Tenant A")
        tenant.policy = {**tenant.policy, **policy}


def test_a_job_over_the_tenant_ceiling_is_quota_exceeded(
    api: TestClient, database: Database
) -> None:
    _set_policy(database, ef_ceiling=0.002)
    items = [{"site_web": f"https://s{i}.example"} for i in range(5)]  # 0.00275 EF
    error = _error(_post(api, {"items": items}), 400, "quota_exceeded")
    assert error["details"] == {"estimate": 0.00275, "ceiling": 0.002, "used": 0.0}
    ok = _post(api, {"items": items[:3]})  # 0.00165 fits
    assert ok.status_code == 202
    error = _error(_post(api, {"items": items[:1]}), 400, "quota_exceeded")
    assert error["details"]["used"] == pytest.approx(0.00165)


def test_too_many_job_creations_are_rate_limited(api: TestClient, database: Database) -> None:
    _set_policy(database, job_rate_limit="2/minute")
    body = {"items": [{"site_web": "https://a.example"}]}
    assert _post(api, body).status_code == 202
    assert _post(api, body).status_code == 202
    answer = _post(api, body)
    error = _error(answer, 429, "rate_limited")
    assert int(answer.headers["Retry-After"]) >= 1
    assert error["details"]["limit"] == "2/minute"


def test_without_a_valid_key_is_unauthenticated(app_client: TestClient) -> None:
    body = {"items": [{"site_web": "https://a.example"}]}
    _error(app_client.post("/api/jobs/socials", json=body), 401, "unauthenticated")
    answer = app_client.post(
        "/api/jobs/socials", json=body, headers={"Authorization": "Bearer scrm_nope"}
    )
    _error(answer, 401, "unauthenticated")
    _error(app_client.get("/api/jobs/00000000-0000-0000-0000-000000000000"), 401, "unauthenticated")


def test_an_inactive_account_is_refused(api: TestClient, database: Database) -> None:
    with database.session(system=True) as session:
        make_tenant(session, name="Tenant A").active = False
    answer = _post(api, {"items": [{"site_web": "https://a.example"}]})
    _error(answer, 403, "inactive_account")


def test_another_tenant_cannot_see_a_job(
    api: TestClient, app_client: TestClient, database: Database, bakery: Site
) -> None:
    job_id = _post(api, {"items": [{"site_web": bakery.url}]}).json()["id"]
    with database.session(system=True) as session:
        other_key = make_api_key(session, tenant=make_tenant(session, name="Tenant B"))
    headers = {"Authorization": f"Bearer {other_key}"}
    for path in ("", "/results", "/events"):
        _error(app_client.get(f"/api/jobs/{job_id}{path}", headers=headers), 404, "not_found")
    _error(api.get("/api/jobs/not-a-job-id"), 404, "not_found")


def test_results_wait_for_the_job_to_finish(api: TestClient, database: Database) -> None:
    huey.immediate = False  # the chunks stay queued: nothing runs them
    try:
        job_id = _post(api, {"items": [{"site_web": "https://a.example"}]}).json()["id"]
        assert api.get(f"/api/jobs/{job_id}").json()["status"] == "pending"
        error = _error(api.get(f"/api/jobs/{job_id}/results"), 409, "conflict")
        assert error["details"]["status"] == "pending"
    finally:
        huey.flush()
        huey.immediate = True


def test_a_job_that_cannot_finish_is_marked_failed(api: TestClient, database: Database) -> None:
    huey.immediate = False
    try:
        job_id = _post(api, {"items": [{"site_web": "https://a.example"}]}).json()["id"]
    finally:
        huey.flush()
        huey.immediate = True
    with database.session(system=True) as session:
        tenant_id = session.get(DiscoveryJob, job_id).tenant_id  # type: ignore[union-attr]
        assert session.get(Tenant, tenant_id) is not None
    runner.fail_job(database, tenant_id, job_id, "chunk 0: database unavailable")
    state = api.get(f"/api/jobs/{job_id}").json()
    assert state["status"] == "failed"
    assert "database unavailable" in state["error"]


# --- source jobs, usage, CSV (issues 21 item 11 and 22 item 2) --------------------------------


def test_source_job_id_must_name_a_job_of_the_same_account(
    api: TestClient, app_client: TestClient, database: Database
) -> None:
    body = {"items": [{"site_web": "https://a.example"}]}
    huey.immediate = False  # nothing needs to run: only the checks at creation
    try:
        own = _post(api, body).json()["id"]
        with database.session(system=True) as session:
            other_key = make_api_key(session, tenant=make_tenant(session, name="Tenant B"))
        headers = {"Authorization": f"Bearer {other_key}"}
        theirs = app_client.post("/api/jobs/socials", json=body, headers=headers).json()["id"]
        for unknown in ("parent-42", "00000000-0000-0000-0000-000000000000", theirs):
            error = _error(_post(api, {**body, "source_job_id": unknown}), 400, "validation_error")
            assert error["details"] == {"source_job_id": unknown}
        chained = _post(api, {**body, "source_job_id": own})
        assert chained.status_code == 202
        assert chained.json()["source_job_id"] == own
    finally:
        huey.flush()
        huey.immediate = True


def test_usage_of_the_month(api: TestClient, app_client: TestClient, database: Database) -> None:
    empty = api.get("/api/jobs/usage").json()
    assert (empty["ef_used"], empty["ef_ceiling"], empty["ef_remaining"], empty["jobs"]) == (
        0.0,
        None,
        None,
        0,
    )
    assert empty["month_start"].endswith("-01T00:00:00+00:00")
    _set_policy(database, ef_ceiling=0.01)
    huey.immediate = False
    try:
        first = _post(api, {"items": [{"site_web": f"https://s{i}.example"} for i in range(4)]})
        second = _post(api, {"items": [{"site_web": "https://t.example"}]}).json()["id"]
        with database.session(system=True) as session:
            other_key = make_api_key(session, tenant=make_tenant(session, name="Tenant B"))
        other = {"Authorization": f"Bearer {other_key}"}
        app_client.post(
            "/api/jobs/socials", json={"items": [{"site_web": "x.example"}]}, headers=other
        )
    finally:
        huey.flush()
        huey.immediate = True
    with database.session(system=True) as session:
        tenant_id = session.get(DiscoveryJob, second).tenant_id  # type: ignore[union-attr]
    runner.fail_job(database, tenant_id, second, "chunk 0: gave up")  # a failed job is given back
    usage = api.get("/api/jobs/usage").json()
    assert usage["ef_used"] == pytest.approx(first.json()["ef_cost"]) == pytest.approx(0.0022)
    assert usage["ef_ceiling"] == 0.01
    assert usage["ef_remaining"] == pytest.approx(0.0078)
    assert usage["jobs"] == 2  # the other tenant's job is not counted
    assert app_client.get("/api/jobs/usage", headers=other).json()["jobs"] == 1


def test_the_csv_header_lists_only_the_columns_of_the_items_returned(
    api: TestClient, bakery: Site
) -> None:
    items = [
        {"name": "Rosewood Bakery", "site_web": bakery.url, "city": "Portland"},
        {"name": "No website", "phone": "555-0100", "fax": "555-0101"},  # dropped
    ]
    job_id = _post(api, {"items": items}).json()["id"]
    text = api.get(f"/api/jobs/{job_id}/results?format=csv").text
    header = next(csv.reader(io.StringIO(text)))
    assert header[:3] == ["name", "site_web", "city"]
    assert "phone" not in header and "fax" not in header
    assert header[3:9] == SOCIAL_COLUMNS


def test_csv_cells_that_a_spreadsheet_would_run_are_escaped(api: TestClient, bakery: Site) -> None:
    """OWASP CSV injection: = + - @ tab and carriage return start a formula."""
    cells = {
        "name": '=HYPERLINK("https://evil.example","Click")',
        "plus": "+1+cmd|' /C calc'!A0",
        "minus": "-2+3",
        "at": "@SUM(1+1)*cmd|' /C calc'!A0",
        "tab": "\t=1+1",
        "cr": "\r=1+1",
        "fine": "Rosewood = good",
        "number": -5,
        "signed_text": "-5",
        "=formula_key": "x",
    }
    job_id = _post(api, {"items": [{"site_web": bakery.url, **cells}]}).json()["id"]
    text = api.get(f"/api/jobs/{job_id}/results?format=csv").text
    header, row = list(csv.reader(io.StringIO(text, newline="")))
    by_column = dict(zip(header, row, strict=True))
    for key in ("name", "plus", "minus", "at", "tab", "cr"):
        assert by_column[key] == "'" + cells[key], key
    assert by_column["fine"] == "Rosewood = good"
    assert by_column["number"] == by_column["signed_text"] == "-5"  # a number is no formula
    assert "'=formula_key" in header and "=formula_key" not in header
    json_row = api.get(f"/api/jobs/{job_id}/results").json()[0]
    assert json_row["name"] == cells["name"]  # JSON is data, not a spreadsheet: unchanged


# --- cancelling a job, and a page following it (issue 19) ---------------------------------


def test_a_pending_job_is_cancelled_and_its_chunks_then_read_nothing(
    api: TestClient, database: Database
) -> None:
    from socialcrm.discovery import chunks
    from socialcrm.discovery.crawler import SiteResult

    huey.immediate = False  # the chunks stay queued: the job waits for a worker
    try:
        job_id = _post(api, {"items": [{"site_web": "https://a.example"}]}).json()["id"]
    finally:
        huey.flush()
        huey.immediate = True
    with database.session(system=True) as session:
        tenant_id = session.get(DiscoveryJob, job_id).tenant_id  # type: ignore[union-attr]
    # A worker holds the chunk when the person cancels: its next batch is not recorded.
    lease = chunks.claim(database, tenant_id, job_id, 0)
    assert lease is not None

    cancelled = api.post(f"/api/jobs/{job_id}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    assert cancelled.json()["finished_at"] is not None
    error = _error(api.post(f"/api/jobs/{job_id}/cancel"), 409, "conflict")
    assert error["details"]["status"] == "cancelled"

    with pytest.raises(runner.JobCancelled):
        runner.record_results(lease, [SiteResult(1, failure="timeout")])
    assert runner.run_chunk(database, tenant_id, job_id, 0) == 0
    state = api.get(f"/api/jobs/{job_id}").json()
    assert (state["status"], state["processed_count"]) == ("cancelled", 0)
    assert api.get(f"/api/jobs/{job_id}/results").json()[0]["social_facebook"] == ""
    with api.stream("GET", f"/api/jobs/{job_id}/events") as stream:
        text = "".join(stream.iter_text())
    assert text.rstrip().splitlines()[-2] == "event: cancelled"


def test_the_event_stream_and_results_follow_a_login_session_but_no_stranger(
    app_client: TestClient, database: Database, bakery: Site
) -> None:
    """A page's EventSource and download links send the session cookie, never a key."""
    from socialcrm.core.principal import Role
    from socialcrm.tenancy.service import create_user
    from tests.conftest import ui_login

    with database.session(system=True) as session:
        tenant = make_tenant(session, name="Tenant A")
        key = make_api_key(session, tenant=tenant)
        create_user(
            session, tenant=tenant, email="a@a.test", password="pw-pw-pw-pw", role=Role.AGENT
        )
    headers = {"Authorization": f"Bearer {key}"}
    body = {"items": [{"name": "R", "site_web": bakery.url}]}
    job_id = app_client.post("/api/jobs/socials", json=body, headers=headers).json()["id"]

    _error(app_client.get(f"/api/jobs/{job_id}/events"), 401, "unauthenticated")
    _error(app_client.get(f"/api/jobs/{job_id}/results"), 401, "unauthenticated")
    ui_login(app_client, "a@a.test", "pw-pw-pw-pw")
    with app_client.stream("GET", f"/api/jobs/{job_id}/events") as stream:
        assert "event: completed" in "".join(stream.iter_text())
    results = app_client.get(f"/api/jobs/{job_id}/results?format=json")
    assert results.headers["content-disposition"].endswith(f'socials-{job_id}.json"')
    assert results.json()[0]["social_facebook"] == "https://www.facebook.com/rosewoodbakerypdx"
    # Creating a job stays the API's (a key); the UI creates its own through the page.
    assert app_client.post("/api/jobs/socials", json=body).status_code == 401
