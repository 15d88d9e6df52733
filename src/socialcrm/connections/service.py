"""Connected social accounts, request side: app credentials, reading and disconnecting
accounts, and the helpers the connect flow (``connecting.py``) and the token life cycle
(``tokens.py``, worker side) share.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar
from urllib.parse import urlsplit

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session

from socialcrm.connections import gateway
from socialcrm.connections.lifecycle import (
    TokenEvent,
    merge_tokens,
    next_status,
)
from socialcrm.connections.models import (
    AccountStatus,
    Ownership,
    ProviderApp,
    SocialAccount,
)
from socialcrm.core import audit
from socialcrm.core.db import utcnow
from socialcrm.core.errors import (
    Conflict,
    Forbidden,
    NotFound,
    UpstreamUnavailable,
    ValidationFailed,
)
from socialcrm.core.http import UnsafeURL
from socialcrm.core.notify import Subject, resolve
from socialcrm.core.principal import Principal, Role
from socialcrm.core.queue import enqueue_after_commit
from socialcrm.core.settings import get_settings
from socialcrm.providers.base import (
    AppCredentials,
    Capability,
    Provider,
    RateLimited,
    TokenSet,
    TransientProviderError,
)
from socialcrm.providers.registry import PROVIDERS, adapter_class

log = structlog.get_logger(__name__)
T = TypeVar("T")

RECONNECT_NOTICE = "reconnect_required"  # the kind of notice a broken connection raises


class AccountNotActive(Conflict):
    """The account is revoked or needs reconnecting: no task may use it."""


# --- helpers ------------------------------------------------------------------------------


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


def stored_tokens(account: SocialAccount) -> TokenSet | None:
    if not account.access_token:
        return None
    return TokenSet(
        access_token=account.access_token,
        refresh_token=account.refresh_token,
        expires_at=account.expires_at,
        scopes=tuple(account.scopes),
    )


def apply_tokens(account: SocialAccount, tokens: TokenSet) -> None:
    merged = merge_tokens(stored_tokens(account), tokens)
    account.access_token = merged.access_token
    account.refresh_token = merged.refresh_token
    account.expires_at = merged.expires_at
    account.scopes = list(merged.scopes)
    account.token_version = (account.token_version or 0) + 1


def call_provider(
    provider: str, action: Callable[[Provider], Awaitable[T]], instance_url: str = ""
) -> T:
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


def instance_for(provider: str, instance_url: str) -> str:
    """The instance origin a connection talks to, for a network of instances (the adapter's
    ``has_instances``: Mastodon), normalised by the adapter.

    Under the sandbox there is one instance (the sandbox's), so the value is ignored; otherwise
    it is normalised to an https origin (fetched later only through the SSRF-safe client).
    """
    adapter = adapter_class(provider)
    if adapter.has_instances and get_settings().sandbox_url:
        return ""
    try:
        return adapter.connection_instance(instance_url)
    except ValueError as exc:
        details = (
            {"instance_url": instance_url} if adapter.has_instances else {"provider": provider}
        )
        raise ValidationFailed(str(exc), details=details) from exc


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


def app_credentials(session: Session, provider: str, instance_url: str) -> AppCredentials:
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

    creds = call_provider(provider, register, instance_url)
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
