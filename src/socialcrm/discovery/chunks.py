"""Chunk leases of socials jobs: which worker runs a chunk, and until when.

A queue removes a task when a worker takes it, so a worker killed mid-chunk (``kill -9``, an
out-of-memory kill, a lost machine) would leave its job ``running`` for ever. The worker
claims the chunk's lease before it reads the chunk's pending items, renews it while it crawls
and in the transaction that records each batch of results (so a worker that lost its lease
records nothing), and releases it when the chunk is done. A sweep (at start-up and every
minute) enqueues again the chunks whose lease ran out with items still pending; the new run
reads only those items, so each item is recorded exactly once.
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from socialcrm.core.db import Database, utcnow
from socialcrm.discovery.models import DiscoveryChunk, DiscoveryJob, JobStatus
from socialcrm.discovery.settings import get_discovery_settings

log = structlog.get_logger(__name__)

WORKER_ID = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
_ACTIVE = (JobStatus.PENDING, JobStatus.RUNNING)


class LeaseLost(Exception):
    """Another worker runs this chunk now (this one was presumed dead): stop, record nothing."""


def _lease_length() -> timedelta:
    return timedelta(seconds=get_discovery_settings().lease_s)


def add_chunks(session: Session, job: DiscoveryJob) -> None:
    """The chunk rows of a new job, marked as enqueued now (the caller enqueues them)."""
    now = utcnow()
    session.add_all(
        DiscoveryChunk(tenant_id=job.tenant_id, job_id=job.id, chunk=n, dispatched_at=now)
        for n in range(job.chunks_total)
    )


@dataclass(frozen=True, slots=True)
class ChunkLease:
    """This worker's hold on one chunk."""

    db: Database
    tenant_id: int
    job_id: str
    chunk: int
    owner: str
    attempts: int

    def renew(self, session: Session) -> bool:
        """Extend the lease inside ``session``'s transaction; False if it is not ours any more."""
        renewed = session.execute(
            update(DiscoveryChunk)
            .where(
                DiscoveryChunk.job_id == self.job_id,
                DiscoveryChunk.chunk == self.chunk,
                DiscoveryChunk.lease_owner == self.owner,
            )
            .values(lease_until=utcnow() + _lease_length())
            .execution_options(synchronize_session=False)
        )
        return bool(renewed.rowcount == 1)  # type: ignore[attr-defined]

    async def keep_alive(self) -> None:
        """Renew the lease every third of its length until cancelled; raise LeaseLost if
        another worker took the chunk meanwhile."""
        while True:
            await asyncio.sleep(get_discovery_settings().lease_s / 3)
            if not await asyncio.to_thread(self._renew_now):
                raise LeaseLost(f"chunk {self.chunk} of job {self.job_id}")

    def _renew_now(self) -> bool:
        with self.db.session(tenant_id=self.tenant_id) as session:
            return self.renew(session)

    def release(self, *, finished: bool) -> None:
        """Give the chunk up: done (never run again) or not (a sweep may enqueue it again)."""
        with self.db.session(tenant_id=self.tenant_id) as session:
            session.execute(
                update(DiscoveryChunk)
                .where(
                    DiscoveryChunk.job_id == self.job_id,
                    DiscoveryChunk.chunk == self.chunk,
                    DiscoveryChunk.lease_owner == self.owner,
                )
                .values(
                    lease_owner=None,
                    lease_until=None,
                    finished_at=utcnow() if finished else None,
                )
                .execution_options(synchronize_session=False)
            )


def claim(db: Database, tenant_id: int, job_id: str, chunk: int) -> ChunkLease | None:
    """The chunk's lease for this worker, or None while another live worker holds it (or
    the chunk is finished)."""
    owner = f"{WORKER_ID}:{uuid.uuid4().hex[:8]}"
    now = utcnow()
    with db.session(tenant_id=tenant_id) as session:
        taken = session.execute(
            update(DiscoveryChunk)
            .where(
                DiscoveryChunk.job_id == job_id,
                DiscoveryChunk.chunk == chunk,
                DiscoveryChunk.finished_at.is_(None),
                or_(DiscoveryChunk.lease_until.is_(None), DiscoveryChunk.lease_until < now),
            )
            .values(
                lease_owner=owner,
                lease_until=now + _lease_length(),
                attempts=DiscoveryChunk.attempts + 1,
            )
            .execution_options(synchronize_session=False)
        )
        if taken.rowcount != 1:  # type: ignore[attr-defined]
            return None
        attempts = session.scalar(
            select(DiscoveryChunk.attempts).where(
                DiscoveryChunk.job_id == job_id, DiscoveryChunk.chunk == chunk
            )
        )
    return ChunkLease(db, tenant_id, job_id, chunk, owner, int(attempts or 1))


def chunks_to_resume(db: Database) -> list[tuple[int, str, int]]:
    """(tenant, job, chunk) of unfinished jobs' chunks that nobody runs and that were not
    enqueued since: their worker died after taking them (lease run out), or their task was
    lost before any worker took it (``redispatch_s``). Each is marked as enqueued now, once
    even when several workers sweep at the same time."""
    settings = get_discovery_settings()
    now = utcnow()
    lost_before = now - timedelta(seconds=settings.redispatch_s)
    with db.session(system=True) as session:
        rows = session.execute(
            select(
                DiscoveryChunk.id,
                DiscoveryChunk.tenant_id,
                DiscoveryChunk.job_id,
                DiscoveryChunk.chunk,
                DiscoveryChunk.lease_until,
                DiscoveryChunk.dispatched_at,
            )
            .join(DiscoveryJob, DiscoveryJob.id == DiscoveryChunk.job_id)
            .where(
                DiscoveryChunk.finished_at.is_(None),
                DiscoveryJob.status.in_(_ACTIVE),
                or_(DiscoveryChunk.lease_until.is_(None), DiscoveryChunk.lease_until < now),
            )
            .order_by(DiscoveryChunk.id)
        ).all()
        due = []
        for row_id, tenant_id, job_id, chunk, lease_until, dispatched_at in rows:
            if not _abandoned(dispatched_at, lease_until, lost_before):
                continue
            if _mark_dispatched(session, row_id, dispatched_at, now):
                due.append((int(tenant_id), str(job_id), int(chunk)))
    if due:
        log.info("discovery_chunks_resumed", count=len(due))
    return due


def _abandoned(
    dispatched_at: datetime | None, lease_until: datetime | None, lost_before: datetime
) -> bool:
    if dispatched_at is None:
        return True  # never enqueued (a job from before chunk leases)
    if lease_until is not None and dispatched_at < lease_until:
        return True  # taken after its last enqueue, and the taker stopped renewing
    return dispatched_at < lost_before


def _mark_dispatched(session: Session, row_id: int, seen: datetime | None, now: datetime) -> bool:
    """Compare-and-set: True for the one sweeper that marks the chunk enqueued."""
    unchanged = (
        DiscoveryChunk.dispatched_at.is_(None)
        if seen is None
        else DiscoveryChunk.dispatched_at == seen
    )
    marked = session.execute(
        update(DiscoveryChunk)
        .where(DiscoveryChunk.id == row_id, unchanged)
        .values(dispatched_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(marked.rowcount == 1)  # type: ignore[attr-defined]
