"""Chunk leases (issue 21 item 3): a chunk runs under one live worker at a time, a chunk whose
worker died is resumed for its pending items only, each item is recorded exactly once, and a
chunk that keeps killing its worker ends with its items failed (so the job finishes)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import select, update

from socialcrm.core.db import Database, utcnow
from socialcrm.core.principal import Principal, Role
from socialcrm.discovery import chunks, jobs, runner
from socialcrm.discovery.chunks import LeaseLost
from socialcrm.discovery.crawler import SiteResult
from socialcrm.discovery.models import DiscoveryChunk, DiscoveryItem
from socialcrm.discovery.settings import get_discovery_settings
from socialcrm.tenancy.service import get_or_create_tenant
from tests.discovery.sites import Site, serve_site

pytestmark = pytest.mark.usefixtures("allow_loopback", "fast_crawl")
LEASE = timedelta(seconds=get_discovery_settings().lease_s)


def _footer(handle: str) -> str:
    return f'<html><body><footer><a href="https://www.instagram.com/{handle}">ig</a></footer>'


@pytest.fixture
def site() -> Iterator[Site]:
    with serve_site() as running:
        for i in range(3):
            running.page(f"/s{i}/", _footer(f"shop{i}"))
        yield running


@dataclass(frozen=True)
class Job:
    tenant_id: int
    id: str
    item_ids: list[int]


def _job(db: Database, site: Site) -> Job:
    items = [{"name": f"Shop {i}", "site_web": f"{site.url}/s{i}/"} for i in range(3)]
    with db.session(system=True) as session:
        tenant = get_or_create_tenant(session, "Leases")
        session.info.update(system=False, tenant_id=tenant.id)
        principal = Principal(tenant_id=tenant.id, role=Role.ADMIN, user_id=None, api_key_id=1)
        job = jobs.create_socials_job(session, principal, items)
        ids = list(
            session.scalars(
                select(DiscoveryItem.id)
                .where(DiscoveryItem.job_id == job.id)
                .order_by(DiscoveryItem.position)
            )
        )
        return Job(tenant.id, job.id, ids)


def _state(db: Database, job: Job) -> dict[str, object]:
    with db.session(tenant_id=job.tenant_id) as session:
        return jobs.snapshot(session, jobs.get_job(session, job.id))


def _found(item_id: int, handle: str) -> SiteResult:
    return SiteResult(item_id, profiles={"instagram": f"https://www.instagram.com/{handle}"})


def test_a_chunk_held_by_a_live_worker_is_not_run_by_another(
    database: Database, site: Site
) -> None:
    job = _job(database, site)
    held = chunks.claim(database, job.tenant_id, job.id, 0)
    assert held is not None
    assert runner.run_chunk(database, job.tenant_id, job.id, 0) == 0
    assert site.seen == []
    assert chunks.claim(database, job.tenant_id, job.id, 0) is None
    assert chunks.chunks_to_resume(database) == []  # alive: nothing to resume


def test_a_chunk_whose_worker_died_is_resumed_once_for_its_pending_items(
    database: Database, site: Site
) -> None:
    job = _job(database, site)
    dead = chunks.claim(database, job.tenant_id, job.id, 0)
    assert dead is not None
    runner.record_results(dead, [_found(job.item_ids[0], "shop0")])  # then: kill -9
    assert chunks.chunks_to_resume(database) == []  # its lease still runs
    with time_machine.travel(utcnow() + LEASE + timedelta(seconds=1)):
        assert chunks.chunks_to_resume(database) == [(job.tenant_id, job.id, 0)]
        assert chunks.chunks_to_resume(database) == []  # enqueued once, not once per sweep
        assert runner.run_chunk(database, job.tenant_id, job.id, 0) == 2
    assert sorted(path for path, _ in site.seen if path != "/robots.txt") == ["/s1/", "/s2/"]
    state = _state(database, job)
    assert state["status"] == "completed"
    assert (state["processed_count"], state["found_count"], state["failed_count"]) == (3, 3, 0)
    # The presumed-dead worker was only slow: what it records now is refused, not counted.
    with pytest.raises(LeaseLost):
        runner.record_results(dead, [_found(job.item_ids[1], "somebody-else")])
    assert _state(database, job)["processed_count"] == 3
    with database.session(tenant_id=job.tenant_id) as session:
        profiles = session.scalars(
            select(DiscoveryItem.profiles).order_by(DiscoveryItem.position)
        ).all()
    assert [p["instagram"] for p in profiles] == [
        f"https://www.instagram.com/shop{i}" for i in range(3)
    ]


def test_an_item_recorded_twice_is_counted_once(database: Database, site: Site) -> None:
    job = _job(database, site)
    lease = chunks.claim(database, job.tenant_id, job.id, 0)
    assert lease is not None
    runner.record_results(lease, [_found(job.item_ids[0], "shop0")])
    runner.record_results(lease, [_found(job.item_ids[0], "shop0"), SiteResult(job.item_ids[1])])
    state = _state(database, job)
    assert (state["processed_count"], state["found_count"]) == (2, 1)


def test_a_chunk_that_keeps_stopping_its_worker_fails_its_items_and_the_job_ends(
    database: Database, site: Site
) -> None:
    get_discovery_settings().max_chunk_attempts = 2
    job = _job(database, site)
    later = utcnow()
    for _ in range(2):  # two workers die on it
        later += LEASE + timedelta(seconds=1)
        with time_machine.travel(later):
            assert chunks.claim(database, job.tenant_id, job.id, 0) is not None
    with time_machine.travel(later + LEASE + timedelta(seconds=1)):
        assert runner.run_chunk(database, job.tenant_id, job.id, 0) == 3
    state = _state(database, job)
    assert state["status"] == "completed"
    assert state["failures"]["by_reason"] == {"worker_lost": 3}  # type: ignore[index]
    assert "stopped 2 times" in state["failures"]["items"][0]["detail"]  # type: ignore[index]
    assert site.seen == []


def test_the_sweep_finds_lost_tasks_and_leaves_queued_and_finished_chunks(
    database: Database, site: Site
) -> None:
    job = _job(database, site)
    assert chunks.chunks_to_resume(database) == []  # just enqueued, waiting its turn
    waited = timedelta(seconds=get_discovery_settings().redispatch_s + 1)
    with time_machine.travel(utcnow() + waited):  # its task was lost before any worker took it
        assert chunks.chunks_to_resume(database) == [(job.tenant_id, job.id, 0)]
        assert chunks.chunks_to_resume(database) == []
    with database.session(system=True) as session:  # a job from before chunk leases
        session.execute(update(DiscoveryChunk).values(dispatched_at=None))
    assert chunks.chunks_to_resume(database) == [(job.tenant_id, job.id, 0)]
    assert runner.run_chunk(database, job.tenant_id, job.id, 0) == 3
    with time_machine.travel(utcnow() + 2 * waited):
        assert chunks.chunks_to_resume(database) == []  # finished: never again
