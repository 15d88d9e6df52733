"""The life of a connected account's tokens, as pure functions.

This is where users of social tools get hurt most, so every rule is explicit: a transient
failure never kills an account, only a revoked or invalid grant does; a stored token is never
overwritten by an empty one; revoked is final until a person reconnects.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from socialcrm.connections.models import AccountStatus
from socialcrm.providers.base import (
    ProviderError,
    RateLimited,
    ReconnectRequired,
    TokenSet,
    TransientProviderError,
)


class TokenEvent(StrEnum):
    CONNECTED = "connected"  # first connect or reconnect
    REFRESHED = "refreshed"
    TRANSIENT_FAILURE = "transient_failure"  # 5xx, timeout, 429
    GRANT_INVALID = "grant_invalid"  # revoked at the provider, invalid_grant
    DISCONNECTED = "disconnected"  # a person disconnected it here


class IllegalTransition(RuntimeError):
    pass


_TRANSITIONS: dict[tuple[AccountStatus, TokenEvent], AccountStatus] = {
    (AccountStatus.ACTIVE, TokenEvent.CONNECTED): AccountStatus.ACTIVE,
    (AccountStatus.ERROR, TokenEvent.CONNECTED): AccountStatus.ACTIVE,
    (AccountStatus.REVOKED, TokenEvent.CONNECTED): AccountStatus.ACTIVE,
    (AccountStatus.ACTIVE, TokenEvent.REFRESHED): AccountStatus.ACTIVE,
    (AccountStatus.ACTIVE, TokenEvent.TRANSIENT_FAILURE): AccountStatus.ACTIVE,
    (AccountStatus.ERROR, TokenEvent.TRANSIENT_FAILURE): AccountStatus.ERROR,
    (AccountStatus.ACTIVE, TokenEvent.GRANT_INVALID): AccountStatus.ERROR,
    (AccountStatus.ERROR, TokenEvent.GRANT_INVALID): AccountStatus.ERROR,
    (AccountStatus.ACTIVE, TokenEvent.DISCONNECTED): AccountStatus.REVOKED,
    (AccountStatus.ERROR, TokenEvent.DISCONNECTED): AccountStatus.REVOKED,
}


def next_status(current: AccountStatus, event: TokenEvent) -> AccountStatus:
    try:
        return _TRANSITIONS[(current, event)]
    except KeyError:
        raise IllegalTransition(f"{event} is not possible for a {current} account") from None


def event_for(error: ProviderError) -> TokenEvent:
    """Only a revoked or invalid grant marks an account dead; everything else is retried."""
    if isinstance(error, ReconnectRequired):
        return TokenEvent.GRANT_INVALID
    if isinstance(error, RateLimited | TransientProviderError):
        return TokenEvent.TRANSIENT_FAILURE
    return TokenEvent.TRANSIENT_FAILURE


def merge_tokens(stored: TokenSet | None, fresh: TokenSet) -> TokenSet:
    """The token set to persist: a fresh value wins, an empty one never erases a stored one."""
    if not fresh.access_token:
        raise ValueError("refusing to store an empty access token")
    if stored is None:
        return fresh
    return TokenSet(
        access_token=fresh.access_token,
        refresh_token=fresh.refresh_token or stored.refresh_token,
        expires_at=fresh.expires_at,
        scopes=fresh.scopes or stored.scopes,
    )


def needs_refresh(expires_at: datetime | None, now: datetime, margin: timedelta) -> bool:
    """Refresh ahead of expiry, so no call is made with a token about to die."""
    return expires_at is not None and expires_at - margin <= now
