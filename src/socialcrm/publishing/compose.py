"""Writing a post (request side): compose it for several brand accounts, validate it against
each network's rules (the adapters': text length, media, what they can publish), edit it while
it may still change, and hand each due target to the queue.

Publishing itself (exactly once, when answers are lost and workers die) is ``sending``;
re-reading engagement in cycles is ``metrics``; reviewing, cancelling and the records around
posts (tracked links, budgets, engagement rows) are ``service``.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import structlog
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from socialcrm.connections.models import AccountStatus, Ownership, SocialAccount
from socialcrm.core import audit
from socialcrm.core.db import utcnow
from socialcrm.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from socialcrm.core.principal import Principal, Role
from socialcrm.core.queue import enqueue_after_commit
from socialcrm.core.settings import get_settings
from socialcrm.crm.models import Campaign
from socialcrm.providers.base import (
    Capability,
)
from socialcrm.providers.registry import PROVIDERS
from socialcrm.publishing import clock, links, textrules
from socialcrm.publishing.models import (
    EDITABLE,
    PostTarget,
    ScheduledPost,
    TargetStatus,
    TrackedLink,
)
from socialcrm.tenancy.models import Tenant

log = structlog.get_logger(__name__)


WRITERS = (Role.ADMIN, Role.MARKETING)


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


def redirect_url(code: str) -> str:
    return f"{get_settings().base_url.rstrip('/')}/r/{code}"


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


def _can_publish(network: str) -> bool:
    info = PROVIDERS.get(network)
    return info is not None and bool(
        {Capability.PUBLISH, Capability.PUBLISH_MEDIA} & info.capabilities
    )


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
        enqueue_due(session, post, targets)
    return post


def enqueue_due(session: Session, post: ScheduledPost, targets: Sequence[PostTarget]) -> None:
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


def lock_editable(session: Session, post: ScheduledPost) -> list[PostTarget]:
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
    existing = {t.social_account_id: t for t in lock_editable(session, post)}
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
        enqueue_due(session, post, targets)
    return post
