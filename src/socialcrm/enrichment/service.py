"""Enrichment use cases: find, link, confirm, reject, read, screen pop, report, settings.

Services take a session and plain values and only flush. The provider side lives in
``matching``; this module loads what it needs and stores what it found.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
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
from socialcrm.core.errors import Forbidden, NotFound, ValidationFailed
from socialcrm.core.principal import Principal, Role
from socialcrm.crm.models import Contact
from socialcrm.enrichment import keys, matching
from socialcrm.enrichment.matching import BatchResult, ContactWork, Refreshes
from socialcrm.enrichment.models import (
    ContactKey,
    LinkSource,
    LinkStatus,
    SocialPost,
    SocialProfileLink,
    SocialProfileSnapshot,
)
from socialcrm.enrichment.policy import (
    POLICY_KEY,
    EnrichmentPolicy,
    policy_from,
    threshold_errors,
)
from socialcrm.enrichment.replace import HELD, make_room, one_per_person
from socialcrm.enrichment.retention import forget_disallowed_posts, posts_allowed
from socialcrm.enrichment.scoring import (
    Candidate,
    ContactFacts,
    Decision,
    Scored,
    decide,
    score,
    with_cross_network,
)
from socialcrm.providers.base import (
    Capability,
    PostData,
    ProfileData,
)
from socialcrm.providers.registry import PROVIDERS
from socialcrm.tenancy.models import Tenant

log = structlog.get_logger(__name__)

REFRESH_AFTER = matching.REFRESH_AFTER
DISCOVERY = frozenset(
    {Capability.LOOKUP_BY_EMAIL, Capability.LOOKUP_BY_HANDLE, Capability.SEARCH_PEOPLE}
)


# --- settings ---------------------------------------------------------------------------------


def tenant_policy(session: Session, tenant_id: int) -> EnrichmentPolicy:
    tenant = session.get(Tenant, tenant_id)
    return policy_from(tenant.policy if tenant else None)


def set_policy(session: Session, principal: Principal, changes: dict[str, Any]) -> EnrichmentPolicy:
    if principal.role != Role.ADMIN:
        raise Forbidden("only an admin changes enrichment settings")
    tenant = session.get(Tenant, principal.tenant_id)
    if tenant is None:
        raise NotFound("tenant not found")
    before = policy_from(tenant.policy)
    merged = {**before.as_dict(), **changes}
    errors = threshold_errors(merged["auto_link_threshold"], merged["suggest_threshold"])
    if errors:
        field, why = next(iter(errors.items()))
        raise ValidationFailed(f"{field} {why}", details={"fields": errors})
    tenant.policy = {**(tenant.policy or {}), POLICY_KEY: merged}
    audit.record(
        session,
        actor=principal.actor,
        action="enrichment.settings",
        target_type="tenant",
        target_id=tenant.id,
        details=merged,
    )
    session.flush()
    after = policy_from(tenant.policy)
    if after.restrict_without_consent and not before.restrict_without_consent:
        forget_disallowed_posts(
            session,
            tenant.id,
            after,
            None,
            actor=principal.actor,
            reason="the tenant now restricts enrichment without consent",
            target=("tenant", tenant.id),
        )
    return after


# --- accounts ---------------------------------------------------------------------------------


def enrichment_accounts(session: Session) -> list[SocialAccount]:
    """One active account per network that can look people up (brand accounts first)."""
    accounts = session.scalars(
        select(SocialAccount)
        .where(SocialAccount.status == AccountStatus.ACTIVE)
        .order_by(SocialAccount.id)
    ).all()
    chosen: dict[str, SocialAccount] = {}
    for account in sorted(accounts, key=lambda a: (a.ownership != Ownership.BRAND, a.id)):
        info = PROVIDERS.get(account.provider)
        if info is None or not (info.capabilities & DISCOVERY):
            continue
        chosen.setdefault(account.provider, account)
    return list(chosen.values())


def open_handles(
    db: Database, tenant_id: int, account_ids: Iterable[int]
) -> list[connections.AccountHandle]:
    handles = []
    for account_id in account_ids:
        try:
            handles.append(connections.open_account(db, tenant_id, account_id))
        except (connections.AccountNotActive, NotFound):
            continue
    return handles


# --- loading ----------------------------------------------------------------------------------


def facts_of(contact: Contact) -> ContactFacts:
    handles: dict[str, set[str]] = defaultdict(set)
    for h in contact.handles or []:
        if isinstance(h, dict) and h.get("network") and h.get("handle"):
            handles[str(h["network"])].add(keys.handle_key(str(h["handle"])))
            if h.get("user_id"):
                handles[str(h["network"])].add(str(h["user_id"]).lower())
    return ContactFacts(
        name=contact.name,
        emails=tuple(keys.email_key(e) for e in contact.emails or [] if isinstance(e, str)),
        company=contact.company,
        website=contact.website,
        location=contact.location,
        handles={n: frozenset(v) for n, v in handles.items()},
    )


@dataclass
class Loaded:
    works: list[ContactWork]
    consent: dict[int, bool]
    links: dict[int, list[SocialProfileLink]]
    last_fetch: dict[tuple[str, str], datetime]
    refresh_due: set[tuple[str, str]] = field(default_factory=set)


def load_works(session: Session, contacts: Sequence[Contact], now: datetime) -> Loaded:
    ids = [c.id for c in contacts]
    links: dict[int, list[SocialProfileLink]] = defaultdict(list)
    for link in session.scalars(
        select(SocialProfileLink).where(SocialProfileLink.contact_id.in_(ids))
    ):
        links[link.contact_id].append(link)
    profiles = {(lk.provider, lk.external_user_id) for ls in links.values() for lk in ls}
    last_fetch = latest_fetches(session, profiles)
    works = []
    due: set[tuple[str, str]] = set()
    cached = recent_by_handle(session, contacts, now)
    for contact in contacts:
        linked: dict[str, set[str]] = defaultdict(set)
        excluded: dict[str, set[str]] = defaultdict(set)
        for link in links.get(contact.id, []):
            key = (link.provider, link.external_user_id)
            if link.status in (LinkStatus.LINKED, LinkStatus.STALE):
                linked[link.provider].add(link.external_user_id)
                fetched = last_fetch.get(key)
                if fetched is None or now - fetched >= REFRESH_AFTER:
                    due.add(key)
            elif link.status == LinkStatus.REJECTED:
                excluded[link.provider].add(link.external_user_id)
        works.append(
            ContactWork(contact.id, facts_of(contact), dict(linked), dict(excluded), cached)
        )
    consent = {c.id: bool(c.enrichment_consent) for c in contacts}
    return Loaded(works, consent, links, last_fetch, due)


def recent_by_handle(
    session: Session, contacts: Sequence[Contact], now: datetime
) -> dict[tuple[str, str], ProfileData]:
    """Profiles fetched in the last 24 h under a handle these Contacts list: no need to ask
    the network again (a profile is fetched at most once a day, however many Contacts)."""
    wanted = {
        (network, handle)
        for c in contacts
        for network, handles in facts_of(c).handles.items()
        for handle in handles
    }
    if not wanted:
        return {}
    rows = session.scalars(
        select(SocialProfileSnapshot)
        .where(
            SocialProfileSnapshot.handle_key.in_({h for _, h in wanted}),
            SocialProfileSnapshot.fetched_at >= now - REFRESH_AFTER,
        )
        .order_by(SocialProfileSnapshot.fetched_at)
    )
    found: dict[tuple[str, str], ProfileData] = {}
    for snap in rows:
        key = (snap.provider, snap.handle_key)
        profile = _profile_of(snap)
        if key in wanted and profile is not None:
            found[key] = profile
    return found


def latest_fetches(
    session: Session, profiles: set[tuple[str, str]]
) -> dict[tuple[str, str], datetime]:
    if not profiles:
        return {}
    user_ids = {u for _, u in profiles}
    rows = session.execute(
        select(
            SocialProfileSnapshot.provider,
            SocialProfileSnapshot.external_user_id,
            func.max(SocialProfileSnapshot.fetched_at),
        )
        .where(SocialProfileSnapshot.external_user_id.in_(user_ids))
        .group_by(SocialProfileSnapshot.provider, SocialProfileSnapshot.external_user_id)
    )
    return {(p, u): _aware(t) for p, u, t in rows if (p, u) in profiles and t is not None}


def _aware(value: datetime) -> datetime:
    from datetime import UTC

    return value if value.tzinfo else value.replace(tzinfo=UTC)


# --- storing ----------------------------------------------------------------------------------


@dataclass
class Counts:
    processed: int = 0
    linked: int = 0
    suggested: int = 0
    stale: int = 0
    failed: int = 0

    def add(self, other: Counts) -> None:
        for name in ("processed", "linked", "suggested", "stale", "failed"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


def snapshot_from(profile: ProfileData, now: datetime) -> SocialProfileSnapshot:
    """Only public profile fields are ever stored (never emails, connections, private posts)."""
    return SocialProfileSnapshot(
        provider=profile.network,
        external_user_id=profile.user_id,
        handle=profile.handle[:320],
        handle_key=keys.handle_key(profile.handle)[:320],
        display_name=profile.display_name[:200],
        location=profile.location[:200],
        headline=(profile.headline or "")[:500],
        bio=profile.bio[:5000],
        avatar_url=profile.avatar_url[:1000],
        followers=profile.followers,
        links=[link[:1000] for link in profile.links[:20]],
        profile_url=profile.profile_url[:1000],
        fetched_at=now,
    )


def _remember_snapshot(
    session: Session,
    profile: ProfileData,
    now: datetime,
    last_fetch: dict[tuple[str, str], datetime],
) -> None:
    key = (profile.network, profile.user_id)
    fetched = last_fetch.get(key)
    if fetched is not None and now - fetched < REFRESH_AFTER:
        return
    session.add(snapshot_from(profile, now))
    last_fetch[key] = now


def decisions_for(
    work: ContactWork,
    candidates: list[Candidate],
    known: dict[str, list[ProfileData]],
    policy: EnrichmentPolicy,
) -> list[Decision]:
    scored = [score(work.facts, c) for c in candidates]
    others: dict[str, list[ProfileData]] = defaultdict(list)
    for network, profiles in known.items():
        others[network].extend(profiles)
    for s in scored:
        if s.confidence >= policy.suggest_threshold:
            others[s.profile.network].append(s.profile)
    rescored: list[Scored] = with_cross_network(scored, others, policy.suggest_threshold)
    return decide(rescored, policy.auto_link_threshold, policy.suggest_threshold)


def apply_contact(
    session: Session,
    work: ContactWork,
    candidates: list[Candidate],
    existing: list[SocialProfileLink],
    refreshes: Refreshes,
    policy: EnrichmentPolicy,
    searched: set[str],
    last_fetch: dict[tuple[str, str], datetime],
    now: datetime,
) -> Counts:
    """Store one Contact's outcome: refreshed snapshots, stale links, links and suggestions."""
    counts = Counts(processed=1)
    by_key = {(lk.provider, lk.external_user_id): lk for lk in existing}
    known: dict[str, list[ProfileData]] = defaultdict(list)
    for (network, user_id), link in by_key.items():
        key = (network, user_id)
        if key in refreshes.profiles:
            refreshed = refreshes.profiles[key]
            if refreshed is None:
                if link.status == LinkStatus.LINKED:
                    link.status = LinkStatus.STALE
                    link.stale_since = now
                    counts.stale += 1
                _mark_gone(session, key, now, last_fetch)
            else:
                if link.status == LinkStatus.STALE:
                    link.status, link.stale_since = LinkStatus.LINKED, None
                _remember_snapshot(session, refreshed, now, last_fetch)
        if link.status == LinkStatus.LINKED:
            latest = refreshes.profiles.get(key) or _profile_of(
                latest_snapshot(session, network, user_id)
            )
            if latest is not None:
                known[network].append(latest)
    decisions = decisions_for(work, candidates, known, policy)
    decided = set()
    for d in decisions:
        key = (d.profile.network, d.profile.user_id)
        decided.add(key)
        found = by_key.get(key)
        if d.status == LinkStatus.LINKED and _would_be_second(by_key, key):
            d = replacing_suggestion(d)
        if found is None:
            link = SocialProfileLink(
                contact_id=work.contact_id,
                provider=d.profile.network,
                external_user_id=d.profile.user_id,
                status=LinkStatus(d.status),
                source=LinkSource.AUTO,
            )
            session.add(link)
            by_key[key] = link
            counts.linked += d.status == LinkStatus.LINKED
            counts.suggested += d.status == LinkStatus.SUGGESTED
        elif found.status in (LinkStatus.SUGGESTED, LinkStatus.STALE):
            link = found
            counts.linked += d.status == LinkStatus.LINKED
            link.status = LinkStatus(d.status)
            link.stale_since = None
        else:
            continue  # linked by a person or earlier: discovery does not overrule it
        link.handle = d.profile.handle[:320]
        link.handle_key = keys.handle_key(d.profile.handle)[:320]
        link.profile_url = d.profile.profile_url[:1000]
        link.confidence = d.confidence
        link.signals = d.signals
        _remember_snapshot(session, d.profile, now, last_fetch)
    for key, link in by_key.items():
        # A suggestion that no longer scores on a network searched again is withdrawn.
        if link.status == LinkStatus.SUGGESTED and key[0] in searched and key not in decided:
            session.delete(link)
    return counts


def _would_be_second(links: dict[tuple[str, str], SocialProfileLink], key: tuple[str, str]) -> bool:
    """The Contact holds another profile on a network where a person has one."""
    network = key[0]
    return one_per_person(network) and any(
        k[0] == network and k != key and lk.status in HELD for k, lk in links.items()
    )


def replacing_suggestion(d: Decision) -> Decision:
    """A certain match that would be a second profile is for a person to decide."""
    name = PROVIDERS[d.profile.network].display_name
    why = f"the Contact already has a {name} profile: confirming replaces it"
    return Decision(d.profile, LinkStatus.SUGGESTED, d.confidence, {**d.signals, "replaces": why})


def _profile_of(snap: SocialProfileSnapshot | None) -> ProfileData | None:
    if snap is None or snap.gone:
        return None
    return ProfileData(
        network=snap.provider,
        user_id=snap.external_user_id,
        handle=snap.handle,
        display_name=snap.display_name,
        bio=snap.bio,
        headline=snap.headline,
        avatar_url=snap.avatar_url,
        followers=snap.followers,
        location=snap.location,
        links=tuple(str(link) for link in snap.links),
        profile_url=snap.profile_url,
    )


def _mark_gone(
    session: Session,
    key: tuple[str, str],
    now: datetime,
    last_fetch: dict[tuple[str, str], datetime],
) -> None:
    """Keep the last snapshot for history; record that the profile is gone as of now."""
    fetched = last_fetch.get(key)
    if fetched is not None and now - fetched < timedelta(seconds=1):
        return
    latest = latest_snapshot(session, *key)
    gone = SocialProfileSnapshot(
        provider=key[0],
        external_user_id=key[1],
        handle=latest.handle if latest else "",
        handle_key=latest.handle_key if latest else "",
        location=latest.location if latest else "",
        display_name=latest.display_name if latest else "",
        headline=latest.headline if latest else "",
        bio=latest.bio if latest else "",
        avatar_url=latest.avatar_url if latest else "",
        followers=latest.followers if latest else None,
        links=list(latest.links) if latest else [],
        profile_url=latest.profile_url if latest else "",
        gone=True,
        fetched_at=now,
    )
    session.add(gone)
    last_fetch[key] = now


def apply_batch(
    session: Session, loaded: Loaded, result: BatchResult, policy: EnrichmentPolicy, now: datetime
) -> Counts:
    total = Counts()
    found = {
        (c.profile.network, c.profile.user_id)
        for o in result.outcomes
        for per_contact in o.candidates
        for c in per_contact
    }
    loaded.last_fetch.update(latest_fetches(session, found - set(loaded.last_fetch)))
    # Links as they stand now, in this unit of work (the batch may have been loaded in another).
    current: dict[int, list[SocialProfileLink]] = defaultdict(list)
    ids = [w.contact_id for w in loaded.works[: result.done]]
    for link in session.scalars(
        select(SocialProfileLink).where(SocialProfileLink.contact_id.in_(ids))
    ):
        current[link.contact_id].append(link)
    for index in range(result.done):
        work = loaded.works[index]
        candidates: list[Candidate] = []
        searched: set[str] = set()
        failed = False
        for outcome in result.outcomes:
            if index < len(outcome.candidates):
                candidates.extend(outcome.candidates[index])
                if not work.linked.get(outcome.account.provider):
                    searched.add(outcome.account.provider)
            failed = failed or index in outcome.failed
        existing = current.get(work.contact_id, [])
        if nothing_to_store(candidates, existing):
            counts = Counts(processed=1)
        else:
            counts = _store_contact(
                session, work, candidates, existing, result, policy, searched, loaded, now
            )
        counts.failed += int(failed)
        total.add(counts)
    return total


def nothing_to_store(
    candidates: Sequence[Candidate], existing: Sequence[SocialProfileLink]
) -> bool:
    """No candidate and no link: ``apply_contact`` would write nothing (no link, no snapshot,
    no refresh), so the Contact needs no savepoint and no flush of its own."""
    return not candidates and not existing


def _store_contact(
    session: Session,
    work: ContactWork,
    candidates: list[Candidate],
    existing: list[SocialProfileLink],
    result: BatchResult,
    policy: EnrichmentPolicy,
    searched: set[str],
    loaded: Loaded,
    now: datetime,
) -> Counts:
    """``apply_contact`` in a savepoint of its own, so a conflict loses only this Contact."""
    try:
        with session.begin_nested():
            counts = apply_contact(
                session,
                work,
                candidates,
                existing,
                result.refreshes,
                policy,
                searched,
                loaded.last_fetch,
                now,
            )
            session.flush()
    except IntegrityError:
        # Another worker stored this Contact's links at the same moment: theirs stand.
        log.info("enrichment_concurrent_write", contact_id=work.contact_id)
        counts = Counts(processed=1)
    return counts


def posts_wanted(
    session: Session,
    contact_ids: Sequence[int],
    consent: dict[int, bool],
    policy: EnrichmentPolicy,
    now: datetime,
) -> dict[str, list[str]]:
    """Linked profiles whose posts are due, where a linked Contact allows fetching them."""
    if not contact_ids:
        return {}
    rows = session.execute(
        select(
            SocialProfileLink.provider,
            SocialProfileLink.external_user_id,
            SocialProfileLink.contact_id,
        ).where(
            SocialProfileLink.contact_id.in_(contact_ids),
            SocialProfileLink.status == LinkStatus.LINKED,
        )
    ).all()
    allowed = {(p, u) for p, u, c in rows if policy.may_fetch_posts(consent.get(c, False))}
    wanted: dict[str, list[str]] = defaultdict(list)
    for network, user_id in sorted(allowed):
        snap = latest_snapshot(session, network, user_id)
        if snap is None or snap.gone:
            continue
        if snap.posts_fetched_at is None or now - _aware(snap.posts_fetched_at) >= REFRESH_AFTER:
            wanted[network].append(user_id)
    return dict(wanted)


def store_posts(session: Session, tenant_id: int, refreshes: Refreshes, now: datetime) -> int:
    """Store fetched posts of the profiles a Contact still allows them for (consent can be
    withdrawn while the network answers)."""
    policy = tenant_policy(session, tenant_id)
    allowed = posts_allowed(session, tenant_id, policy, set(refreshes.posts))
    stored = 0
    for (network, user_id), posts in refreshes.posts.items():
        if (network, user_id) not in allowed:
            continue
        seen = set(
            session.scalars(
                select(SocialPost.post_id).where(
                    SocialPost.provider == network,
                    SocialPost.post_id.in_([p.id for p in posts] or [""]),
                )
            )
        )
        for post in posts:
            if post.id in seen or post.author_user_id not in ("", user_id):
                continue
            session.add(_post_row(network, user_id, post, now))
            stored += 1
        snap = latest_snapshot(session, network, user_id)
        if snap is not None:
            snap.posts_fetched_at = now
    session.flush()
    return stored


def _post_row(network: str, user_id: str, post: PostData, now: datetime) -> SocialPost:
    return SocialPost(
        provider=network,
        external_user_id=user_id,
        post_id=post.id[:200],
        text=post.text[:5000],
        url=post.url[:1000],
        posted_at=post.created_at,
        fetched_at=now,
    )


def latest_snapshot(session: Session, network: str, user_id: str) -> SocialProfileSnapshot | None:
    return session.scalars(
        select(SocialProfileSnapshot)
        .where(
            SocialProfileSnapshot.provider == network,
            SocialProfileSnapshot.external_user_id == user_id,
        )
        .order_by(SocialProfileSnapshot.fetched_at.desc(), SocialProfileSnapshot.id.desc())
        .limit(1)
    ).first()


# --- one Contact ----------------------------------------------------------------------------


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
    _remember_snapshot(session, profile, now, last)
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
