"""A target stuck in ``publishing`` (its worker died) is shown as stuck and can be cancelled,
through the API and the publishing page; one a live worker holds cannot."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from socialcrm.core.db import Database, utcnow
from socialcrm.core.principal import Role
from socialcrm.publishing import sending
from socialcrm.publishing.models import PostTarget, TargetStatus
from socialcrm.tenancy.service import create_user
from tests.conftest import csrf_of, make_tenant, ui_login
from tests.publishing.conftest import sandbox_posts
from tests.publishing.test_publishing import compose, local_in

pytestmark = pytest.mark.usefixtures("sandbox")


def in_flight(database: Database, target_id: int, *, lease: timedelta) -> None:
    """What a worker leaves when it took the target ten minutes ago (and, with a negative
    ``lease``, died since)."""
    now = utcnow()
    with database.session(system=True) as session:
        session.execute(
            update(PostTarget)
            .where(PostTarget.id == target_id)
            .values(
                status=TargetStatus.PUBLISHING,
                claimed_by="dead-host:1234:1",
                claimed_at=now - timedelta(minutes=10),
                started_at=now - timedelta(minutes=10),
                lease_owner="dead-host:1234:1:abcd",
                lease_until=now + lease,
                attempts=1,
            )
        )


def scheduled_target(api: TestClient, account_id: int, text: str) -> tuple[int, int]:
    when = local_in("UTC", timedelta(hours=1))
    post = compose(api, [account_id], text, action="schedule", local_time=when).json()
    return post["id"], post["targets"][0]["id"]


def test_a_stuck_target_is_shown_and_cancelled_through_the_api(
    api: TestClient, brand: dict[str, int], sandbox: object, database: Database
) -> None:
    post_id, target_id = scheduled_target(api, brand["x"], "Left behind")
    in_flight(database, target_id, lease=timedelta(minutes=-1))
    target = api.get(f"/api/publishing/posts/{post_id}").json()["targets"][0]
    assert (target["status"], target["stuck"]) == ("publishing", True)
    assert target["claimed_at"] is not None
    stuck = api.get("/api/publishing/posts", params={"status": "stuck"}).json()["items"]
    assert [p["id"] for p in stuck] == [post_id]

    answer = api.post(f"/api/publishing/targets/{target_id}/cancel")
    assert answer.status_code == 200, answer.text
    cancelled = answer.json()["targets"][0]
    assert (cancelled["status"], cancelled["stuck"]) == ("cancelled", False)
    assert "may have reached the network" in cancelled["error"]
    assert api.get("/api/publishing/posts", params={"status": "stuck"}).json()["items"] == []
    # No worker takes a cancelled target over.
    assert sending.interrupted_targets(database, utcnow()) == []
    with database.session(system=True) as session:
        row = session.get(PostTarget, target_id)
        assert row is not None
        tenant_id = row.tenant_id
    assert sending.publish_target(database, tenant_id, target_id, worker="test") == "skipped"
    assert sandbox_posts(sandbox, "x") == []


def test_a_target_a_live_worker_holds_is_not_cancelled(
    api: TestClient, brand: dict[str, int], database: Database
) -> None:
    post_id, target_id = scheduled_target(api, brand["x"], "In flight")
    in_flight(database, target_id, lease=timedelta(minutes=4))
    target = api.get(f"/api/publishing/posts/{post_id}").json()["targets"][0]
    assert (target["status"], target["stuck"]) == ("publishing", False)
    refused = api.post(f"/api/publishing/targets/{target_id}/cancel")
    assert refused.status_code == 409
    error = refused.json()["error"]
    assert error["code"] == "conflict" and "right now" in error["message"]
    assert error["details"]["lease_until"]
    assert api.post("/api/publishing/targets/999999/cancel").status_code == 404


def test_waiting_targets_cancel_one_account_at_a_time(
    api: TestClient, brand: dict[str, int]
) -> None:
    when = local_in("UTC", timedelta(hours=1))
    accounts = [brand["x"], brand["mastodon"]]
    post = compose(api, accounts, "Two accounts", action="schedule", local_time=when).json()
    first = post["targets"][0]["id"]
    answer = api.post(f"/api/publishing/targets/{first}/cancel")
    assert answer.status_code == 200, answer.text
    assert [t["status"] for t in answer.json()["targets"]] == ["cancelled", "scheduled"]
    again = api.post(f"/api/publishing/targets/{first}/cancel")
    assert again.status_code == 409 and "cancelled" in again.json()["error"]["message"]


def test_the_publishing_page_shows_a_stuck_target_and_cancels_it(
    app_client: TestClient, api: TestClient, brand: dict[str, int], database: Database
) -> None:
    _, target_id = scheduled_target(api, brand["x"], "Stuck on the page")
    in_flight(database, target_id, lease=timedelta(minutes=-1))
    with database.session(system=True) as session:
        tenant = make_tenant(session, name="Tenant A")
        create_user(
            session,
            tenant=tenant,
            email="mo@acme.test",
            password="pw-123456789",
            role=Role.MARKETING,
        )
    api.headers.pop("Authorization")
    ui = ui_login(app_client, "mo@acme.test", "pw-123456789")
    page = ui.get("/publishing").text
    assert "stuck since" in page
    assert f'action="/publishing/targets/{target_id}/cancel"' in page
    done = ui.post(
        f"/publishing/targets/{target_id}/cancel",
        data={"csrf": csrf_of(page)},
        follow_redirects=False,
    )
    assert done.status_code == 303
    with database.session(system=True) as session:
        target = session.get(PostTarget, target_id)
        assert target is not None and target.status == TargetStatus.CANCELLED
