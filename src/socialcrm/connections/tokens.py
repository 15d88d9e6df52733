"""The token life cycle (worker side): using a connected account, refreshing its tokens ahead
of expiry, syncing its profile, revoking a disconnected grant.

Every provider call made on behalf of a connected account goes through ``with_account``, which
refuses accounts that are not active, refreshes tokens ahead of expiry and applies the token
life cycle of ``lifecycle.py`` to whatever the network answered.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar

import structlog
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from socialcrm.connections import gateway
from socialcrm.connections.lifecycle import (
    event_for,
    needs_refresh,
    next_status,
)
from socialcrm.connections.models import (
    AccountStatus,
    SocialAccount,
)
from socialcrm.connections.service import (
    RECONNECT_NOTICE,
    AccountNotActive,
    app_credentials,
    apply_tokens,
    capabilities,
    stored_tokens,
)
from socialcrm.core import audit
from socialcrm.core.db import Database, utcnow
from socialcrm.core.errors import (
    NotFound,
)
from socialcrm.core.notify import Subject, notify
from socialcrm.core.settings import get_settings
from socialcrm.providers.base import (
    AppCredentials,
    CallContext,
    Capability,
    ProfileData,
    Provider,
    ProviderError,
    ReconnectRequired,
    TokenSet,
)

log = structlog.get_logger(__name__)
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class AccountHandle:
    """What a task needs to act as a connected account."""

    id: int
    tenant_id: int
    provider: str
    instance_url: str
    ctx: CallContext


def revoke_tokens(db: Database, tenant_id: int, account_id: int) -> bool:
    """Revoke (RFC 7009) a disconnected account's grant at the network, then forget the tokens.

    Returns False when there is nothing to do. Transient failures propagate so the queue
    retries; an already-invalid grant counts as revoked.
    """
    with db.session(tenant_id=tenant_id) as session:
        account = session.get(SocialAccount, account_id)
        if account is None or account.status != AccountStatus.REVOKED:
            return False
        tokens = stored_tokens(account)
        provider, instance_url = account.provider, account.instance_url
        if tokens is None:
            return False
        app = (
            app_credentials(session, provider, instance_url)
            if Capability.OAUTH in capabilities(provider)
            else AppCredentials("")
        )
    if Capability.REVOKE in capabilities(provider):

        async def revoke(p: Provider) -> None:
            await p.revoke(app, tokens)

        with contextlib.suppress(ReconnectRequired):  # the grant is already dead there
            gateway.call(provider, revoke, instance_url=instance_url)
    with db.session(tenant_id=tenant_id) as session:
        account = session.get(SocialAccount, account_id)
        if account is not None and account.status == AccountStatus.REVOKED:
            account.access_token = None
            account.refresh_token = None
            account.provider_revoked = Capability.REVOKE in capabilities(provider)
    return True


# --- use and refresh ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _RefreshClaim:
    """This worker's turn to refresh the account: what the network call needs."""

    provider: str
    instance_url: str
    app: AppCredentials
    refresh_token: str
    version: int


@dataclass(frozen=True, slots=True)
class _RefreshBusy:
    """Another worker is refreshing the account (its tokens are at ``version`` until then)."""

    version: int


REFRESH_POLL_S = 0.05


def refresh_lease() -> timedelta:
    """How long a claimed refresh may take before another worker may try again."""
    return timedelta(seconds=get_settings().provider_timeout_s * 2 + 5)


def refresh_tokens(db: Database, tenant_id: int, account_id: int, *, force: bool = False) -> bool:
    """Refresh the account's tokens if due; the rotated pair is committed before any use.

    Refreshes of one account never overlap (X refresh tokens are single-use): a refresh claims
    the account in a unit of work of its own, calls the network with no transaction open and
    records the outcome in another; a second caller waits for the first instead of calling
    the network. True when the account has fresh tokens, from this call or the one waited for.
    """
    seen: int | None = None
    while True:
        step = _claim_refresh(db, tenant_id, account_id, force=force, seen=seen)
        if isinstance(step, bool):
            return step
        if isinstance(step, _RefreshClaim):
            break
        seen = step.version
        time.sleep(REFRESH_POLL_S)
    claim = step

    async def refresh(p: Provider) -> TokenSet:
        return await p.refresh(claim.app, claim.refresh_token)

    try:
        fresh = gateway.call(claim.provider, refresh, instance_url=claim.instance_url)
    except ReconnectRequired as exc:
        _settle_refresh(db, tenant_id, account_id, claim, exc)
        return False
    except BaseException:
        _settle_refresh(db, tenant_id, account_id, claim, None)  # another worker may try
        raise
    _settle_refresh(db, tenant_id, account_id, claim, fresh)
    log.info("tokens_refreshed", account_id=account_id, provider=claim.provider)
    return True


def _claim_refresh(
    db: Database, tenant_id: int, account_id: int, *, force: bool, seen: int | None
) -> _RefreshClaim | _RefreshBusy | bool:
    """Claim the refresh, or say why not: nothing to do (False), done by the worker waited
    for (True), or still under way (busy)."""
    margin = timedelta(seconds=get_settings().token_refresh_margin_s)
    with db.session(tenant_id=tenant_id) as session:
        account = session.get(SocialAccount, account_id)
        if account is None or account.status != AccountStatus.ACTIVE:
            return False
        if seen is not None and account.token_version != seen:
            return True
        caps = capabilities(account.provider)
        if Capability.REFRESH not in caps or not account.refresh_token:
            return False
        if not force and not needs_refresh(account.expires_at, utcnow(), margin):
            return False
        now = utcnow()
        if account.refresh_claimed_until is not None and account.refresh_claimed_until > now:
            return _RefreshBusy(account.token_version)
        app = (
            app_credentials(session, account.provider, account.instance_url)
            if Capability.OAUTH in caps
            else AppCredentials("")
        )
        claimed = session.execute(
            update(SocialAccount)
            .where(
                SocialAccount.id == account_id,
                SocialAccount.token_version == account.token_version,
                or_(
                    SocialAccount.refresh_claimed_until.is_(None),
                    SocialAccount.refresh_claimed_until <= now,
                ),
            )
            .values(refresh_claimed_until=now + refresh_lease())
            .execution_options(synchronize_session=False)
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            return _RefreshBusy(account.token_version)
        return _RefreshClaim(
            account.provider,
            account.instance_url,
            app,
            account.refresh_token,
            account.token_version,
        )


def _settle_refresh(
    db: Database,
    tenant_id: int,
    account_id: int,
    claim: _RefreshClaim,
    outcome: TokenSet | ReconnectRequired | None,
) -> None:
    """Record what the network answered and release the claim; a refresh that somebody else
    completed meanwhile (after this claim's lease ran out) stands."""
    with db.session(tenant_id=tenant_id) as session:
        account = session.get(SocialAccount, account_id, populate_existing=True)
        if account is None or account.token_version != claim.version:
            return
        account.refresh_claimed_until = None
        if isinstance(outcome, TokenSet):
            apply_tokens(account, outcome)
            account.last_refreshed_at = utcnow()
        elif outcome is not None:
            _mark_failed(session, account, outcome)


def _mark_failed(session: Session, account: SocialAccount, error: ProviderError) -> None:
    status = next_status(AccountStatus(account.status), event_for(error))
    if status == account.status:
        return
    account.status = status
    account.status_reason = f"{account.provider} no longer accepts this connection: reconnect it"
    notify(
        session,
        user_id=account.owner_user_id,
        kind=RECONNECT_NOTICE,
        message=f"Your {account.provider} account @{account.handle} needs reconnecting.",
        link=f"/connections#account-{account.id}",
        subject=Subject("social_account", account.id),
    )
    audit.record(
        session,
        actor="system",
        action="social_account.error",
        target_type="social_account",
        target_id=account.id,
        details={"provider": account.provider, "reason": type(error).__name__},
    )
    log.warning("account_needs_reconnect", account_id=account.id, provider=account.provider)


def open_account(db: Database, tenant_id: int, account_id: int) -> AccountHandle:
    """The account's credentials for one task, refreshed if due; refuses inactive accounts."""
    refresh_tokens(db, tenant_id, account_id)
    with db.session(tenant_id=tenant_id) as session:
        account = session.get(SocialAccount, account_id)
        if account is None:
            raise NotFound(f"connection {account_id} not found")
        if account.status != AccountStatus.ACTIVE or not account.access_token:
            raise AccountNotActive(
                f"connection {account_id} is {account.status}: it cannot be used",
                details={"status": account.status},
            )
        return AccountHandle(
            id=account.id,
            tenant_id=tenant_id,
            provider=account.provider,
            instance_url=account.instance_url,
            ctx=CallContext(
                access_token=account.access_token,
                user_id=account.external_user_id,
                handle=account.handle,
            ),
        )


def with_account(
    db: Database,
    tenant_id: int,
    account_id: int,
    action: Callable[[Provider, CallContext], Awaitable[T]],
) -> T:
    """Run ``action`` as the connected account: the one door every task goes through."""
    handle = open_account(db, tenant_id, account_id)
    try:
        return gateway.call(
            handle.provider, lambda p: action(p, handle.ctx), instance_url=handle.instance_url
        )
    except ReconnectRequired as first:
        # An access token can die early; one forced refresh tells expiry from revocation.
        # Networks without refresh tokens (Mastodon, Facebook) answer False here:
        # the first refusal is then the verdict.
        failure = first
        if refresh_tokens(db, tenant_id, account_id, force=True):
            handle = open_account(db, tenant_id, account_id)
            try:
                return gateway.call(
                    handle.provider,
                    lambda p: action(p, handle.ctx),
                    instance_url=handle.instance_url,
                )
            except ReconnectRequired as second:
                failure = second
        with db.session(tenant_id=tenant_id) as session:
            account = session.get(SocialAccount, account_id)
            if account is not None and account.status == AccountStatus.ACTIVE:
                _mark_failed(session, account, failure)
        raise failure from None


def sync_profile(db: Database, tenant_id: int, account_id: int) -> None:
    """Keep the connected account's own name and avatar current (periodic)."""

    async def me(p: Provider, ctx: CallContext) -> ProfileData:
        return await p.me(ctx)

    profile = with_account(db, tenant_id, account_id, me)
    with db.session(tenant_id=tenant_id) as session:
        account = session.get(SocialAccount, account_id)
        if account is not None and account.status == AccountStatus.ACTIVE:
            account.handle = profile.handle
            account.display_name = profile.display_name
            account.avatar_url = profile.avatar_url


def active_accounts(db: Database) -> list[tuple[int, int]]:
    """(tenant_id, account_id) of every active account: what periodic work may touch."""
    with db.session(system=True) as session:
        rows = session.execute(
            select(SocialAccount.tenant_id, SocialAccount.id).where(
                SocialAccount.status == AccountStatus.ACTIVE
            )
        )
        return [(int(t), int(a)) for t, a in rows]


def accounts_due_for_refresh(db: Database) -> list[tuple[int, int]]:
    horizon = utcnow() + timedelta(seconds=get_settings().token_refresh_margin_s * 2)
    with db.session(system=True) as session:
        rows = session.execute(
            select(SocialAccount.tenant_id, SocialAccount.id).where(
                SocialAccount.status == AccountStatus.ACTIVE,
                SocialAccount.refresh_token.is_not(None),
                SocialAccount.expires_at <= horizon,
            )
        )
        return [(int(t), int(a)) for t, a in rows]
