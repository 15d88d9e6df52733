"""Mastodon (one instance per provider object): OAuth 2.0 + PKCE with dynamic app
registration, non-expiring tokens, accounts, statuses, mention notifications, direct posts.

Lookup by email uses the admin API; without ``admin:read:accounts`` Mastodon answers 403 and we
raise ``ScopeMissing`` (a ``NotSupported``), never ``None``: ``None`` means "nobody has that
email", which a missing permission must not be mistaken for.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any, ClassVar, Self
from urllib.parse import urlsplit

import httpx

from socialcrm.core.numbers import is_ascii_number
from socialcrm.providers.adapter import NetworkOptions
from socialcrm.providers.base import (
    AppCredentials,
    CallContext,
    Capability,
    MentionPage,
    OAuthEndpoints,
    PostData,
    ProfileData,
    ProfileGone,
    TransientProviderError,
)
from socialcrm.providers.handles import InvalidHandle, parse_handle
from socialcrm.providers.html_text import html_links, html_to_text
from socialcrm.providers.oauth import OAuth2Adapter
from socialcrm.providers.outcomes import ScopeMissing
from socialcrm.providers.ratelimit import MASTODON_HEADERS
from socialcrm.providers.text import TextRule, mastodon_length
from socialcrm.providers.wire import (
    JsonObject,
    QueryParams,
    Wire,
    field_int,
    field_list,
    field_obj,
    field_str,
    field_time,
    json_body,
    json_list,
    json_object,
    rejected,
    send,
)

MASTODON_WIRE = Wire("mastodon", MASTODON_HEADERS)
DEFAULT_SCOPES = ("read", "write")
EMAIL_SCOPE = "admin:read:accounts"
CLIENT_NAME = "socialcrm"
PAGE_SIZE = 40  # Mastodon's maximum for statuses and notifications
MAX_MENTION_PAGES = 5
SANDBOX_INSTANCE_HOST = "mastodon.social"  # the instance the sandbox plays
DEFAULT_INSTANCE = "https://mastodon.social"


class MissingInstance(ValueError):
    """Mastodon needs the user's instance URL outside the sandbox."""


def instance_origin(instance_url: str | None) -> str:
    """``mastodon.social`` or ``https://mastodon.social/`` → ``https://mastodon.social``."""
    if not instance_url or not instance_url.strip():
        raise MissingInstance("Mastodon needs instance_url (e.g. https://mastodon.social)")
    value = instance_url.strip().rstrip("/")
    return value if "://" in value else f"https://{value}"


_ACCT = re.compile(r"@?([A-Za-z0-9_]{1,30})(?:@([A-Za-z0-9.\-]+(?::[0-9]+)?))?")
_ID = re.compile(r"[0-9A-Za-z]{1,64}")


class MastodonProvider(OAuth2Adapter):
    name: ClassVar[str] = "mastodon"
    display_name: ClassVar[str] = "Mastodon"
    sandbox_prefix: ClassVar[str] = "/mastodon"
    dynamic_registration: ClassVar[bool] = True
    aliases: ClassVar[tuple[str, ...]] = ("fediverse",)
    text_rule: ClassVar[TextRule] = TextRule(
        500, "characters", 500, post_length=mastodon_length, dm_length=mastodon_length
    )
    has_instances: ClassVar[bool] = True
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {
            Capability.OAUTH,
            Capability.LOOKUP_BY_HANDLE,
            Capability.LOOKUP_BY_ID,
            Capability.LOOKUP_BY_EMAIL,
            Capability.SEARCH_PEOPLE,
            Capability.PROFILE,
            Capability.POSTS,
            Capability.MENTIONS,
            Capability.DM,
            Capability.REPLY,
            Capability.PUBLISH,
            Capability.METRICS,
            Capability.REVOKE,
        }
    )
    capability_notes: ClassVar[Mapping[Capability, str]] = {
        Capability.LOOKUP_BY_EMAIL: (
            "admin API of the account's own instance; an admin connects with the "
            "email_lookup permission; exact addresses only"
        ),
    }
    capability_requires: ClassVar[Mapping[Capability, str]] = {
        Capability.LOOKUP_BY_EMAIL: (
            "an account with the instance's Manage Users role, connected with the email_lookup "
            "permission (admin:read:accounts)"
        ),
    }
    wire: ClassVar[Wire] = MASTODON_WIRE
    optional_scopes: ClassVar[Mapping[str, tuple[str, ...]]] = {"email_lookup": (EMAIL_SCOPE,)}
    # Tokens do not expire (no REFRESH); ``revoke`` revokes the access token.

    @classmethod
    def build(
        cls,
        http: httpx.AsyncClient,
        sandbox_base: str | None,
        *,
        instance_url: str | None = None,
        options: NetworkOptions,
    ) -> Self:
        if sandbox_base is not None:  # the sandbox plays the default instance
            return cls(http, sandbox_base, instance_host=SANDBOX_INSTANCE_HOST)
        return cls(http, instance_origin(instance_url))

    @classmethod
    def connection_instance(cls, instance_url: str) -> str:
        """The https origin of the instance a connection names (the default one when none)."""
        value = (instance_url or DEFAULT_INSTANCE).strip().rstrip("/")
        if "://" not in value:
            value = f"https://{value}"
        parts = urlsplit(value)
        host = parts.hostname or ""
        if parts.scheme != "https" or not host or "." not in host or parts.path or parts.query:
            raise ValueError(
                "instance_url must be a Mastodon server such as https://mastodon.social"
            )
        return f"https://{parts.netloc.lower()}"

    def __init__(
        self, http: httpx.AsyncClient, instance_url: str, *, instance_host: str | None = None
    ) -> None:
        """``instance_host``: the instance's public name when it is served from elsewhere
        (the sandbox plays mastodon.social from a local address)."""
        super().__init__(http, instance_url)
        self._host = (instance_host or urlsplit(self._base).hostname or "").lower()

    # --- connecting ---------------------------------------------------------------------------

    def oauth_endpoints(self) -> OAuthEndpoints:
        """Per instance: every Mastodon server is its own authorization server."""
        return OAuthEndpoints(
            authorize_url=f"{self._base}/oauth/authorize",
            token_url=f"{self._base}/oauth/token",
            revoke_url=f"{self._base}/oauth/revoke",
            default_scopes=DEFAULT_SCOPES,
            register_url=f"{self._base}/api/v1/apps",
            optional_scopes=self.optional_scopes,
        )

    async def register_app(self, redirect_uri: str, scopes: tuple[str, ...]) -> AppCredentials:
        payload = {
            "client_name": CLIENT_NAME,
            "redirect_uris": redirect_uri,
            # The app's scopes bound every later grant: register the optional ones too.
            "scopes": " ".join(
                dict.fromkeys(
                    [*(scopes or DEFAULT_SCOPES), *self.oauth_endpoints().registration_scopes()]
                )
            ),
        }
        response = await send(
            self._http, MASTODON_WIRE, "POST", f"{self._base}/api/v1/apps", json=payload
        )
        if response.status_code >= 400:
            raise rejected(response, MASTODON_WIRE)
        body = json_object(response, MASTODON_WIRE)
        client_id = field_str(body, "client_id")
        if not client_id:
            raise TransientProviderError("mastodon: app registration without client_id")
        return AppCredentials(client_id=client_id, client_secret=field_str(body, "client_secret"))

    # --- reading --------------------------------------------------------------------------------

    async def me(self, ctx: CallContext) -> ProfileData:
        return profile_from_account(await self._get(ctx, "/api/v1/accounts/verify_credentials"))

    async def lookup_handle(self, ctx: CallContext, handle: str) -> ProfileData:
        """A local account by ``accounts/lookup``. A remote one (``user@other.host``) through
        search with ``resolve=true``: ``accounts/lookup`` skips WebFinger, so a remote account
        this instance has not met yet would answer 404 and look gone although it exists."""
        acct = acct_for_lookup(handle, self._host)
        if "@" not in acct:
            account = await self._get(ctx, "/api/v1/accounts/lookup", params={"acct": acct})
            return profile_from_account(account)
        params: QueryParams = {"q": f"@{acct}", "type": "accounts", "resolve": "true", "limit": 5}
        body = await self._get(ctx, "/api/v2/search", params=params)
        for account in field_list(body, "accounts"):
            if field_str(account, "acct").lower() == acct:
                return profile_from_account(account)
        raise ProfileGone(f"mastodon: no account {acct} (WebFinger found none)")

    async def lookup_user_id(self, ctx: CallContext, user_id: str) -> ProfileData:
        return profile_from_account(await self._get(ctx, f"/api/v1/accounts/{_id(user_id)}"))

    async def lookup_email(self, ctx: CallContext, email: str) -> ProfileData | None:
        """``None`` when no account has that email; ``ScopeMissing`` without the admin scope."""
        wanted = email.strip().lower()
        params: QueryParams = {"email": wanted, "origin": "local"}
        response = await self._send(ctx, "GET", "/api/v2/admin/accounts", params)
        if response.status_code == 403:
            raise ScopeMissing(
                EMAIL_SCOPE,
                f"mastodon: lookup by email needs the {EMAIL_SCOPE} scope (connect with "
                "the email lookup permission) granted by an account with the Manage Users "
                "role on its instance",
            )
        entries = json_list(self._checked(response, "admin/accounts"), MASTODON_WIRE)
        # Mastodon's email filter is a prefix match ("ada@example.com" also finds
        # "ada@example.com.au"): only an exact address is the person asked for.
        for entry in entries:
            account = field_obj(entry, "account")
            if account and field_str(entry, "email").strip().lower() == wanted:
                return _with_email(profile_from_account(account), wanted)
        return None

    async def search_people(
        self, ctx: CallContext, query: str, limit: int = 10
    ) -> list[ProfileData]:
        params: QueryParams = {
            "q": query,
            "type": "accounts",
            "limit": min(max(limit, 1), PAGE_SIZE),
        }
        body = await self._get(ctx, "/api/v2/search", params=params)
        return [profile_from_account(a) for a in field_list(body, "accounts")][:limit]

    async def posts(self, ctx: CallContext, user_id: str, limit: int = 10) -> list[PostData]:
        params = {"limit": min(max(limit, 1), PAGE_SIZE)}
        response = await self._send(ctx, "GET", f"/api/v1/accounts/{_id(user_id)}/statuses", params)
        statuses = json_list(self._checked(response, "statuses"), MASTODON_WIRE)
        return [post_from_status(s) for s in statuses if not s.get("reblog")][:limit]

    async def mentions(self, ctx: CallContext, cursor: str | None) -> MentionPage:
        """Mention notifications newer than ``cursor`` (a notification id), oldest first."""
        # ``include_filtered`` (4.3+; ignored before): the default notification policy hides
        # private mentions from people the account does not follow, i.e. customers' DMs.
        params: dict[str, str | int | list[str]] = {
            "types[]": ["mention"],
            "limit": PAGE_SIZE,
            "include_filtered": "true",
        }
        if cursor:
            params["since_id"] = cursor
        seen: dict[str, JsonObject] = {}
        for _page in range(MAX_MENTION_PAGES):
            response = await self._send(ctx, "GET", "/api/v1/notifications", params)
            page = json_list(self._checked(response, "notifications"), MASTODON_WIRE)
            seen.update({field_str(n, "id"): n for n in page})
            if len(page) < PAGE_SIZE:
                break
            params["max_id"] = min((field_str(n, "id") for n in page), key=_id_order)
        ordered = sorted(seen, key=_id_order)
        posts = [
            post_from_status(field_obj(seen[nid], "status"))
            for nid in ordered
            if field_str(seen[nid], "type") == "mention" and field_obj(seen[nid], "status")
        ]
        return MentionPage(posts=posts, cursor=ordered[-1] if ordered else cursor)

    async def metrics(self, ctx: CallContext, post_id: str) -> PostData:
        return post_from_status(await self._get(ctx, f"/api/v1/statuses/{_id(post_id)}"))

    # --- writing --------------------------------------------------------------------------------

    async def publish(self, ctx: CallContext, text: str) -> PostData:
        return await self._post_status(ctx, {"status": text, "visibility": "public"})

    async def reply(self, ctx: CallContext, in_reply_to: PostData, text: str) -> PostData:
        """Mastodon notifies only mentioned accounts, so the reply starts with ``@author``."""
        author = in_reply_to.author_handle
        own = in_reply_to.author_user_id == ctx.user_id
        if author and not own and f"@{author}".lower() not in text.lower():
            text = f"@{author} {text}"
        payload = {"status": text, "in_reply_to_id": in_reply_to.id}
        return await self._post_status(ctx, payload)

    async def send_dm(self, ctx: CallContext, recipient_user_id: str, text: str) -> str:
        """A direct message is a ``visibility=direct`` status mentioning the recipient."""
        recipient = await self.lookup_user_id(ctx, recipient_user_id)
        status = await self._post_status(
            ctx, {"status": f"@{recipient.handle} {text}", "visibility": "direct"}
        )
        return status.id

    async def _post_status(self, ctx: CallContext, payload: Mapping[str, str]) -> PostData:
        response = await send(
            self._http,
            MASTODON_WIRE,
            "POST",
            f"{self._base}/api/v1/statuses",
            token=ctx.access_token,
            ctx=ctx,
            json=dict(payload),
        )
        return post_from_status(json_object(self._checked(response, "status"), MASTODON_WIRE))

    # --- plumbing ---------------------------------------------------------------------------------

    async def _send(
        self, ctx: CallContext, method: str, path: str, params: QueryParams | None = None
    ) -> httpx.Response:
        return await send(
            self._http,
            MASTODON_WIRE,
            method,
            self._base + path,
            token=ctx.access_token,
            ctx=ctx,
            params=params,
        )

    def _checked(self, response: httpx.Response, what: str) -> httpx.Response:
        if response.status_code == 404:
            raise ProfileGone(f"mastodon: {what} not found")
        if response.status_code >= 400:
            raise rejected(response, MASTODON_WIRE)
        return response

    async def _get(
        self, ctx: CallContext, path: str, params: QueryParams | None = None
    ) -> JsonObject:
        response = self._checked(await self._send(ctx, "GET", path, params), path)
        body = json_body(response, MASTODON_WIRE)
        if not isinstance(body, dict):
            raise TransientProviderError(f"mastodon: {path} answered no object")
        return body


# --- pure payload mapping -------------------------------------------------------------------------


def acct_for_lookup(handle: str, instance_host: str) -> str:
    """``ada``, ``@ada``, ``ada@host``, ``https://host/@ada`` → the ``acct`` to look up
    (bare username for this instance's own accounts)."""
    text = handle.strip()
    if "/" in text:
        try:
            parsed = parse_handle(text, "mastodon")
        except InvalidHandle as exc:
            raise ProfileGone(f"mastodon: no such account ({exc})") from exc
        if parsed is None:
            raise ProfileGone(f"mastodon: not a profile URL: {handle!r}")
        text = f"{parsed.handle}@{parsed.instance}"
    match = _ACCT.fullmatch(text)
    if match is None:
        raise ProfileGone(f"mastodon: not a Mastodon handle: {handle!r}")
    user, host = match.group(1).lower(), (match.group(2) or "").lower()
    return user if not host or host == instance_host else f"{user}@{host}"


def _id(value: str) -> str:
    if not _ID.fullmatch(value):
        raise ProfileGone(f"mastodon: no record with id {value!r}")
    return value


def _id_order(value: str) -> tuple[int, str]:
    """Mastodon ids are numeric strings that grow with time."""
    return (int(value), value) if is_ascii_number(value) else (-1, value)


def _with_email(profile: ProfileData, email: str) -> ProfileData:
    return replace(profile, email=email)


def profile_from_account(account: Mapping[str, Any]) -> ProfileData:
    links: list[str] = []
    for f in field_list(account, "fields"):
        links.extend(link for link in html_links(field_str(f, "value")) if link not in links)
    return ProfileData(
        network="mastodon",
        user_id=field_str(account, "id"),
        handle=field_str(account, "acct") or field_str(account, "username"),
        display_name=field_str(account, "display_name"),
        bio=html_to_text(field_str(account, "note")),
        avatar_url=field_str(account, "avatar"),
        followers=field_int(account, "followers_count"),
        following=field_int(account, "following_count"),
        post_count=field_int(account, "statuses_count"),
        links=tuple(links),
        profile_url=field_str(account, "url"),
        created_at=field_time(account, "created_at"),
    )


def post_from_status(status: Mapping[str, Any]) -> PostData:
    account = field_obj(status, "account")
    return PostData(
        network="mastodon",
        id=field_str(status, "id"),
        author_user_id=field_str(account, "id"),
        author_handle=field_str(account, "acct") or field_str(account, "username"),
        text=html_to_text(field_str(status, "content")),
        created_at=field_time(status, "created_at"),
        url=field_str(status, "url"),
        in_reply_to_id=field_str(status, "in_reply_to_id") or None,
        likes=field_int(status, "favourites_count"),
        reposts=field_int(status, "reblogs_count"),
        replies=field_int(status, "replies_count"),
    )
