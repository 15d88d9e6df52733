"""Request side of enrichment: a person links a profile to a Contact, confirms, rejects or
uses it as the photo; the Contact's social view, the screen pop and the coverage report."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from socialcrm.core import audit
from socialcrm.core.db import utcnow
from socialcrm.core.errors import NotFound, ValidationFailed
from socialcrm.core.principal import Principal
from socialcrm.crm.models import Contact
from socialcrm.enrichment import keys, matching
from socialcrm.enrichment.models import (
    ContactKey,
    LinkSource,
    LinkStatus,
    SocialPost,
    SocialProfileLink,
    SocialProfileSnapshot,
)
from socialcrm.enrichment.replace import make_room
from socialcrm.enrichment.service import latest_fetches, tenant_policy
from socialcrm.enrichment.store import latest_snapshot, remember_snapshot
from socialcrm.providers.base import (
    ProfileData,
)


def contact_or_404(session: Session, contact_id: int) -> Contact:
    contact = session.get(Contact, contact_id)
    if contact is None:
        raise NotFound(f"contact {contact_id} not found")
    return contact


# --- manual link, confirm, reject, photo ------------------------------------------------------


def link_profile(
    session: Session,
    principal: Principal,
    contact_id: int,
    profile: ProfileData,
    now: datetime,
    *,
    replace: bool,
) -> SocialProfileLink:
    """Record a profile a person looked up as linked to the Contact (audit-logged); on a
    network where a person has one profile, it replaces the linked one only if asked to."""
    contact = contact_or_404(session, contact_id)
    network = profile.network
    make_room(
        session, principal, contact.id, network, profile.user_id, profile.handle, replace=replace
    )
    link = session.scalars(
        select(SocialProfileLink).where(
            SocialProfileLink.contact_id == contact.id,
            SocialProfileLink.provider == network,
            SocialProfileLink.external_user_id == profile.user_id,
        )
    ).first()
    if link is None:
        link = SocialProfileLink(
            contact_id=contact.id, provider=network, external_user_id=profile.user_id
        )
        session.add(link)
    link.status, link.source, link.confidence = LinkStatus.LINKED, LinkSource.MANUAL, 1.0
    link.handle = profile.handle[:320]
    link.handle_key = keys.handle_key(profile.handle)[:320]
    link.profile_url = profile.profile_url[:1000]
    link.signals = {
        "items": [
            {
                "signal": "manual",
                "score": 1.0,
                "weight": 1.0,
                "detail": f"linked by {principal.actor}",
            }
        ]
    }
    link.decided_by, link.decided_at, link.stale_since = principal.actor, now, None
    last = latest_fetches(session, {(network, profile.user_id)})
    remember_snapshot(session, profile, now, last)
    session.flush()
    audit.record(
        session,
        actor=principal.actor,
        action="social_link.manual",
        target_type="social_profile_link",
        target_id=link.id,
        details={"contact_id": contact.id, "provider": network},
    )
    return link


def get_link(session: Session, link_id: int) -> SocialProfileLink:
    link = session.get(SocialProfileLink, link_id)
    if link is None:
        raise NotFound(f"social link {link_id} not found")
    return link


def confirm_link(
    session: Session, principal: Principal, link_id: int, *, replace: bool = False
) -> SocialProfileLink:
    link = get_link(session, link_id)
    if link.status not in (LinkStatus.SUGGESTED, LinkStatus.REJECTED, LinkStatus.LINKED):
        raise ValidationFailed(f"a {link.status} link cannot be confirmed")
    make_room(
        session,
        principal,
        link.contact_id,
        link.provider,
        link.external_user_id,
        link.handle,
        replace=replace,
    )
    return _decide(session, principal, link, LinkStatus.LINKED, "social_link.confirm")


def reject_link(session: Session, principal: Principal, link_id: int) -> SocialProfileLink:
    link = get_link(session, link_id)
    link.use_as_photo = False
    return _decide(session, principal, link, LinkStatus.REJECTED, "social_link.reject")


def _decide(
    session: Session, principal: Principal, link: SocialProfileLink, status: LinkStatus, action: str
) -> SocialProfileLink:
    before = link.status
    link.status = status
    link.decided_by, link.decided_at = principal.actor, utcnow()
    if status == LinkStatus.LINKED:
        link.source = LinkSource.MANUAL if before != LinkStatus.LINKED else link.source
    audit.record(
        session,
        actor=principal.actor,
        action=action,
        target_type="social_profile_link",
        target_id=link.id,
        details={"contact_id": link.contact_id, "provider": link.provider, "from": before},
    )
    session.flush()
    return link


def use_as_photo(session: Session, principal: Principal, link_id: int) -> SocialProfileLink:
    link = get_link(session, link_id)
    if link.status != LinkStatus.LINKED:
        raise ValidationFailed("only a linked profile's avatar can be the contact photo")
    snap = latest_snapshot(session, link.provider, link.external_user_id)
    if snap is None or not snap.avatar_url:
        raise ValidationFailed("this profile has no avatar")
    session.execute(
        update(SocialProfileLink)
        .where(SocialProfileLink.contact_id == link.contact_id, SocialProfileLink.id != link.id)
        .values(use_as_photo=False)
        .execution_options(synchronize_session="fetch")
    )
    link.use_as_photo = True
    audit.record(
        session,
        actor=principal.actor,
        action="contact.photo_from_social",
        target_type="contact",
        target_id=link.contact_id,
        details={"link_id": link.id},
    )
    session.flush()
    return link


# --- reading ----------------------------------------------------------------------------------


@dataclass
class LinkView:
    link: SocialProfileLink
    snapshot: SocialProfileSnapshot | None
    posts: list[SocialPost]


@dataclass
class SocialView:
    contact: Contact
    links: list[LinkView]
    photo_url: str
    posts_allowed: bool
    restricted: bool  # the tenant fetches posts only with the Contact's consent


STATUS_ORDER = {
    LinkStatus.LINKED: 0,
    LinkStatus.SUGGESTED: 1,
    LinkStatus.STALE: 2,
    LinkStatus.REJECTED: 3,
}


def social_of(session: Session, contact: Contact) -> SocialView:
    policy = tenant_policy(session, contact.tenant_id)
    allowed = policy.may_fetch_posts(contact.enrichment_consent)
    links = session.scalars(
        select(SocialProfileLink).where(SocialProfileLink.contact_id == contact.id)
    ).all()
    views = []
    photo = ""
    for link in sorted(
        links, key=lambda lk: (STATUS_ORDER.get(lk.status, 9), -lk.confidence, lk.id)
    ):
        snap = latest_snapshot(session, link.provider, link.external_user_id)
        posts: list[SocialPost] = []
        if allowed and link.status == LinkStatus.LINKED:
            posts = list(
                session.scalars(
                    select(SocialPost)
                    .where(
                        SocialPost.provider == link.provider,
                        SocialPost.external_user_id == link.external_user_id,
                    )
                    .order_by(SocialPost.posted_at.desc(), SocialPost.id.desc())
                    .limit(matching.POSTS_LIMIT)
                )
            )
        if link.use_as_photo and snap is not None:
            photo = snap.avatar_url
        views.append(LinkView(link, snap, posts))
    return SocialView(contact, views, photo, allowed, policy.restrict_without_consent)


def screen_pop(
    session: Session, *, email: str | None, phone: str | None, handle: str | None
) -> SocialView | None:
    """The Contact an agent's desktop is ringing for, by exactly one key."""
    given = [(k, v) for k, v in (("email", email), ("phone", phone), ("handle", handle)) if v]
    if len(given) != 1:
        raise ValidationFailed("give exactly one of email, phone or handle")
    kind, raw = given[0]
    value = {"email": keys.email_key, "phone": keys.phone_key, "handle": keys.handle_key}[kind](raw)
    if not value:
        raise ValidationFailed(f"{kind} is empty")
    contact_id = session.scalars(
        select(ContactKey.contact_id)
        .where(ContactKey.kind == kind, ContactKey.value == value)
        .order_by(ContactKey.contact_id)
        .limit(1)
    ).first()
    if contact_id is None and kind == "handle":
        contact_id = session.scalars(
            select(SocialProfileLink.contact_id)
            .where(
                SocialProfileLink.handle_key == value,
                SocialProfileLink.status == LinkStatus.LINKED,
            )
            .order_by(SocialProfileLink.contact_id)
            .limit(1)
        ).first()
    if contact_id is None:
        return None
    contact = session.get(Contact, contact_id)
    return social_of(session, contact) if contact else None


# --- report -----------------------------------------------------------------------------------

FOLLOWER_BANDS = (
    (0, "0-99"),
    (100, "100-999"),
    (1_000, "1k-9.9k"),
    (10_000, "10k-99k"),
    (100_000, "100k+"),
)


def band_of(followers: int | None) -> str:
    if followers is None:
        return "unknown"
    label = FOLLOWER_BANDS[0][1]
    for floor, name in FOLLOWER_BANDS:
        if followers >= floor:
            label = name
    return label


def report(session: Session) -> dict[str, Any]:
    contacts = session.scalar(select(func.count()).select_from(Contact)) or 0
    per_network = session.execute(
        select(SocialProfileLink.provider, func.count(func.distinct(SocialProfileLink.contact_id)))
        .where(SocialProfileLink.status == LinkStatus.LINKED)
        .group_by(SocialProfileLink.provider)
    ).all()
    by_status = dict(
        session.execute(
            select(SocialProfileLink.status, func.count()).group_by(SocialProfileLink.status)
        ).all()
    )
    bands: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    latest = (
        select(
            SocialProfileSnapshot.provider,
            SocialProfileSnapshot.external_user_id,
            func.max(SocialProfileSnapshot.id).label("snap_id"),
        )
        .group_by(SocialProfileSnapshot.provider, SocialProfileSnapshot.external_user_id)
        .subquery()
    )
    linked_profiles = (
        select(SocialProfileLink.provider, SocialProfileLink.external_user_id)
        .where(SocialProfileLink.status == LinkStatus.LINKED)
        .distinct()
        .subquery()
    )
    rows = session.execute(
        select(SocialProfileSnapshot.provider, SocialProfileSnapshot.followers)
        .join(latest, SocialProfileSnapshot.id == latest.c.snap_id)
        .join(
            linked_profiles,
            (linked_profiles.c.provider == SocialProfileSnapshot.provider)
            & (linked_profiles.c.external_user_id == SocialProfileSnapshot.external_user_id),
        )
    ).all()
    for network, followers in rows:
        bands[network][band_of(followers)] += 1
    return {
        "contacts": contacts,
        "coverage": [
            {
                "provider": network,
                "contacts_linked": count,
                "share": round(count / contacts, 4) if contacts else 0.0,
            }
            for network, count in sorted(per_network)
        ],
        "suggestions_waiting": int(by_status.get(LinkStatus.SUGGESTED, 0)),
        "stale_links": int(by_status.get(LinkStatus.STALE, 0)),
        "rejected": int(by_status.get(LinkStatus.REJECTED, 0)),
        "follower_bands": {n: dict(b) for n, b in sorted(bands.items())},
    }
