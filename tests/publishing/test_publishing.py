"""Compose, schedule, approve, publish, confirm, retry, cancel and edit: through the API and
against the sandbox."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import time_machine
from fastapi.testclient import TestClient

from socialcrm.core.db import Database, utcnow
from socialcrm.core.principal import Role
from tests.conftest import make_api_key, make_tenant
from tests.publishing.conftest import fault, run_due, sandbox_posts

pytestmark = pytest.mark.usefixtures("sandbox")


def compose(api: TestClient, accounts: list[int], text: str, **extra: Any) -> httpx.Response:
    body = {"text": text, "targets": [{"account_id": a} for a in accounts], **extra}
    return api.post("/api/publishing/posts", json=body)


def local_in(zone: str, delta: timedelta) -> str:
    """A wall time ``delta`` from now in ``zone``, as the composer sends it."""
    return (
        (utcnow() + delta)
        .astimezone(ZoneInfo(zone))
        .replace(tzinfo=None)
        .isoformat(timespec="minutes")
    )


def statuses(api: TestClient, post_id: int) -> list[str]:
    return [t["status"] for t in api.get(f"/api/publishing/posts/{post_id}").json()["targets"]]


def test_publish_now_reaches_every_network_once_and_is_confirmed(
    api: TestClient, brand: dict[str, int], sandbox: object
) -> None:
    variants = [
        {"account_id": brand["x"], "text": "Spring launch on X"},
        {"account_id": brand["mastodon"]},
        {"account_id": brand["bluesky"], "text": "Spring launch 🦋"},
    ]
    response = api.post(
        "/api/publishing/posts",
        json={"text": "Spring launch, everywhere", "targets": variants, "action": "now"},
    )
    assert response.status_code == 201, response.text
    post = api.get(f"/api/publishing/posts/{response.json()['id']}").json()
    by_network = {t["network"]: t for t in post["targets"]}
    assert {t["status"] for t in post["targets"]} == {"published"}
    assert by_network["x"]["url"].startswith("https://x.com/ada/status/")
    assert by_network["bluesky"]["external_id"].startswith("at://")
    published = sandbox_posts(sandbox)
    assert sorted(p["text"] for p in published) == sorted(
        ["Spring launch on X", "Spring launch, everywhere", "Spring launch 🦋"]
    )
    assert run_due(api_database(api)) == []  # nothing left to publish twice
    assert len(sandbox_posts(sandbox)) == 3


def api_database(_api: TestClient) -> Database:
    from socialcrm.core.db import get_database

    return get_database()


def test_scheduled_post_waits_for_its_time_in_its_zone(
    api: TestClient, brand: dict[str, int], sandbox: object, database: Database
) -> None:
    when = local_in("America/New_York", timedelta(hours=2))
    response = compose(
        api,
        [brand["x"]],
        "Two hours from now",
        action="schedule",
        local_time=when,
        time_zone="America/New_York",
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["local_time"] == when and body["time_zone"] == "America/New_York"
    publish_at = datetime.fromisoformat(body["publish_at"])
    assert abs((publish_at - utcnow()) - timedelta(hours=2)) < timedelta(minutes=2)
    assert run_due(database) == []
    assert statuses(api, body["id"]) == ["scheduled"]
    with time_machine.travel(publish_at + timedelta(seconds=30), tick=True):
        assert run_due(database) == ["published"]
    assert statuses(api, body["id"]) == ["published"]
    assert [p["text"] for p in sandbox_posts(sandbox, "x")] == ["Two hours from now"]


@pytest.mark.parametrize(
    ("local", "zone", "problem"),
    [
        ("2031-03-09T02:30", "America/New_York", "does not exist"),  # spring forward gap
        ("2031-03-30T02:15", "Europe/Paris", "does not exist"),
        ("2031-06-01T09:00", "Mars/Olympus", "unknown time zone"),
        ("2020-06-01T09:00", "Europe/Paris", "in the past"),
    ],
)
def test_impossible_times_are_refused(
    api: TestClient, brand: dict[str, int], local: str, zone: str, problem: str
) -> None:
    response = compose(
        api, [brand["x"]], "hello", action="schedule", local_time=local, time_zone=zone
    )
    assert response.status_code == 400
    assert problem in response.json()["error"]["message"]


def test_the_repeated_autumn_hour_is_resolved_as_asked(
    api: TestClient, brand: dict[str, int]
) -> None:
    base = {"action": "schedule", "local_time": "2031-11-02T01:30", "time_zone": "America/New_York"}
    early = compose(api, [brand["x"]], "early", **base).json()
    late = compose(api, [brand["x"]], "late", occurrence="later", **base).json()
    assert early["publish_at"].startswith("2031-11-02T05:30")  # EDT, UTC-4
    assert late["publish_at"].startswith("2031-11-02T06:30")  # EST, UTC-5


def test_per_network_lengths_are_checked_in_their_own_units(
    api: TestClient, brand: dict[str, int]
) -> None:
    cjk = "日" * 141  # 282 weighted characters on X, only 141 graphemes on Bluesky
    response = compose(api, [brand["x"], brand["bluesky"]], cjk, action="now")
    assert response.status_code == 400
    problems = response.json()["error"]["details"]["too_long_or_empty"]
    assert problems == [
        {
            "account_id": brand["x"],
            "network": "x",
            "used": 282,
            "limit": 280,
            "unit": "weighted characters",
        }
    ]
    family = "👨‍👩‍👧" * 301  # 301 graphemes
    response = compose(api, [brand["bluesky"]], family, action="now")
    assert response.json()["error"]["details"]["too_long_or_empty"][0]["used"] == 301
    assert compose(api, [brand["bluesky"]], family, action="draft").status_code == 201
    counts = api.post("/api/publishing/count", json={"text": cjk}).json()
    assert {c["network"]: c["fits"] for c in counts} == {
        "x": False,
        "bluesky": True,
        "mastodon": True,
    }


def test_transient_failure_retries_with_backoff_and_publishes_once(
    api: TestClient, brand: dict[str, int], sandbox: object, database: Database
) -> None:
    fault(sandbox, network="x", endpoint="publish", status=503, count=1)
    post = compose(api, [brand["x"]], "Try, try again", action="now").json()
    target = api.get(f"/api/publishing/posts/{post['id']}").json()["targets"][0]
    assert target["status"] == "scheduled" and target["attempts"] == 1
    assert target["error"].startswith("will retry")
    assert run_due(database) == []  # the backoff has not passed
    with time_machine.travel(utcnow() + timedelta(seconds=31), tick=True):
        assert run_due(database) == ["published"]
    assert [p["text"] for p in sandbox_posts(sandbox, "x")] == ["Try, try again"]


def test_permanent_failure_is_shown_with_the_networks_reason(
    api: TestClient, brand: dict[str, int], sandbox: object
) -> None:
    fault(sandbox, network="mastodon", endpoint="publish", status=422, count=1)
    post = compose(api, [brand["mastodon"]], "Refused", action="now").json()
    target = api.get(f"/api/publishing/posts/{post['id']}").json()["targets"][0]
    assert target["status"] == "failed"
    assert "refused" in target["error"]
    assert sandbox_posts(sandbox, "mastodon") == []


def test_a_post_the_network_does_not_show_is_a_failure(
    api: TestClient, brand: dict[str, int], sandbox: object
) -> None:
    fault(sandbox, network="x", endpoint="metrics", status=404, count=1)
    post = compose(api, [brand["x"]], "Vanishing", action="now").json()
    target = api.get(f"/api/publishing/posts/{post['id']}").json()["targets"][0]
    assert target["status"] == "failed"
    assert "does not show" in target["error"]
    assert target["external_id"]  # what the network claimed, kept for the investigation


def test_cancel_and_edit_until_publishing_starts(
    api: TestClient, brand: dict[str, int], sandbox: object, database: Database
) -> None:
    when = local_in("Europe/Paris", timedelta(hours=1))
    spec = {"action": "schedule", "local_time": when, "time_zone": "Europe/Paris"}
    kept = compose(api, [brand["x"]], "First draft", **spec).json()
    dropped = compose(api, [brand["mastodon"]], "Never", **spec).json()
    edited = api.put(
        f"/api/publishing/posts/{kept['id']}",
        json={"text": "Final words", "targets": [{"account_id": brand["x"]}], **spec},
    )
    assert edited.status_code == 200, edited.text
    assert api.post(f"/api/publishing/posts/{dropped['id']}/cancel").status_code == 200
    assert statuses(api, dropped["id"]) == ["cancelled"]
    with time_machine.travel(utcnow() + timedelta(hours=1, minutes=1), tick=True):
        assert run_due(database) == ["published"]
    assert [p["text"] for p in sandbox_posts(sandbox)] == ["Final words"]
    too_late = api.post(f"/api/publishing/posts/{kept['id']}/cancel")
    assert too_late.status_code == 409
    assert too_late.json()["error"]["code"] == "conflict"
    assert (
        api.put(
            f"/api/publishing/posts/{kept['id']}",
            json={"text": "Changed", "targets": [{"account_id": brand["x"]}], "action": "now"},
        ).status_code
        == 409
    )


def test_posts_by_non_admins_wait_for_an_admins_approval(
    api: TestClient,
    app_client: TestClient,
    brand: dict[str, int],
    database: Database,
    sandbox: object,
) -> None:
    assert api.put("/api/publishing/settings", json={"approval_required": True}).status_code == 200
    with database.session(system=True) as session:
        marketing = make_api_key(session, tenant=make_tenant(session), role=Role.MARKETING)
    as_marketing = {"Authorization": f"Bearer {marketing}"}
    body = {"text": "Needs a yes", "targets": [{"account_id": brand["x"]}], "action": "now"}
    created = app_client.post("/api/publishing/posts", json=body, headers=as_marketing)
    assert created.status_code == 201, created.text
    post_id = created.json()["id"]
    assert statuses(api, post_id) == ["awaiting_approval"]
    assert run_due(database) == []
    refused = app_client.post(
        f"/api/publishing/posts/{post_id}/review", json={"approve": True}, headers=as_marketing
    )
    assert refused.status_code == 403
    approved = api.post(f"/api/publishing/posts/{post_id}/review", json={"approve": True})
    assert approved.status_code == 200, approved.text
    assert statuses(api, post_id) == ["published"]  # due already: published on approval
    assert [p["text"] for p in sandbox_posts(sandbox)] == ["Needs a yes"]


def test_agents_cannot_publish_and_personal_accounts_are_refused(
    api: TestClient, app_client: TestClient, brand: dict[str, int], database: Database
) -> None:
    with database.session(system=True) as session:
        agent = make_api_key(session, tenant=make_tenant(session), role=Role.AGENT)
    response = app_client.post(
        "/api/publishing/posts",
        json={"text": "hi", "targets": [{"account_id": brand["x"]}]},
        headers={"Authorization": f"Bearer {agent}"},
    )
    assert response.status_code == 403
    assert compose(api, [999_999], "hi").status_code == 400


def test_another_tenant_sees_nothing(
    api: TestClient, app_client: TestClient, brand: dict[str, int], database: Database
) -> None:
    post = compose(api, [brand["x"]], "Ours").json()
    with database.session(system=True) as session:
        other = make_api_key(session, tenant=make_tenant(session, name="Tenant B"))
    headers = {"Authorization": f"Bearer {other}"}
    assert app_client.get(f"/api/publishing/posts/{post['id']}", headers=headers).status_code == 404
    assert app_client.get("/api/publishing/posts", headers=headers).json()["items"] == []
    stolen = app_client.post(
        "/api/publishing/posts",
        json={"text": "theirs", "targets": [{"account_id": brand["x"]}]},
        headers=headers,
    )
    assert stolen.status_code == 400


def test_a_dead_token_without_refresh_fails_the_target_and_asks_to_reconnect(
    api: TestClient, brand: dict[str, int], sandbox: object
) -> None:
    """Mastodon has no refresh tokens: a 401 used to crash the worker and leave the target in
    ``publishing`` with the account still ``active``."""
    fault(sandbox, network="mastodon", endpoint="publish", status=401, count=3)
    post = compose(api, [brand["mastodon"]], "Hello from a dead token", action="now").json()
    target = api.get(f"/api/publishing/posts/{post['id']}").json()["targets"][0]
    assert target["status"] == "failed"
    assert "reconnect" in target["error"]
    account = api.get(f"/api/connections/{brand['mastodon']}").json()
    assert account["status"] == "error"
    assert sandbox_posts(sandbox, "mastodon") == []


def test_a_failed_target_says_its_next_steps_and_is_retried_once_it_can_be(
    api: TestClient, brand: dict[str, int], sandbox: object
) -> None:
    """Issue 19: a failure offers Retry (and Reconnect when the grant is gone); Retry
    publishes it, and is refused once the network has the post or while the grant is dead."""
    fault(sandbox, network="mastodon", endpoint="publish", status=403, count=1)
    post = compose(api, [brand["mastodon"]], "Refused once", action="now").json()
    target = api.get(f"/api/publishing/posts/{post['id']}").json()["targets"][0]
    assert (target["status"], target["next_steps"]) == ("failed", ["retry"])

    retried = api.post(f"/api/publishing/targets/{target['id']}/retry")
    assert retried.status_code == 200, retried.text
    assert retried.json()["targets"][0]["status"] == "scheduled"  # due now, for the queue
    again = api.get(f"/api/publishing/posts/{post['id']}").json()["targets"][0]
    assert (again["status"], again["error"], again["next_steps"]) == ("published", "", [])
    assert [p["text"] for p in sandbox_posts(sandbox, "mastodon")] == ["Refused once"]
    refused = api.post(f"/api/publishing/targets/{target['id']}/retry")
    assert refused.status_code == 409
    assert refused.json()["error"]["details"]["status"] == "published"

    fault(sandbox, network="mastodon", endpoint="publish", status=401, count=3)
    dead = compose(api, [brand["mastodon"]], "Dead grant", action="now").json()
    failed = api.get(f"/api/publishing/posts/{dead['id']}").json()["targets"][0]
    assert failed["next_steps"] == ["reconnect", "retry"]
    blocked = api.post(f"/api/publishing/targets/{failed['id']}/retry")
    assert blocked.status_code == 409
    assert blocked.json()["error"]["details"]["reconnect"] == brand["mastodon"]
    assert "reconnect" in blocked.json()["error"]["message"]
    scheduled = compose(
        api,
        [brand["x"]],
        "Later",
        action="schedule",
        local_time=(utcnow() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"),
        time_zone="UTC",
    ).json()
    assert scheduled["targets"][0]["next_steps"] == ["cancel"]
