"""Use cases: resolve a sender to a customer, tenant settings, decide reviews."""

from __future__ import annotations

import threading
import time
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import redis
import structlog
from sqlalchemy import bindparam, delete, func, select
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session

from socialcrm.core import audit
from socialcrm.core.db import utcnow
from socialcrm.core.errors import (
    AppError,
    Conflict,
    Forbidden,
    NotFound,
    RateLimitExceeded,
    ValidationFailed,
)
from socialcrm.core.principal import Principal, Role
from socialcrm.crm.models import Activity, Contact, Lead, LeadStatus
from socialcrm.identity import cachebus, graph, ratelimit, reviews
from socialcrm.identity.botfilter import BotFilter
from socialcrm.identity.cache import CachedResolution, CacheKey, resolution_cache
from socialcrm.identity.merge import merge_contacts, merge_lead_into_contact
from socialcrm.identity.models import (
    EmailHandleLink,
    GuestLead,
    HandleAlias,
    IdentityProfile,
    IdentityReview,
    ReviewKind,
    ReviewStatus,
)
from socialcrm.identity.normalise import (
    ImpossibleHandle,
    NormalisedHandle,
    channel_network,
    identity_user_id,
    normalise_handle,
)
from socialcrm.identity.policy import IdentityPolicy
from socialcrm.identity.schemas import (
    LinkedProfile,
    Match,
    Preferences,
    ProfileData,
    ResolveIn,
    ResolveOut,
)
from socialcrm.tenancy.models import Tenant

log = structlog.get_logger(__name__)

# How much one kind of evidence is worth (the tenant's threshold decides what resolves).
CONFIDENCE = {
    "user_id": 1.0,
    "email_link": 0.95,
    "handle": 0.9,
    "request_email": 0.9,
    "ambiguous": 0.5,
    "previous_handle": 0.5,
    "other_network": 0.4,
    "owner_changed": 0.3,
}

# Review kinds that report something (a rate limit hit, a handle the graph cannot hold): a
# person dismisses them; there is no identity to merge.
REPORTS = frozenset({ReviewKind.RATE_LIMITED, ReviewKind.NOT_LINKED})
# Review kinds whose candidate is the customer being imitated (a look-alike handle) or whose
# handle another account took over: a merge names its Contact; the candidate is never assumed.
NAME_THE_CONTACT = frozenset({ReviewKind.CONFUSABLE, ReviewKind.HANDLE_REUSED})

# --- tenant settings -------------------------------------------------------------------------

_POLICY_TTL_S = 30.0
_policies: dict[int, tuple[float, IdentityPolicy, BotFilter]] = {}
_policies_lock = threading.Lock()


def tenant_policy(session: Session, tenant_id: int) -> tuple[IdentityPolicy, BotFilter]:
    cached = _cached_policy(tenant_id)
    if cached is not None:
        return cached
    tenant = session.get(Tenant, tenant_id)
    raw = (tenant.policy if tenant is not None else {}).get("identity") or {}
    policy = IdentityPolicy.model_validate(raw)
    bots = BotFilter.from_policy(policy)
    with _policies_lock:
        _policies[tenant_id] = (time.monotonic() + _POLICY_TTL_S, policy, bots)
    return policy, bots


def _cached_policy(tenant_id: int) -> tuple[IdentityPolicy, BotFilter] | None:
    """The tenant's policy if read in the last ``_POLICY_TTL_S`` seconds."""
    with _policies_lock:
        cached = _policies.get(tenant_id)
    return (cached[1], cached[2]) if cached is not None and cached[0] > time.monotonic() else None


def update_policy(session: Session, tenant_id: int, policy: IdentityPolicy) -> IdentityPolicy:
    tenant = session.get(Tenant, tenant_id)
    if tenant is None:
        raise NotFound("tenant not found")
    tenant.policy = {**tenant.policy, "identity": policy.model_dump(mode="json")}
    session.flush()
    forget_policies()
    graph.invalidate_all(session, tenant_id)  # answers given under the old threshold or tiers
    return policy


def change_settings(
    session: Session, principal: Principal, policy: IdentityPolicy
) -> IdentityPolicy:
    """An admin's change of the tenant's identity settings, audit-logged."""
    if principal.role != Role.ADMIN:
        raise Forbidden("only an admin changes the identity settings")
    policy = update_policy(session, principal.tenant_id, policy)
    audit.record(
        session,
        actor=principal.actor,
        action="identity.settings.update",
        target_type="tenant",
        target_id=principal.tenant_id,
        details={"confidence_threshold": policy.confidence_threshold},
    )
    return policy


def forget_policies() -> None:
    with _policies_lock:
        _policies.clear()


cachebus.on_clear.append(forget_policies)  # a policy changed in another process


# --- resolving -------------------------------------------------------------------------------


@dataclass(slots=True)
class Candidate:
    """The best guess so far: who, how sure, and why."""

    contact_id: int | None
    confidence: float
    method: str
    reason: str
    signals: dict[str, Any] = field(default_factory=dict)
    profile: IdentityProfile | None = None
    force_review: bool = False
    kind: ReviewKind = ReviewKind.LOW_CONFIDENCE


@dataclass(frozen=True, slots=True)
class Screened:
    """A sender past the bot filter, normalisation and rate limit, not answered from cache."""

    n: NormalisedHandle
    uid: str | None
    keys: list[CacheKey]


Screening = ResolveOut | Screened | ImpossibleHandle


def resolve(
    session: Session,
    tenant_id: int,
    req: ResolveIn,
    *,
    actor: str,
    now: datetime | None = None,
    screened: Screening | None = None,
) -> ResolveOut:
    """Resolve one sender: bot filter, normalise, rate limit, cache, graph, email, guest.

    ``screened`` is what ``screen_without_database`` already found for this request (the sender is
    then not counted twice against its rate limit).
    """
    now = now or utcnow()
    policy, bots = tenant_policy(session, tenant_id)
    step = screened if screened is not None else _screen(tenant_id, req, policy, bots, now)
    if isinstance(step, ResolveOut):
        return step
    if isinstance(step, ImpossibleHandle):
        return _impossible(session, tenant_id, req, step)
    n, uid, keys = step.n, step.uid, step.keys
    candidate = _find_candidate(session, tenant_id, n, uid, req)
    if isinstance(candidate, ResolveOut):
        return candidate
    if candidate is not None and candidate.contact_id is not None:
        if candidate.confidence >= policy.confidence_threshold and not candidate.force_review:
            return _resolved(session, tenant_id, n, uid, candidate, policy, keys, now)
        return _to_review(session, tenant_id, n, uid, candidate, policy)
    return _guest(session, tenant_id, n, uid, req, candidate)


async def screen_without_database(
    tenant_id: int, req: ResolveIn, now: datetime | None = None
) -> Screening | None:
    """The steps of ``resolve`` that need no database, on the event loop, when the tenant's
    policy is in memory (else ``None``): a bot, or a repeated sender answered from the cache,
    is answered here without a thread or a connection; anything else goes on to
    ``resolve(..., screened=...)``. Raises ``SenderRateLimited`` like ``resolve``; ``None``
    too when Redis cannot count (the worker thread then tries, and answers as ``resolve``)."""
    cached = _cached_policy(tenant_id)
    if cached is None:
        return None
    policy, bots = cached
    first = _prescreen(req, bots, now or utcnow())
    if not isinstance(first, tuple):
        return first
    n, uid = first
    try:
        retry_after = await ratelimit.hit_async(
            tenant_id, n.network.value, _subject(n, uid), policy.rate_limit_per_minute
        )
    except redis.RedisError:
        return None
    _raise_if_limited(n, uid, policy, retry_after)
    return _from_cache(tenant_id, n, uid, policy, now or utcnow())


def _screen(
    tenant_id: int, req: ResolveIn, policy: IdentityPolicy, bots: BotFilter, now: datetime
) -> Screening:
    first = _prescreen(req, bots, now)
    if not isinstance(first, tuple):
        return first
    n, uid = first
    _rate_limit(tenant_id, n, uid, policy)
    return _from_cache(tenant_id, n, uid, policy, now)


def _prescreen(
    req: ResolveIn, bots: BotFilter, now: datetime
) -> ResolveOut | ImpossibleHandle | tuple[NormalisedHandle, str | None]:
    """Bot filter, then normalisation: a bot's answer, an impossible handle, or the sender."""
    bare = unicodedata.normalize("NFKC", req.handle).strip().casefold().removeprefix("@")
    verdict = bots.verdict(
        user_id=req.user_id,
        handle=bare,
        message=req.message,
        account_created_at=req.account_created_at,
        now=now,
    )
    if verdict is not None:
        return _answer_unresolved("bot_suspected", 0.0, signals={"bot_signal": verdict})
    try:
        n = normalise_handle(req.handle, req.channel)
    except ImpossibleHandle as exc:
        return exc
    return n, _user_id(n, req.user_id)


def _from_cache(
    tenant_id: int, n: NormalisedHandle, uid: str | None, policy: IdentityPolicy, now: datetime
) -> ResolveOut | Screened:
    keys = _keys(tenant_id, n, uid)
    hit = resolution_cache.get(keys[0])
    if hit is not None and hit.handle == n.handle and hit.tier not in policy.fresh_tiers:
        answer = ResolveOut.model_validate({**hit.answer, "cached": True})
        if answer.profile_data is not None:  # the window may have closed since it was cached
            data = answer.profile_data
            data.recently_updated = _recently(data.profile_updated_at, policy, now)
        return answer
    return Screened(n, uid, keys)


def _user_id(n: NormalisedHandle, user_id: str | None) -> str | None:
    raw = user_id or n.user_id
    return identity_user_id(n.network, raw, n.instance) if raw else None


def _keys(tenant_id: int, n: NormalisedHandle, uid: str | None) -> list[CacheKey]:
    net = n.network.value
    return [(tenant_id, net, f"id:{uid}")] if uid else [(tenant_id, net, f"h:{n.handle}")]


class SenderRateLimited(RateLimitExceeded):
    """One platform user went over its budget; the caller logs it for review (and commits)."""

    def __init__(
        self, *, network: str, handle: str, user_id: str | None, limit: int, retry_after: int
    ) -> None:
        super().__init__(
            f"too many requests for this {network} account; retry later",
            details={"retry_after": retry_after},
        )
        self.network, self.handle, self.user_id, self.limit = network, handle, user_id, limit


def _subject(n: NormalisedHandle, uid: str | None) -> str:
    return f"id:{uid}" if uid else f"h:{n.handle}"


def _rate_limit(
    tenant_id: int, n: NormalisedHandle, uid: str | None, policy: IdentityPolicy
) -> None:
    retry_after = ratelimit.hit(
        tenant_id, n.network.value, _subject(n, uid), policy.rate_limit_per_minute
    )
    _raise_if_limited(n, uid, policy, retry_after)


def _raise_if_limited(
    n: NormalisedHandle, uid: str | None, policy: IdentityPolicy, retry_after: int | None
) -> None:
    if retry_after is not None:
        raise SenderRateLimited(
            network=n.network.value,
            handle=n.handle,
            user_id=uid,
            limit=policy.rate_limit_per_minute,
            retry_after=retry_after,
        )


def log_rate_limited(
    session: Session, tenant_id: int, exc: SenderRateLimited, *, actor: str
) -> None:
    """Security log line plus one review row per user id (counted, not repeated)."""
    log.warning(
        "identity.rate_limited",
        tenant_id=tenant_id,
        network=exc.network,
        user_id=exc.user_id,
        actor=actor,
        limit_per_minute=exc.limit,
    )
    reviews.open_review(
        session,
        tenant_id,
        kind=ReviewKind.RATE_LIMITED,
        reason=f"more than {exc.limit} requests per minute",
        network=exc.network,
        handle=exc.handle,
        user_id=exc.user_id,
        signals={"limit_per_minute": exc.limit},
    )


def _impossible(
    session: Session, tenant_id: int, req: ResolveIn, exc: ImpossibleHandle
) -> ResolveOut:
    """A handle no network allows is refused, unless it imitates a known customer's."""
    if exc.network is not None and exc.skeleton:
        alikes = graph.look_alikes(session, tenant_id, exc.network.value, (exc.skeleton,), "")
        if alikes:
            alias, profile = alikes[0]
            bare = unicodedata.normalize("NFKC", req.handle).strip().casefold().removeprefix("@")
            candidate = Candidate(
                contact_id=profile.contact_id,
                confidence=0.0,
                method="handle",
                reason=f"confusable_with:{alias.handle}",
                signals={"confusable_with": alias.handle, "valid_syntax": False},
                force_review=True,
                kind=ReviewKind.CONFUSABLE,
            )
            return _review_answer(
                session, tenant_id, exc.network.value, bare[:320], req.user_id, candidate
            )
    raise ValidationFailed(str(exc), details={"field": "handle"})


def _find_candidate(
    session: Session, tenant_id: int, n: NormalisedHandle, uid: str | None, req: ResolveIn
) -> Candidate | ResolveOut | None:
    net = n.network.value
    if uid is not None:
        profile = graph.profile_by_user_id(session, tenant_id, net, uid)
        if profile is not None and (profile.contact_id is not None or profile.lead_id is not None):
            previous = graph.rename_profile(session, tenant_id, profile, n)
            signals: dict[str, Any] = {"user_id": uid}
            if previous is not None:
                signals["previous_handle"] = previous
            if profile.contact_id is None:
                return _answer_unresolved(
                    "known_lead", 0.0, lead_id=profile.lead_id, signals=signals, method="user_id"
                )
            return Candidate(
                profile.contact_id,
                CONFIDENCE["user_id"],
                "user_id",
                "user_id_match",
                signals,
                profile,
            )

    current: list[IdentityProfile] = []
    retired: list[tuple[str, IdentityProfile]] = []
    for alias, profile in graph.aliases_for_handle(session, tenant_id, net, n.handle):
        if alias.retired_at is None:
            current.append(profile)
        elif profile.contact_id is not None:
            retired.append((alias.handle, profile))
    linked = {p.contact_id for p in current if p.contact_id is not None}
    owned = [p for p in current if p.contact_id is not None and p.user_id not in (None, uid)]
    if uid is not None and owned:
        return _owner_changed(n, uid, owned[0], retired=False)
    if len(linked) == 1:
        profile = next(p for p in current if p.contact_id is not None)
        return Candidate(
            profile.contact_id,
            CONFIDENCE["handle"],
            "handle",
            "handle_match",
            {"handle": n.handle},
            profile,
        )
    if len(linked) > 1:
        return Candidate(
            min(c for c in linked if c is not None),
            CONFIDENCE["ambiguous"],
            "handle",
            "ambiguous_handle",
            {"contacts": sorted(c for c in linked if c is not None)},
        )
    leads = [p for p in current if p.lead_id is not None]
    if leads and (uid is None or leads[0].user_id in (None, uid)):
        return _answer_unresolved("known_lead", 0.0, lead_id=leads[0].lead_id, method="handle")

    alikes = graph.look_alikes(session, tenant_id, net, n.skeletons, n.handle)
    if alikes:
        alias, profile = alikes[0]
        return Candidate(
            profile.contact_id,
            0.0,
            "handle",
            f"confusable_with:{alias.handle}",
            {"confusable_with": alias.handle, "skeleton": n.skeleton},
            force_review=True,
            kind=ReviewKind.CONFUSABLE,
        )

    by_email = _email_candidate(session, tenant_id, n, uid, req)
    if by_email is not None:
        return by_email
    if retired:
        # The account that had this handle has another one now: whoever uses it is not it.
        old, profile = retired[0]
        if uid is not None and profile.user_id not in (None, uid):
            return _owner_changed(n, uid, profile, retired=True)
        return Candidate(
            profile.contact_id,
            CONFIDENCE["previous_handle"],
            "handle",
            "previous_handle",
            {"previous_handle": old, "current_handle": profile.handle},
            profile,
            force_review=True,
            kind=ReviewKind.HANDLE_REUSED,
        )
    elsewhere = graph.same_name_elsewhere(session, tenant_id, net, n.local)
    if elsewhere:
        alias, profile = elsewhere[0]
        return Candidate(
            profile.contact_id,
            CONFIDENCE["other_network"],
            "handle",
            f"same_handle_on:{alias.network}",
            {"network": alias.network, "handle": alias.handle},
        )
    return None


def _owner_changed(
    n: NormalisedHandle, uid: str, known: IdentityProfile, *, retired: bool
) -> Candidate:
    """A known handle under another user id: a question for a person, never a resolution."""
    signals: dict[str, Any] = {"handle": n.handle, "known_user_id": known.user_id, "user_id": uid}
    if retired:
        signals["known_account_now"] = known.handle
    return Candidate(
        known.contact_id,
        CONFIDENCE["owner_changed"],
        "handle",
        "handle_owner_changed",
        signals,
        force_review=True,
        kind=ReviewKind.HANDLE_REUSED,
    )


def _email_candidate(
    session: Session, tenant_id: int, n: NormalisedHandle, uid: str | None, req: ResolveIn
) -> Candidate | None:
    links = graph.email_links(session, tenant_id, n.network.value, n.handle, uid)
    for link in links:
        contact_id = link.contact_id
        if contact_id is None:  # the Contact may have been created after the mapping
            found = graph.contacts_with_email(session, tenant_id, link.email)
            contact_id = found[0] if len(found) == 1 else None
        if contact_id is not None:
            return Candidate(
                contact_id,
                CONFIDENCE["email_link"],
                "email",
                "email_match",
                {"email_source": link.source},
            )
    if req.email:
        found = graph.contacts_with_email(session, tenant_id, str(req.email))
        if len(found) == 1:
            return Candidate(
                found[0],
                CONFIDENCE["request_email"],
                "email",
                "email_match",
                {"email_source": "request"},
            )
        if len(found) > 1:
            return Candidate(
                found[0],
                CONFIDENCE["ambiguous"],
                "email",
                "ambiguous_email",
                {"contacts": found[:10]},
            )
    return None


def _resolved(
    session: Session,
    tenant_id: int,
    n: NormalisedHandle,
    uid: str | None,
    candidate: Candidate,
    policy: IdentityPolicy,
    keys: list[CacheKey],
    now: datetime,
) -> ResolveOut:
    contact_id = candidate.contact_id
    assert contact_id is not None
    if candidate.profile is None or (uid is not None and candidate.profile.user_id != uid):
        # Learnt something (an email, a user id for a known handle): keep it in the graph. A
        # handle-only match teaches nothing: recording it would copy the account without its
        # id, and the copy would resolve the handle's next owner to this customer.
        linked = graph.record_identity(
            session, contact_id, n.network.value, uid, n.handle, f"resolve:{candidate.method}"
        )
        if linked.conflict_contact_id is not None:
            candidate.contact_id = linked.conflict_contact_id
            candidate.signals["conflict_with_contact"] = contact_id
            reviews.open_conflict(session, tenant_id, linked.profile, contact_id)
            contact_id = linked.conflict_contact_id
    row = session.execute(
        _CONTACT_AND_LAST_INTERACTION, {"tenant_id": tenant_id, "contact_id": contact_id}
    ).first()
    if row is None:  # deleted meanwhile
        return _answer_unresolved("no_match", 0.0)
    contact, last = row
    answer = ResolveOut(
        resolved=True,
        customer_id=contact.id,
        confidence=candidate.confidence,
        review_required=False,
        reason=candidate.reason,
        match=Match(method=candidate.method, signals=candidate.signals),
        profile_data=_profile_data(contact, last, policy, now),
        social_graph=_social_graph(session, tenant_id, contact.id),
    )
    if policy.cache_ttl_s > 0 and cachebus.may_cache():
        resolution_cache.put(
            keys,
            CachedResolution(
                contact_id=contact.id,
                tier=str(contact.tier),
                handle=n.handle,
                answer=answer.model_dump(mode="json"),
                expires_at=time.time() + policy.cache_ttl_s,
            ),
        )
    return answer


# The Contact and its last interaction in one statement (one round trip), built once.
_CONTACT_AND_LAST_INTERACTION = select(
    Contact,
    select(func.max(func.coalesce(Activity.occurred_at, Activity.created_at)))
    .where(Activity.tenant_id == Contact.tenant_id, Activity.contact_id == Contact.id)
    .scalar_subquery(),
).where(Contact.tenant_id == bindparam("tenant_id"), Contact.id == bindparam("contact_id"))


def _profile_data(
    contact: Contact, last: datetime | str | None, policy: IdentityPolicy, now: datetime
) -> ProfileData:
    if isinstance(last, str):  # SQLite hands aggregates back as text
        last = datetime.fromisoformat(last)
    updated = contact.profile_updated_at or contact.updated_at
    return ProfileData(
        name=contact.name,
        tier=str(contact.tier),
        last_interaction=last,
        preferences=Preferences(
            preferred_channel=contact.preferred_channel,
            language=contact.language,
            marketing_consent=contact.marketing_consent,
            enrichment_consent=contact.enrichment_consent,
        ),
        profile_updated_at=updated,
        recently_updated=_recently(updated, policy, now),
    )


def _recently(updated: datetime | None, policy: IdentityPolicy, now: datetime) -> bool:
    window = timedelta(hours=policy.recently_updated_hours)
    return updated is not None and now - updated <= window


def _social_graph(
    session: Session, tenant_id: int, contact_id: int
) -> dict[str, list[LinkedProfile]]:
    """Every profile linked to the Contact, as a list per network (two X accounts are two)."""
    out: dict[str, list[LinkedProfile]] = {}
    for profile in graph.profiles_of_contact(session, tenant_id, contact_id):
        out.setdefault(profile.network, []).append(
            LinkedProfile(user_id=profile.user_id, handle=profile.handle, url=profile.url)
        )
    return out


def _to_review(
    session: Session,
    tenant_id: int,
    n: NormalisedHandle,
    uid: str | None,
    candidate: Candidate,
    policy: IdentityPolicy,
) -> ResolveOut:
    if not candidate.force_review:
        candidate.signals["threshold"] = policy.confidence_threshold
        if candidate.reason in {"handle_match", "email_match"}:
            candidate.reason = "below_threshold"
    return _review_answer(session, tenant_id, n.network.value, n.handle, uid, candidate)


def _review_answer(
    session: Session,
    tenant_id: int,
    network: str,
    handle: str,
    uid: str | None,
    candidate: Candidate,
) -> ResolveOut:
    review = reviews.open_review(
        session,
        tenant_id,
        kind=candidate.kind,
        reason=candidate.reason,
        network=network,
        handle=handle,
        user_id=uid,
        confidence=candidate.confidence,
        signals=candidate.signals,
        candidate_contact_id=candidate.contact_id,
    )
    pending = review.status == ReviewStatus.PENDING
    return ResolveOut(
        resolved=False,
        customer_id=None,
        confidence=candidate.confidence,
        review_required=pending,
        reason=candidate.reason if pending else "rejected_in_review",
        match=Match(method=candidate.method, signals=candidate.signals),
        review_id=review.id,
    )


def _answer_unresolved(
    reason: str,
    confidence: float,
    *,
    lead_id: int | None = None,
    signals: dict[str, Any] | None = None,
    method: str = "none",
) -> ResolveOut:
    return ResolveOut(
        resolved=False,
        confidence=confidence,
        review_required=False,
        reason=reason,
        match=Match(method=method, signals=signals or {}),
        lead_id=lead_id,
    )


# --- guests ----------------------------------------------------------------------------------


def _guest(
    session: Session,
    tenant_id: int,
    n: NormalisedHandle,
    uid: str | None,
    req: ResolveIn,
    weak: Candidate | None,
) -> ResolveOut:
    if not req.create_lead:
        return _answer_unresolved("no_match", 0.0)
    lead_id, created = ensure_guest_lead(session, tenant_id, n, uid, req)
    review = None
    if created:
        review = reviews.open_review(
            session,
            tenant_id,
            kind=ReviewKind.NEW_LEAD,
            reason="needs_review: new lead from an unknown sender",
            network=n.network.value,
            handle=n.handle,
            user_id=uid,
            lead_id=lead_id,
        )
    return ResolveOut(
        resolved=False,
        confidence=0.0,
        review_required=created,
        reason="lead_created" if created else "known_lead",
        match=Match(method="none", signals={"tags": ["needs_review"]} if created else {}),
        lead_id=lead_id,
        review_id=review.id if review is not None else None,
    )


def ensure_guest_lead(
    session: Session, tenant_id: int, n: NormalisedHandle, uid: str | None, req: ResolveIn
) -> tuple[int, bool]:
    """The one Lead of this sender: found by user id (else handle) or email, else created.

    Uniqueness is the database's: the claim rows in ``identity_guest_leads`` carry a UNIQUE
    (tenant, network, subject) key, so of concurrent creators exactly one commits a Lead.
    """
    net = n.network.value
    claims = [(net, f"id:{uid}" if uid else f"handle:{n.handle}")]
    if req.email:
        claims.append(("*", f"email:{str(req.email).lower()}"))
    existing = _claimed_lead(session, tenant_id, claims)
    if existing is not None:
        _add_claims(session, tenant_id, claims, existing)
        return existing, False
    try:
        with session.begin_nested():
            lead = Lead(
                tenant_id=tenant_id,
                name=(req.display_name or f"@{n.handle}")[:200],
                source=f"social:{net}",
                status=LeadStatus.NEW,
                notes=f"#needs_review — first seen on {net} as @{n.handle} ({n.url})",
            )
            session.add(lead)
            session.flush()
            for network, subject in claims:
                session.add(
                    GuestLead(
                        tenant_id=tenant_id, network=network, subject=subject, lead_id=lead.id
                    )
                )
            session.flush()
    except sa_exc.IntegrityError:
        existing = _claimed_lead(session, tenant_id, claims)
        if existing is None:
            raise
        _add_claims(session, tenant_id, claims, existing)
        return existing, False
    graph.record_identity(session, None, net, uid, n.handle, "guest", lead_id=lead.id)
    log.info("identity.lead_created", tenant_id=tenant_id, network=net, lead_id=lead.id)
    return lead.id, True


def _claimed_lead(session: Session, tenant_id: int, claims: list[tuple[str, str]]) -> int | None:
    for network, subject in claims:
        lead_id = session.scalar(
            select(GuestLead.lead_id).where(
                GuestLead.tenant_id == tenant_id,
                GuestLead.network == network,
                GuestLead.subject == subject,
            )
        )
        if lead_id is not None:
            return int(lead_id)
    return None


def _add_claims(
    session: Session, tenant_id: int, claims: list[tuple[str, str]], lead_id: int
) -> None:
    """Remember the other ways this sender is known (an email seen later, say)."""
    for network, subject in claims:
        try:
            with session.begin_nested():
                session.add(
                    GuestLead(
                        tenant_id=tenant_id, network=network, subject=subject, lead_id=lead_id
                    )
                )
                session.flush()
        except sa_exc.IntegrityError:
            continue


# --- batch -----------------------------------------------------------------------------------


def resolve_batch(
    session: Session, tenant_id: int, requests: list[ResolveIn], *, actor: str
) -> list[tuple[ResolveOut | None, AppError | None]]:
    """Each item on its own savepoint: one bad item answers with its error, the rest resolve."""
    out: list[tuple[ResolveOut | None, AppError | None]] = []
    for req in requests:
        try:
            with session.begin_nested():
                out.append((resolve(session, tenant_id, req, actor=actor), None))
        except SenderRateLimited as exc:
            log_rate_limited(session, tenant_id, exc, actor=actor)
            out.append((None, exc))
        except AppError as exc:
            out.append((None, exc))
    return out


# --- reviews ---------------------------------------------------------------------------------


def get_review(session: Session, review_id: int) -> IdentityReview:
    review = session.get(IdentityReview, review_id)
    if review is None:
        raise NotFound(f"review {review_id} not found")
    return review


def merge_review(
    session: Session,
    tenant_id: int,
    review_id: int,
    *,
    contact_id: int | None,
    keep: list[str],
    actor: str,
) -> tuple[IdentityReview, int, dict[str, int]]:
    """Accept a review: the identity (and its guest Lead, or the other Contact) joins the
    surviving Contact. Audit-logged with what moved."""
    review = get_review(session, review_id)
    if review.status != ReviewStatus.PENDING:
        raise Conflict(f"review {review_id} is already {review.status}")
    if review.kind in REPORTS:
        raise Conflict(f"a {review.kind} report has nothing to merge: reject it to dismiss")
    if contact_id is None and review.kind in NAME_THE_CONTACT:
        raise ValidationFailed(
            f"a {review.kind} review names no contact for you: choose the contact to merge"
            ' into ({"contact_id": …}); the customer it looks like is not assumed'
        )
    target = contact_id or review.candidate_contact_id
    if target is None:
        raise ValidationFailed('name the contact to merge into: {"contact_id": …}')
    if session.get(Contact, target) is None:
        raise NotFound(f"contact {target} not found")
    moved: dict[str, int] = {}
    details: dict[str, Any] = {"review_kind": str(review.kind), "target_contact_id": target}
    pair = {review.candidate_contact_id, review.source_contact_id} - {None, target}
    if review.kind == ReviewKind.CONFLICT and pair:
        # Two Contacts are one customer: the one not chosen as survivor is folded in.
        if len(pair) > 1:
            raise ValidationFailed("merge into one of the two contacts of this review")
        folded = pair.pop()
        assert folded is not None
        snapshot, moved = merge_contacts(
            session, tenant_id, source_id=folded, target_id=target, keep=keep
        )
        details["source_contact"] = snapshot
    else:
        if review.lead_id is not None:
            moved = merge_lead_into_contact(
                session, tenant_id, lead_id=review.lead_id, contact_id=target
            )
        if review.handle:
            try:
                graph.record_identity(
                    session,
                    target,
                    review.network,
                    review.user_id,
                    review.handle,
                    "review",
                    relink=True,
                )
                moved["identity_profiles"] = moved.get("identity_profiles", 0) or 1
            except ImpossibleHandle:
                pass  # a look-alike no network allows: nothing to link, the decision is kept
    review.status = ReviewStatus.MERGED
    review.decided_at = utcnow()
    review.decided_by = actor
    review.candidate_contact_id = target
    details["moved"] = moved
    audit.record(
        session,
        actor=actor,
        action="identity.review.merge",
        target_type="identity_review",
        target_id=review.id,
        details=details,
    )
    session.flush()
    return review, target, moved


def reject_review(session: Session, review_id: int, *, note: str, actor: str) -> IdentityReview:
    """Not the same person: the question is closed and not asked again."""
    review = get_review(session, review_id)
    if review.status != ReviewStatus.PENDING:
        raise Conflict(f"review {review_id} is already {review.status}")
    review.status = ReviewStatus.REJECTED
    review.decided_at = utcnow()
    review.decided_by = actor
    audit.record(
        session,
        actor=actor,
        action="identity.review.reject",
        target_type="identity_review",
        target_id=review.id,
        details={
            "note": note,
            "kind": str(review.kind),
            "candidate_contact_id": review.candidate_contact_id,
        },
    )
    session.flush()
    return review


def validate_channel(channel: str) -> str:
    try:
        return channel_network(channel).value
    except ImpossibleHandle as exc:
        raise ValidationFailed(str(exc)) from None


# --- backfill ----------------------------------------------------------------------------------


def contact_ids_with_handles(session: Session, tenant_id: int) -> list[int]:
    rows = session.execute(
        select(Contact.id, Contact.handles)
        .where(Contact.tenant_id == tenant_id)
        .order_by(Contact.id)
        .execution_options(yield_per=5000)
    )
    return [cid for cid, handles in rows if handles]


def sync_contacts(session: Session, tenant_id: int, contact_ids: list[int]) -> int:
    """Put these Contacts' handles into the graph (an install that predates identity)."""
    return sum(graph.sync_contact(session, tenant_id, cid) for cid in contact_ids)


# --- erasure -----------------------------------------------------------------------------------


def forget_contact(session: Session, tenant_id: int, contact_id: int) -> int:
    """A Contact is being erased: its profiles in the graph (with every handle alias they had)
    and its email-to-handle links go, except a profile a guest Lead still holds. Returns the
    profiles erased."""
    profiles = graph.profiles_of_contact(session, tenant_id, contact_id)
    keys = [key for profile in profiles for key in graph.cache_keys(tenant_id, profile)]
    graph.invalidate(session, tenant_id, contact_ids=(contact_id,), keys=keys)
    erased = [p.id for p in profiles if p.lead_id is None]
    for model, column, values in (
        (HandleAlias, HandleAlias.profile_id, erased),
        (IdentityProfile, IdentityProfile.id, erased),
        (EmailHandleLink, EmailHandleLink.contact_id, [contact_id]),
    ):
        session.execute(
            delete(model)
            .where(model.tenant_id == tenant_id, column.in_(values))
            .execution_options(synchronize_session=False)
        )
    return len(erased)
