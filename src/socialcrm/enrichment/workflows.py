"""Enrichment workflows that call the networks: find a Contact's profiles now, link one by hand.

Each owns its units of work: it reads what it needs, closes the unit of work, calls the
network, then records the outcome in a new one (as ``runs.process_run`` does per batch). No
network call runs inside an open write transaction, where it would hold SQLite's one write
lock (PostgreSQL's row locks) for as long as the network takes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from socialcrm.connections import tokens
from socialcrm.core.db import Database, utcnow
from socialcrm.core.errors import NotFound, UpstreamUnavailable, ValidationFailed
from socialcrm.core.principal import Principal
from socialcrm.crm.models import Contact
from socialcrm.enrichment import links, matching, service, store
from socialcrm.enrichment.matching import Stop
from socialcrm.enrichment.models import SocialProfileLink
from socialcrm.enrichment.pacing import Pacer
from socialcrm.providers.base import (
    CallContext,
    Capability,
    ProfileData,
    ProfileGone,
    Provider,
    RateLimited,
    TransientProviderError,
)
from socialcrm.providers.handles import InvalidHandle, parse_handle
from socialcrm.providers.registry import PROVIDERS

FIND_BUDGET_S = 60  # a person is waiting: what is not done by then goes back to the queue


@dataclass
class FindOutcome:
    status: str  # done | deferred
    counts: store.Counts
    retry_at: datetime | None = None
    reason: str = ""


def enrich_contacts(db: Database, tenant_id: int, contact_ids: Sequence[int]) -> FindOutcome:
    """Discover, score and store for a few Contacts, now (triggers A and C)."""
    now = utcnow()
    with db.session(tenant_id=tenant_id) as session:
        contacts = session.scalars(
            select(Contact).where(Contact.id.in_(contact_ids)).order_by(Contact.id)
        ).all()
        policy = service.tenant_policy(session, tenant_id)
        account_ids = [a.id for a in service.enrichment_accounts(session)]
        loaded = service.load_works(session, contacts, now)
    handles = service.open_handles(db, tenant_id, account_ids)
    pacers: dict[int, Pacer] = {}
    result = matching.discover_batch(
        handles, loaded.works, pacers, loaded.refresh_due, set(), FIND_BUDGET_S
    )
    with db.session(tenant_id=tenant_id) as session:
        counts = store.apply_batch(session, loaded, result, policy, now)
        done_ids = [w.contact_id for w in loaded.works[: result.done]]
        wanted = store.posts_wanted(session, done_ids, loaded.consent, policy, now)
    fetch_posts(db, tenant_id, handles, wanted, pacers)
    if result.done < len(loaded.works):
        stop = result.stop or Stop("transient")
        return FindOutcome("deferred", counts, stop.until, stop.kind)
    return FindOutcome("done", counts)


def fetch_posts(
    db: Database,
    tenant_id: int,
    handles: list[tokens.AccountHandle],
    wanted: dict[str, list[str]],
    pacers: dict[int, Pacer],
) -> int:
    """The due posts (network → user ids), fetched, then stored; returns the calls made."""
    if not wanted:
        return 0
    fetched, calls = matching.posts_batch(handles, wanted, pacers)
    with db.session(tenant_id=tenant_id) as session:
        store.store_posts(session, tenant_id, fetched, utcnow())
    return calls


# --- a profile linked by hand -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ManualLookup:
    """What a person typed, checked and read from the database before any network call."""

    contact_id: int
    network: str
    account_id: int
    by_id: str  # the profile's id when the URL carries it and the network looks ids up
    text: str  # else the handle (``name@instance`` on Mastodon)


def add_manual_link(
    db: Database,
    principal: Principal,
    contact_id: int,
    handle_or_url: str,
    provider: str | None,
    *,
    replace: bool = False,
) -> SocialProfileLink:
    """Resolve a handle or profile URL through the connected account's lookup and link it
    (replacing the linked one, where a person has one profile, only if ``replace``); then
    fetch its posts if the Contact's consent and the tenant's policy allow them."""
    tenant_id = principal.tenant_id
    with db.session(tenant_id=tenant_id) as session:
        lookup = plan_lookup(session, contact_id, handle_or_url, provider)
    profile = resolve(db, tenant_id, lookup, handle_or_url)
    now = utcnow()
    with db.session(tenant_id=tenant_id) as session:
        link = links.link_profile(
            session, principal, lookup.contact_id, profile, now, replace=replace
        )
        contact = links.contact_or_404(session, lookup.contact_id)
        policy = service.tenant_policy(session, tenant_id)
        consent = {contact.id: contact.enrichment_consent}
        wanted = store.posts_wanted(session, [contact.id], consent, policy, now)
    if wanted:
        handles = service.open_handles(db, tenant_id, [lookup.account_id])
        fetch_posts(db, tenant_id, handles, wanted, {})
    return link


def plan_lookup(
    session: Session, contact_id: int, handle_or_url: str, provider: str | None
) -> ManualLookup:
    contact = links.contact_or_404(session, contact_id)
    if provider is not None and provider not in PROVIDERS:
        raise ValidationFailed(f"unknown provider {provider!r}", details={"known": list(PROVIDERS)})
    try:
        parsed = parse_handle(handle_or_url, provider)
    except InvalidHandle as exc:
        raise ValidationFailed(f"not a handle or profile URL: {exc}") from exc
    except ValueError as exc:
        raise ValidationFailed(f"cannot read {handle_or_url!r} as a profile") from exc
    if parsed is None:
        raise ValidationFailed("that URL is not a profile (a post, a search or an unknown site?)")
    network = str(parsed.network)
    if network not in PROVIDERS:
        raise ValidationFailed(f"{network} profiles cannot be looked up (no adapter)")
    account = next((a for a in service.enrichment_accounts(session) if a.provider == network), None)
    if account is None:
        raise ValidationFailed(
            f"no connected {network} account to look the profile up with: connect one first",
            details={"provider": network},
        )
    caps = PROVIDERS[network].capabilities
    by_id = parsed.user_id if parsed.user_id and Capability.LOOKUP_BY_ID in caps else ""
    if not by_id and Capability.LOOKUP_BY_HANDLE not in caps:
        raise ValidationFailed(f"{network} offers no lookup by handle")
    text = parsed.handle if parsed.instance is None else f"{parsed.handle}@{parsed.instance}"
    return ManualLookup(contact.id, network, account.id, by_id, text)


def resolve(db: Database, tenant_id: int, lookup: ManualLookup, typed: str) -> ProfileData:
    """The profile at the network; its typed failures become clear API errors."""

    async def find(p: Provider, ctx: CallContext) -> ProfileData:
        if lookup.by_id:
            return await p.lookup_user_id(ctx, lookup.by_id)
        return await p.lookup_handle(ctx, lookup.text)

    network = lookup.network
    try:
        return tokens.with_account(db, tenant_id, lookup.account_id, find)
    except ProfileGone as exc:
        raise NotFound(f"{network} has no profile {typed!r}") from exc
    except RateLimited as exc:
        wait = max(1, int((exc.retry_at - utcnow()).total_seconds()))
        raise UpstreamUnavailable(
            f"{network} is rate limiting us; try again later", details={"retry_after": wait}
        ) from exc
    except TransientProviderError as exc:
        raise UpstreamUnavailable(f"{network} is not answering; try again later") from exc
