"""Ingestion workflows: polling connected accounts for mentions, receiving inbound webhooks,
and storing what they bring through the pipeline in a unit of work of their own (a concurrent
writer's conflict retried once). Worker side: these functions own their sessions (they take the
``Database``) and call networks outside any open transaction; the request-side use cases that
take a session are in ``listening.service``.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import structlog
from sqlalchemy import exc as sa_exc
from sqlalchemy import select
from sqlalchemy.orm import Session

from socialcrm.connections import service as connections
from socialcrm.connections import tokens
from socialcrm.connections.models import AccountStatus, SocialAccount
from socialcrm.core.db import Database, utcnow
from socialcrm.core.errors import NotFound
from socialcrm.listening import hooks, pipeline
from socialcrm.listening.models import InboundWebhook, ListeningCursor, SocialMention
from socialcrm.providers.base import (
    CallContext,
    Capability,
    MentionPage,
    Provider,
    ProviderError,
    RateLimited,
)
from socialcrm.providers.registry import PROVIDERS

log = structlog.get_logger(__name__)
T = TypeVar("T")

MENTIONS_QUERY = "mentions"


def ingest_committed(db: Database, tenant_id: int, items: Sequence[pipeline.Incoming]) -> Any:
    """Ingest in its own unit of work; a concurrent writer's conflict is retried once."""
    return _retry_conflict(lambda: _ingest_once(db, tenant_id, items))


def _ingest_once(
    db: Database, tenant_id: int, items: Sequence[pipeline.Incoming]
) -> pipeline.IngestResult:
    with db.session(tenant_id=tenant_id) as session:
        return pipeline.ingest(session, tenant_id, items)


def _retry_conflict(action: Callable[[], T]) -> T:
    try:
        return action()
    except sa_exc.IntegrityError:
        # Another worker stored the same mention (or Lead, or Ticket) first: the second try
        # sees its rows and does not act again.
        log.info("ingest_conflict_retry")
        return action()


# --- polling ------------------------------------------------------------------------------


@dataclass(slots=True)
class PollOutcome:
    account_id: int
    status: str  # polled | skipped | rate_limited
    result: pipeline.IngestResult = field(default_factory=pipeline.IngestResult)


def accounts_to_poll(db: Database) -> list[tuple[int, int]]:
    """Active accounts whose network lists mentions and that are not waiting out a rate limit."""
    active = tokens.active_accounts(db)
    now = utcnow()
    with db.session(system=True) as session:
        paused = {
            int(a)
            for (a,) in session.execute(
                select(ListeningCursor.account_id).where(ListeningCursor.resume_at > now)
            )
        }
        rows = session.execute(
            select(SocialAccount.id, SocialAccount.provider).where(
                SocialAccount.status == AccountStatus.ACTIVE
            )
        )
        providers = {int(i): str(p) for i, p in rows}
    return [
        (t, a)
        for t, a in active
        if a not in paused
        and providers.get(a) in PROVIDERS
        and Capability.MENTIONS in PROVIDERS[providers[a]].capabilities
    ]


def _cursor(session: Session, account_id: int) -> ListeningCursor:
    row = session.scalars(
        select(ListeningCursor).where(
            ListeningCursor.account_id == account_id, ListeningCursor.query_key == MENTIONS_QUERY
        )
    ).first()
    if row is None:
        row = ListeningCursor(account_id=account_id, query_key=MENTIONS_QUERY)
        session.add(row)
        session.flush()
    return row


def poll_account(db: Database, tenant_id: int, account_id: int) -> PollOutcome:
    """Fetch the account's mentions since its cursor and ingest them; the cursor moves only
    together with the stored mentions. ``RateLimited`` is recorded and raised for the queue."""
    with db.session(tenant_id=tenant_id) as session:
        account = session.get(SocialAccount, account_id)
        if account is None or account.status != AccountStatus.ACTIVE:
            return PollOutcome(account_id, "skipped")
        row = _cursor(session, account_id)
        if row.resume_at is not None and row.resume_at > utcnow():
            return PollOutcome(account_id, "rate_limited")
        cursor = row.cursor

    async def fetch(p: Provider, ctx: CallContext) -> MentionPage:
        return await p.mentions(ctx, cursor)

    try:
        page = tokens.with_account(db, tenant_id, account_id, fetch)
    except RateLimited as exc:
        with db.session(tenant_id=tenant_id) as session:
            row = _cursor(session, account_id)
            row.resume_at, row.last_error = exc.retry_at, "rate limited"
        raise
    handles = _author_handles(db, tenant_id, account_id, page)
    items = [
        dataclasses.replace(
            pipeline.from_post(post, account_id),
            author_handle=post.author_handle or handles.get(post.author_user_id, ""),
        )
        for post in page.posts
    ]

    def store() -> pipeline.IngestResult:
        with db.session(tenant_id=tenant_id) as session:
            result = pipeline.ingest(session, tenant_id, items)
            row = _cursor(session, account_id)
            row.cursor = page.cursor
            row.last_polled_at, row.resume_at, row.last_error = utcnow(), None, ""
            return result

    return PollOutcome(account_id, "polled", _retry_conflict(store))


MAX_AUTHOR_LOOKUPS = 20


def _author_handles(
    db: Database, tenant_id: int, account_id: int, page: MentionPage
) -> dict[str, str]:
    """Handles of authors a network named only by id (X without ``includes``): from mentions
    already stored, else a few lookups through the same account."""
    missing = {p.author_user_id for p in page.posts if p.author_user_id and not p.author_handle}
    if not missing:
        return {}
    networks = {p.network for p in page.posts}
    with db.session(tenant_id=tenant_id) as session:
        rows = session.execute(
            select(SocialMention.author_user_id, SocialMention.author_handle).where(
                SocialMention.network.in_(networks),
                SocialMention.author_user_id.in_(missing),
                SocialMention.author_handle != "",
            )
        )
        found = {str(u): str(h) for u, h in rows}
    unknown = sorted(missing - set(found))[:MAX_AUTHOR_LOOKUPS]
    if not unknown:
        return found

    async def lookup(p: Provider, ctx: CallContext) -> dict[str, str]:
        names: dict[str, str] = {}
        for user_id in unknown:
            try:
                names[user_id] = (await p.lookup_user_id(ctx, user_id)).handle
            except ProviderError:
                continue
        return names

    with contextlib.suppress(ProviderError):  # the mentions are worth storing without handles
        found.update(tokens.with_account(db, tenant_id, account_id, lookup))
    return found


def poll_everything(db: Database, on_done: Callable[[PollOutcome], None] | None = None) -> int:
    """Poll every pollable account now, in this process (the CLI's and tests' worker)."""
    count = 0
    for tenant_id, account_id in accounts_to_poll(db):
        try:
            outcome = poll_account(db, tenant_id, account_id)
        except (RateLimited, connections.AccountNotActive, NotFound) as exc:
            outcome = PollOutcome(account_id, type(exc).__name__)
        except Exception as exc:  # one failing account must not stop the others
            log.warning("poll_failed", account_id=account_id, error_type=type(exc).__name__)
            outcome = PollOutcome(account_id, "failed")
        count += outcome.result.stored
        if on_done is not None:
            on_done(outcome)
    return count


# --- inbound webhooks ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EndpointInfo:
    tenant_id: int
    style: str
    network: str
    secret: str
    verify_token: str
    account_id: int | None
    campaign_id: int | None


def find_endpoint(db: Database, token: str) -> EndpointInfo:
    with db.session(system=True) as session:
        endpoint = session.scalars(
            select(InboundWebhook).where(
                InboundWebhook.token == token, InboundWebhook.active.is_(True)
            )
        ).first()
        if endpoint is None:
            raise NotFound("no such webhook endpoint")
        return EndpointInfo(
            endpoint.tenant_id,
            endpoint.style,
            endpoint.network,
            endpoint.secret,
            endpoint.verify_token,
            endpoint.account_id,
            endpoint.campaign_id,
        )


def receive_webhook(db: Database, endpoint: EndpointInfo, payload: dict[str, Any]) -> Any:
    """A verified payload into the same pipeline polling feeds."""
    if endpoint.style == "x":
        items = hooks.parse_x(payload, endpoint.account_id)
    else:
        items = hooks.parse_meta(
            payload, endpoint.network, endpoint.account_id, endpoint.campaign_id
        )
    return ingest_committed(db, endpoint.tenant_id, items)
