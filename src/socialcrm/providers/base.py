"""The Provider protocol: what a social network can do and how callers learn about it.

A provider is the *network* (capabilities, endpoints, wire format). A connected account (one
tenant's installation, in ``connections``) supplies the access token for each call. Every
network's failure signals are translated into the four typed outcomes below, so callers never
look at HTTP status codes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import ClassVar, Protocol, runtime_checkable


class Capability(StrEnum):
    OAUTH = "oauth"  # connect through an OAuth 2.0 + PKCE redirect
    APP_PASSWORD = "app_password"  # connect with an identifier + app password (Bluesky)  # noqa: S105
    LOOKUP_BY_HANDLE = "lookup_by_handle"
    LOOKUP_BY_ID = "lookup_by_id"
    LOOKUP_BY_EMAIL = "lookup_by_email"
    SEARCH_PEOPLE = "search_people"
    PROFILE = "profile"
    POSTS = "posts"
    MENTIONS = "mentions"
    DM = "dm"
    REPLY = "reply"
    PUBLISH = "publish"
    PUBLISH_MEDIA = "publish_media"  # a post needs photos or a video (Instagram, TikTok)
    METRICS = "metrics"
    REVOKE = "revoke"
    REFRESH = "refresh"  # tokens expire and can be refreshed


class ProviderError(Exception):
    """Base of the typed outcomes a provider call can end in."""


class RateLimited(ProviderError):
    """The network asked us to wait until ``retry_at`` (UTC)."""

    def __init__(self, retry_at: datetime, message: str = "rate limited") -> None:
        super().__init__(message)
        self.retry_at = retry_at


class ProfileGone(ProviderError):
    """The profile, post or user does not exist (any more)."""


class ReconnectRequired(ProviderError):
    """The grant is revoked or invalid: only a person reconnecting can fix it."""


class TransientProviderError(ProviderError):
    """5xx, timeout, connection error: retry with backoff; never marks an account dead."""


class NotSupported(ProviderError):
    """The network's API does not offer this operation."""


@dataclass(frozen=True, slots=True)
class ProfileData:
    network: str
    user_id: str
    handle: str
    display_name: str = ""
    bio: str = ""
    headline: str = ""
    avatar_url: str = ""
    followers: int | None = None
    following: int | None = None
    post_count: int | None = None
    links: tuple[str, ...] = ()
    profile_url: str = ""
    location: str = ""
    email: str | None = None  # only when the network revealed it (lookup by email)
    created_at: datetime | None = None

    def __post_init__(self) -> None:
        # An avatar is shown as an image: only an http(s) address is kept, as for links (a
        # ``javascript:`` or ``data:`` one from a network or a hostile instance is dropped).
        if not self.avatar_url.strip().lower().startswith(("http://", "https://")):
            object.__setattr__(self, "avatar_url", "")


@dataclass(frozen=True, slots=True)
class PostData:
    network: str
    id: str
    author_user_id: str
    author_handle: str
    text: str
    created_at: datetime | None
    url: str = ""
    in_reply_to_id: str | None = None
    likes: int | None = None
    reposts: int | None = None
    replies: int | None = None
    impressions: int | None = None
    ref: str = ""  # network-specific reference needed to reply (Bluesky: "uri|cid")


@dataclass(frozen=True, slots=True)
class MentionPage:
    """Mentions newer than the cursor we passed, oldest first, and the cursor to store next."""

    posts: list[PostData]
    cursor: str | None


@dataclass(frozen=True, slots=True)
class TokenSet:
    access_token: str
    refresh_token: str | None = None
    expires_at: datetime | None = None
    scopes: tuple[str, ...] = ()
    # Where the account lives when the network decides it per account (a Bluesky PDS).
    service_url: str | None = None


@dataclass(frozen=True, slots=True)
class ManagedAccount:
    """An account the signed-in person manages and the CRM can act as (a Facebook Page),
    with the token that acts as it."""

    profile: ProfileData
    access_token: str
    expires_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class OAuthEndpoints:
    authorize_url: str
    token_url: str
    revoke_url: str | None
    default_scopes: tuple[str, ...]
    register_url: str | None = None  # dynamic client registration (Mastodon /api/v1/apps)
    # Permissions a person may add when connecting, by name, and the scopes each asks for
    # (Mastodon's ``email_lookup``: ``admin:read:accounts``). A dynamically registered app is
    # registered with all of them, since an app can only ever be granted what it registered.
    optional_scopes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def scopes_for(self, permissions: Iterable[str] = ()) -> tuple[str, ...]:
        extra = [s for p in permissions for s in self.optional_scopes[p]]
        return tuple(dict.fromkeys([*self.default_scopes, *extra]))

    def registration_scopes(self) -> tuple[str, ...]:
        return self.scopes_for(self.optional_scopes)


@dataclass(frozen=True, slots=True)
class RateBudget:
    """What the network said about our remaining budget on the last call."""

    limit: int | None = None
    remaining: int | None = None
    reset_at: datetime | None = None


@dataclass(slots=True)
class CallContext:
    """Per-call credentials: the connected account's access token."""

    access_token: str
    user_id: str = ""
    handle: str = ""
    budget: RateBudget = field(default_factory=RateBudget)


@dataclass(frozen=True, slots=True)
class AppCredentials:
    """A tenant's (or the platform's) OAuth client registered with the network."""

    client_id: str
    client_secret: str = ""


@runtime_checkable
class Provider(Protocol):
    name: ClassVar[str]
    display_name: ClassVar[str]
    capabilities: ClassVar[frozenset[Capability]]
    one_profile_per_person: ClassVar[bool]

    def supports(self, capability: Capability) -> bool: ...

    def oauth_endpoints(self) -> OAuthEndpoints: ...

    async def me(self, ctx: CallContext) -> ProfileData: ...

    async def lookup_handle(self, ctx: CallContext, handle: str) -> ProfileData: ...

    async def lookup_user_id(self, ctx: CallContext, user_id: str) -> ProfileData: ...

    async def lookup_email(self, ctx: CallContext, email: str) -> ProfileData | None: ...

    async def search_people(
        self, ctx: CallContext, query: str, limit: int = 10
    ) -> list[ProfileData]: ...

    async def posts(self, ctx: CallContext, user_id: str, limit: int = 10) -> list[PostData]: ...

    async def mentions(self, ctx: CallContext, cursor: str | None) -> MentionPage: ...

    async def reply(self, ctx: CallContext, in_reply_to: PostData, text: str) -> PostData: ...

    async def send_dm(self, ctx: CallContext, recipient_user_id: str, text: str) -> str: ...

    async def dm_history(self, ctx: CallContext, user_id: str, limit: int = 20) -> list[PostData]:
        """The latest messages of the 1:1 conversation with ``user_id``, newest first (the
        sender is ``author_user_id``): how a DM whose answer was lost is found."""
        ...

    async def publish(self, ctx: CallContext, text: str) -> PostData: ...

    async def publish_media(
        self, ctx: CallContext, text: str, media_urls: tuple[str, ...]
    ) -> PostData: ...

    async def metrics(self, ctx: CallContext, post_id: str) -> PostData: ...

    async def managed_accounts(self, ctx: CallContext) -> list[ManagedAccount]:
        """What the signed-in person may connect (Facebook: their Pages, each with its Page
        token); networks whose sign-in *is* the account offer none."""
        ...

    # --- connecting: OAuth 2.0 + PKCE (Capability.OAUTH) or app password (APP_PASSWORD) ---

    def authorization_url(
        self,
        app: AppCredentials,
        *,
        redirect_uri: str,
        state: str,
        code_verifier: str,
        scopes: tuple[str, ...],
    ) -> str: ...

    async def exchange_code(
        self, app: AppCredentials, *, code: str, redirect_uri: str, code_verifier: str
    ) -> TokenSet: ...

    async def refresh(self, app: AppCredentials, refresh_token: str) -> TokenSet: ...

    async def revoke(self, app: AppCredentials, tokens: TokenSet) -> None: ...

    async def register_app(self, redirect_uri: str, scopes: tuple[str, ...]) -> AppCredentials:
        """Dynamic client registration where the network offers it (Mastodon)."""
        ...

    async def login_with_app_password(self, identifier: str, password: str) -> TokenSet: ...
