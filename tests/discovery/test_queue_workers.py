"""A job's chunks run on real queue consumers (SQLite and Redis), several workers at once."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from huey import Huey

from socialcrm.core.db import Database, make_engine, set_database
from socialcrm.core.principal import Principal, Role
from socialcrm.core.queue import make_huey
from socialcrm.core.settings import Settings
from socialcrm.discovery import jobs, tasks
from socialcrm.discovery.models import DiscoveryItem, DiscoveryJob
from socialcrm.discovery.settings import get_discovery_settings
from socialcrm.migrations import upgrade
from socialcrm.tenancy.service import get_or_create_tenant
from tests.discovery.sites import serve_site

PAGES = Path(__file__).parent / "pages"
pytestmark = pytest.mark.usefixtures("allow_loopback", "fast_crawl")


@pytest.fixture
def committed_db(tmp_path: Path) -> Iterator[Database]:
    url = f"sqlite:///{tmp_path}/jobs.db"
    upgrade(url)
    db = Database(make_engine(url))
    set_database(db)
    try:
        yield db
    finally:
        set_database(None)
        db.engine.dispose()


def _run_job_on(queue: Huey, db: Database) -> None:
    get_discovery_settings().chunk_size = 3
    chunk_task = queue.task(retries=1, retry_delay=1, context=True)(tasks.run_socials_chunk.func)
    with serve_site() as a, serve_site() as b:
        a.page("/", (PAGES / "bakery_wordpress_footer.html").read_text())
        b.page("/", (PAGES / "shopify_store.html").read_text())
        items = [
            {"name": f"Site {i}", "site_web": (a if i % 2 else b).url + f"/?n={i}", "row": i}
            for i in range(10)
        ]
        with db.session(system=True) as session:
            tenant = get_or_create_tenant(session, "Workers")
            session.info.update(system=False, tenant_id=tenant.id)
            principal = Principal(tenant_id=tenant.id, role=Role.ADMIN, user_id=None, api_key_id=1)
            job = jobs.create_socials_job(session, principal, items)
            job_id, tenant_id, chunks = job.id, tenant.id, job.chunks_total
        assert chunks == 4
        consumer = queue.create_consumer(workers=3, worker_type="thread", periodic=False)
        consumer.start()
        try:
            for chunk in range(chunks):
                chunk_task(tenant_id, job_id, chunk)
            deadline = time.monotonic() + 60
            seen_progress: list[int] = []
            while time.monotonic() < deadline:
                with db.session(tenant_id=tenant_id) as session:
                    state = jobs.snapshot(session, jobs.get_job(session, job_id))
                seen_progress.append(state["processed_count"])
                if state["status"] == "completed":
                    break
                time.sleep(0.05)
        finally:
            consumer.stop(graceful=True)
    assert state["status"] == "completed", state
    assert state["processed_count"] == 10 and state["found_count"] == 10
    assert seen_progress == sorted(seen_progress)  # progress only grows
    with db.session(tenant_id=tenant_id) as session:
        rows = list(jobs.result_rows(session, session.get(DiscoveryJob, job_id)))  # type: ignore[arg-type]
        chunks_used = {i.chunk for i in session.query(DiscoveryItem).all()}
    assert chunks_used == {0, 1, 2, 3}
    assert [r["row"] for r in rows] == list(range(10))
    assert rows[1]["social_instagram"] == "https://www.instagram.com/rosewoodbakerypdx"
    assert rows[0]["social_tiktok"] == "https://www.tiktok.com/@tidepoolswim"


def test_chunks_run_on_the_embedded_sqlite_queue(committed_db: Database, tmp_path: Path) -> None:
    queue = make_huey(
        Settings(queue_url=f"sqlite:///{tmp_path}/q.db", data_dir=tmp_path, immediate_queue=False)
    )
    _run_job_on(queue, committed_db)


def test_chunks_run_on_the_redis_queue(
    committed_db: Database, redis_url: str, tmp_path: Path
) -> None:
    queue = make_huey(Settings(queue_url=redis_url, data_dir=tmp_path, immediate_queue=False))
    queue.flush()
    _run_job_on(queue, committed_db)
