"""Socials jobs, a person's side: create one from a list of items (quota, rate of creations),
read its state and results, list and cancel jobs. Running them is ``runner.py`` (the worker).

A job's items are stored as given; items without a usable ``site_web`` are dropped at
creation. Items are cut into chunks (one queue task each), grouped by host so that one host
is crawled by one worker, politely.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final
from urllib.parse import urlsplit

from limits import parse as parse_rate
from limits.storage import MemoryStorage, Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter
from sqlalchemy import Table, func, select, update
from sqlalchemy.orm import Session

from socialcrm.core import audit
from socialcrm.core.db import utcnow
from socialcrm.core.errors import AppError, Conflict, NotFound, RateLimitExceeded, ValidationFailed
from socialcrm.core.principal import Principal
from socialcrm.core.settings import get_settings
from socialcrm.discovery import chunks
from socialcrm.discovery.canonical import NETWORKS
from socialcrm.discovery.crawler import site_url
from socialcrm.discovery.export import csv_chunks
from socialcrm.discovery.models import DiscoveryItem, DiscoveryJob, ItemStatus, JobStatus
from socialcrm.discovery.settings import DiscoverySettings, get_discovery_settings
from socialcrm.tenancy.models import Tenant

MAX_ITEMS: Final = 10_000
JOB_TYPE: Final = "socials"
# Output columns: the contract's six, then the extra networks.
COLUMNS: Final[dict[str, str]] = {
    network: "social_twitter" if network == "x" else f"social_{network}" for network in NETWORKS
}
ITEMS: Table = DiscoveryItem.__table__  # type: ignore[assignment]
FINISHED: Final = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED})


class NoEligibleItems(AppError):
    status_code, code = 400, "no_eligible_items"


class QuotaExceeded(AppError):
    status_code, code = 400, "quota_exceeded"


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
    session.connection().execute(ITEMS.insert(), rows)
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
