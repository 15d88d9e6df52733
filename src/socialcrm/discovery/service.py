"""Socials jobs: create one from a list of items, run its chunks, report its state and results.

A job's items are stored as given; items without a usable ``site_web`` are dropped at
creation. Items are cut into chunks (one queue task each), grouped by host so that one host
is crawled by one worker, politely. A chunk runs under a lease (``chunks.py``): it writes its
results in small batches and bumps the job's counters in the same transaction as it renews
the lease, so progress is visible while it runs, and a chunk run again (a retry, or a resume
after its worker died) only redoes the items still pending: each item is recorded exactly
once. The job completes when no item is pending.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import urlsplit

import structlog
from limits import parse as parse_rate
from limits.storage import MemoryStorage, Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter
from sqlalchemy import Table, and_, bindparam, exists, func, select, update
from sqlalchemy.orm import Session

from socialcrm.core import audit
from socialcrm.core.db import Database, utcnow
from socialcrm.core.errors import AppError, Conflict, NotFound, RateLimitExceeded, ValidationFailed
from socialcrm.core.principal import Principal
from socialcrm.core.settings import get_settings
from socialcrm.discovery import chunks
from socialcrm.discovery.canonical import NETWORKS
from socialcrm.discovery.chunks import ChunkLease, LeaseLost
from socialcrm.discovery.crawler import Crawler, SiteRequest, SiteResult, run_sync, site_url
from socialcrm.discovery.export import csv_chunks
from socialcrm.discovery.models import DiscoveryItem, DiscoveryJob, ItemStatus, JobStatus
from socialcrm.discovery.settings import DiscoverySettings, get_discovery_settings
from socialcrm.tenancy.models import Tenant

log = structlog.get_logger(__name__)

MAX_ITEMS: Final = 10_000
JOB_TYPE: Final = "socials"
# Output columns: the contract's six, then the extra networks.
COLUMNS: Final[dict[str, str]] = {
    network: "social_twitter" if network == "x" else f"social_{network}" for network in NETWORKS
}
_ITEMS: Table = DiscoveryItem.__table__  # type: ignore[assignment]
_JOBS: Table = DiscoveryJob.__table__  # type: ignore[assignment]
FINISHED: Final = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED})
_FLUSH_EVERY: Final = 50
_FLUSH_SECONDS: Final = 1.0


class NoEligibleItems(AppError):
    status_code, code = 400, "no_eligible_items"


class QuotaExceeded(AppError):
    status_code, code = 400, "quota_exceeded"


class JobGone(NotFound):
    """A queued chunk's job no longer exists (deleted with its tenant)."""


class JobCancelled(Exception):
    """A person cancelled the job while one of its chunks was being crawled: stop there."""


# --- creating a job ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Eligible:
    position: int
    data: dict[str, Any]
    url: str
    http_fallback: bool


def eligible_items(items: Sequence[dict[str, Any]]) -> list[Eligible]:
    """The items that carry a usable ``site_web``, in input order."""
    kept: list[Eligible] = []
    for position, item in enumerate(items):
        parsed = site_url(item.get("site_web"))
        if parsed is not None:
            kept.append(Eligible(position, item, parsed[0], parsed[1]))
    return kept


def estimate_cost(count: int, settings: DiscoverySettings | None = None) -> float:
    per_item = (settings or get_discovery_settings()).ef_per_item
    return round(count * per_item, 6)


def create_socials_job(
    session: Session,
    principal: Principal,
    items: Sequence[dict[str, Any]],
    source_job_id: str | None = None,
) -> DiscoveryJob:
    """Validate, price and store a job; the caller enqueues its chunks after the commit."""
    settings = get_discovery_settings()
    if not 1 <= len(items) <= MAX_ITEMS:
        raise ValidationFailed(f"items must hold 1 to {MAX_ITEMS} objects")
    kept = eligible_items(items)
    if not kept:
        raise NoEligibleItems(
            "no item carries a usable site_web (an http(s) URL or a domain name)",
            details={"submitted": len(items)},
        )
    tenant = session.get(Tenant, principal.tenant_id)
    assert tenant is not None
    if source_job_id is not None and _job_or_none(session, source_job_id) is None:
        raise ValidationFailed(
            f"source_job_id {source_job_id!r} is not a job of this account",
            details={"source_job_id": source_job_id},
        )
    estimate = estimate_cost(len(kept), settings)
    _check_quota(session, tenant, estimate)
    _check_rate(tenant, settings)
    job = DiscoveryJob(
        tenant_id=tenant.id,
        job_type=JOB_TYPE,
        source_job_id=source_job_id,
        items_count=len(kept),
        dropped_count=len(items) - len(kept),
        ef_cost=estimate,
        input_columns=_input_columns([e.data for e in kept]),
        created_by=principal.actor,
    )
    session.add(job)
    session.flush()
    # Same host, same chunk: one worker is then polite to it on its own.
    ordered = sorted(kept, key=lambda e: (urlsplit(e.url).hostname or "", e.position))
    rows = [
        {
            "tenant_id": tenant.id,
            "job_id": job.id,
            "position": e.position,
            "chunk": index // settings.chunk_size,
            "data": e.data,
            "site_url": e.url,
            "http_fallback": e.http_fallback,
            "status": ItemStatus.PENDING.value,
            "profiles": {},
            "failure": "",
            "failure_detail": "",
            "pages": 0,
        }
        for index, e in enumerate(ordered)
    ]
    session.connection().execute(_ITEMS.insert(), rows)
    job.chunks_total = (len(rows) + settings.chunk_size - 1) // settings.chunk_size
    chunks.add_chunks(session, job)
    session.flush()
    return job


def _input_columns(items: Sequence[dict[str, Any]]) -> list[str]:
    seen: dict[str, None] = {}
    for item in items:
        for key in item:
            if key not in COLUMNS.values():
                seen.setdefault(str(key), None)
    return list(seen)


def _month_start(now: datetime) -> datetime:
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


@dataclass(frozen=True, slots=True)
class Usage:
    """A tenant's jobs this calendar month (UTC): EF charged, its ceiling, jobs created."""

    month_start: datetime
    ef_used: float
    ef_ceiling: float | None
    jobs: int

    @property
    def ef_remaining(self) -> float | None:
        if self.ef_ceiling is None:
            return None
        return round(max(0.0, self.ef_ceiling - self.ef_used), 6)


def month_usage(session: Session, tenant: Tenant) -> Usage:
    """EF is charged when a job is created and given back if the job fails."""
    start = _month_start(utcnow())
    used, jobs = session.execute(
        select(
            func.coalesce(
                func.sum(DiscoveryJob.ef_cost).filter(DiscoveryJob.status != JobStatus.FAILED),
                0.0,
            ),
            func.count(),
        ).where(DiscoveryJob.tenant_id == tenant.id, DiscoveryJob.created_at >= start)
    ).one()
    ceiling = (tenant.policy or {}).get("ef_ceiling")
    return Usage(
        month_start=start,
        ef_used=round(float(used or 0.0), 6),
        ef_ceiling=None if ceiling is None else float(ceiling),
        jobs=int(jobs),
    )


def _check_quota(session: Session, tenant: Tenant, estimate: float) -> None:
    """``Tenant.policy["ef_ceiling"]``: EF a tenant may spend on jobs per calendar month."""
    usage = month_usage(session, tenant)
    ceiling, used = usage.ef_ceiling, usage.ef_used
    if ceiling is None:
        return
    if used + estimate > ceiling:
        raise QuotaExceeded(
            f"this job would cost {estimate} EF; {used} of the {ceiling} EF ceiling is used",
            details={"estimate": estimate, "ceiling": ceiling, "used": used},
        )


# --- rate limit of job creations (limits: memory, or Redis when the queue is on Redis) --------

_limiter: MovingWindowRateLimiter | None = None
_storage: Storage | None = None


def _rate_limiter() -> MovingWindowRateLimiter:
    global _limiter, _storage
    if _limiter is None:
        url = get_settings().queue_url
        storage: Storage = MemoryStorage()
        if url.startswith(("redis://", "rediss://")):
            shared = storage_from_string(url)
            assert isinstance(shared, Storage)
            storage = shared
        _storage, _limiter = storage, MovingWindowRateLimiter(storage)
    return _limiter


def reset_rate_limits() -> None:
    """Forget every counter (tests; an operator after changing limits)."""
    _rate_limiter()
    assert _storage is not None
    _storage.reset()


def _check_rate(tenant: Tenant, settings: DiscoverySettings) -> None:
    text = str((tenant.policy or {}).get("job_rate_limit") or settings.job_rate_limit)
    try:
        rate = parse_rate(text)
    except ValueError:
        rate = parse_rate(settings.job_rate_limit)
    limiter = _rate_limiter()
    key = ("discovery-jobs", str(tenant.id))
    if not limiter.hit(rate, *key):
        reset_at, _remaining = limiter.get_window_stats(rate, *key)
        retry_after = max(1, int(reset_at - time.time()) + 1)
        raise RateLimitExceeded(
            f"too many jobs created: the limit is {text}",
            details={"limit": text, "retry_after": retry_after},
        )


# --- reading a job ----------------------------------------------------------------------------


def get_job(session: Session, job_id: str) -> DiscoveryJob:
    job = _job_or_none(session, job_id)
    if job is None:
        raise NotFound(f"job {job_id} not found")
    return job


def _job_or_none(session: Session, job_id: str) -> DiscoveryJob | None:
    """The session's tenant's job ``job_id`` (the tenant filter is the session's)."""
    if not _is_job_id(job_id):
        return None
    return session.scalars(select(DiscoveryJob).where(DiscoveryJob.id == job_id)).first()


def _is_job_id(value: str) -> bool:
    return len(value) == 36 and all(c in "0123456789abcdef-" for c in value)


def snapshot(session: Session, job: DiscoveryJob, failure_sample: int = 20) -> dict[str, Any]:
    """What a client sees of a job: state, counts, and a summary of per-item failures."""
    by_reason = dict(
        session.execute(
            select(DiscoveryItem.failure, func.count())
            .where(DiscoveryItem.job_id == job.id, DiscoveryItem.status == ItemStatus.FAILED)
            .group_by(DiscoveryItem.failure)
        ).all()
    )
    sample = session.execute(
        select(DiscoveryItem.position, DiscoveryItem.data, DiscoveryItem.failure)
        .add_columns(DiscoveryItem.failure_detail)
        .where(DiscoveryItem.job_id == job.id, DiscoveryItem.status == ItemStatus.FAILED)
        .order_by(DiscoveryItem.position)
        .limit(failure_sample)
    ).all()
    return {
        "id": job.id,
        "job_type": job.job_type,
        "status": job.status,
        "source_job_id": job.source_job_id,
        "items_count": job.items_count,
        "dropped_count": job.dropped_count,
        "ef_cost": job.ef_cost,
        "processed_count": job.processed_count,
        "found_count": job.found_count,
        "failed_count": job.failed_count,
        "progress": progress(job),
        "chunks_total": job.chunks_total,
        "created_at": job.created_at.isoformat(),
        "started_at": job.started_at.isoformat() if job.started_at else None,
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
        "error": job.error or None,
        "failures": {
            "count": sum(by_reason.values()),
            "by_reason": {reason: count for reason, count in sorted(by_reason.items())},
            "items": [
                {
                    "position": position,
                    "site_web": data.get("site_web"),
                    "reason": reason,
                    "detail": detail,
                }
                for position, data, reason, detail in sample
            ],
        },
    }


def progress(job: DiscoveryJob) -> float:
    """The share of the job's items recorded, 0 to 1."""
    return round(job.processed_count / job.items_count, 4) if job.items_count else 1.0


def ef_charged(job: DiscoveryJob) -> float:
    """What the job costs this month's quota: its estimate, unless it failed (given back)."""
    return 0.0 if job.status == JobStatus.FAILED else job.ef_cost


def result_rows(session: Session, job: DiscoveryJob) -> Iterator[dict[str, Any]]:
    """Each eligible input item, untouched, plus one column per network (empty if none)."""
    rows = session.execute(
        select(DiscoveryItem.data, DiscoveryItem.profiles)
        .where(DiscoveryItem.job_id == job.id)
        .order_by(DiscoveryItem.position)
        .execution_options(yield_per=1000)
    )
    for data, profiles in rows:
        out = dict(data)
        for network, column in COLUMNS.items():
            out[column] = profiles.get(network, "")
        yield out


def results_csv(session: Session, job: DiscoveryJob) -> Iterator[str]:
    """The results as CSV text, produced row by row (cells a spreadsheet cannot run)."""
    columns = [c for c in job.input_columns if c not in COLUMNS.values()] + list(COLUMNS.values())
    return csv_chunks(columns, result_rows(session, job))


def is_finished(job: DiscoveryJob) -> bool:
    return job.status in FINISHED


def list_jobs(session: Session, limit: int = 50) -> list[DiscoveryJob]:
    """The session's tenant's most recent jobs, newest first."""
    return list(
        session.scalars(
            select(DiscoveryJob)
            .order_by(DiscoveryJob.created_at.desc(), DiscoveryJob.id)
            .limit(limit)
        )
    )


def jobs_state(session: Session, limit: int = 50) -> dict[str, Any]:
    """What the jobs list shows that changes on its own, for its live stream."""
    return {"jobs": [[j.id, j.status, j.processed_count] for j in list_jobs(session, limit)]}


def cancel_job(session: Session, principal: Principal, job_id: str) -> DiscoveryJob:
    """Stop a pending or running job. A chunk being crawled stops at its next batch; what is
    recorded stays (the results hold it), items not crawled yet stay without results."""
    job = get_job(session, job_id)
    stopped = session.execute(
        update(DiscoveryJob)
        .where(
            DiscoveryJob.id == job.id,
            DiscoveryJob.status.in_([JobStatus.PENDING, JobStatus.RUNNING]),
        )
        .values(status=JobStatus.CANCELLED, finished_at=utcnow(), error="")
        .execution_options(synchronize_session=False)
    )
    session.refresh(job)
    if stopped.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(
            f"job {job_id} is {job.status}: only a pending or running job can be cancelled",
            details={"status": job.status},
        )
    audit.record(
        session,
        actor=principal.actor,
        action="discovery_job.cancel",
        target_type="discovery_job",
        target_id=job.id,
        details={"processed": job.processed_count, "items": job.items_count},
    )
    return job


# --- running a chunk --------------------------------------------------------------------------


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
                select(_ITEMS.c.id).where(
                    _ITEMS.c.id.in_([r.key for r in batch]),
                    _ITEMS.c.tenant_id == tenant_id,
                    _ITEMS.c.status == ItemStatus.PENDING.value,
                )
            )
        )
        batch = [r for r in batch if r.key in still_pending]
        if not batch:
            return
        connection.execute(
            update(_ITEMS)
            .where(
                and_(
                    _ITEMS.c.id == bindparam("b_id"),
                    _ITEMS.c.tenant_id == tenant_id,
                    _ITEMS.c.status == ItemStatus.PENDING.value,
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
            _ITEMS.c.job_id == job_id, _ITEMS.c.status == ItemStatus.PENDING.value
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
