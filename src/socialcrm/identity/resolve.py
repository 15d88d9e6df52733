"""Resolve one sender to a customer (the request side): bot filter, normalise, rate limit,
cache, graph, email, guest; and the batch of many."""

from __future__ import annotations

import time
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import redis
import structlog
from sqlalchemy import Row
from sqlalchemy.orm import Session

from socialcrm.core.db import utcnow
from socialcrm.core.errors import (
    AppError,
    RateLimitExceeded,
    ValidationFailed,
)
from socialcrm.identity import cachebus, graph, lookups, ratelimit, reviews
from socialcrm.identity.botfilter import BotFilter
from socialcrm.identity.cache import CachedResolution, CacheKey, resolution_cache
from socialcrm.identity.candidates import Candidate, find_candidate, unresolved
from socialcrm.identity.guests import guest
from socialcrm.identity.models import (
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
from socialcrm.identity.tenant_policy import cached_policy, tenant_policy

log = structlog.get_logger(__name__)

# --- resolving -------------------------------------------------------------------------------


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
    candidate = find_candidate(session, tenant_id, n, uid, req)
    if isinstance(candidate, ResolveOut):
        return candidate
    if candidate is not None and candidate.contact_id is not None:
        if candidate.confidence >= policy.confidence_threshold and not candidate.force_review:
            return _resolved(session, tenant_id, n, uid, candidate, policy, keys, now)
        return _to_review(session, tenant_id, n, uid, candidate, policy)
    return guest(session, tenant_id, n, uid, req, candidate)


async def screen_without_database(
    tenant_id: int, req: ResolveIn, now: datetime | None = None
) -> Screening | None:
    """The steps of ``resolve`` that need no database, on the event loop, when the tenant's
    policy is in memory (else ``None``): a bot, or a repeated sender answered from the cache,
    is answered here without a thread or a connection; anything else goes on to
    ``resolve(..., screened=...)``. Raises ``SenderRateLimited`` like ``resolve``; ``None``
    too when Redis cannot count (the worker thread then tries, and answers as ``resolve``)."""
    cached = cached_policy(tenant_id)
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
        return unresolved("bot_suspected", 0.0, signals={"bot_signal": verdict})
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
        alikes = lookups.look_alikes(session, tenant_id, exc.network.value, (exc.skeleton,), "")
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
    rows = candidate.card  # read with the evidence, unless the graph changes below
    if candidate.profile is None or (uid is not None and candidate.profile.user_id != uid):
        rows = None
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
    if rows is None or rows[0].id != contact_id:
        rows = lookups.contact_card(session, tenant_id, contact_id)
    if not rows:  # deleted meanwhile
        return unresolved("no_match", 0.0)
    contact = rows[0]
    answer = ResolveOut(
        resolved=True,
        customer_id=contact.id,
        confidence=candidate.confidence,
        review_required=False,
        reason=candidate.reason,
        match=Match(method=candidate.method, signals=candidate.signals),
        profile_data=_profile_data(contact, policy, now),
        social_graph=_social_graph(rows),
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


def _profile_data(contact: Row[Any], policy: IdentityPolicy, now: datetime) -> ProfileData:
    last = contact.last_interaction
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


def _social_graph(rows: Sequence[Row[Any]]) -> dict[str, list[LinkedProfile]]:
    """Every profile linked to the Contact, as a list per network (two X accounts are two)."""
    out: dict[str, list[LinkedProfile]] = {}
    for row in rows:
        if row.network is not None:  # a Contact with no profile has one row, without one
            out.setdefault(row.network, []).append(
                LinkedProfile(user_id=row.user_id, handle=row.handle, url=row.url)
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


def validate_channel(channel: str) -> str:
    try:
        return channel_network(channel).value
    except ImpossibleHandle as exc:
        raise ValidationFailed(str(exc)) from None
