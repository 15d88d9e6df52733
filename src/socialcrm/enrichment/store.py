"""Worker side of enrichment: storing what a batch found (decisions, links, snapshots, profiles
gone, posts), for ``runs`` and ``workflows``."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from socialcrm.enrichment import keys
from socialcrm.enrichment.matching import BatchResult, ContactWork, Refreshes
from socialcrm.enrichment.models import (
    LinkSource,
    LinkStatus,
    SocialPost,
    SocialProfileLink,
    SocialProfileSnapshot,
)
from socialcrm.enrichment.policy import (
    EnrichmentPolicy,
)
from socialcrm.enrichment.replace import HELD, one_per_person
from socialcrm.enrichment.retention import posts_allowed
from socialcrm.enrichment.scoring import (
    Candidate,
    Decision,
    Scored,
    decide,
    score,
    with_cross_network,
)
from socialcrm.enrichment.service import (
    REFRESH_AFTER,
    Loaded,
    aware,
    latest_fetches,
    profile_of,
    tenant_policy,
)
from socialcrm.providers.base import (
    PostData,
    ProfileData,
)
from socialcrm.providers.registry import PROVIDERS

log = structlog.get_logger(__name__)


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


def remember_snapshot(
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
                remember_snapshot(session, refreshed, now, last_fetch)
        if link.status == LinkStatus.LINKED:
            latest = refreshes.profiles.get(key) or profile_of(
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
        remember_snapshot(session, d.profile, now, last_fetch)
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
        if snap.posts_fetched_at is None or now - aware(snap.posts_fetched_at) >= REFRESH_AFTER:
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
