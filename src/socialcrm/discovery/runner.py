"""Socials jobs, the worker's side: run a chunk, record its results, finish or fail the job.

A chunk runs under a lease (``chunks.py``): it writes its results in small batches and bumps
the job's counters in the same transaction as it renews the lease, so progress is visible
while it runs, and a chunk run again (a retry, or a resume after its worker died) only redoes
the items still pending: each item is recorded exactly once. The job completes when no item
is pending.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any, Final

import structlog
from sqlalchemy import Table, and_, bindparam, exists, select, update

from socialcrm.core.db import Database, utcnow
from socialcrm.core.errors import NotFound
from socialcrm.core.settings import get_settings
from socialcrm.discovery import chunks
from socialcrm.discovery.chunks import ChunkLease, LeaseLost
from socialcrm.discovery.crawler import Crawler, SiteRequest, SiteResult, run_sync
from socialcrm.discovery.jobs import ITEMS, is_finished
from socialcrm.discovery.models import DiscoveryItem, DiscoveryJob, ItemStatus, JobStatus
from socialcrm.discovery.settings import get_discovery_settings

log = structlog.get_logger(__name__)
_JOBS: Table = DiscoveryJob.__table__  # type: ignore[assignment]
_FLUSH_EVERY: Final = 50
_FLUSH_SECONDS: Final = 1.0


class JobGone(NotFound):
    """A queued chunk's job no longer exists (deleted with its tenant)."""


class JobCancelled(Exception):
    """A person cancelled the job while one of its chunks was being crawled: stop there."""


def run_chunk(db: Database, tenant_id: int, job_id: str, chunk: int) -> int:
    """Crawl the chunk's pending items under its lease; returns how many were processed now
    (0 when another live worker runs the chunk)."""
    with db.session(tenant_id=tenant_id) as session:
        job = session.get(DiscoveryJob, job_id)
        if job is None:
            raise JobGone(f"job {job_id} no longer exists")
        if is_finished(job):
            return 0
    lease = chunks.claim(db, tenant_id, job_id, chunk)
    if lease is None:
        return 0
    try:
        requests = _pending_sites(lease)
        if lease.attempts > get_discovery_settings().max_chunk_attempts:
            _give_up(lease, requests)
        elif requests:
            run_sync(_crawl(requests, _ChunkRecorder(lease), lease))
    except LeaseLost:
        log.warning("discovery_chunk_lease_lost", job_id=job_id, chunk=chunk)
        return 0
    except JobCancelled:
        lease.release(finished=True)
        log.info("discovery_chunk_cancelled", job_id=job_id, chunk=chunk)
        return 0
    except BaseException:
        lease.release(finished=False)  # a retry (or a sweep) runs what is still pending
        raise
    # Never finished with an item left unrecorded: a later sweep runs the chunk again.
    lease.release(finished=not _pending_sites(lease))
    finish_if_done(db, tenant_id, job_id)
    return len(requests)


def _pending_sites(lease: ChunkLease) -> list[SiteRequest]:
    """The chunk's items still pending, as crawl requests (and the job marked running)."""
    with lease.db.session(tenant_id=lease.tenant_id) as session:
        job = session.get(DiscoveryJob, lease.job_id)
        if job is None:
            raise JobGone(f"job {lease.job_id} no longer exists")
        if job.status == JobStatus.PENDING:
            job.status, job.started_at = JobStatus.RUNNING, utcnow()
        pending = session.execute(
            select(DiscoveryItem.id, DiscoveryItem.site_url, DiscoveryItem.http_fallback)
            .add_columns(DiscoveryItem.data)
            .where(
                DiscoveryItem.job_id == lease.job_id,
                DiscoveryItem.chunk == lease.chunk,
                DiscoveryItem.status == ItemStatus.PENDING,
            )
            .order_by(DiscoveryItem.id)
        ).all()
    return [
        SiteRequest(item_id, url, organisation_name(data), fallback)
        for item_id, url, fallback, data in pending
    ]


def _give_up(lease: ChunkLease, requests: list[SiteRequest]) -> None:
    """The chunk stopped its worker too many times (killed, out of memory): its pending
    items fail with that reason, so the job can finish."""
    detail = f"the worker crawling this site stopped {lease.attempts - 1} times"
    lost = [SiteResult(r.key, failure="worker_lost", detail=detail) for r in requests]
    record_results(lease, lost)
    log.warning("discovery_chunk_given_up", job_id=lease.job_id, chunk=lease.chunk)


def organisation_name(data: dict[str, Any]) -> str:
    for key in ("name", "nom", "company", "organisation", "organization"):
        value = data.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()[:200]
    return ""


async def _crawl(requests: list[SiteRequest], recorder: _ChunkRecorder, lease: ChunkLease) -> None:
    settings = get_discovery_settings()
    allow = get_settings().allow_private_fetch
    async with Crawler(settings, allow_private=allow) as crawler:
        try:
            async with asyncio.TaskGroup() as group:
                heartbeat = group.create_task(lease.keep_alive())
                await crawler.discover_many(requests, recorder.add)
                heartbeat.cancel()
        except* LeaseLost as lost:
            raise LeaseLost(str(lost.exceptions[0])) from None
        except* JobCancelled as cancelled:
            raise JobCancelled(str(cancelled.exceptions[0])) from None
    await recorder.flush()


class _ChunkRecorder:
    """Writes results in batches (items, job counters and the lease in one transaction)."""

    def __init__(self, lease: ChunkLease) -> None:
        self._lease = lease
        self._buffer: list[SiteResult] = []
        self._last = time.monotonic()
        self._lock = asyncio.Lock()

    async def add(self, result: SiteResult) -> None:
        self._buffer.append(result)
        if len(self._buffer) >= _FLUSH_EVERY or time.monotonic() - self._last > _FLUSH_SECONDS:
            await self.flush()

    async def flush(self) -> None:
        async with self._lock:
            batch, self._buffer = self._buffer, []
            self._last = time.monotonic()
            if batch:
                await asyncio.to_thread(record_results, self._lease, batch)


def record_results(lease: ChunkLease, batch: list[SiteResult]) -> None:
    """Store site results and count them on the job, atomically, while the lease is ours;
    an item already recorded (by a worker presumed dead) is neither written nor counted."""
    tenant_id = lease.tenant_id
    with lease.db.session(tenant_id=tenant_id) as session:
        if not lease.renew(session):  # also locks the chunk row against a new claimer
            raise LeaseLost(f"chunk {lease.chunk} of job {lease.job_id}")
        connection = session.connection()
        status = connection.scalar(
            select(_JOBS.c.status).where(_JOBS.c.id == lease.job_id, _JOBS.c.tenant_id == tenant_id)
        )
        if status == JobStatus.CANCELLED.value:
            raise JobCancelled(f"job {lease.job_id} was cancelled")
        still_pending = set(
            connection.scalars(
                select(ITEMS.c.id).where(
                    ITEMS.c.id.in_([r.key for r in batch]),
                    ITEMS.c.tenant_id == tenant_id,
                    ITEMS.c.status == ItemStatus.PENDING.value,
                )
            )
        )
        batch = [r for r in batch if r.key in still_pending]
        if not batch:
            return
        connection.execute(
            update(ITEMS)
            .where(
                and_(
                    ITEMS.c.id == bindparam("b_id"),
                    ITEMS.c.tenant_id == tenant_id,
                    ITEMS.c.status == ItemStatus.PENDING.value,
                )
            )
            .values(
                status=bindparam("b_status"),
                profiles=bindparam("b_profiles"),
                failure=bindparam("b_failure"),
                failure_detail=bindparam("b_detail"),
                pages=bindparam("b_pages"),
            ),
            [
                {
                    "b_id": r.key,
                    "b_status": (ItemStatus.FAILED if r.failure else ItemStatus.DONE).value,
                    "b_profiles": r.profiles,
                    "b_failure": r.failure or "",
                    "b_detail": r.detail[:300],
                    "b_pages": r.pages,
                }
                for r in batch
            ],
        )
        connection.execute(
            update(_JOBS)
            .where(_JOBS.c.id == lease.job_id, _JOBS.c.tenant_id == tenant_id)
            .values(
                processed_count=_JOBS.c.processed_count + len(batch),
                failed_count=_JOBS.c.failed_count + sum(1 for r in batch if r.failure),
                found_count=_JOBS.c.found_count + sum(1 for r in batch if r.profiles),
            )
        )


def finish_if_done(db: Database, tenant_id: int, job_id: str) -> bool:
    """Complete the job once no item is pending (run after the chunk's own commit)."""
    with db.session(tenant_id=tenant_id) as session:
        still_pending = exists().where(
            ITEMS.c.job_id == job_id, ITEMS.c.status == ItemStatus.PENDING.value
        )
        done = session.connection().execute(
            update(_JOBS)
            .where(
                _JOBS.c.id == job_id,
                _JOBS.c.tenant_id == tenant_id,
                _JOBS.c.status.in_([JobStatus.PENDING.value, JobStatus.RUNNING.value]),
                ~still_pending,
            )
            .values(status=JobStatus.COMPLETED.value, finished_at=datetime.now(UTC))
        )
        return bool(done.rowcount)


def fail_job(db: Database, tenant_id: int, job_id: str, reason: str) -> None:
    """A chunk failed for good (its retries are spent): the job cannot complete."""
    with db.session(tenant_id=tenant_id) as session:
        session.connection().execute(
            update(_JOBS)
            .where(
                _JOBS.c.id == job_id,
                _JOBS.c.tenant_id == tenant_id,
                _JOBS.c.status.in_([JobStatus.PENDING.value, JobStatus.RUNNING.value]),
            )
            .values(status=JobStatus.FAILED.value, error=reason[:500], finished_at=utcnow())
        )
    log.warning("discovery_job_failed", job_id=job_id, reason=reason[:200])
