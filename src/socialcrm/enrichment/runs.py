"""Enrichment runs: a resumable pass over a tenant's Contacts in id order.

The cursor, the counts and the links of a batch are committed together, under a lease the
worker renews each batch. A 429 or a long pacing pause ends the task and reschedules the run
with a queue ETA (no sleeping worker); an outage backs off exponentially; a worker killed
mid-batch loses only that uncommitted batch, and the run resumes from its cursor once the
lease expires.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from socialcrm.connections import service as connections
from socialcrm.connections import tokens
from socialcrm.core.db import Database, utcnow
from socialcrm.core.errors import Conflict, NotFound
from socialcrm.crm.models import Contact
from socialcrm.enrichment import matching, service, store
from socialcrm.enrichment.models import ACTIVE_RUN_STATUSES, EnrichmentRun, RunStatus
from socialcrm.enrichment.pacing import Pacer
from socialcrm.enrichment.settings import enrichment_settings
from socialcrm.providers.base import CallContext, ProfileData, Provider, ProviderError

log = structlog.get_logger(__name__)

WORKER_ID = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
MAX_BACKOFF = timedelta(minutes=30)


@dataclass(frozen=True, slots=True)
class Next:
    """What the task does after a slice: nothing, continue now, or again at ``eta``."""

    more: bool = False
    eta: datetime | None = None


def create_run(session: Session, *, trigger: str, actor: str) -> tuple[EnrichmentRun, bool]:
    """A new run, or the tenant's run already under way (one at a time). True if new."""
    active = session.scalars(
        select(EnrichmentRun)
        .where(EnrichmentRun.status.in_(ACTIVE_RUN_STATUSES))
        .order_by(EnrichmentRun.id)
    ).first()
    if active is not None:
        return active, False
    total = session.scalar(select(func.count()).select_from(Contact)) or 0
    run = EnrichmentRun(trigger=trigger, created_by=actor, total=total)
    session.add(run)
    session.flush()
    return run, True


def get_run(session: Session, run_id: int) -> EnrichmentRun:
    run = session.get(EnrichmentRun, run_id)
    if run is None:
        raise NotFound(f"enrichment run {run_id} not found")
    return run


def list_runs(session: Session, limit: int = 20) -> list[EnrichmentRun]:
    return list(
        session.scalars(select(EnrichmentRun).order_by(EnrichmentRun.id.desc()).limit(limit))
    )


def runs_state(session: Session, limit: int = 10) -> dict[str, Any]:
    """What the runs list shows that changes on its own, for its live stream."""
    return {
        "runs": [
            [r.id, r.status, r.processed, r.total, r.error, r.resume_at]
            for r in list_runs(session, limit)
        ]
    }


def retry_offered(recent: list[EnrichmentRun]) -> bool:
    """A failed run is retried by starting a new one: offered while the newest run failed."""
    return bool(recent) and recent[0].status == RunStatus.FAILED


def _claim(db: Database, tenant_id: int, run_id: int, owner: str) -> EnrichmentRun | None:
    now = utcnow()
    lease = timedelta(seconds=enrichment_settings().lease_s)
    with db.session(tenant_id=tenant_id) as session:
        claimed = session.execute(
            update(EnrichmentRun)
            .where(
                EnrichmentRun.id == run_id,
                EnrichmentRun.status.in_(ACTIVE_RUN_STATUSES),
                or_(EnrichmentRun.resume_at.is_(None), EnrichmentRun.resume_at <= now),
                or_(
                    EnrichmentRun.lease_until.is_(None),
                    EnrichmentRun.lease_until < now,
                    EnrichmentRun.lease_owner == owner,
                ),
            )
            .values(
                lease_owner=owner,
                lease_until=now + lease,
                status=RunStatus.RUNNING,
                resume_at=None,
                started_at=func.coalesce(EnrichmentRun.started_at, now),
            )
            .execution_options(synchronize_session=False)
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            return None
        run = session.get(EnrichmentRun, run_id, populate_existing=True)
        if run is not None:
            session.expunge(run)
        return run


def when_due(db: Database, tenant_id: int, run_id: int) -> datetime | None:
    """The ETA a run is waiting for (its reset time or the end of a live lease)."""
    with db.session(tenant_id=tenant_id) as session:
        run = session.get(EnrichmentRun, run_id)
        if run is None or run.status not in ACTIVE_RUN_STATUSES:
            return None
        now = utcnow()
        times = [t for t in (run.resume_at, run.lease_until) if t is not None and t > now]
        return max(times) if times else None


def process_run(db: Database, tenant_id: int, run_id: int, owner: str | None = None) -> Next:
    """Work on the run for one time slice (one lease holder at a time, even among threads)."""
    owner = owner or f"{WORKER_ID}:{uuid.uuid4().hex[:8]}"
    run = _claim(db, tenant_id, run_id, owner)
    if run is None:
        eta = when_due(db, tenant_id, run_id)
        return Next(eta=eta) if eta else Next()
    settings = enrichment_settings()
    pacers = {int(k): Pacer.load(v) for k, v in (run.budgets or {}).get("pacers", {}).items()}
    email_unavailable = set((run.budgets or {}).get("email_unavailable", []))
    cursor = run.cursor
    slice_end = time.monotonic() + settings.slice_s
    while True:
        if time.monotonic() > slice_end:
            _release(db, tenant_id, run_id, owner, None, RunStatus.QUEUED)
            return Next(more=True)
        with db.session(tenant_id=tenant_id) as session:
            contacts = list(
                session.scalars(
                    select(Contact)
                    .where(Contact.id > cursor)
                    .order_by(Contact.id)
                    .limit(settings.batch_size)
                )
            )
            if not contacts:
                _finish(session, run_id, owner)
                return Next()
            policy = service.tenant_policy(session, tenant_id)
            account_ids = [a.id for a in service.enrichment_accounts(session)]
            now = utcnow()
            loaded = service.load_works(session, contacts, now)
        handles = service.open_handles(db, tenant_id, account_ids)
        result = matching.discover_batch(
            handles,
            loaded.works,
            pacers,
            loaded.refresh_due,
            email_unavailable,
            settings.batch_s,
        )
        email_unavailable |= {o.account.id for o in result.outcomes if o.email_unavailable}
        with db.session(tenant_id=tenant_id) as session:
            if not _heartbeat(session, run_id, owner):
                log.warning("enrichment_lease_lost", run_id=run_id)
                return Next()
            counts = store.apply_batch(session, loaded, result, policy, now)
            done_ids = [w.contact_id for w in loaded.works[: result.done]]
            if done_ids:
                cursor = done_ids[-1]
            row = session.get(EnrichmentRun, run_id)
            assert row is not None
            row.cursor = cursor
            row.processed += counts.processed
            row.linked += counts.linked
            row.suggested += counts.suggested
            row.stale += counts.stale
            row.failed += counts.failed
            row.calls += sum(o.calls for o in result.outcomes)
            row.rate_limited += sum(o.rate_limited for o in result.outcomes)
            row.transient_errors += sum(o.transient for o in result.outcomes)
            row.budgets = _budgets(pacers, email_unavailable)
            wanted = store.posts_wanted(session, done_ids, loaded.consent, policy, now)
            if result.stop is None or result.stop.kind == "deadline":
                row.outage_attempts = 0
        if wanted:
            fetched, post_calls = matching.posts_batch(handles, wanted, pacers)
            with db.session(tenant_id=tenant_id) as session:
                store.store_posts(session, tenant_id, fetched, utcnow())
                row = session.get(EnrichmentRun, run_id)
                assert row is not None
                row.calls += post_calls
        stop = result.stop
        if stop is None or stop.kind == "deadline":
            continue
        if stop.kind in ("rate_limited", "pause"):
            eta = stop.until or utcnow() + timedelta(seconds=60)
            _release(db, tenant_id, run_id, owner, eta, RunStatus.WAITING)
            log.info("enrichment_run_waiting", run_id=run_id, reason=stop.kind, eta=eta.isoformat())
            return Next(eta=eta)
        if stop.kind == "reconnect" and stop.account_id is not None:
            _check_account(db, tenant_id, stop.account_id)
            continue
        return _back_off(db, tenant_id, run_id, owner, stop.message)


def _budgets(pacers: dict[int, Pacer], email_unavailable: set[int]) -> dict[str, Any]:
    return {
        "pacers": {str(k): p.dump() for k, p in pacers.items()},
        "email_unavailable": sorted(email_unavailable),
    }


def _check_account(db: Database, tenant_id: int, account_id: int) -> None:
    """One call through the official door: refreshes the grant, or marks the account failed
    (so the next batch leaves it out)."""

    async def me(p: Provider, ctx: CallContext) -> ProfileData:
        return await p.me(ctx)

    try:
        tokens.with_account(db, tenant_id, account_id, me)
    except (ProviderError, connections.AccountNotActive, NotFound) as exc:
        log.info("enrichment_account_unusable", account_id=account_id, reason=type(exc).__name__)


def _heartbeat(session: Session, run_id: int, owner: str) -> bool:
    lease = timedelta(seconds=enrichment_settings().lease_s)
    renewed = session.execute(
        update(EnrichmentRun)
        .where(EnrichmentRun.id == run_id, EnrichmentRun.lease_owner == owner)
        .values(lease_until=utcnow() + lease)
        .execution_options(synchronize_session=False)
    )
    return bool(renewed.rowcount == 1)  # type: ignore[attr-defined]


def _release(
    db: Database,
    tenant_id: int,
    run_id: int,
    owner: str,
    resume_at: datetime | None,
    status: RunStatus,
) -> None:
    with db.session(tenant_id=tenant_id) as session:
        session.execute(
            update(EnrichmentRun)
            .where(EnrichmentRun.id == run_id, EnrichmentRun.lease_owner == owner)
            .values(lease_owner=None, lease_until=None, resume_at=resume_at, status=status)
            .execution_options(synchronize_session=False)
        )


def _back_off(db: Database, tenant_id: int, run_id: int, owner: str, message: str) -> Next:
    """A provider outage: try again later, doubling the wait (capped), for hours."""
    settings = enrichment_settings()
    with db.session(tenant_id=tenant_id) as session:
        row = session.get(EnrichmentRun, run_id)
        assert row is not None
        row.outage_attempts += 1
        attempts = row.outage_attempts
        if attempts > settings.max_outage_attempts:
            row.status = RunStatus.FAILED
            row.error = f"the provider kept failing: {message}"[:500]
            row.finished_at = utcnow()
            row.lease_owner = row.lease_until = None
            return Next()
    wait = min(timedelta(seconds=15 * 2 ** min(attempts - 1, 10)), MAX_BACKOFF)
    eta = utcnow() + wait
    _release(db, tenant_id, run_id, owner, eta, RunStatus.WAITING)
    log.info("enrichment_run_backoff", run_id=run_id, attempts=attempts, eta=eta.isoformat())
    return Next(eta=eta)


def _finish(session: Session, run_id: int, owner: str) -> None:
    row = session.get(EnrichmentRun, run_id)
    if row is None or row.lease_owner != owner:
        return
    row.status = RunStatus.COMPLETED
    row.finished_at = utcnow()
    row.lease_owner = None
    row.lease_until = None
    row.resume_at = None


def runs_to_resume(db: Database) -> list[tuple[int, int, datetime | None]]:
    """Active runs nobody is working on: (tenant, run, when) for the queue to pick up again."""
    now = utcnow()
    with db.session(system=True) as session:
        rows = session.execute(
            select(
                EnrichmentRun.tenant_id,
                EnrichmentRun.id,
                EnrichmentRun.resume_at,
                EnrichmentRun.lease_until,
            ).where(EnrichmentRun.status.in_(ACTIVE_RUN_STATUSES))
        ).all()
    out = []
    for tenant_id, run_id, resume_at, lease_until in rows:
        times = [t for t in (resume_at, lease_until) if t is not None and t > now]
        out.append((int(tenant_id), int(run_id), max(times) if times else None))
    return out


def tenants_to_enrich(db: Database) -> list[int]:
    """Tenants with at least one active connected account (the nightly fan-out)."""
    return sorted({tenant_id for tenant_id, _ in tokens.active_accounts(db)})


def start_run(db: Database, tenant_id: int, *, trigger: str, actor: str) -> tuple[int, bool]:
    with db.session(tenant_id=tenant_id) as session:
        run, new = create_run(session, trigger=trigger, actor=actor)
        return run.id, new


def ensure_startable(session: Session) -> None:
    if not service.enrichment_accounts(session):
        raise Conflict("connect a social account first: there is nothing to look people up with")
