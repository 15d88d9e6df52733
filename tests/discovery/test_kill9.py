"""kill -9 a real ``socialcrm worker`` in the middle of a socials job: a new worker resumes the
chunks the dead one held, and the job completes with every site recorded exactly once, its
events stream ends and its EF is charged once (issue 21 item 3; SQLite queue, SQLite or
PostgreSQL database)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from socialcrm.core.db import Database
from socialcrm.core.principal import Principal, Role
from socialcrm.core.queue import make_huey
from socialcrm.core.settings import Settings, get_settings
from socialcrm.discovery import jobs, tasks
from socialcrm.discovery.models import DiscoveryChunk, DiscoveryItem, DiscoveryJob
from socialcrm.discovery.settings import get_discovery_settings
from socialcrm.tenancy.models import Tenant
from socialcrm.tenancy.service import create_api_key, get_or_create_tenant
from tests.conftest import committed_database
from tests.discovery.sites import Site, serve_site

N = 40
SOCIALCRM = Path(sys.executable).with_name("socialcrm")
pytestmark = pytest.mark.usefixtures("fast_crawl")


@pytest.fixture
def committed_db(tmp_path: Path) -> Iterator[tuple[Database, str]]:
    """A database the worker process can see (committed, not a rolled-back test transaction)."""
    with committed_database(tmp_path, "discokill") as (db, url):
        yield db, url


def _page(i: int) -> str:
    return (
        f"<html><body><main>Shop {i}</main><footer>"
        f'<a href="https://www.instagram.com/killshop{i}">Instagram</a></footer></body></html>'
    )


def _state(db: Database, tenant_id: int, job_id: str) -> dict[str, object]:
    with db.session(tenant_id=tenant_id) as session:
        return jobs.snapshot(session, jobs.get_job(session, job_id))


def _wait(db: Database, tenant_id: int, job_id: str, done: object, timeout: float) -> dict:  # type: ignore[type-arg]
    deadline = time.monotonic() + timeout
    state = _state(db, tenant_id, job_id)
    while time.monotonic() < deadline:
        state = _state(db, tenant_id, job_id)
        if done(state):  # type: ignore[operator]
            return state
        time.sleep(0.1)
    raise AssertionError(f"timed out at {state}")


def test_a_job_whose_worker_is_killed_finishes_with_every_site_once(
    committed_db: tuple[Database, str], tmp_path: Path
) -> None:
    db, url = committed_db
    get_discovery_settings().chunk_size = 10  # 4 chunks: two run, two wait in the queue
    env = os.environ | {
        "SOCIALCRM_DATABASE_URL": url,
        "SOCIALCRM_QUEUE_URL": f"sqlite:///{tmp_path}/queue.db",
        "SOCIALCRM_DATA_DIR": str(tmp_path),
        "SOCIALCRM_SECRET_KEYS": ",".join(get_settings().secret_keys),
        "SOCIALCRM_IMMEDIATE_QUEUE": "false",
        "SOCIALCRM_LOG_FORMAT": "json",
        "SOCIALCRM_ALLOW_PRIVATE_FETCH": "127.0.0.0/8",
        "SOCIALCRM_DISCOVERY_CONCURRENCY": "2",
        "SOCIALCRM_DISCOVERY_HOST_DELAY_S": "0",
        "SOCIALCRM_DISCOVERY_LEASE_S": "2",
    }
    with ExitStack() as stack:
        sites: list[Site] = [stack.enter_context(serve_site()) for _ in range(N)]
        for i, site in enumerate(sites):
            site.slow("/", 0.4, _page(i))  # slow answers so the kill lands mid-job
        with db.session(system=True) as session:
            tenant = get_or_create_tenant(session, "Kill Discovery")
            _, key = create_api_key(session, tenant=tenant)
            session.info.update(system=False, tenant_id=tenant.id)
            principal = Principal(tenant_id=tenant.id, role=Role.ADMIN, user_id=None, api_key_id=1)
            items = [
                {"name": f"Shop {i}", "site_web": s.url, "row": i} for i, s in enumerate(sites)
            ]
            job = jobs.create_socials_job(session, principal, items)
            tenant_id, job_id, chunk_count, ef_cost = (
                tenant.id,
                job.id,
                job.chunks_total,
                job.ef_cost,
            )
        # The worker's queue (a file): the chunks go where `socialcrm worker` takes them.
        queue = make_huey(Settings(queue_url=env["SOCIALCRM_QUEUE_URL"], immediate_queue=False))
        chunk_task = queue.task(retries=2, retry_delay=15, context=True)(
            tasks.run_socials_chunk.func
        )
        for chunk in range(chunk_count):
            chunk_task(tenant_id, job_id, chunk)

        log = stack.enter_context((tmp_path / "worker.log").open("w"))
        worker = subprocess.Popen(
            [str(SOCIALCRM), "worker", "--workers", "2"], env=env, stdout=log, stderr=log
        )
        try:
            _wait(db, tenant_id, job_id, lambda s: s["processed_count"] >= 6, 90)
            os.kill(worker.pid, signal.SIGKILL)
            worker.wait(10)
            at_kill = _state(db, tenant_id, job_id)
            assert at_kill["status"] == "running", at_kill
            assert 6 <= at_kill["processed_count"] < N  # type: ignore[operator]
            worker = subprocess.Popen(
                [str(SOCIALCRM), "worker", "--workers", "2"], env=env, stdout=log, stderr=log
            )
            final = _wait(db, tenant_id, job_id, lambda s: s["status"] != "running", 120)
        finally:
            worker.kill()
            worker.wait(10)
        pages_read = [sum(1 for path, _ in s.seen if path == "/") for s in sites]

    assert final["status"] == "completed", final
    assert (final["processed_count"], final["found_count"], final["failed_count"]) == (N, N, 0)
    with db.session(tenant_id=tenant_id) as session:
        rows = list(jobs.result_rows(session, session.get(DiscoveryJob, job_id)))  # type: ignore[arg-type]
        statuses = dict(
            session.execute(
                select(DiscoveryItem.status, func.count()).group_by(DiscoveryItem.status)
            ).all()
        )
        attempts = sorted(session.scalars(select(DiscoveryChunk.attempts)))
        tenant = session.get(Tenant, tenant_id)
        assert tenant is not None
        usage = jobs.month_usage(session, tenant)
    assert statuses == {"done": N}  # every site recorded, none twice (the counts above agree)
    assert [r["row"] for r in rows] == list(range(N))
    assert [r["social_instagram"] for r in rows] == [
        f"https://www.instagram.com/killshop{i}" for i in range(N)
    ]
    assert all(count >= 1 for count in pages_read)  # each site read; again only if unrecorded
    assert max(attempts) >= 2  # a chunk the dead worker held was taken again
    assert (usage.ef_used, usage.jobs) == (ef_cost, 1)  # charged once

    from socialcrm.app import create_app

    with TestClient(create_app()) as api:
        api.headers["Authorization"] = f"Bearer {key}"
        with api.stream("GET", f"/api/jobs/{job_id}/events") as stream:
            text = "".join(stream.iter_text())
        assert text.rstrip().splitlines()[-2] == "event: completed"
        assert api.get("/api/jobs/usage").json()["ef_used"] == ef_cost
