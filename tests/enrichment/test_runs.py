"""Trigger (B): enrichment runs, and the faults they survive (429, budgets, 5xx, 404)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select, text, update

from socialcrm.core.db import Database, utcnow
from socialcrm.core.queue import huey
from socialcrm.enrichment import runs
from socialcrm.enrichment.models import EnrichmentRun, SocialProfileLink, SocialProfileSnapshot
from tests.enrichment.conftest import connect_x, make_contact


def x_people(n: int) -> list[dict[str, Any]]:
    return [
        {
            "name": f"Person {i:03d}",
            "emails": [f"p{i}@example.org"],
            "accounts": [
                {
                    "network": "x",
                    "user_id": str(5000 + i),
                    "handle": f"p{i:03d}",
                    "display_name": f"Person {i:03d}",
                    "followers": i,
                }
            ],
        }
        for i in range(n)
    ]


def load_people(sandbox: Any, n: int) -> None:
    import json

    from tests.conftest import TEST_WORLD

    world = json.loads(TEST_WORLD.read_text())
    world["people"] = world["people"] + x_people(n)
    sandbox.load_world(world)


def seed(api: TestClient, n: int) -> list[int]:
    return [
        make_contact(
            api, name=f"Person {i:03d}", handles=[{"network": "x", "handle": f"p{i:03d}"}]
        )["id"]
        for i in range(n)
    ]


def run_state(api: TestClient, run_id: int) -> dict[str, Any]:
    response = api.get(f"/api/enrichment/runs/{run_id}")
    assert response.status_code == 200
    return response.json()  # type: ignore[no-any-return]


def links_per_contact(database: Database) -> dict[int, int]:
    with database.session(system=True) as session:
        rows = session.execute(
            select(SocialProfileLink.contact_id, func.count()).group_by(
                SocialProfileLink.contact_id
            )
        ).all()
        return {int(c): int(n) for c, n in rows}


def resume(database: Database, tenant_id: int, run_id: int) -> None:
    """What the queue does at the ETA: run the task again once the reset time has come."""
    with database.session(system=True) as session:
        session.execute(
            update(EnrichmentRun)
            .where(EnrichmentRun.id == run_id)
            .values(resume_at=utcnow() - timedelta(seconds=1))
        )
    from socialcrm.enrichment.tasks import run_enrichment

    run_enrichment(tenant_id, run_id)


def tenant_of(database: Database, run_id: int) -> int:
    with database.session(system=True) as session:
        return int(session.get(EnrichmentRun, run_id).tenant_id)  # type: ignore[union-attr]


def test_run_goes_over_every_contact_and_reports_counts(
    api: TestClient, world_restore: Any, database: Database
) -> None:
    load_people(world_restore, 12)
    connect_x(api)
    ids = seed(api, 12)
    started = api.post("/api/enrichment/runs")
    assert started.status_code == 202, started.text
    state = run_state(api, started.json()["id"])
    assert state["status"] == "completed"
    assert (state["processed"], state["total"], state["cursor"]) == (12, 12, ids[-1])
    # The contacts were enriched on creation already: the run links nothing twice.
    assert links_per_contact(database) == {cid: 1 for cid in ids}
    listed = api.get("/api/enrichment/runs").json()["items"]
    assert listed[0]["id"] == state["id"]
    assert api.get("/api/enrichment/runs/999999").status_code == 404


def test_rate_limit_persists_the_cursor_and_reschedules_at_the_reset(
    api: TestClient, world_restore: Any, database: Database
) -> None:
    import time_machine

    load_people(world_restore, 10)
    connect_x(api)
    ids = seed_without_trigger(api, database, 10)
    # Three answers, then the network's 429 with its reset two minutes away.
    world_restore.set_budget(network="x", limit=3, window_s=120, endpoint="lookup_handle")
    run = api.post("/api/enrichment/runs").json()
    tenant_id = tenant_of(database, run["id"])
    state = run_state(api, run["id"])
    assert state["status"] == "waiting"
    assert 0 < state["processed"] < 10
    assert state["cursor"] == ids[state["processed"] - 1]  # persisted with the links
    assert len(links_per_contact(database)) == state["processed"]
    scheduled = [t for t in huey.scheduled() if t.args == (tenant_id, run["id"])]
    assert scheduled, "the run waits in the queue with an ETA, not in a sleeping worker"
    eta = scheduled[-1].eta
    assert eta is not None
    # The ETA is the network's reset time (give or take the rounding of its header).
    from datetime import datetime

    resume_at = datetime.fromisoformat(state["resume_at"])
    assert abs((eta.replace(tzinfo=resume_at.tzinfo) - resume_at).total_seconds()) < 1
    assert resume_at - utcnow() > timedelta(seconds=60)
    huey.flush()
    # A real 429 (no warning in the headers): the same path.
    world_restore.add_fault(network="x", endpoint="lookup_handle", status=429, retry_after=90)
    with time_machine.travel(resume_at + timedelta(seconds=1), tick=True):
        from socialcrm.enrichment.tasks import run_enrichment

        run_enrichment(tenant_id, run["id"])
        state = run_state(api, run["id"])
        assert state["status"] == "waiting"
        assert state["rate_limited"] == 1
        again = datetime.fromisoformat(state["resume_at"])
        assert again - utcnow() > timedelta(seconds=80)
    clock = again
    for _ in range(6):
        with time_machine.travel(clock + timedelta(seconds=1), tick=True):
            run_enrichment(tenant_id, run["id"])
            state = run_state(api, run["id"])
        if state["status"] == "completed":
            break
        clock = datetime.fromisoformat(state["resume_at"])
    assert state["status"] == "completed"
    assert state["processed"] == 10  # nothing done twice, nothing skipped
    assert links_per_contact(database) == {cid: 1 for cid in ids}
    huey.flush()


def seed_without_trigger(api: TestClient, database: Database, n: int) -> list[int]:
    """Contacts created before any account was connected are not enriched on creation."""
    from socialcrm.connections.models import SocialAccount

    with database.session(system=True) as session:
        session.execute(update(SocialAccount).values(status="revoked"))
    ids = seed(api, n)
    with database.session(system=True) as session:
        session.execute(update(SocialAccount).values(status="active"))
    return ids


def test_remaining_budget_headers_slow_the_run_down_before_a_429(
    api: TestClient, world_restore: Any, database: Database
) -> None:
    load_people(world_restore, 14)
    connect_x(api)
    ids = seed_without_trigger(api, database, 14)
    world_restore.set_budget(network="x", limit=10, window_s=4, endpoint="lookup_handle")
    run = api.post("/api/enrichment/runs").json()
    tenant_id = tenant_of(database, run["id"])
    for _ in range(10):
        state = run_state(api, run["id"])
        if state["status"] == "completed":
            break
        assert state["status"] == "waiting"
        resume(database, tenant_id, run["id"]) if _due(state) else _sleep_until(state)
    state = run_state(api, run["id"])
    assert state["status"] == "completed"
    assert state["rate_limited"] == 0  # slowed down in time: the network never said 429
    assert state["processed"] == 14
    assert links_per_contact(database) == {cid: 1 for cid in ids}
    huey.flush()


def _due(state: dict[str, Any]) -> bool:
    from datetime import datetime

    return datetime.fromisoformat(state["resume_at"]) <= utcnow()


def _sleep_until(state: dict[str, Any]) -> None:
    import time
    from datetime import datetime

    wait = (datetime.fromisoformat(state["resume_at"]) - utcnow()).total_seconds()
    time.sleep(max(wait, 0) + 0.05)  # the test plays the queue's clock; workers never sleep


def test_5xx_is_retried_and_an_outage_backs_off_then_resumes(
    api: TestClient, world_restore: Any, database: Database
) -> None:
    load_people(world_restore, 6)
    connect_x(api)
    ids = seed_without_trigger(api, database, 6)
    world_restore.add_fault(network="x", endpoint="lookup_handle", status=503, count=2)
    run = api.post("/api/enrichment/runs").json()
    state = run_state(api, run["id"])
    assert state["status"] == "completed"
    assert state["transient_errors"] == 2
    assert links_per_contact(database) == {cid: 1 for cid in ids}
    # A long outage: the run waits with a growing backoff instead of failing.
    with database.session(system=True) as session:
        session.execute(text("DELETE FROM social_profile_links"))
        session.execute(text("DELETE FROM social_profile_snapshots"))  # nothing cached
    world_restore.add_fault(network="x", endpoint="lookup_handle", status=500, count=1000)
    second = api.post("/api/enrichment/runs").json()
    tenant_id = tenant_of(database, second["id"])
    waits = []
    for _ in range(3):
        state = run_state(api, second["id"])
        assert state["status"] == "waiting"
        waits.append(state["resume_at"])
        resume(database, tenant_id, second["id"])
    with database.session(system=True) as session:
        row = session.get(EnrichmentRun, second["id"])
        assert row is not None and row.outage_attempts >= 3
    world_restore.clear_faults()
    resume(database, tenant_id, second["id"])
    state = run_state(api, second["id"])
    assert state["status"] == "completed"
    assert links_per_contact(database) == {cid: 1 for cid in ids}
    huey.flush()


def test_a_removed_profile_turns_the_link_stale_and_keeps_the_snapshot(
    api: TestClient, world_restore: Any, database: Database
) -> None:
    connect_x(api)
    contact = make_contact(api, name="Ada Lovelace", handles=[{"network": "x", "handle": "ada"}])
    with database.session(system=True) as session:
        session.execute(
            update(SocialProfileSnapshot).values(fetched_at=utcnow() - timedelta(hours=25))
        )
    world_restore.add_fault(network="x", endpoint="profile", status=404, count=5)
    run = api.post("/api/enrichment/runs").json()
    state = run_state(api, run["id"])
    assert state["status"] == "completed"
    assert state["stale"] == 1
    social = api.get(f"/api/contacts/{contact['id']}/social").json()
    x = social["links"][0]
    assert x["status"] == "stale", social
    assert x["snapshot"]["gone"] is True
    assert x["snapshot"]["followers"] == 1200  # kept for history
    with database.session(system=True) as session:
        assert session.scalar(select(func.count()).select_from(SocialProfileSnapshot)) == 2


def test_only_one_run_at_a_time_and_roles(
    api: TestClient, app_client: TestClient, sandbox: Any, database: Database
) -> None:
    from socialcrm.core.principal import Role
    from tests.conftest import make_api_key, make_tenant

    assert api.post("/api/enrichment/runs").status_code == 409  # nothing connected yet
    connect_x(api)
    with database.session(system=True) as session:
        tenant_id = int(session.scalar(text("SELECT id FROM tenants LIMIT 1")) or 0)
    with database.session(tenant_id=tenant_id) as session:
        run, new = runs.create_run(session, trigger="manual", actor="test")
        assert new
    again = api.post("/api/enrichment/runs")
    assert again.status_code == 200  # the run under way, not a second one
    assert again.json()["id"] == run.id
    with database.session(system=True) as session:
        tenant = make_tenant(session, name="Tenant A")
        agent = make_api_key(session, tenant=tenant, role=Role.AGENT)
    refused = app_client.post("/api/enrichment/runs", headers={"Authorization": f"Bearer {agent}"})
    assert refused.status_code == 403


def test_a_run_streams_its_progress_to_its_end_and_a_gone_run_is_not_found(
    api: TestClient, sandbox: Any
) -> None:
    """The events loop is the shared one (core/web/sse.py): progress, then ``end`` once the run
    is over; an unknown run is a 404 envelope before any stream starts."""
    import json

    connect_x(api)
    seed(api, 2)
    run_id = api.post("/api/enrichment/runs").json()["id"]  # runs at once (immediate queue)
    with api.stream("GET", f"/api/enrichment/runs/{run_id}/events") as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        text = "".join(stream.iter_text())
    blocks = [b for b in text.split("\n\n") if b.strip()]
    assert [b.splitlines()[0] for b in blocks] == ["event: progress", "event: end"]
    final = json.loads(blocks[-1].split("data: ", 1)[1])
    assert (final["status"], final["processed"], final["total"]) == ("completed", 2, 2)
    missing = api.get("/api/enrichment/runs/999999/events")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
