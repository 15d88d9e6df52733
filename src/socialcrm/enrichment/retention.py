"""What enrichment may keep: a profile's posts only while a Contact holding the profile allows
them (its consent, or a tenant policy that does not restrict enrichment without consent), and
nothing of an erased Contact that no other Contact shares.

Tightening (a Contact withdraws consent, the tenant starts restricting) deletes the posts it
no longer allows, audit-logged, so they are fetched again only if allowed again. Every query
names the tenant: these run from any unit of work, including system ones.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from socialcrm.core import audit
from socialcrm.crm.models import Contact
from socialcrm.enrichment.models import (
    LinkStatus,
    SocialPost,
    SocialProfileLink,
    SocialProfileSnapshot,
)
from socialcrm.enrichment.policy import EnrichmentPolicy
from socialcrm.enrichment.replace import HELD

Profile = tuple[str, str]  # (network, user id)


def profiles_of(session: Session, tenant_id: int, contact_ids: Collection[int]) -> set[Profile]:
    """Every profile these Contacts have a link to, whatever its status."""
    rows = session.execute(
        select(SocialProfileLink.provider, SocialProfileLink.external_user_id).where(
            SocialProfileLink.tenant_id == tenant_id,
            SocialProfileLink.contact_id.in_(contact_ids),
        )
    )
    return {(p, u) for p, u in rows}


def posts_allowed(
    session: Session, tenant_id: int, policy: EnrichmentPolicy, profiles: Collection[Profile]
) -> set[Profile]:
    """Those of ``profiles`` a Contact holds (linked, or stale) and allows posts for."""
    if not profiles:
        return set()
    query = (
        select(SocialProfileLink.provider, SocialProfileLink.external_user_id)
        .join(Contact, Contact.id == SocialProfileLink.contact_id)
        .where(
            SocialProfileLink.tenant_id == tenant_id,
            SocialProfileLink.status.in_(HELD),
            SocialProfileLink.external_user_id.in_({u for _, u in profiles}),
        )
    )
    if policy.restrict_without_consent:
        query = query.where(Contact.enrichment_consent.is_(True))
    return {(p, u) for p, u in session.execute(query) if (p, u) in profiles}


def forget_disallowed_posts(
    session: Session,
    tenant_id: int,
    policy: EnrichmentPolicy,
    profiles: Collection[Profile] | None,
    *,
    actor: str,
    reason: str,
    target: tuple[str, object],
) -> int:
    """Delete the stored posts of ``profiles`` (all of the tenant's: None) that no Contact
    allows any more; one audit entry says what went and why. Returns the posts deleted."""
    query = (
        select(SocialPost.provider, SocialPost.external_user_id)
        .where(SocialPost.tenant_id == tenant_id)
        .distinct()
    )
    if profiles is not None:
        query = query.where(SocialPost.external_user_id.in_({u for _, u in profiles}))
    stored = {(p, u) for p, u in session.execute(query) if profiles is None or (p, u) in profiles}
    gone = sorted(stored - posts_allowed(session, tenant_id, policy, stored))
    deleted = _delete_posts(session, tenant_id, gone)
    if deleted:
        audit.record(
            session,
            actor=actor,
            action="social_posts.forget",
            target_type=target[0],
            target_id=target[1],
            details={
                "reason": reason,
                "posts": deleted,
                "profiles": [f"{network}:{user_id}" for network, user_id in gone[:100]],
            },
        )
    return deleted


def _delete_posts(session: Session, tenant_id: int, profiles: Iterable[Profile]) -> int:
    """The posts go, and the profiles' snapshots forget when posts were fetched (so posts are
    fetched afresh if allowed again)."""
    deleted = 0
    for network, user_id in profiles:
        result = session.execute(
            delete(SocialPost)
            .where(
                SocialPost.tenant_id == tenant_id,
                SocialPost.provider == network,
                SocialPost.external_user_id == user_id,
            )
            .execution_options(synchronize_session=False)
        )
        deleted += int(result.rowcount)  # type: ignore[attr-defined]
        session.execute(
            update(SocialProfileSnapshot)
            .where(
                SocialProfileSnapshot.tenant_id == tenant_id,
                SocialProfileSnapshot.provider == network,
                SocialProfileSnapshot.external_user_id == user_id,
            )
            .values(posts_fetched_at=None)
            .execution_options(synchronize_session=False)
        )
    return deleted


def erase_unshared_profiles(session: Session, tenant_id: int, profiles: Iterable[Profile]) -> None:
    """After a Contact is erased: snapshots and posts of its profiles that no other Contact
    holds or is offered (a rejection only says "not this one", it shares nothing)."""
    for network, user_id in set(profiles):
        shared = session.scalar(
            select(SocialProfileLink.id)
            .where(
                SocialProfileLink.tenant_id == tenant_id,
                SocialProfileLink.provider == network,
                SocialProfileLink.external_user_id == user_id,
                SocialProfileLink.status != LinkStatus.REJECTED,
            )
            .limit(1)
        )
        if shared is not None:
            continue
        for model in (SocialProfileSnapshot, SocialPost):
            session.execute(
                delete(model)
                .where(
                    model.tenant_id == tenant_id,
                    model.provider == network,
                    model.external_user_id == user_id,
                )
                .execution_options(synchronize_session=False)
            )
