"""Connect, use, refresh and disconnect social accounts.

Every provider call made on behalf of a connected account goes through ``with_account``, which
refuses accounts that are not active, refreshes tokens ahead of expiry and applies the token
life cycle of ``lifecycle.py`` to whatever the network answered.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar
from urllib.parse import urlsplit

import structlog
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from socialcrm.connections import gateway
from socialcrm.connections.lifecycle import (
    TokenEvent,
    event_for,
    merge_tokens,
    needs_refresh,
    next_status,
)
from socialcrm.connections.models import (
    AccountChoice,
    AccountStatus,
    OAuthState,
    Ownership,
    ProviderApp,
    SocialAccount,
)
from socialcrm.core import audit
from socialcrm.core.db import Database, utcnow
from socialcrm.core.errors import (
    AppError,
    Conflict,
    Forbidden,
    NotFound,
    UpstreamUnavailable,
    ValidationFailed,
)
from socialcrm.core.http import UnsafeURL
from socialcrm.core.notify import Subject, notify, resolve
from socialcrm.core.principal import Principal, Role
from socialcrm.core.queue import enqueue_after_commit
from socialcrm.core.settings import get_settings
from socialcrm.providers.base import (
    AppCredentials,
    CallContext,
    Capability,
    ManagedAccount,
    ProfileData,
    Provider,
    ProviderError,
    RateLimited,
    ReconnectRequired,
    TokenSet,
    TransientProviderError,
)
from socialcrm.providers.registry import PROVIDERS

log = structlog.get_logger(__name__)
T = TypeVar("T")

STATE_TTL = timedelta(minutes=10)
RECONNECT_NOTICE = "reconnect_required"  # the kind of notice a broken connection raises


class AccountNotActive(Conflict):
    """The account is revoked or needs reconnecting: no task may use it."""


class OAuthCallbackError(AppError):
    status_code, code = 400, "oauth_error"


@dataclass(frozen=True, slots=True)
class AuthorizationStart:
    authorization_url: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class AccountOption:
    """One account the person may pick (a Facebook Page); its token stays server-side."""

    id: str
    handle: str
    display_name: str
    avatar_url: str


@dataclass(frozen=True, slots=True)
class AccountChoiceStart:
    """The callback's outcome where the person picks what to connect (Facebook Pages)."""

    key: str
    provider: str
    expires_at: datetime
    options: list[AccountOption]


@dataclass(frozen=True, slots=True)
class AccountHandle:
    """What a task needs to act as a connected account."""

    id: int
    tenant_id: int
    provider: str
    instance_url: str
    ctx: CallContext


# --- helpers ------------------------------------------------------------------------------


def _hash_state(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


def redirect_uri(provider: str) -> str:
    """Each provider has its own redirect URI (mix-up defence, RFC 9700 §4.4)."""
    return f"{get_settings().base_url.rstrip('/')}/oauth/callback/{provider}"


def capabilities(provider: str) -> frozenset[Capability]:
    info = PROVIDERS.get(provider)
    if info is None:
        raise ValidationFailed(
            f"unknown provider {provider!r}", details={"known": sorted(PROVIDERS)}
        )
    return info.capabilities


def _stored_tokens(account: SocialAccount) -> TokenSet | None:
    if not account.access_token:
        return None
    return TokenSet(
        access_token=account.access_token,
        refresh_token=account.refresh_token,
        expires_at=account.expires_at,
        scopes=tuple(account.scopes),
    )


def _apply_tokens(account: SocialAccount, tokens: TokenSet) -> None:
    merged = merge_tokens(_stored_tokens(account), tokens)
    account.access_token = merged.access_token
    account.refresh_token = merged.refresh_token
    account.expires_at = merged.expires_at
    account.scopes = list(merged.scopes)
    account.token_version = (account.token_version or 0) + 1


def _call(provider: str, action: Callable[[Provider], Awaitable[T]], instance_url: str = "") -> T:
    """A provider call from a request: typed failures become clear API errors."""
    try:
        return gateway.call(provider, action, instance_url=instance_url)
    except RateLimited as exc:
        wait = max(1, int((exc.retry_at - utcnow()).total_seconds()))
        raise UpstreamUnavailable(
            f"{provider} is rate limiting us; try again later", details={"retry_after": wait}
        ) from exc
    except TransientProviderError as exc:
        raise UpstreamUnavailable(f"{provider} is not answering; try again later") from exc
    except UnsafeURL as exc:  # the SSRF guard refused the server the caller named
        what = "this instance_url" if instance_url else "this address"
        raise ValidationFailed(
            f"{what} cannot be used: {exc}", details={"instance_url": instance_url}
        ) from exc


# --- app credentials ----------------------------------------------------------------------

DEFAULT_MASTODON_INSTANCE = "https://mastodon.social"


def instance_for(provider: str, instance_url: str) -> str:
    """The instance origin a connection talks to: only Mastodon has instances.

    Under the sandbox there is one instance (the sandbox's), so the value is ignored; otherwise
    it is normalised to an https origin (fetched later only through the SSRF-safe client).
    """
    if provider != "mastodon":
        if instance_url:
            raise ValidationFailed(
                f"instance_url applies only to Mastodon, not {provider}",
                details={"provider": provider},
            )
        return ""
    if get_settings().sandbox_url:
        return ""
    value = (instance_url or DEFAULT_MASTODON_INSTANCE).strip().rstrip("/")
    if "://" not in value:
        value = f"https://{value}"
    parts = urlsplit(value)
    host = parts.hostname or ""
    if parts.scheme != "https" or not host or "." not in host or parts.path or parts.query:
        raise ValidationFailed(
            "instance_url must be a Mastodon server such as https://mastodon.social",
            details={"instance_url": instance_url},
        )
    return f"https://{parts.netloc.lower()}"


def set_provider_app(
    session: Session,
    principal: Principal,
    *,
    provider: str,
    client_id: str,
    client_secret: str,
    instance_url: str = "",
) -> ProviderApp:
    if principal.role != Role.ADMIN:
        raise Forbidden("only an admin can set app credentials")
    capabilities(provider)
    instance_url = instance_for(provider, instance_url)
    app = session.scalars(
        select(ProviderApp).where(
            ProviderApp.provider == provider, ProviderApp.instance_url == instance_url
        )
    ).first()
    if app is None:
        app = ProviderApp(provider=provider, instance_url=instance_url, client_id=client_id)
        session.add(app)
    app.client_id = client_id
    if client_secret:
        app.client_secret = client_secret
    audit.record(
        session,
        actor=principal.actor,
        action="provider_app.set",
        target_type="provider_app",
        target_id=provider,
        details={"client_id": client_id},
    )
    session.flush()
    return app


def list_provider_apps(session: Session) -> list[ProviderApp]:
    return list(session.scalars(select(ProviderApp).order_by(ProviderApp.provider)))


def mastodon_instance_hosts(session: Session, tenant_id: int) -> set[str]:
    """Hosts of the Mastodon servers the tenant is connected to (accounts and apps): where a
    bare ``username`` of its Mastodon data lives. Empty under the sandbox (no instance URL)."""
    urls = list(
        session.scalars(
            select(SocialAccount.instance_url).where(
                SocialAccount.tenant_id == tenant_id,
                SocialAccount.provider == "mastodon",
                SocialAccount.status == AccountStatus.ACTIVE,
            )
        )
    )
    urls += session.scalars(
        select(ProviderApp.instance_url).where(
            ProviderApp.tenant_id == tenant_id, ProviderApp.provider == "mastodon"
        )
    ).all()
    return {host for url in urls if url and (host := (urlsplit(url).hostname or "").lower())}


def _app_credentials(session: Session, provider: str, instance_url: str) -> AppCredentials:
    app = session.scalars(
        select(ProviderApp).where(
            ProviderApp.provider == provider, ProviderApp.instance_url == instance_url
        )
    ).first()
    if app is not None:
        return AppCredentials(app.client_id, app.client_secret or "")
    endpoints = PROVIDERS[provider]
    if not endpoints.dynamic_registration:
        raise Conflict(
            f"no app credentials for {provider}: an admin sets them first "
            f"(PUT /api/provider-apps/{provider})",
            details={"provider": provider},
        )
    uri = redirect_uri(provider)

    async def register(p: Provider) -> AppCredentials:
        return await p.register_app(uri, p.oauth_endpoints().registration_scopes())

    creds = _call(provider, register, instance_url)
    session.add(
        ProviderApp(
            provider=provider,
            instance_url=instance_url,
            client_id=creds.client_id,
            client_secret=creds.client_secret,
        )
    )
    session.flush()
    return creds


# --- connect ------------------------------------------------------------------------------


def _check_ownership(principal: Principal, ownership: Ownership) -> None:
    if principal.role == Role.ADMIN:
        return
    if ownership == Ownership.BRAND:
        raise Forbidden("only an admin can connect a brand account")
    if principal.user_id is None:  # the account would be nobody's: only admins could use it
        raise Forbidden(
            "a personal account belongs to a person: connect it logged in, or with a key of a user"
        )


def _check_permissions(principal: Principal, provider: str, permissions: Sequence[str]) -> None:
    """Optional permissions are the adapter's to name, and an admin's to ask for."""
    if not permissions:
        return
    offered = PROVIDERS[provider].optional_permissions
    unknown = sorted(set(permissions) - set(offered))
    if unknown:
        raise ValidationFailed(
            f"{provider} offers no permission {', '.join(unknown)}",
            details={"offered": sorted(offered)},
        )
    if principal.role != Role.ADMIN:
        raise Forbidden("only an admin asks for extra permissions (e.g. email lookup)")


def start_oauth(
    session: Session,
    principal: Principal,
    *,
    provider: str,
    ownership: Ownership,
    instance_url: str = "",
    permissions: Sequence[str] = (),
) -> AuthorizationStart:
    caps = capabilities(provider)
    if Capability.OAUTH not in caps:
        raise ValidationFailed(
            f"{provider} connects with an app password, not an OAuth redirect",
            details={"provider": provider, "needs": ["identifier", "app_password"]},
        )
    _check_ownership(principal, ownership)
    _check_permissions(principal, provider, permissions)
    instance_url = instance_for(provider, instance_url)
    app = _app_credentials(session, provider, instance_url)
    state = secrets.token_urlsafe(32)
    verifier = secrets.token_urlsafe(64)  # 86 chars of [A-Za-z0-9_-]: RFC 7636 §4.1
    uri = redirect_uri(provider)
    now = utcnow()
    session.add(
        OAuthState(
            state_hash=_hash_state(state),
            provider=provider,
            ownership=ownership,
            user_id=principal.user_id,
            actor=principal.actor,
            code_verifier=verifier,
            redirect_uri=uri,
            instance_url=instance_url,
            created_at=now,
            expires_at=now + STATE_TTL,
        )
    )

    async def authorize(p: Provider) -> str:
        return p.authorization_url(
            app,
            redirect_uri=uri,
            state=state,
            code_verifier=verifier,
            scopes=p.oauth_endpoints().scopes_for(permissions),
        )

    url = gateway.call(provider, authorize, instance_url=instance_url)
    session.flush()
    return AuthorizationStart(authorization_url=url, expires_at=now + STATE_TTL)


def _claim_state(db: Database, provider: str, state: str) -> OAuthState:
    """Single use: the state is spent by the first callback that presents it."""
    with db.session(system=True) as session:
        record = session.scalars(
            select(OAuthState).where(OAuthState.state_hash == _hash_state(state))
        ).first()
        if record is None or record.provider != provider:
            raise OAuthCallbackError("unknown or mismatched state: start connecting again")
        if record.used_at is not None:
            raise OAuthCallbackError("this authorization was already used: start again")
        if record.expires_at <= utcnow():
            raise OAuthCallbackError("this authorization expired: start connecting again")
        claimed = session.execute(
            update(OAuthState)
            .where(OAuthState.id == record.id, OAuthState.used_at.is_(None))
            .values(used_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            raise OAuthCallbackError("this authorization was already used: start again")
        session.expunge(record)
        return record


def complete_oauth(
    db: Database, *, provider: str, params: Mapping[str, str]
) -> SocialAccount | AccountChoiceStart:
    """The redirect back from the network: exchange the code, read the profile, store; or,
    where the signed-in person picks among accounts they manage (Facebook Pages), list them
    and keep them (tokens encrypted) until they pick."""
    capabilities(provider)
    state = params.get("state", "")
    if not state:
        raise OAuthCallbackError("the callback carries no state")
    record = _claim_state(db, provider, state)
    if params.get("error"):
        raise OAuthCallbackError(
            f"the connection was not allowed ({params['error']})",
            details={"error": params["error"]},
        )
    code = params.get("code", "")
    if not code:
        raise OAuthCallbackError("the callback carries no authorization code")
    if PROVIDERS[provider].picks_accounts:
        return _offer_managed_accounts(db, record, code)
    with db.session(tenant_id=record.tenant_id) as session:
        app = _app_credentials(session, provider, record.instance_url)

    async def exchange(p: Provider) -> tuple[TokenSet, ProfileData]:
        tokens = await p.exchange_code(
            app, code=code, redirect_uri=record.redirect_uri, code_verifier=record.code_verifier
        )
        return tokens, await p.me(CallContext(access_token=tokens.access_token))

    # no unit of work open while the network answers
    tokens, profile = _callback_call(provider, exchange, record.instance_url)
    with db.session(tenant_id=record.tenant_id) as session:
        account = _upsert_account(
            session,
            provider=provider,
            profile=profile,
            tokens=tokens,
            ownership=Ownership(record.ownership),
            owner_user_id=record.user_id,
            actor=record.actor,
            instance_url=record.instance_url,
        )
        session.expunge(account)
        return account


def _callback_call(
    provider: str, action: Callable[[Provider], Awaitable[T]], instance_url: str
) -> T:
    """The code exchange of a callback: a refused grant means "start again"."""
    try:
        return _call(provider, action, instance_url)
    except ReconnectRequired as exc:
        raise OAuthCallbackError(
            "the authorization code is invalid or expired: start connecting again"
        ) from exc


def _offer_managed_accounts(db: Database, record: OAuthState, code: str) -> AccountChoiceStart:
    """Facebook: the code's (long-lived) user token lists the person's Pages with their own
    tokens; nothing is connected until the person picks."""
    provider = record.provider
    with db.session(tenant_id=record.tenant_id) as session:
        app = _app_credentials(session, provider, record.instance_url)

    async def exchange(p: Provider) -> tuple[TokenSet, list[ManagedAccount]]:
        tokens = await p.exchange_code(
            app, code=code, redirect_uri=record.redirect_uri, code_verifier=record.code_verifier
        )
        return tokens, await p.managed_accounts(CallContext(access_token=tokens.access_token))

    tokens, managed = _callback_call(provider, exchange, record.instance_url)
    if not managed:
        raise OAuthCallbackError(
            f"this {provider} account manages no Page the app was allowed to use: "
            "connect again and select the Pages"
        )
    key = secrets.token_urlsafe(32)
    now = utcnow()
    offered = [
        {
            "id": m.profile.user_id,
            "handle": m.profile.handle,
            "display_name": m.profile.display_name,
            "avatar_url": m.profile.avatar_url,
            "token": m.access_token,
            "expires_at": m.expires_at.isoformat() if m.expires_at else None,
        }
        for m in managed
    ]
    with db.session(tenant_id=record.tenant_id) as session:
        session.add(
            AccountChoice(
                key_hash=_hash_state(key),
                provider=provider,
                ownership=record.ownership,
                user_id=record.user_id,
                actor=record.actor,
                offered=json.dumps(offered),
                scopes=list(tokens.scopes),
                created_at=now,
                expires_at=now + STATE_TTL,
            )
        )
    return AccountChoiceStart(key, provider, now + STATE_TTL, _options(offered))


def _options(offered: list[dict[str, str | None]]) -> list[AccountOption]:
    return [
        AccountOption(
            str(o["id"]), str(o["handle"]), str(o["display_name"] or ""), str(o["avatar_url"] or "")
        )
        for o in offered
    ]


def _open_choice(session: Session, principal: Principal, key: str) -> AccountChoice:
    """The caller's own pending choice (another user's or key's, or an expired one, is not
    found). Matched on the actor, not the user id: two keys without a user are not one caller."""
    choice = session.scalars(
        select(AccountChoice).where(AccountChoice.key_hash == _hash_state(key))
    ).first()
    if choice is None or choice.actor != principal.actor or choice.expires_at <= utcnow():
        raise NotFound("this choice of accounts expired or is not yours: connect again")
    _check_ownership(principal, Ownership(choice.ownership))
    return choice


def get_account_choice(session: Session, principal: Principal, key: str) -> AccountChoiceStart:
    choice = _open_choice(session, principal, key)
    return AccountChoiceStart(
        key, choice.provider, choice.expires_at, _options(json.loads(choice.offered))
    )


def choose_accounts(
    session: Session, principal: Principal, key: str, ids: list[str]
) -> list[SocialAccount]:
    """Connect the picked accounts (one connected account each, holding its own token)."""
    choice = _open_choice(session, principal, key)
    offered = {str(o["id"]): o for o in json.loads(choice.offered)}
    unknown = sorted(set(ids) - set(offered))
    if not ids or unknown:
        raise ValidationFailed(
            "pick at least one of the offered accounts",
            details={"unknown": unknown, "offered": sorted(offered)},
        )
    accounts = []
    for account_id in dict.fromkeys(ids):
        option = offered[account_id]
        expires = option.get("expires_at")
        accounts.append(
            _upsert_account(
                session,
                provider=choice.provider,
                profile=ProfileData(
                    network=choice.provider,
                    user_id=account_id,
                    handle=option["handle"],
                    display_name=option.get("display_name") or "",
                    avatar_url=option.get("avatar_url") or "",
                ),
                tokens=TokenSet(
                    access_token=option["token"],
                    expires_at=datetime.fromisoformat(expires) if expires else None,
                    scopes=tuple(choice.scopes),
                ),
                ownership=Ownership(choice.ownership),
                owner_user_id=choice.user_id,
                actor=principal.actor,
                instance_url="",
            )
        )
    session.delete(choice)
    session.flush()
    return accounts


def connect_with_app_password(
    session: Session,
    principal: Principal,
    *,
    provider: str,
    ownership: Ownership,
    identifier: str,
    app_password: str,
) -> SocialAccount:
    caps = capabilities(provider)
    if Capability.APP_PASSWORD not in caps:
        raise ValidationFailed(f"{provider} connects through OAuth: omit identifier/app_password")
    _check_ownership(principal, ownership)

    async def login(p: Provider) -> tuple[TokenSet, ProfileData]:
        tokens = await p.login_with_app_password(identifier, app_password)
        return tokens, await p.me(CallContext(access_token=tokens.access_token))

    try:
        tokens, profile = _call(provider, login)
    except ReconnectRequired as exc:
        raise ValidationFailed("the identifier or app password was not accepted") from exc
    return _upsert_account(
        session,
        provider=provider,
        profile=profile,
        tokens=tokens,
        ownership=ownership,
        owner_user_id=principal.user_id,
        actor=principal.actor,
        instance_url=tokens.service_url or "",  # a Bluesky account's own PDS
    )


def _upsert_account(
    session: Session,
    *,
    provider: str,
    profile: ProfileData,
    tokens: TokenSet,
    ownership: Ownership,
    owner_user_id: int | None,
    actor: str,
    instance_url: str,
) -> SocialAccount:
    """A reconnect updates the same row, so the account keeps its history."""
    account = session.scalars(
        select(SocialAccount).where(
            SocialAccount.provider == provider,
            SocialAccount.external_user_id == profile.user_id,
        )
    ).first()
    reconnect = account is not None
    if account is None:
        account = SocialAccount(provider=provider, external_user_id=profile.user_id)
        session.add(account)
        account.status = AccountStatus.ACTIVE
    account.status = next_status(AccountStatus(account.status), TokenEvent.CONNECTED)
    account.handle = profile.handle
    account.display_name = profile.display_name
    account.avatar_url = profile.avatar_url
    account.instance_url = instance_url
    account.ownership = ownership
    account.owner_user_id = None if ownership == Ownership.BRAND else owner_user_id
    account.status_reason = ""
    account.revoked_at = None
    account.provider_revoked = False
    account.connected_at = utcnow()
    _apply_tokens(account, tokens)
    session.flush()
    if reconnect:  # its "needs reconnecting" notice is stale now
        resolve(session, Subject("social_account", account.id), kind=RECONNECT_NOTICE)
    audit.record(
        session,
        actor=actor,
        action="social_account.reconnect" if reconnect else "social_account.connect",
        target_type="social_account",
        target_id=account.id,
        details={"provider": provider, "handle": profile.handle, "ownership": ownership},
    )
    return account


# --- read ---------------------------------------------------------------------------------


def owns(principal: Principal, account: SocialAccount) -> bool:
    """Whether the caller is the person the account belongs to. A brand account has no owner
    and a CLI key no user: ``None`` is nobody, never a match (``None == None`` once let any
    key disconnect the brand's accounts)."""
    return principal.user_id is not None and account.owner_user_id == principal.user_id


def may_manage(principal: Principal, account: SocialAccount) -> bool:
    """Whether the caller may disconnect (or reconnect) the account: an admin any, a person
    their own; a brand account is the admins'."""
    return principal.role == Role.ADMIN or owns(principal, account)


def _visible(principal: Principal, account: SocialAccount) -> bool:
    return (
        principal.role == Role.ADMIN
        or account.ownership == Ownership.BRAND
        or owns(principal, account)
    )


def list_accounts(session: Session, principal: Principal) -> list[SocialAccount]:
    accounts = session.scalars(select(SocialAccount).order_by(SocialAccount.id))
    return [a for a in accounts if _visible(principal, a)]


def get_account(session: Session, principal: Principal, account_id: int) -> SocialAccount:
    account = session.get(SocialAccount, account_id)
    if account is None or not _visible(principal, account):
        raise NotFound(f"connection {account_id} not found")
    return account


# --- disconnect ---------------------------------------------------------------------------


def disconnect(session: Session, principal: Principal, account_id: int) -> SocialAccount:
    """Stop using the account at once; revoke at the provider from the queue (with retries)."""
    account = get_account(session, principal, account_id)
    if not may_manage(principal, account):
        raise Forbidden("only an admin or the account's owner can disconnect it")
    if account.status == AccountStatus.REVOKED:
        return account
    account.status = next_status(AccountStatus(account.status), TokenEvent.DISCONNECTED)
    account.revoked_at = utcnow()
    account.status_reason = f"disconnected by {principal.actor}"
    resolve(session, Subject("social_account", account.id), kind=RECONNECT_NOTICE)
    audit.record(
        session,
        actor=principal.actor,
        action="social_account.disconnect",
        target_type="social_account",
        target_id=account.id,
        details={"provider": account.provider, "handle": account.handle},
    )
    from socialcrm.connections.tasks import revoke_at_provider

    enqueue_after_commit(session, revoke_at_provider, account.tenant_id, account.id)
    session.flush()
    return account


def revoke_tokens(db: Database, tenant_id: int, account_id: int) -> bool:
    """Revoke (RFC 7009) a disconnected account's grant at the network, then forget the tokens.

    Returns False when there is nothing to do. Transient failures propagate so the queue
    retries; an already-invalid grant counts as revoked.
    """
    with db.session(tenant_id=tenant_id) as session:
        account = session.get(SocialAccount, account_id)
        if account is None or account.status != AccountStatus.REVOKED:
            return False
        tokens = _stored_tokens(account)
        provider, instance_url = account.provider, account.instance_url
        if tokens is None:
            return False
        app = (
            _app_credentials(session, provider, instance_url)
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
            _app_credentials(session, account.provider, account.instance_url)
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
            _apply_tokens(account, outcome)
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


def purge_expired_states(db: Database) -> int:
    """Spent OAuth states, and choices of accounts nobody made (their tokens go with them)."""
    with db.session(system=True) as session:
        cutoff = utcnow() - timedelta(days=1)
        stale: list[OAuthState | AccountChoice] = [
            *session.scalars(select(OAuthState).where(OAuthState.expires_at < cutoff)),
            *session.scalars(select(AccountChoice).where(AccountChoice.expires_at < utcnow())),
        ]
        for record in stale:
            session.delete(record)
        return len(stale)
