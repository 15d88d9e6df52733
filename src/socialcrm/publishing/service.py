"""Compose, approve, schedule and edit posts, tracked links, budgets and engagement rows.

Publishing itself (exactly once, when answers are lost and workers die) is ``sending``;
re-reading engagement in cycles is ``metrics``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import and_, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from socialcrm.connections.models import AccountStatus, Ownership, SocialAccount
from socialcrm.core import audit, lease
from socialcrm.core.db import Database, utcnow
from socialcrm.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from socialcrm.core.principal import Principal, Role
from socialcrm.core.queue import enqueue_after_commit
from socialcrm.core.settings import get_settings
from socialcrm.crm.models import Campaign
from socialcrm.providers.base import (
    Capability,
)
from socialcrm.providers.registry import PROVIDERS
from socialcrm.publishing import clock, links, next_steps, textrules
from socialcrm.publishing.models import (
    EDITABLE,
    CampaignBudget,
    EngagementDaily,
    PostTarget,
    ScheduledPost,
    TargetStatus,
    TrackedLink,
)
from socialcrm.tenancy.models import Tenant

log = structlog.get_logger(__name__)

WRITERS = (Role.ADMIN, Role.MARKETING)


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


def redirect_url(code: str) -> str:
    return f"{get_settings().base_url.rstrip('/')}/r/{code}"


# --- composing ---------------------------------------------------------------------------


def require_writer(principal: Principal) -> None:
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
    require_writer(principal)
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
    if status == "stuck":
        stuck = and_(PostTarget.status == TargetStatus.PUBLISHING, lease.free(PostTarget, utcnow()))
        stmt = stmt.where(ScheduledPost.id.in_(select(PostTarget.post_id).where(stuck)))
    elif status:
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
    require_writer(principal)
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
    require_writer(principal)
    post = get_post(session, post_id)
    targets = _lock_editable(session, post)
    for target in targets:
        target.status = TargetStatus.CANCELLED
    audit.record(
        session, actor=principal.actor, action="post.cancel", target_type="post", target_id=post.id
    )
    session.flush()
    return post


is_stuck = next_steps.is_stuck


def retry_target(session: Session, principal: Principal, target_id: int) -> ScheduledPost:
    """Publish a failed (post, account) again, now. Only a failure the network never saw
    the post for; an interrupted attempt looks for the post on the network before sending."""
    require_writer(principal)
    target = session.get(PostTarget, target_id)
    if target is None:
        raise NotFound(f"post target {target_id} not found")
    if not next_steps.retryable(target):
        raise Conflict(
            f"this target is {target.status}: only a failed one the network does not have "
            "can be tried again",
            details={"target_id": target_id, "status": target.status},
        )
    account = session.get(SocialAccount, target.social_account_id)
    if account is None or account.status != AccountStatus.ACTIVE:
        handle = f"@{account.handle}" if account is not None else "the account"
        raise Conflict(
            f"{handle} needs reconnecting first: reconnect it under Connected accounts, then retry",
            details={"target_id": target_id, "reconnect": target.social_account_id},
        )
    was = target.error
    retried = session.execute(
        update(PostTarget)
        .where(PostTarget.id == target_id, PostTarget.status == TargetStatus.FAILED)
        .values(
            status=TargetStatus.SCHEDULED,
            due_at=utcnow(),
            error="",
            # 1: the next claim counts 2 and so looks for an interrupted attempt's post first.
            attempts=1 if was == next_steps.INTERRUPTED else 0,
        )
        .execution_options(synchronize_session=False)
    )
    if retried.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict("this target changed meanwhile: reload", details={"target_id": target_id})
    audit.record(
        session,
        actor=principal.actor,
        action="post.retry_target",
        target_type="post_target",
        target_id=target_id,
        details={"error": was[:200]},
    )
    session.refresh(target)
    post = get_post(session, target.post_id)
    from socialcrm.publishing.tasks import publish_target

    enqueue_after_commit(session, publish_target, post.tenant_id, target.id)
    return post


def live_state(session: Session, limit: int = 50) -> dict[str, Any]:
    """What the posts list shows that changes on its own: each target's status and error
    (of the ``limit`` latest posts), and whether its account may publish."""
    latest = select(ScheduledPost.id).order_by(ScheduledPost.id.desc()).limit(limit).subquery()
    rows = session.execute(
        select(PostTarget.id, PostTarget.status, PostTarget.error, PostTarget.social_account_id)
        .where(PostTarget.post_id.in_(select(latest.c.id)))
        .order_by(PostTarget.id)
    ).all()
    active = account_activity(session, [row[3] for row in rows])
    return {"targets": [[i, status, error, active.get(a, False)] for i, status, error, a in rows]}


def account_activity(session: Session, account_ids: Sequence[int]) -> dict[int, bool]:
    """Whether each account may publish now (active), by id."""
    if not account_ids:
        return {}
    rows = session.execute(
        select(SocialAccount.id, SocialAccount.status).where(SocialAccount.id.in_(set(account_ids)))
    )
    return {account_id: status == AccountStatus.ACTIVE for account_id, status in rows}


def cancel_target(session: Session, principal: Principal, target_id: int) -> ScheduledPost:
    """Cancel one (post, account): while it waits, or when it is stuck in ``publishing``
    (its worker gone). Not while a worker holds it, nor once the network has the post."""
    require_writer(principal)
    target = session.get(PostTarget, target_id)
    if target is None:
        raise NotFound(f"post target {target_id} not found")
    now = utcnow()
    was, since = target.status, target.claimed_at
    if was == TargetStatus.PUBLISHING and target.external_id:
        raise Conflict(
            "the network already has this post: it cannot be cancelled",
            details={"target_id": target_id, "external_id": target.external_id},
        )
    if was == TargetStatus.PUBLISHING:
        stuck = since.isoformat(timespec="seconds") if since is not None else "?"
        allowed = and_(PostTarget.status == was, lease.free(PostTarget, now))
        error = (
            f"cancelled by {principal.actor} while publishing was interrupted (since {stuck});"
            " it may have reached the network: check it"
        )
    else:
        allowed, error = PostTarget.status.in_(EDITABLE), ""
    cancelled = session.execute(
        update(PostTarget)
        .where(PostTarget.id == target_id, allowed)
        .values(
            status=TargetStatus.CANCELLED, error=error[:500], lease_owner=None, lease_until=None
        )
        .execution_options(synchronize_session=False)
    )
    if cancelled.rowcount != 1:  # type: ignore[attr-defined]
        session.refresh(target)
        raise _not_cancellable(target)
    audit.record(
        session,
        actor=principal.actor,
        action="post.cancel_target",
        target_type="post_target",
        target_id=target_id,
        details={"was": was},
    )
    session.refresh(target)
    return get_post(session, target.post_id)


def _not_cancellable(target: PostTarget) -> Conflict:
    details: dict[str, Any] = {"target_id": target.id, "status": target.status}
    if target.status == TargetStatus.PUBLISHING and target.lease_until is not None:
        details["lease_until"] = target.lease_until.isoformat()
        return Conflict(
            "a worker is publishing it right now: wait for the outcome", details=details
        )
    return Conflict(
        f"this target is {target.status}: it can no longer be cancelled", details=details
    )


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


# --- engagement ------------------------------------------------------------------------


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
    require_writer(principal)
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
