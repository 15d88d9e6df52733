"""The provider side of enrichment: lookups, profile refreshes and posts for a batch of
Contacts, through every connected account at once, paced by each account's budget.

No database here: the caller loads what it needs into ``ContactWork`` and persists what
``enrich_batch`` returns. A 429, an outage or a dead grant stops the batch at the first
Contact not finished by every account, so the caller commits an exact prefix.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TypeVar

from socialcrm.connections import gateway
from socialcrm.connections.tokens import AccountHandle
from socialcrm.core.db import utcnow
from socialcrm.enrichment.pacing import Pacer
from socialcrm.enrichment.scoring import Candidate, ContactFacts
from socialcrm.providers import runtime
from socialcrm.providers.base import (
    CallContext,
    Capability,
    NotSupported,
    PostData,
    ProfileData,
    ProfileGone,
    Provider,
    ProviderError,
    RateLimited,
    ReconnectRequired,
    TransientProviderError,
)
from socialcrm.providers.registry import PROVIDERS

T = TypeVar("T")

MAX_INLINE_PAUSE = timedelta(seconds=3)  # longer waits go back to the queue with an ETA
TRANSIENT_RETRIES = 2  # quick in-place retries of a 5xx/timeout before giving the batch up
CONCURRENCY = 4  # Contacts in flight per account (the pacer sees every one of them)
SEARCH_LIMIT = 5
POSTS_LIMIT = 5
MAX_EMAILS = 3
REFRESH_AFTER = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class ContactWork:
    """One Contact, as matching needs it, plus what we already know of its profiles."""

    contact_id: int
    facts: ContactFacts
    linked: dict[str, set[str]] = field(default_factory=dict)  # network → user ids (no search)
    excluded: dict[str, set[str]] = field(default_factory=dict)  # network → rejected ids
    cached: dict[tuple[str, str], ProfileData] = field(default_factory=dict)  # fetched < 24 h


@dataclass(frozen=True, slots=True)
class Stop:
    kind: str  # rate_limited | pause | transient | reconnect | deadline
    until: datetime | None = None
    account_id: int | None = None
    message: str = ""


@dataclass
class AccountOutcome:
    account: AccountHandle
    done: int = 0
    candidates: list[list[Candidate]] = field(default_factory=list)  # per contact index
    failed: set[int] = field(default_factory=set)  # contact indexes with a refused request
    calls: int = 0
    rate_limited: int = 0
    transient: int = 0
    stop: Stop | None = None
    email_unavailable: bool = False


@dataclass
class StopSignal:
    at: int
    first: Stop | None = None

    def stop(self, index: int, reason: Stop) -> None:
        """The earliest stop wins: every account halts before that Contact."""
        if self.first is None or index < self.at:
            self.at = min(self.at, index)
            self.first = reason


@dataclass
class Refreshes:
    """Profiles fetched again this batch (``None``: the network says it is gone)."""

    profiles: dict[tuple[str, str], ProfileData | None] = field(default_factory=dict)
    posts: dict[tuple[str, str], list[PostData]] = field(default_factory=dict)
    claimed: set[tuple[str, str]] = field(default_factory=set)


class Caller:
    """Paced, retried, counted calls as one connected account."""

    def __init__(
        self, provider: Provider, handle: AccountHandle, pacer: Pacer, outcome: AccountOutcome
    ) -> None:
        self.provider = provider
        self.handle = handle
        self.pacer = pacer
        self.outcome = outcome

    async def call(self, family: str, action: Callable[[CallContext], Awaitable[T]]) -> T:
        await self._admit(family)
        attempt = 0
        while True:
            ctx = CallContext(
                access_token=self.handle.ctx.access_token,
                user_id=self.handle.ctx.user_id,
                handle=self.handle.ctx.handle,
            )
            self.outcome.calls += 1
            if attempt:
                self.pacer.inflight[family] = self.pacer.inflight.get(family, 0) + 1
            try:
                return await action(ctx)
            except RateLimited as exc:
                self.outcome.rate_limited += 1
                self.pacer.spent(family, exc.retry_at)
                raise
            except TransientProviderError:
                self.outcome.transient += 1
                attempt += 1
                if attempt > TRANSIENT_RETRIES:
                    raise
                await asyncio.sleep(0.2 * 2**attempt)
            finally:
                self.pacer.inflight[family] -= 1
                self.pacer.learn(family, ctx.budget)

    async def _admit(self, family: str) -> None:
        """One pacing decision at a time per family, each seeing the calls still in flight;
        while nothing is known of the current window, one probe call at a time."""
        lock = self.pacer.locks.setdefault(family, asyncio.Lock())
        async with lock:
            while self.pacer.probing(family, utcnow()):  # noqa: ASYNC110 (short polls for headers)
                await asyncio.sleep(0.01)
            wait = self.pacer.wait(family, utcnow())
            if wait > MAX_INLINE_PAUSE:
                raise _Paused(utcnow() + wait)
            if wait > timedelta(0):
                await asyncio.sleep(wait.total_seconds())
            self.pacer.inflight[family] = self.pacer.inflight.get(family, 0) + 1


class _Paused(Exception):
    def __init__(self, until: datetime) -> None:
        super().__init__("paced")
        self.until = until


def _caps(provider: str) -> frozenset[Capability]:
    info = PROVIDERS.get(provider)
    return info.capabilities if info else frozenset()


async def discover_for(caller: Caller, work: ContactWork) -> list[Candidate]:
    """Email, then the Contact's handles, then people search by name: the candidates."""
    network = caller.handle.provider
    caps = _caps(network)
    p = caller.provider
    found: dict[str, Candidate] = {}
    excluded = work.excluded.get(network, set())

    def keep(profile: ProfileData | None, via: str, email: str = "") -> None:
        if profile is None or not profile.user_id or profile.user_id in excluded:
            return
        cand = found.setdefault(profile.user_id, Candidate(profile))
        cand.via.add(via)
        if email:
            cand.verified_email = email

    if Capability.LOOKUP_BY_EMAIL in caps and not caller.outcome.email_unavailable:
        for email in work.facts.emails[:MAX_EMAILS]:
            try:
                hit = await caller.call(
                    "lookup_email",
                    lambda ctx, e=email: p.lookup_email(ctx, e),  # type: ignore[misc]
                )
            except NotSupported:  # e.g. the grant lacks the admin scope: stop asking
                caller.outcome.email_unavailable = True
                break
            keep(hit, "email", email)
    if Capability.LOOKUP_BY_HANDLE in caps:
        for handle in sorted(work.facts.handles.get(network, ())):
            if (network, handle) in work.cached:
                keep(work.cached[(network, handle)], "handle")
                continue
            try:
                hit = await caller.call(
                    "lookup_handle",
                    lambda ctx, h=handle: p.lookup_handle(ctx, h),  # type: ignore[misc]
                )
            except ProfileGone:
                continue
            keep(hit, "handle")
    strong = any(c.verified_email or "handle" in c.via for c in found.values())
    if Capability.SEARCH_PEOPLE in caps and not strong and work.facts.name.strip():
        query = work.facts.name.strip()
        hits = await caller.call("search", lambda ctx: p.search_people(ctx, query, SEARCH_LIMIT))
        for hit in hits:
            keep(hit, "search")
    return list(found.values())


async def refresh_profile(caller: Caller, user_id: str) -> ProfileData | None:
    if Capability.LOOKUP_BY_ID not in _caps(caller.handle.provider):
        raise NotSupported("no lookup by id")
    try:
        return await caller.call(
            "profile", lambda ctx: caller.provider.lookup_user_id(ctx, user_id)
        )
    except ProfileGone:
        return None


async def account_pass(
    provider: Provider,
    handle: AccountHandle,
    works: list[ContactWork],
    pacer: Pacer,
    signal: StopSignal,
    refresh_due: set[tuple[str, str]],
    refreshes: Refreshes,
    deadline: float,
    email_unavailable: bool,
) -> AccountOutcome:
    """Discovery (and due refreshes of linked profiles) for each Contact, a few at a time.

    Results count only up to the first Contact not finished, so the caller stores an exact
    prefix whatever stopped the pass.
    """
    outcome = AccountOutcome(account=handle, email_unavailable=email_unavailable)
    caller = Caller(provider, handle, pacer, outcome)
    network = handle.provider
    results: list[list[Candidate] | None] = [None] * len(works)
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(index: int, work: ContactWork) -> None:
        async with gate:
            if index >= signal.at:
                return
            if time.monotonic() > deadline:
                signal.stop(index, Stop("deadline"))
                return
            try:
                results[index] = await _contact_pass(caller, network, work, refresh_due, refreshes)
            except _Paused as exc:
                signal.stop(index, Stop("pause", until=exc.until, account_id=handle.id))
            except RateLimited as exc:
                signal.stop(index, Stop("rate_limited", until=exc.retry_at, account_id=handle.id))
            except TransientProviderError as exc:
                signal.stop(index, Stop("transient", account_id=handle.id, message=str(exc)[:200]))
            except ReconnectRequired as exc:
                signal.stop(index, Stop("reconnect", account_id=handle.id, message=str(exc)[:200]))
            except ProviderError:  # refused for a reason retrying will not fix
                outcome.failed.add(index)
                results[index] = []

    await asyncio.gather(*(one(i, w) for i, w in enumerate(works)))
    done = next((i for i, r in enumerate(results) if r is None), len(works))
    outcome.done = done
    outcome.candidates = [r for r in results[:done] if r is not None]
    return outcome


async def _contact_pass(
    caller: Caller,
    network: str,
    work: ContactWork,
    refresh_due: set[tuple[str, str]],
    refreshes: Refreshes,
) -> list[Candidate]:
    if not work.linked.get(network):
        return await discover_for(caller, work)
    for user_id in sorted(work.linked[network]):
        key = (network, user_id)
        if key in refresh_due and key not in refreshes.claimed:
            refreshes.claimed.add(key)  # no second fetch from a sibling task
            try:
                refreshes.profiles[key] = await refresh_profile(caller, user_id)
            except BaseException:
                refreshes.claimed.discard(key)
                raise
    return []


async def fetch_posts(
    provider: Provider, handle: AccountHandle, user_ids: list[str], pacer: Pacer, out: Refreshes
) -> int:
    """Recent public posts of newly or still linked profiles; best effort (retried next run)."""
    outcome = AccountOutcome(account=handle)
    caller = Caller(provider, handle, pacer, outcome)
    if Capability.POSTS not in _caps(handle.provider):
        return 0
    for user_id in user_ids:
        try:
            posts = await caller.call(
                "posts",
                lambda ctx, u=user_id: provider.posts(ctx, u, POSTS_LIMIT),  # type: ignore[misc]
            )
        except (_Paused, RateLimited, TransientProviderError, ReconnectRequired):
            break
        except ProviderError:
            continue
        out.posts[(handle.provider, user_id)] = posts
    return outcome.calls


@dataclass
class BatchResult:
    done: int
    outcomes: list[AccountOutcome]
    refreshes: Refreshes
    stop: Stop | None
    post_calls: int = 0


def run_in_accounts(
    handles: list[AccountHandle],
    make: Callable[[Provider, AccountHandle], Awaitable[T]],
) -> list[T]:
    """On the provider runtime's loop; each account's work on its provider's pooled client,
    concurrently."""

    def bound(h: AccountHandle) -> Callable[[Provider], Awaitable[T]]:
        return lambda p: make(p, h)

    async def everything() -> list[T]:
        calls = [
            gateway.call_async(h.provider, bound(h), instance_url=h.instance_url) for h in handles
        ]
        return list(await asyncio.gather(*calls))

    return runtime.run(everything(), timeout=gateway.CALL_LIMIT_S)


def _fresh_loop(pacers: dict[int, Pacer]) -> None:
    """Each batch runs in a new event loop: locks and in-flight counts start afresh."""
    for pacer in pacers.values():
        pacer.locks.clear()
        pacer.inflight.clear()


def discover_batch(
    handles: list[AccountHandle],
    works: list[ContactWork],
    pacers: dict[int, Pacer],
    refresh_due: set[tuple[str, str]],
    email_unavailable: set[int],
    budget_s: float,
) -> BatchResult:
    signal = StopSignal(at=len(works))
    refreshes = Refreshes()
    _fresh_loop(pacers)
    deadline = time.monotonic() + budget_s

    async def one(p: Provider, h: AccountHandle) -> AccountOutcome:
        return await account_pass(
            p,
            h,
            works,
            pacers.setdefault(h.id, Pacer()),
            signal,
            refresh_due,
            refreshes,
            deadline,
            h.id in email_unavailable,
        )

    outcomes = run_in_accounts(handles, one) if handles else []
    done = min([o.done for o in outcomes], default=len(works))
    done = min(done, signal.at)
    return BatchResult(done=done, outcomes=outcomes, refreshes=refreshes, stop=signal.first)


def posts_batch(
    handles: list[AccountHandle], wanted: dict[str, list[str]], pacers: dict[int, Pacer]
) -> tuple[Refreshes, int]:
    """``wanted``: network → user ids whose posts are due."""
    out = Refreshes()
    _fresh_loop(pacers)
    chosen = [h for h in handles if wanted.get(h.provider)]

    async def one(p: Provider, h: AccountHandle) -> int:
        return await fetch_posts(p, h, wanted[h.provider], pacers.setdefault(h.id, Pacer()), out)

    calls = sum(run_in_accounts(chosen, one)) if chosen else 0
    return out, calls
