"""Shared shape of the adapters: every operation raises ``NotSupported`` until a network's
adapter implements it, so an adapter only writes what its API really offers. Also the small
helpers every adapter needs (its own account's id, a handle parsed for a lookup), and the
network's rules as class attributes (where the sandbox plays it, what else it is called, how
its text is measured, what its ids look like, whether it has instances), so no code outside
``providers/`` asks ``if network == …``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, NoReturn, Self

import httpx

from socialcrm.core.numbers import is_ascii_number
from socialcrm.providers.base import (
    AppCredentials,
    CallContext,
    Capability,
    ManagedAccount,
    MentionPage,
    NotSupported,
    OAuthEndpoints,
    PostData,
    ProfileData,
    ProfileGone,
    TokenSet,
)
from socialcrm.providers.handles import InvalidHandle, ParsedHandle, parse_handle
from socialcrm.providers.text import DEFAULT_RULE, TextRule


@dataclass(frozen=True, slots=True)
class NetworkOptions:
    """Operator settings an adapter needs (from ``Settings``; defaults for tests and tools)."""

    linkedin_version: str = ""  # "": the adapter's default version
    tiktok_audited: bool = False  # TikTok lets an unaudited app post only SELF_ONLY
    poll_interval_s: float = 2.0  # between reads of a post still being processed


class AdapterBase:
    name: ClassVar[str]
    display_name: ClassVar[str]
    capabilities: ClassVar[frozenset[Capability]]
    # A person has one profile on this network (its terms allow one): a Contact links one.
    one_profile_per_person: ClassVar[bool] = False
    # Where the sandbox serves this network (under its URL).
    sandbox_prefix: ClassVar[str]
    # Registers its own OAuth app per instance (Mastodon).
    dynamic_registration: ClassVar[bool] = False
    # Other names people and payloads give the network ("twitter" for X), lower case.
    aliases: ClassVar[tuple[str, ...]] = ()
    # How long a post (and a direct message) may be, in the network's own units.
    text_rule: ClassVar[TextRule] = DEFAULT_RULE
    # The network is many servers a connection names (Mastodon instances).
    has_instances: ClassVar[bool] = False

    @classmethod
    def build(
        cls,
        http: httpx.AsyncClient,
        sandbox_base: str | None,
        *,
        instance_url: str | None = None,
        options: NetworkOptions,
    ) -> Self:
        """The adapter talking to ``sandbox_base`` (the sandbox's URL + ``sandbox_prefix``)
        when set, else to the real network."""
        raise NotImplementedError(cls.name)

    @classmethod
    def connection_instance(cls, instance_url: str) -> str:
        """The instance a connection names, normalised ("" where the network has none);
        ``ValueError`` when the network cannot take it."""
        if instance_url:
            raise ValueError(f"instance_url applies only to Mastodon, not {cls.name}")
        return ""

    @classmethod
    def looks_like_user_id(cls, value: str) -> bool:
        """``value`` has the shape of the network's user ids (not a handle to look up)."""
        return is_ascii_number(value)

    def supports(self, capability: Capability) -> bool:
        return capability in self.capabilities

    def _unsupported(self, operation: str) -> NoReturn:
        raise NotSupported(f"{self.display_name} does not offer {operation}")

    async def _own_id(self, ctx: CallContext) -> str:
        """The connected account's id (and handle), read with ``me`` once per call context."""
        if not ctx.user_id:
            own = await self.me(ctx)
            ctx.user_id, ctx.handle = own.user_id, own.handle
        return ctx.user_id

    def oauth_endpoints(self) -> OAuthEndpoints:
        self._unsupported("OAuth")

    async def me(self, ctx: CallContext) -> ProfileData:
        self._unsupported("the signed-in profile")

    async def lookup_handle(self, ctx: CallContext, handle: str) -> ProfileData:
        self._unsupported("lookup by handle")

    async def lookup_user_id(self, ctx: CallContext, user_id: str) -> ProfileData:
        self._unsupported("lookup by id")

    async def lookup_email(self, ctx: CallContext, email: str) -> ProfileData | None:
        self._unsupported("lookup by email")

    async def search_people(
        self, ctx: CallContext, query: str, limit: int = 10
    ) -> list[ProfileData]:
        self._unsupported("people search")

    async def posts(self, ctx: CallContext, user_id: str, limit: int = 10) -> list[PostData]:
        self._unsupported("posts")

    async def mentions(self, ctx: CallContext, cursor: str | None) -> MentionPage:
        self._unsupported("mentions")

    async def reply(self, ctx: CallContext, in_reply_to: PostData, text: str) -> PostData:
        self._unsupported("replies")

    async def send_dm(self, ctx: CallContext, recipient_user_id: str, text: str) -> str:
        self._unsupported("direct messages")

    async def dm_history(self, ctx: CallContext, user_id: str, limit: int = 20) -> list[PostData]:
        self._unsupported("reading direct messages back")

    async def publish(self, ctx: CallContext, text: str) -> PostData:
        self._unsupported("publishing")

    async def publish_media(
        self, ctx: CallContext, text: str, media_urls: tuple[str, ...]
    ) -> PostData:
        self._unsupported("publishing photos or videos")

    async def metrics(self, ctx: CallContext, post_id: str) -> PostData:
        self._unsupported("post metrics")

    async def managed_accounts(self, ctx: CallContext) -> list[ManagedAccount]:
        self._unsupported("choosing among managed accounts")

    def authorization_url(
        self,
        app: AppCredentials,
        *,
        redirect_uri: str,
        state: str,
        code_verifier: str,
        scopes: tuple[str, ...],
    ) -> str:
        self._unsupported("OAuth")

    async def exchange_code(
        self, app: AppCredentials, *, code: str, redirect_uri: str, code_verifier: str
    ) -> TokenSet:
        self._unsupported("OAuth")

    async def refresh(self, app: AppCredentials, refresh_token: str) -> TokenSet:
        self._unsupported("token refresh (its tokens do not expire)")

    async def revoke(self, app: AppCredentials, tokens: TokenSet) -> None:
        self._unsupported("token revocation")

    async def register_app(self, redirect_uri: str, scopes: tuple[str, ...]) -> AppCredentials:
        self._unsupported("dynamic app registration")

    async def login_with_app_password(self, identifier: str, password: str) -> TokenSet:
        self._unsupported("app passwords")


def parse_profile(handle: str, network: str, *, no_such: str, not_a: str) -> ParsedHandle:
    """``parse_handle`` for a lookup: text that names no profile of ``network`` is
    ``ProfileGone`` ("{network}: no such {no_such} (…)" / "{network}: not a {not_a}: …")."""
    try:
        parsed = parse_handle(handle, network)
    except InvalidHandle as exc:
        raise ProfileGone(f"{network}: no such {no_such} ({exc})") from exc
    if parsed is None:
        raise ProfileGone(f"{network}: not a {not_a}: {handle!r}")
    return parsed
