"""Compose, approve, schedule, publish exactly once, confirm on the network, and measure.

Exactly once: a worker owns a (post, account) target only after its conditional
``UPDATE … SET status='publishing' WHERE id=… AND status='scheduled'`` changed one row and was
committed; any number of workers on any number of machines may race for it, one wins. The
network call happens outside every transaction; its outcome is written afterwards. A target
left in ``publishing`` without a network id (a worker died mid-call) is never re-sent blindly:
it is failed with a reason that asks a person to check the network.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from socialcrm.connections import service as connections
from socialcrm.connections.models import AccountStatus, Ownership, SocialAccount
from socialcrm.core import audit
from socialcrm.core.db import Database, utcnow
from socialcrm.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from socialcrm.core.queue import enqueue_after_commit
from socialcrm.core.settings import get_settings
from socialcrm.crm.models import Campaign
from socialcrm.providers.base import (
    CallContext,
    Capability,
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
from socialcrm.providers.registry import PROVIDERS
from socialcrm.publishing import clock, links, textrules
from socialcrm.publishing.models import (
    EDITABLE,
    CampaignBudget,
    EngagementDaily,
    MetricsPacing,
    PostTarget,
    ScheduledPost,
    TargetStatus,
    TrackedLink,
)
from socialcrm.tenancy.models import Role, Tenant
from socialcrm.tenancy.service import Principal

log = structlog.get_logger(__name__)

WRITERS = (Role.ADMIN, Role.MARKETING)
MAX_ATTEMPTS = 5
BACKOFF_BASE_S = 30
STUCK_AFTER = timedelta(minutes=15)
VERIFY_AFTER = timedelta(minutes=1)
METRICS_WINDOW = timedelta(days=30)
METRICS_BATCH = 50
METRICS_BUDGET_RESERVE = 2  # leave a little of the window for the rest of the product


# --- inputs ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TargetSpec:
    account_id: int
    text: str | None = None  # a per-account variant; None = the post's text


@dataclass(frozen=True, slots=True)
class Composition:
    text: str
    targets: Sequence[TargetSpec]
    action: str = "draft"  # draft | schedule | now
    local_time: datetime | None = None  # wall time in ``time_zone`` (action "schedule")
    time_zone: str = "UTC"
    occurrence: clock.Occurrence = clock.Occurrence.EARLIER
    campaign_id: int | None = None
    track_links: bool = True
    utm_campaign: str = ""
    media_urls: Sequence[str] = field(default_factory=tuple)


# --- pure helpers ------------------------------------------------------------------------


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


def backoff(attempts: int) -> timedelta:
    """30 s, 60 s, 120 s, … between attempts after transient failures."""
    return timedelta(seconds=BACKOFF_BASE_S * 2 ** max(0, attempts - 1))


def redirect_url(code: str) -> str:
    return f"{get_settings().base_url.rstrip('/')}/r/{code}"


# --- composing ---------------------------------------------------------------------------


def _require_writer(principal: Principal) -> None:
    if principal.role not in WRITERS:
        raise Forbidden("composing posts needs the admin or marketing role")


def approval_required(session: Session, principal: Principal) -> bool:
    tenant = session.get(Tenant, principal.tenant_id)
    policy = tenant.policy if tenant is not None else {}
    return bool(policy.get("publishing_approval")) and principal.role != Role.ADMIN


def approval_policy(session: Session, tenant_id: int) -> bool:
    """Whether the tenant's posts by non-admins wait for an admin's approval."""
    tenant = session.get(Tenant, tenant_id)
    return bool((tenant.policy if tenant is not None else {}).get("publishing_approval"))


def set_approval_policy(session: Session, principal: Principal, required: bool) -> bool:
    if principal.role != Role.ADMIN:
        raise Forbidden("only an admin changes the approval policy")
    tenant = session.get(Tenant, principal.tenant_id)
    if tenant is None:
        raise NotFound("tenant not found")
    tenant.policy = {**(tenant.policy or {}), "publishing_approval": required}
    audit.record(
        session,
        actor=principal.actor,
        action="publishing.approval_policy",
        target_type="tenant",
        target_id=tenant.id,
        details={"required": required},
    )
    session.flush()
    return required


def brand_accounts(session: Session) -> list[SocialAccount]:
    """Active brand accounts whose network can publish: what a post may target."""
    rows = session.scalars(
        select(SocialAccount)
        .where(
            SocialAccount.ownership == Ownership.BRAND,
            SocialAccount.status == AccountStatus.ACTIVE,
        )
        .order_by(SocialAccount.provider, SocialAccount.handle)
    )
    return [a for a in rows if _can_publish(a.provider)]


def _can_publish(network: str) -> bool:
    info = PROVIDERS.get(network)
    return info is not None and bool(
        {Capability.PUBLISH, Capability.PUBLISH_MEDIA} & info.capabilities
    )


def _publish_account(session: Session, account_id: int) -> SocialAccount:
    account = session.get(SocialAccount, account_id)
    if account is None:
        raise ValidationFailed(
            f"connected account {account_id} not found", details={"account_id": account_id}
        )
    if account.ownership != Ownership.BRAND:
        raise ValidationFailed(
            "posts are published from brand accounts only", details={"account_id": account_id}
        )
    if account.status != AccountStatus.ACTIVE:
        raise ValidationFailed(
            f"@{account.handle} is {account.status}: reconnect it first",
            details={"account_id": account_id, "status": account.status},
        )
    if not _can_publish(account.provider):
        raise ValidationFailed(
            f"{account.provider} does not support publishing", details={"account_id": account_id}
        )
    return account


def _check_media(network: str, media_urls: Sequence[str]) -> None:
    caps = PROVIDERS[network].capabilities
    if media_urls and Capability.PUBLISH_MEDIA not in caps:
        raise ValidationFailed(
            f"images are not supported for {network} posts yet", details={"network": network}
        )
    if not media_urls and Capability.PUBLISH not in caps:
        raise ValidationFailed(
            f"{network} posts need an image or a video", details={"network": network}
        )
    for url in media_urls:
        if not url.startswith("https://"):
            raise ValidationFailed("media URLs must be https URLs", details={"url": url[:200]})


def _resolve_time(comp: Composition) -> tuple[datetime | None, str]:
    if comp.action != "schedule":
        return None, ""
    if comp.local_time is None:
        raise ValidationFailed("scheduling needs local_time (a wall time) and time_zone")
    try:
        instant = clock.to_utc(comp.local_time, comp.time_zone, comp.occurrence)
    except clock.InvalidLocalTime as exc:
        raise ValidationFailed(str(exc), details={"time_zone": comp.time_zone}) from exc
    if instant <= utcnow():
        raise ValidationFailed(
            "that time is in the past: publish now or pick a later time",
            details={"publish_at": instant.isoformat()},
        )
    return instant, comp.local_time.isoformat(timespec="minutes")


def _utm_campaign(session: Session, post: ScheduledPost) -> str:
    if post.utm_campaign:
        return post.utm_campaign
    if post.campaign_id is not None:
        campaign = session.get(Campaign, post.campaign_id)
        if campaign is not None:
            return campaign.tracking_tag or campaign.name.lower().replace(" ", "-")
    return ""


def _final_text(session: Session, post: ScheduledPost, target: PostTarget) -> str:
    """The target's text with links tagged (UTM) and, if tracked, routed through /r/{code}."""
    for old in session.scalars(select(TrackedLink).where(TrackedLink.target_id == target.id)):
        session.delete(old)
    raw = target.variant_text if target.variant_text is not None else post.text
    utm = links.Utm(
        source=target.network, campaign=_utm_campaign(session, post), content=f"post-{post.id}"
    )

    def replace(url: str) -> str:
        tagged = links.tag(url, utm)
        if not post.track_links:
            return tagged
        link = TrackedLink(
            code=links.new_code(),
            target_id=target.id,
            campaign_id=post.campaign_id,
            destination=tagged,
        )
        session.add(link)
        return redirect_url(link.code)

    return links.rewrite(raw, replace)


def _validate_lengths(targets: Sequence[PostTarget]) -> None:
    problems = []
    for target in targets:
        counted = textrules.count(target.network, target.text)
        if not counted.fits:
            problems.append(
                {
                    "account_id": target.social_account_id,
                    "network": target.network,
                    "used": counted.used,
                    "limit": counted.limit,
                    "unit": counted.unit,
                }
            )
    if problems:
        raise ValidationFailed(
            "the text does not fit every network", details={"too_long_or_empty": problems}
        )


def _initial_status(session: Session, principal: Principal, action: str) -> TargetStatus:
    if action == "draft":
        return TargetStatus.DRAFT
    if approval_required(session, principal):
        return TargetStatus.AWAITING_APPROVAL
    return TargetStatus.SCHEDULED


def compose(session: Session, principal: Principal, comp: Composition) -> ScheduledPost:
    _require_writer(principal)
    if comp.action not in ("draft", "schedule", "now"):
        raise ValidationFailed("action must be draft, schedule or now")
    if not comp.targets:
        raise ValidationFailed("pick at least one brand account")
    ids = [t.account_id for t in comp.targets]
    if len(set(ids)) != len(ids):
        raise ValidationFailed("an account appears twice", details={"account_ids": ids})
    if comp.campaign_id is not None and session.get(Campaign, comp.campaign_id) is None:
        raise ValidationFailed(f"campaign {comp.campaign_id} does not exist")
    accounts = [_publish_account(session, i) for i in ids]
    for account in accounts:
        _check_media(account.provider, comp.media_urls)
    publish_at, local = _resolve_time(comp)
    post = ScheduledPost(
        text=comp.text,
        author_user_id=principal.user_id,
        actor=principal.actor,
        campaign_id=comp.campaign_id,
        time_zone=comp.time_zone if comp.action == "schedule" else "UTC",
        local_time=local,
        publish_at=publish_at,
        track_links=comp.track_links,
        utm_campaign=comp.utm_campaign,
        media_urls=list(comp.media_urls),
    )
    session.add(post)
    session.flush()
    status = _initial_status(session, principal, comp.action)
    targets = []
    for spec, account in zip(comp.targets, accounts, strict=True):
        target = PostTarget(
            post_id=post.id,
            social_account_id=account.id,
            network=account.provider,
            campaign_id=comp.campaign_id,
            variant_text=spec.text,
            status=status,
            due_at=publish_at or utcnow(),
        )
        session.add(target)
        targets.append(target)
    session.flush()
    for target in targets:
        target.text = _final_text(session, post, target)
    if status != TargetStatus.DRAFT:
        _validate_lengths(targets)
    session.flush()
    audit.record(
        session,
        actor=principal.actor,
        action="post.compose",
        target_type="post",
        target_id=post.id,
        details={"action": comp.action, "accounts": ids, "status": status},
    )
    if status == TargetStatus.SCHEDULED:
        _enqueue_due(session, post, targets)
    return post


def _enqueue_due(session: Session, post: ScheduledPost, targets: Sequence[PostTarget]) -> None:
    """Hand each target to the queue at its time (after commit); the periodic dispatcher is
    the safety net, and the claim makes any duplicate harmless."""
    from socialcrm.publishing.tasks import publish_target

    for target in targets:
        if post.publish_at is None:
            enqueue_after_commit(session, publish_target, post.tenant_id, target.id)
        else:
            enqueue_after_commit(
                session,
                publish_target.schedule,
                (post.tenant_id, target.id),
                eta=post.publish_at,
            )


def get_post(session: Session, post_id: int) -> ScheduledPost:
    post = session.get(ScheduledPost, post_id)
    if post is None:
        raise NotFound(f"post {post_id} not found")
    return post


def targets_of(session: Session, post_ids: Sequence[int]) -> dict[int, list[PostTarget]]:
    grouped: dict[int, list[PostTarget]] = {i: [] for i in post_ids}
    if not post_ids:
        return grouped
    rows = session.scalars(
        select(PostTarget).where(PostTarget.post_id.in_(post_ids)).order_by(PostTarget.id)
    )
    for target in rows:
        grouped[target.post_id].append(target)
    return grouped


def list_posts(
    session: Session, *, limit: int = 50, before: int | None = None, status: str | None = None
) -> list[ScheduledPost]:
    stmt = select(ScheduledPost).order_by(ScheduledPost.id.desc()).limit(limit)
    if before is not None:
        stmt = stmt.where(ScheduledPost.id < before)
    if status:
        stmt = stmt.where(
            ScheduledPost.id.in_(select(PostTarget.post_id).where(PostTarget.status == status))
        )
    return list(session.scalars(stmt))


def _lock_editable(session: Session, post: ScheduledPost) -> list[PostTarget]:
    """Take the targets' row locks, but only if none has started publishing.

    The same conditional UPDATE a worker's claim uses, so an edit and a claim serialise: the
    loser sees the other's change.
    """
    total = session.scalar(
        select(func.count()).select_from(PostTarget).where(PostTarget.post_id == post.id)
    )
    locked = session.execute(
        update(PostTarget)
        .where(PostTarget.post_id == post.id, PostTarget.status.in_(EDITABLE))
        .values(attempts=PostTarget.attempts)
        .execution_options(synchronize_session=False)
    )
    if locked.rowcount != total:  # type: ignore[attr-defined]
        raise Conflict(
            "publishing has started for this post: it can no longer be changed",
            details={"post_id": post.id},
        )
    return list(
        session.scalars(
            select(PostTarget)
            .where(PostTarget.post_id == post.id)
            .order_by(PostTarget.id)
            .execution_options(populate_existing=True)
        )
    )


def update_post(
    session: Session, principal: Principal, post_id: int, comp: Composition
) -> ScheduledPost:
    """Change text, variants, time or accounts while nothing has started publishing."""
    _require_writer(principal)
    post = get_post(session, post_id)
    existing = {t.social_account_id: t for t in _lock_editable(session, post)}
    if comp.action not in ("draft", "schedule", "now"):
        raise ValidationFailed("action must be draft, schedule or now")
    if not comp.targets:
        raise ValidationFailed("pick at least one brand account")
    if comp.campaign_id is not None and session.get(Campaign, comp.campaign_id) is None:
        raise ValidationFailed(f"campaign {comp.campaign_id} does not exist")
    wanted = {t.account_id: t for t in comp.targets}
    for account_id in wanted:
        account = _publish_account(session, account_id) if account_id not in existing else None
        if account is not None:
            _check_media(account.provider, comp.media_urls)
    publish_at, local = _resolve_time(comp)
    post.text = comp.text
    post.campaign_id = comp.campaign_id
    post.time_zone = comp.time_zone if comp.action == "schedule" else "UTC"
    post.local_time = local
    post.publish_at = publish_at
    post.track_links = comp.track_links
    post.utm_campaign = comp.utm_campaign
    post.media_urls = list(comp.media_urls)
    post.approved_by, post.approved_at = "", None
    status = _initial_status(session, principal, comp.action)
    for account_id, old in existing.items():
        if account_id not in wanted:
            session.delete(old)
    targets = []
    for account_id, spec in wanted.items():
        target = existing.get(account_id)
        if target is None:
            account = _publish_account(session, account_id)
            target = PostTarget(
                post_id=post.id, social_account_id=account_id, network=account.provider
            )
            session.add(target)
        target.variant_text = spec.text
        target.campaign_id = comp.campaign_id
        target.status = status
        target.due_at = publish_at or utcnow()
        target.error = ""
        targets.append(target)
    session.flush()
    for target in targets:
        target.text = _final_text(session, post, target)
    if status != TargetStatus.DRAFT:
        _validate_lengths(targets)
    session.flush()
    audit.record(
        session,
        actor=principal.actor,
        action="post.update",
        target_type="post",
        target_id=post.id,
        details={"action": comp.action, "status": status},
    )
    if status == TargetStatus.SCHEDULED:
        _enqueue_due(session, post, targets)
    return post


def cancel_post(session: Session, principal: Principal, post_id: int) -> ScheduledPost:
    _require_writer(principal)
    post = get_post(session, post_id)
    targets = _lock_editable(session, post)
    for target in targets:
        target.status = TargetStatus.CANCELLED
    audit.record(
        session, actor=principal.actor, action="post.cancel", target_type="post", target_id=post.id
    )
    session.flush()
    return post


def review_post(
    session: Session, principal: Principal, post_id: int, *, approve: bool, note: str = ""
) -> ScheduledPost:
    """An admin approves (→ scheduled) or sends back (→ draft) a post awaiting approval."""
    if principal.role != Role.ADMIN:
        raise Forbidden("only an admin approves posts")
    post = get_post(session, post_id)
    targets = _lock_editable(session, post)
    if not targets or any(t.status != TargetStatus.AWAITING_APPROVAL for t in targets):
        raise Conflict("this post is not awaiting approval", details={"post_id": post.id})
    now = utcnow()
    for target in targets:
        target.status = TargetStatus.SCHEDULED if approve else TargetStatus.DRAFT
        target.due_at = max(post.publish_at or now, now)
    post.review_note = note
    if approve:
        post.approved_by, post.approved_at = principal.actor, now
    audit.record(
        session,
        actor=principal.actor,
        action="post.approve" if approve else "post.reject",
        target_type="post",
        target_id=post.id,
        details={"note": note[:200]},
    )
    session.flush()
    if approve:
        _enqueue_due(session, post, targets)
    return post


# --- publishing: claim, call, confirm ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Job:
    tenant_id: int
    target_id: int
    account_id: int
    text: str
    media_urls: tuple[str, ...]
    attempts: int


@dataclass(frozen=True, slots=True)
class _Published:
    post: PostData
    live: PostData | None
    readback_error: str  # "" | "gone" | "unverified"


def claim(db: Database, tenant_id: int, target_id: int, worker: str) -> _Job | None:
    """Own the target or learn that someone else does: one committed conditional UPDATE."""
    now = utcnow()
    with db.session(tenant_id=tenant_id) as session:
        claimed = session.execute(
            update(PostTarget)
            .where(
                PostTarget.id == target_id,
                PostTarget.status == TargetStatus.SCHEDULED,
                PostTarget.due_at <= now,
            )
            .values(
                status=TargetStatus.PUBLISHING,
                claimed_by=worker[:120],
                claimed_at=now,
                attempts=PostTarget.attempts + 1,
            )
            .execution_options(synchronize_session=False)
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            return None
        target = session.get(PostTarget, target_id, populate_existing=True)
        assert target is not None
        post = session.get(ScheduledPost, target.post_id)
        media = tuple(post.media_urls) if post is not None else ()
        return _Job(
            tenant_id, target_id, target.social_account_id, target.text, media, target.attempts
        )


def _publish_and_read_back(job: _Job) -> Any:
    async def act(provider: Provider, ctx: CallContext) -> _Published:
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


def publish_target(db: Database, tenant_id: int, target_id: int, *, worker: str = "") -> str:
    """Claim and publish one target. Returns what happened: skipped, published, failed,
    retry, unverified."""
    job = claim(db, tenant_id, target_id, worker or worker_name())
    if job is None:
        return "skipped"
    try:
        result: _Published = connections.with_account(
            db, tenant_id, job.account_id, _publish_and_read_back(job)
        )
    except RateLimited as exc:
        return _retry(db, job, exc.retry_at, "rate limited by the network", count=False)
    except TransientProviderError as exc:
        return _retry(db, job, utcnow() + backoff(job.attempts), str(exc)[:300])
    except (ReconnectRequired, connections.AccountNotActive, NotFound):
        return _fail(db, job, "the account needs reconnecting before it can publish")
    except (RequestRejected, NotSupported, ProfileGone) as exc:
        return _fail(db, job, f"the network refused the post: {exc}"[:500])
    return _record(db, job, result)


def _retry(db: Database, job: _Job, when: datetime, reason: str, *, count: bool = True) -> str:
    with db.session(tenant_id=job.tenant_id) as session:
        target = session.get(PostTarget, job.target_id)
        if target is None or target.status != TargetStatus.PUBLISHING:
            return "skipped"
        if count and job.attempts >= MAX_ATTEMPTS:
            target.status = TargetStatus.FAILED
            target.error = f"gave up after {job.attempts} attempts: {reason}"[:500]
            return "failed"
        if not count:
            target.attempts = max(0, target.attempts - 1)
        target.status = TargetStatus.SCHEDULED
        target.due_at = when
        target.error = f"will retry: {reason}"[:500]
        from socialcrm.publishing.tasks import publish_target as task

        enqueue_after_commit(session, task.schedule, (job.tenant_id, job.target_id), eta=when)
    log.info("publish_retry", target_id=job.target_id, at=when.isoformat())
    return "retry"


def _fail(db: Database, job: _Job, reason: str) -> str:
    with db.session(tenant_id=job.tenant_id) as session:
        target = session.get(PostTarget, job.target_id)
        if target is not None:
            target.status = TargetStatus.FAILED
            target.error = reason[:500]
    log.info("publish_failed", target_id=job.target_id)
    return "failed"


def _record(db: Database, job: _Job, result: _Published) -> str:
    now = utcnow()
    with db.session(tenant_id=job.tenant_id) as session:
        target = session.get(PostTarget, job.target_id)
        if target is None:
            return "skipped"
        target.external_id = result.post.id
        target.url = result.post.url
        target.published_at = now
        if result.readback_error == "gone":
            target.status = TargetStatus.FAILED
            target.error = "the network accepted the post but does not show it"
            return "failed"
        if result.readback_error == "unverified":
            target.error = "published; waiting to confirm it on the network"
            return "unverified"
        _confirm(target, result.live, now)
    return "published"


def _confirm(target: PostTarget, live: PostData | None, now: datetime) -> None:
    target.status = TargetStatus.PUBLISHED
    target.verified_at = now
    target.error = ""
    if live is not None and live.url and not target.url:
        target.url = live.url


def verify_target(db: Database, tenant_id: int, target_id: int) -> str:
    """Read a published-but-unconfirmed post back from the network."""
    with db.session(tenant_id=tenant_id) as session:
        target = session.get(PostTarget, target_id)
        if target is None or target.status != TargetStatus.PUBLISHING or not target.external_id:
            return "skipped"
        account_id, external_id = target.social_account_id, target.external_id

    async def read(provider: Provider, ctx: CallContext) -> PostData:
        return await provider.metrics(ctx, external_id)

    try:
        live: PostData | None = connections.with_account(db, tenant_id, account_id, read)
        outcome = "published"
    except ProfileGone:
        live, outcome = None, "failed"
    except ProviderError:
        return "unverified"
    with db.session(tenant_id=tenant_id) as session:
        target = session.get(PostTarget, target_id)
        if target is None or target.status != TargetStatus.PUBLISHING:
            return "skipped"
        if outcome == "failed":
            target.status = TargetStatus.FAILED
            target.error = "the network accepted the post but does not show it"
        else:
            _confirm(target, live, utcnow())
    return outcome


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


def sweep_stuck(db: Database, now: datetime) -> tuple[list[tuple[int, int]], int]:
    """Targets a dead worker left in ``publishing``: re-verify those with a network id, fail
    (never blindly re-send) those without one. Returns (to verify, failed count)."""
    with db.session(system=True) as session:
        rows = session.execute(
            select(PostTarget.tenant_id, PostTarget.id, PostTarget.external_id).where(
                PostTarget.status == TargetStatus.PUBLISHING,
                PostTarget.claimed_at <= now - VERIFY_AFTER,
            )
        ).all()
        verify = [(int(t), int(i)) for t, i, ext in rows if ext]
        stuck_ids = [int(i) for _t, i, ext in rows if not ext]
        failed = 0
        if stuck_ids:
            result = session.execute(
                update(PostTarget)
                .where(
                    PostTarget.id.in_(stuck_ids),
                    PostTarget.status == TargetStatus.PUBLISHING,
                    PostTarget.external_id == "",
                    PostTarget.claimed_at <= now - STUCK_AFTER,
                )
                .values(
                    status=TargetStatus.FAILED,
                    error="publishing was interrupted; check the network before posting again",
                )
                .execution_options(synchronize_session=False)
            )
            failed = int(result.rowcount)  # type: ignore[attr-defined]
    return verify, failed


# --- engagement metrics ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _MetricsRead:
    posts: dict[str, PostData]
    gone: list[str]
    retry_at: datetime | None


def accounts_with_recent_posts(db: Database, now: datetime) -> list[tuple[int, int]]:
    with db.session(system=True) as session:
        rows = session.execute(
            select(PostTarget.tenant_id, PostTarget.social_account_id)
            .where(
                PostTarget.status == TargetStatus.PUBLISHED,
                PostTarget.published_at >= now - METRICS_WINDOW,
            )
            .distinct()
        )
        return [(int(t), int(a)) for t, a in rows]


def refresh_metrics(db: Database, tenant_id: int, account_id: int) -> int:
    """Read likes, comments, shares, impressions of the account's recent posts.

    Respects the network: stops when its remaining budget runs low, and after a 429 no read
    happens for this account before the network's reset time. Returns posts refreshed.
    """
    now = utcnow()
    with db.session(tenant_id=tenant_id) as session:
        pacing = session.scalars(
            select(MetricsPacing).where(MetricsPacing.social_account_id == account_id)
        ).first()
        if pacing is not None and pacing.resume_at is not None and pacing.resume_at > now:
            return 0
        ids = list(
            session.scalars(
                select(PostTarget.external_id)
                .where(
                    PostTarget.social_account_id == account_id,
                    PostTarget.status == TargetStatus.PUBLISHED,
                    PostTarget.published_at >= now - METRICS_WINDOW,
                )
                .order_by(PostTarget.metrics_at.is_not(None), PostTarget.metrics_at)
                .limit(METRICS_BATCH)
            )
        )
    if not ids:
        return 0

    async def read(provider: Provider, ctx: CallContext) -> _MetricsRead:
        got: dict[str, PostData] = {}
        gone: list[str] = []
        for external_id in ids:
            remaining = ctx.budget.remaining
            if remaining is not None and remaining <= METRICS_BUDGET_RESERVE:
                return _MetricsRead(got, gone, ctx.budget.reset_at)
            try:
                got[external_id] = await provider.metrics(ctx, external_id)
            except ProfileGone:
                gone.append(external_id)
            except RateLimited as exc:
                return _MetricsRead(got, gone, exc.retry_at)
        return _MetricsRead(got, gone, None)

    try:
        outcome: _MetricsRead = connections.with_account(db, tenant_id, account_id, read)
    except RateLimited as exc:
        outcome = _MetricsRead({}, [], exc.retry_at)
    with db.session(tenant_id=tenant_id) as session:
        _store_pacing(session, account_id, outcome.retry_at)
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


def _store_pacing(session: Session, account_id: int, retry_at: datetime | None) -> None:
    pacing = session.scalars(
        select(MetricsPacing).where(MetricsPacing.social_account_id == account_id)
    ).first()
    if pacing is None:
        if retry_at is None:
            return
        pacing = MetricsPacing(social_account_id=account_id)
        session.add(pacing)
    pacing.resume_at = retry_at


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


def add_engagement(
    session: Session,
    target: PostTarget | None,
    when: datetime,
    *,
    campaign_id: int | None = None,
    **deltas: int,
) -> None:
    day = when.date()
    target_id = target.id if target is not None else None
    campaign = target.campaign_id if target is not None else campaign_id
    row = session.scalars(
        select(EngagementDaily).where(
            EngagementDaily.target_id == target_id, EngagementDaily.day == day
        )
    ).first()
    if row is None:
        row = EngagementDaily(
            target_id=target_id,
            campaign_id=campaign,
            day=day,
            likes=0,
            comments=0,
            shares=0,
            impressions=0,
            clicks=0,
        )
        session.add(row)
    for name, value in deltas.items():
        setattr(row, name, int(getattr(row, name) or 0) + value)
    session.flush()


# --- tracked links -----------------------------------------------------------------------


def follow_link(db: Database, code: str) -> str | None:
    """Count one click-through and return where to send the browser (None: unknown code)."""
    if not code.isalnum() or len(code) > 16:
        return None
    with db.session(system=True) as session:
        link = session.scalars(select(TrackedLink).where(TrackedLink.code == code)).first()
        if link is None:
            return None
        tenant_id, link_id, destination = link.tenant_id, link.id, link.destination
        target_id = link.target_id
    for _ in range(3):  # two first clicks of the day may race to create the day's row
        try:
            with db.session(tenant_id=tenant_id) as session:
                session.execute(
                    update(TrackedLink)
                    .where(TrackedLink.id == link_id)
                    .values(clicks=TrackedLink.clicks + 1)
                    .execution_options(synchronize_session=False)
                )
                target = session.get(PostTarget, target_id) if target_id else None
                if target is not None:
                    add_engagement(session, target, utcnow(), clicks=1)
            break
        except IntegrityError:
            continue
    return destination


# --- budgets -----------------------------------------------------------------------------


def set_budget(
    session: Session, principal: Principal, campaign_id: int, amount: float, currency: str
) -> CampaignBudget:
    _require_writer(principal)
    if session.get(Campaign, campaign_id) is None:
        raise NotFound(f"campaign {campaign_id} not found")
    budget = session.scalars(
        select(CampaignBudget).where(CampaignBudget.campaign_id == campaign_id)
    ).first()
    if budget is None:
        budget = CampaignBudget(campaign_id=campaign_id, amount=amount)
        session.add(budget)
    budget.amount = amount
    budget.currency = currency.upper()
    session.flush()
    return budget
