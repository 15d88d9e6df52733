"""Posts after they are written (request side): reading them, approving, cancelling and
retrying targets, the approval policy, and the records around posts: engagement rows, tracked
links, budgets.

Composing and editing is ``compose``; publishing itself is ``sending`` (worker side);
re-reading engagement in cycles is ``metrics``.
"""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import and_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from socialcrm.connections.models import AccountStatus, SocialAccount
from socialcrm.core import audit, lease
from socialcrm.core.db import Database, utcnow
from socialcrm.core.errors import Conflict, Forbidden, NotFound
from socialcrm.core.principal import Principal, Role
from socialcrm.core.queue import enqueue_after_commit
from socialcrm.crm.models import Campaign
from socialcrm.publishing import next_steps
from socialcrm.publishing.compose import (
    enqueue_due,
    get_post,
    lock_editable,
    require_writer,
)
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


def cancel_post(session: Session, principal: Principal, post_id: int) -> ScheduledPost:
    require_writer(principal)
    post = get_post(session, post_id)
    targets = lock_editable(session, post)
    for target in targets:
        target.status = TargetStatus.CANCELLED
    audit.record(
        session, actor=principal.actor, action="post.cancel", target_type="post", target_id=post.id
    )
    session.flush()
    return post


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
    targets = lock_editable(session, post)
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
        enqueue_due(session, post, targets)
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
