"""Connecting an account (request side): the OAuth 2.0 redirect and callback, picking among
the accounts a person manages (Facebook Pages), Bluesky app passwords, and the spent states'
clean-up.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

import structlog
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from socialcrm.connections import gateway
from socialcrm.connections.lifecycle import (
    TokenEvent,
    next_status,
)
from socialcrm.connections.models import (
    AccountChoice,
    AccountStatus,
    OAuthState,
    Ownership,
    SocialAccount,
)
from socialcrm.connections.service import (
    RECONNECT_NOTICE,
    app_credentials,
    apply_tokens,
    call_provider,
    capabilities,
    instance_for,
    redirect_uri,
)
from socialcrm.core import audit
from socialcrm.core.db import Database, utcnow
from socialcrm.core.errors import (
    AppError,
    Forbidden,
    NotFound,
    ValidationFailed,
)
from socialcrm.core.notify import Subject, resolve
from socialcrm.core.principal import Principal, Role
from socialcrm.providers.base import (
    CallContext,
    Capability,
    ManagedAccount,
    ProfileData,
    Provider,
    ReconnectRequired,
    TokenSet,
)
from socialcrm.providers.registry import PROVIDERS

log = structlog.get_logger(__name__)
T = TypeVar("T")

STATE_TTL = timedelta(minutes=10)


def _hash_state(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


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
    app = app_credentials(session, provider, instance_url)
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
        app = app_credentials(session, provider, record.instance_url)

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
        return call_provider(provider, action, instance_url)
    except ReconnectRequired as exc:
        raise OAuthCallbackError(
            "the authorization code is invalid or expired: start connecting again"
        ) from exc


def _offer_managed_accounts(db: Database, record: OAuthState, code: str) -> AccountChoiceStart:
    """Facebook: the code's (long-lived) user token lists the person's Pages with their own
    tokens; nothing is connected until the person picks."""
    provider = record.provider
    with db.session(tenant_id=record.tenant_id) as session:
        app = app_credentials(session, provider, record.instance_url)

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
        tokens, profile = call_provider(provider, login)
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
    apply_tokens(account, tokens)
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
