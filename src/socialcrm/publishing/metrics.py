"""Engagement metrics of published posts, re-read in cycles that survive a killed worker.

Every 30 minutes each account with recent posts gets a cycle (``MetricsPacing.requested_at``).
A worker takes the account's lease and reads its posts in small chunks; each chunk's totals,
their daily deltas and the lease renewal are one unit of work, so a worker killed mid-cycle
loses only the chunk in flight, and whoever takes the lease over goes on with the posts not
yet read in this cycle: each post's change is counted exactly once. The network is respected:
reads stop when its remaining budget runs low, and after a 429 nothing is read for the account
before its reset time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import and_, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from socialcrm.connections import service as connections
from socialcrm.connections import tokens
from socialcrm.core import lease
from socialcrm.core.db import Database, utcnow
from socialcrm.core.errors import NotFound
from socialcrm.providers.base import (
    CallContext,
    PostData,
    ProfileGone,
    Provider,
    RateLimited,
)
from socialcrm.publishing.models import MetricsPacing, PostTarget, TargetStatus
from socialcrm.publishing.service import add_engagement

log = structlog.get_logger(__name__)

WINDOW = timedelta(days=30)
BATCH = 50  # posts per account and cycle, least recently read first
CHUNK = 10  # posts per unit of work
BUDGET_RESERVE = 2  # leave a little of the window for the rest of the product
RESUME_GRACE = timedelta(minutes=1)  # a cycle just asked for has its task queued already


@dataclass(frozen=True, slots=True)
class _Read:
    posts: dict[str, PostData]
    gone: list[str]
    retry_at: datetime | None


def accounts_with_recent_posts(db: Database, now: datetime) -> list[tuple[int, int]]:
    with db.session(system=True) as session:
        rows = session.execute(
            select(PostTarget.tenant_id, PostTarget.social_account_id)
            .where(
                PostTarget.status == TargetStatus.PUBLISHED,
                PostTarget.published_at >= now - WINDOW,
            )
            .distinct()
        )
        return [(int(t), int(a)) for t, a in rows]


def request_cycle(db: Database, tenant_id: int, account_id: int, now: datetime) -> None:
    """Ask for a metrics cycle of the account (kept if one is already pending)."""
    for _ in range(2):  # two schedulers may race to create the account's row
        try:
            with db.session(tenant_id=tenant_id) as session:
                pacing = _pacing(session, account_id)
                if pacing.requested_at is None:
                    pacing.requested_at = now
            return
        except IntegrityError:
            continue


def _pacing(session: Session, account_id: int) -> MetricsPacing:
    pacing = session.scalars(
        select(MetricsPacing).where(MetricsPacing.social_account_id == account_id)
    ).first()
    if pacing is None:
        pacing = MetricsPacing(social_account_id=account_id)
        session.add(pacing)
        session.flush()
    return pacing


def _take(db: Database, tenant_id: int, account_id: int, owner: str) -> MetricsPacing | None:
    now = utcnow()
    with db.session(tenant_id=tenant_id) as session:
        pacing = _pacing(session, account_id)
        waiting = or_(MetricsPacing.resume_at.is_(None), MetricsPacing.resume_at <= now)
        if not lease.take(
            session,
            MetricsPacing,
            pacing.id,
            owner,
            waiting,
            requested_at=func.coalesce(MetricsPacing.requested_at, now),
        ):
            return None
        taken = session.get(MetricsPacing, pacing.id, populate_existing=True)
        assert taken is not None
        session.expunge(taken)
        return taken


def refresh_metrics(db: Database, tenant_id: int, account_id: int) -> int:
    """Run (or go on with) the account's metrics cycle. Returns posts refreshed."""
    owner = lease.new_owner()
    pacing = _take(db, tenant_id, account_id, owner)
    if pacing is None:
        return 0
    assert pacing.requested_at is not None
    cycle, refreshed = pacing.requested_at, 0
    try:
        while True:
            ids = _next_chunk(db, tenant_id, account_id, cycle)
            if not ids:
                _release(db, tenant_id, pacing.id, owner, requested_at=None)
                return refreshed
            outcome = _read(db, tenant_id, account_id, ids)
            stored = _store(db, tenant_id, pacing.id, owner, account_id, outcome)
            if stored is None:
                log.warning("metrics_lease_lost", account_id=account_id)
                return refreshed
            refreshed += stored
            if outcome.retry_at is not None:  # the cycle goes on after the network's reset
                _release(db, tenant_id, pacing.id, owner, resume_at=outcome.retry_at)
                return refreshed
    except (connections.AccountNotActive, NotFound):
        _release(db, tenant_id, pacing.id, owner, requested_at=None)
        raise
    except BaseException:
        _release(db, tenant_id, pacing.id, owner)  # taken again at the next resume scan
        raise


def _release(db: Database, tenant_id: int, pacing_id: int, owner: str, **values: Any) -> None:
    with db.session(tenant_id=tenant_id) as session:
        lease.release(session, MetricsPacing, pacing_id, owner, **values)


def _next_chunk(db: Database, tenant_id: int, account_id: int, cycle: datetime) -> list[str]:
    """The next posts of this cycle not read yet (at most ``BATCH`` per cycle)."""
    recent = and_(
        PostTarget.social_account_id == account_id,
        PostTarget.status == TargetStatus.PUBLISHED,
        PostTarget.published_at >= cycle - WINDOW,
    )
    with db.session(tenant_id=tenant_id) as session:
        done = session.scalar(
            select(func.count())
            .select_from(PostTarget)
            .where(recent, PostTarget.metrics_at >= cycle)
        )
        room = min(CHUNK, BATCH - int(done or 0))
        if room <= 0:
            return []
        return list(
            session.scalars(
                select(PostTarget.external_id)
                .where(recent, or_(PostTarget.metrics_at.is_(None), PostTarget.metrics_at < cycle))
                .order_by(PostTarget.metrics_at.is_not(None), PostTarget.metrics_at, PostTarget.id)
                .limit(room)
            )
        )


def _read(db: Database, tenant_id: int, account_id: int, ids: Sequence[str]) -> _Read:
    """One chunk from the network, outside every transaction."""

    async def read(provider: Provider, ctx: CallContext) -> _Read:
        got: dict[str, PostData] = {}
        gone: list[str] = []
        for external_id in ids:
            remaining = ctx.budget.remaining
            if remaining is not None and remaining <= BUDGET_RESERVE:
                return _Read(got, gone, ctx.budget.reset_at)
            try:
                got[external_id] = await provider.metrics(ctx, external_id)
            except ProfileGone:
                gone.append(external_id)
            except RateLimited as exc:
                return _Read(got, gone, exc.retry_at)
        return _Read(got, gone, None)

    try:
        outcome: _Read = tokens.with_account(db, tenant_id, account_id, read)
    except RateLimited as exc:
        return _Read({}, [], exc.retry_at)
    return outcome


def _store(
    db: Database, tenant_id: int, pacing_id: int, owner: str, account_id: int, outcome: _Read
) -> int | None:
    """The chunk's totals and deltas, with the lease renewal: None if the lease was lost."""
    now = utcnow()
    with db.session(tenant_id=tenant_id) as session:
        if not lease.renew(session, MetricsPacing, pacing_id, owner):
            return None
        targets = session.scalars(
            select(PostTarget).where(
                PostTarget.social_account_id == account_id,
                PostTarget.external_id.in_(list(outcome.posts) + outcome.gone),
            )
        )
        for target in targets:
            live = outcome.posts.get(target.external_id)
            if live is None:
                target.error = "the post is no longer on the network"
                target.metrics_at = now
                continue
            _apply_metrics(session, target, live, now)
    return len(outcome.posts)


def _apply_metrics(session: Session, target: PostTarget, live: PostData, now: datetime) -> None:
    """Store the new totals and add what changed to today's row of the campaign series."""
    fresh = {
        "likes": live.likes or 0,
        "comments": live.replies or 0,
        "shares": live.reposts or 0,
        "impressions": live.impressions or 0,
    }
    deltas = {k: v - int(getattr(target, k)) for k, v in fresh.items()}
    for name, value in fresh.items():
        setattr(target, name, value)
    target.metrics_at = now
    if any(deltas.values()):
        add_engagement(session, target, now, **deltas)


def cycles_to_resume(
    db: Database, now: datetime, *, held: bool = False
) -> list[tuple[int, int, datetime | None]]:
    """(tenant_id, account_id, when) of cycles asked for and unfinished with nobody on them
    (a dead worker's lease ran out, or a 429's reset passed). ``held``: also those whose lease
    is live or that wait for a reset, due when that ends (what a starting worker schedules)."""
    with db.session(system=True) as session:
        rows = session.execute(
            select(
                MetricsPacing.tenant_id,
                MetricsPacing.social_account_id,
                MetricsPacing.lease_until,
                MetricsPacing.resume_at,
            ).where(
                MetricsPacing.requested_at.is_not(None),
                MetricsPacing.requested_at <= now - RESUME_GRACE,
            )
        ).all()
    out = []
    for tenant_id, account_id, lease_until, resume_at in rows:
        waits = [t for t in (lease_until, resume_at) if t is not None and t > now]
        if waits and not held:
            continue
        out.append((int(tenant_id), int(account_id), max(waits) if waits else None))
    return out
