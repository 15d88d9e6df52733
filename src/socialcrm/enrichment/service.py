"""Enrichment's settings and what a run loads: the tenant's policy, the accounts enrichment may
use, each Contact's facts and the fetches already made.

Request side: ``links`` (a person links, confirms, rejects; the social view, screen pop,
report). Worker side: ``store`` (a batch's decisions, snapshots and posts), ``runs`` and
``workflows``. Services take a session and plain values and only flush.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from socialcrm.connections import service as connections
from socialcrm.connections import tokens
from socialcrm.connections.models import AccountStatus, Ownership, SocialAccount
from socialcrm.core import audit
from socialcrm.core.db import Database
from socialcrm.core.errors import Forbidden, NotFound, ValidationFailed
from socialcrm.core.principal import Principal, Role
from socialcrm.crm.models import Contact
from socialcrm.enrichment import keys, matching
from socialcrm.enrichment.matching import ContactWork
from socialcrm.enrichment.models import (
    LinkStatus,
    SocialProfileLink,
    SocialProfileSnapshot,
)
from socialcrm.enrichment.policy import (
    POLICY_KEY,
    EnrichmentPolicy,
    policy_from,
    threshold_errors,
)
from socialcrm.enrichment.retention import forget_disallowed_posts
from socialcrm.enrichment.scoring import (
    ContactFacts,
)
from socialcrm.providers.base import (
    Capability,
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
) -> list[tokens.AccountHandle]:
    handles = []
    for account_id in account_ids:
        try:
            handles.append(tokens.open_account(db, tenant_id, account_id))
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
        profile = profile_of(snap)
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
    return {(p, u): aware(t) for p, u, t in rows if (p, u) in profiles and t is not None}


def aware(value: datetime) -> datetime:
    from datetime import UTC

    return value if value.tzinfo else value.replace(tzinfo=UTC)


def profile_of(snap: SocialProfileSnapshot | None) -> ProfileData | None:
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
