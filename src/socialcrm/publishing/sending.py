"""Publish each (post, account) target exactly once, when answers are lost and workers die.

A worker owns a target only after one committed conditional UPDATE took its lease: a due
``scheduled`` target, or a ``publishing`` one whose worker died (its lease ran out). Any
number of workers on any number of machines may race; one wins. The network call happens
outside every transaction and only the lease holder writes the outcome. An attempt that may
have reached the network (a timeout, a 5xx, a lost answer, a killed worker) is never followed
by a blind re-send: the next attempt first reads the account's recent posts and adopts the
post if it is there (``reconcile``).
"""

from __future__ import annotations

import os
import socket
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session

from socialcrm.connections import service as connections
from socialcrm.connections import tokens
from socialcrm.core import lease
from socialcrm.core.db import Database, utcnow
from socialcrm.core.errors import NotFound
from socialcrm.core.queue import enqueue_after_commit
from socialcrm.providers.base import (
    CallContext,
    NotSupported,
    PostData,
    ProfileGone,
    Provider,
    ProviderError,
    RateLimited,
    ReconnectRequired,
    TransientProviderError,
)
from socialcrm.providers.outcomes import RequestRejected
from socialcrm.publishing import reconcile
from socialcrm.publishing.models import PostTarget, ScheduledPost, TargetStatus
from socialcrm.publishing.next_steps import INTERRUPTED, NEEDS_RECONNECT

log = structlog.get_logger(__name__)

MAX_ATTEMPTS = 5
BACKOFF_BASE_S = 30
VERIFY_AFTER = timedelta(minutes=1)
ADOPTABLE = timedelta(days=1)  # how far back other targets' network ids are kept out


class CannotReconcile(ProviderError):
    """The network cannot list the account's posts: a lost answer cannot be checked."""


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


def backoff(attempts: int) -> timedelta:
    """30 s, 60 s, 120 s, … between attempts after transient failures."""
    return timedelta(seconds=BACKOFF_BASE_S * 2 ** max(0, attempts - 1))


@dataclass(frozen=True, slots=True)
class _Job:
    tenant_id: int
    target_id: int
    account_id: int
    text: str
    media_urls: tuple[str, ...]
    attempts: int
    owner: str
    started_at: datetime
    external_id: str  # the network's id from an earlier attempt: confirm, never publish
    check_first: bool  # an earlier attempt may have reached the network
    taken: frozenset[str]  # other targets' network ids on this account


@dataclass(frozen=True, slots=True)
class _Published:
    post: PostData
    live: PostData | None
    readback_error: str  # "" | "gone" | "unverified"
    adopted: bool = False


# --- claim ---------------------------------------------------------------------------------


def _claimable(status: str, now: datetime) -> list[Any]:
    if status == TargetStatus.SCHEDULED:
        return [PostTarget.status == TargetStatus.SCHEDULED, PostTarget.due_at <= now]
    return [PostTarget.status == TargetStatus.PUBLISHING]  # taken over: its lease ran out


def claim(db: Database, tenant_id: int, target_id: int, worker: str) -> _Job | None:
    """Own the target or learn that someone else does: one committed conditional UPDATE."""
    now = utcnow()
    owner = f"{worker[:100]}:{uuid.uuid4().hex[:8]}"
    with db.session(tenant_id=tenant_id) as session:
        row = session.get(PostTarget, target_id)
        if row is None or row.status not in (TargetStatus.SCHEDULED, TargetStatus.PUBLISHING):
            return None
        taken_over = row.status == TargetStatus.PUBLISHING
        if not lease.take(
            session,
            PostTarget,
            target_id,
            owner,
            *_claimable(row.status, now),
            status=TargetStatus.PUBLISHING,
            claimed_by=worker[:120],
            claimed_at=now,
            started_at=func.coalesce(PostTarget.started_at, now),
            # Confirming a post the network already gave an id for is not another attempt.
            attempts=case(
                (PostTarget.external_id == "", PostTarget.attempts + 1),
                else_=PostTarget.attempts,
            ),
        ):
            return None
        target = session.get(PostTarget, target_id, populate_existing=True)
        assert target is not None
        assert target.started_at is not None
        post = session.get(ScheduledPost, target.post_id)
        return _Job(
            tenant_id=tenant_id,
            target_id=target_id,
            account_id=target.social_account_id,
            text=target.text,
            media_urls=tuple(post.media_urls) if post is not None else (),
            attempts=target.attempts,
            owner=owner,
            started_at=target.started_at,
            external_id=target.external_id,
            check_first=taken_over or target.attempts > 1,
            taken=_taken_ids(session, target),
        )


def _taken_ids(session: Session, target: PostTarget) -> frozenset[str]:
    assert target.started_at is not None
    return frozenset(
        session.scalars(
            select(PostTarget.external_id).where(
                PostTarget.social_account_id == target.social_account_id,
                PostTarget.id != target.id,
                PostTarget.external_id != "",
                PostTarget.claimed_at >= target.started_at - ADOPTABLE,
            )
        )
    )


# --- the attempt -----------------------------------------------------------------------------


def _attempt(job: _Job) -> Any:
    async def act(provider: Provider, ctx: CallContext) -> _Published:
        if job.check_first:
            found = await _look_for(provider, ctx, job)
            if found is not None:
                return _Published(found, found, "", adopted=True)
        if job.media_urls:
            post = await provider.publish_media(ctx, job.text, job.media_urls)
        else:
            post = await provider.publish(ctx, job.text)
        # Read it back: a "published" the network does not show is a failure. Errors here
        # must not escape, or a token refresh-and-retry would publish a second time.
        try:
            return _Published(post, await provider.metrics(ctx, post.id), "")
        except ProfileGone:
            return _Published(post, None, "gone")
        except ProviderError:
            return _Published(post, None, "unverified")

    return act


async def _look_for(provider: Provider, ctx: CallContext, job: _Job) -> PostData | None:
    """The post an earlier attempt may have created, on the account's recent posts."""
    try:
        recent = await provider.posts(ctx, ctx.user_id, reconcile.RECENT_POSTS)
    except NotSupported as exc:
        raise CannotReconcile(str(exc)) from exc
    return reconcile.find_published(recent, job.text, since=job.started_at, taken=job.taken)


def publish_target(db: Database, tenant_id: int, target_id: int, *, worker: str = "") -> str:
    """Claim and publish (or confirm) one target. Returns what happened: skipped, published,
    failed, retry, unverified."""
    job = claim(db, tenant_id, target_id, worker or worker_name())
    if job is None:
        return "skipped"
    if job.external_id:
        return _verify(db, job)
    try:
        result: _Published = tokens.with_account(db, tenant_id, job.account_id, _attempt(job))
    except RateLimited as exc:
        return _retry(db, job, exc.retry_at, "rate limited by the network", count=False)
    except TransientProviderError as exc:
        reason = f"{exc}; the network is checked for the post before it is sent again"
        return _retry(db, job, utcnow() + backoff(job.attempts), reason)
    except (ReconnectRequired, connections.AccountNotActive, NotFound):
        return _fail(db, job, NEEDS_RECONNECT)
    except CannotReconcile:
        return _fail(db, job, INTERRUPTED)
    except (RequestRejected, NotSupported, ProfileGone) as exc:
        return _fail(db, job, f"the network refused the post: {exc}"[:500])
    return _record(db, job, result)


def _outcome(db: Database, job: _Job, **values: Any) -> bool:
    """Write the attempt's outcome and give the lease up, if the lease is still ours."""
    with db.session(tenant_id=job.tenant_id) as session:
        if lease.release(session, PostTarget, job.target_id, job.owner, **values):
            return True
    log.warning("publish_outcome_after_lease_lost", target_id=job.target_id)
    return False


def _retry(db: Database, job: _Job, when: datetime, reason: str, *, count: bool = True) -> str:
    if count and job.attempts >= MAX_ATTEMPTS:
        error = f"gave up after {job.attempts} attempts: {reason}"
        done = _outcome(db, job, status=TargetStatus.FAILED, error=error[:500])
        return "failed" if done else "skipped"
    values: dict[str, Any] = {
        "status": TargetStatus.SCHEDULED,
        "due_at": when,
        "error": f"will retry: {reason}"[:500],
    }
    if not count:
        values["attempts"] = PostTarget.attempts - 1
    with db.session(tenant_id=job.tenant_id) as session:
        if not lease.release(session, PostTarget, job.target_id, job.owner, **values):
            return "skipped"
        from socialcrm.publishing.tasks import publish_target as task

        enqueue_after_commit(session, task.schedule, (job.tenant_id, job.target_id), eta=when)
    log.info("publish_retry", target_id=job.target_id, at=when.isoformat())
    return "retry"


def _fail(db: Database, job: _Job, reason: str) -> str:
    _outcome(db, job, status=TargetStatus.FAILED, error=reason[:500])
    log.info("publish_failed", target_id=job.target_id)
    return "failed"


def _record(db: Database, job: _Job, result: _Published) -> str:
    now = utcnow()
    found: dict[str, Any] = {
        "external_id": result.post.id,
        "url": result.post.url,
        "published_at": now,
    }
    if result.adopted:
        log.info("publish_adopted", target_id=job.target_id, external_id=result.post.id)
    if result.readback_error == "gone":
        error = "the network accepted the post but does not show it"
        _outcome(db, job, **found, status=TargetStatus.FAILED, error=error)
        return "failed"
    if result.readback_error == "unverified":
        _outcome(db, job, **found, error="published; waiting to confirm it on the network")
        return "unverified"
    if not result.post.url and result.live is not None:
        found["url"] = result.live.url
    _outcome(db, job, **found, **_confirmed(now))
    return "published"


def _confirmed(now: datetime) -> dict[str, Any]:
    return {"status": TargetStatus.PUBLISHED, "verified_at": now, "error": ""}


def _verify(db: Database, job: _Job) -> str:
    """Read a published-but-unconfirmed post back from the network."""
    external_id = job.external_id

    async def read(provider: Provider, ctx: CallContext) -> PostData:
        return await provider.metrics(ctx, external_id)

    try:
        live: PostData = tokens.with_account(db, job.tenant_id, job.account_id, read)
    except ProfileGone:
        error = "the network accepted the post but does not show it"
        _outcome(db, job, status=TargetStatus.FAILED, error=error)
        return "failed"
    except (ProviderError, connections.AccountNotActive, NotFound):
        _outcome(db, job)  # still publishing, with its id: confirmed at a later run
        return "unverified"
    shown = {"url": live.url} if live.url else {}
    _outcome(db, job, **_confirmed(utcnow()), **shown)
    return "published"


# --- what the dispatcher hands out -----------------------------------------------------------


def due_targets(db: Database, now: datetime, limit: int = 500) -> list[tuple[int, int]]:
    """(tenant_id, target_id) of scheduled targets whose time has come (periodic fan-out)."""
    with db.session(system=True) as session:
        rows = session.execute(
            select(PostTarget.tenant_id, PostTarget.id)
            .where(PostTarget.status == TargetStatus.SCHEDULED, PostTarget.due_at <= now)
            .order_by(PostTarget.due_at)
            .limit(limit)
        )
        return [(int(t), int(i)) for t, i in rows]


def interrupted_targets(
    db: Database, now: datetime, *, held: bool = False, limit: int = 500
) -> list[tuple[int, int, datetime | None]]:
    """(tenant_id, target_id, when) of targets left in ``publishing``: a dead worker's (its
    lease ran out) or one waiting to be confirmed on the network. ``held``: also those whose
    worker still holds the lease, due when it runs out (what a starting worker schedules)."""
    waiting = or_(PostTarget.external_id == "", PostTarget.claimed_at <= now - VERIFY_AFTER)
    stale = and_(lease.free(PostTarget, now), waiting)
    with db.session(system=True) as session:
        rows = session.execute(
            select(PostTarget.tenant_id, PostTarget.id, PostTarget.lease_until)
            .where(
                PostTarget.status == TargetStatus.PUBLISHING,
                or_(stale, PostTarget.lease_until.is_not(None)) if held else stale,
            )
            .order_by(PostTarget.id)
            .limit(limit)
        )
        return [(int(t), int(i), lease.when_free(until, now)) for t, i, until in rows]
