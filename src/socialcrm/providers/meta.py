"""Meta's Graph API: Facebook Pages and Instagram professional accounts.

Both speak the same dialect: errors are ``{"error": {"code", "error_subcode", "message", …}}``
(usually HTTP 400, whatever went wrong), throttling is error code 4 / 17 / 32 / 613 (or
80001-80014) with usage percentages in ``X-App-Usage`` and ``X-Business-Use-Case-Usage``,
and an invalid or expired token is code 190.

Facebook Login gives a *user* token (short-lived: about an hour); the adapter trades it for a
long-lived one (60 days, ``fb_exchange_token``) and acts as a Page only with that Page's own
token from ``GET /me/accounts`` (which, from a long-lived user token, does not expire): the
person picks which Pages to connect. Instagram Login gives a short-lived token wrapped in
``{"data": [...]}``; the adapter trades it for a long-lived one (``ig_exchange_token``, 60
days) and refreshes that one with itself (``ig_refresh_token``). ``business_discovery`` and
``/{ig-user}/tags`` exist only in the Facebook-Login setup on graph.facebook.com, not on
graph.instagram.com: this adapter does not offer them.

One module: one adapter class per network API (the Provider protocol for Facebook and
Instagram over Graph), with its error dialect and token trades; splitting it would scatter
one API's contract over several files.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar, Self

import httpx

from socialcrm.core.numbers import is_ascii_number
from socialcrm.providers.adapter import NetworkOptions, parse_profile
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
    RateLimited,
    ReconnectRequired,
    TokenSet,
    TransientProviderError,
)
from socialcrm.providers.limits import (
    META_THROTTLE_CODES,
    NO_RATE_HEADERS,
    meta_budget,
    meta_retry_at,
)
from socialcrm.providers.oauth import OAuth2Adapter, token_set
from socialcrm.providers.outcomes import RequestRejected
from socialcrm.providers.text import TextRule
from socialcrm.providers.wire import (
    EPOCH,
    JsonObject,
    QueryParams,
    Wire,
    error_body,
    field_int,
    field_list,
    field_obj,
    field_str,
    field_time,
    format_mention_cursor,
    json_object,
    parse_mention_cursor,
    send,
    utc_now,
)

# Meta serves each Graph version for at least two years and moves calls to a retired one to
# the oldest live version; v26.0 is the version Meta's own SDK (facebook-business 26.0.3) targets.
GRAPH_VERSION = "v26.0"
REAL_FACEBOOK_GRAPH_URL = "https://graph.facebook.com"
REAL_FACEBOOK_DIALOG_URL = "https://www.facebook.com"
REAL_INSTAGRAM_GRAPH_URL = "https://graph.instagram.com"
REAL_INSTAGRAM_AUTH_URL = "https://www.instagram.com"
REAL_INSTAGRAM_TOKEN_URL = "https://api.instagram.com"  # noqa: S105 - a URL

FACEBOOK_WIRE = Wire("facebook", NO_RATE_HEADERS)
INSTAGRAM_WIRE = Wire("instagram", NO_RATE_HEADERS)
PAGE_FIELDS = "id,name,username,about,category,fan_count,followers_count,link,website,picture"
MANAGED_PAGE_FIELDS = "id,name,username,category,picture,access_token"
FB_POST_FIELDS = (
    "id,message,created_time,permalink_url,from,shares,"
    "likes.summary(true).limit(0),comments.summary(true).limit(0)"
)
IG_USER_FIELDS = (
    "id,username,name,biography,followers_count,follows_count,media_count,"
    "profile_picture_url,website"
)
IG_MEDIA_FIELDS = "id,caption,timestamp,permalink,like_count,comments_count,username,media_type"
FACEBOOK_SCOPES = (
    "pages_show_list",
    "pages_read_engagement",
    "pages_read_user_content",
    "pages_manage_posts",
    "pages_manage_engagement",
    "pages_messaging",
)
INSTAGRAM_SCOPES = (
    "instagram_business_basic",
    "instagram_business_manage_comments",
    "instagram_business_content_publish",
)
VIDEO_SUFFIXES = (".mp4", ".mov", ".m4v")
CONTAINER_READS = 20  # a reel's container is read this often before giving up
PPCA = "Page Public Content Access (Meta App Review) to read Pages other than yours"
MAX_CAROUSEL = 10
PAGE_SIZE = 50
MAX_MENTION_PAGES = 5
_GONE_CODES = frozenset({803})  # "(#803) Some of the aliases you requested do not exist"
_GONE_SUBCODES = frozenset({33, 2207013})  # object does not exist; IG user cannot be found
_DEAD_TOKEN_CODES = frozenset({102, 190})
_PAGE_TOKEN_HINT = "page access token"  # noqa: S105 - words in an error message


class _GraphAdapter(OAuth2Adapter):
    """Plumbing shared by the two Graph adapters: one call, Meta's outcomes, OAuth."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        graph_url: str,
        *,
        auth_url: str | None = None,
        token_url: str | None = None,
    ) -> None:
        super().__init__(http, graph_url, auth_url)
        self._token = (token_url or graph_url).rstrip("/")

    def _url(self, path: str) -> str:
        return f"{self._base}/{GRAPH_VERSION}/{path.lstrip('/')}"

    async def exchange_code(
        self, app: AppCredentials, *, code: str, redirect_uri: str, code_verifier: str
    ) -> TokenSet:
        """The code's short-lived token (about an hour), traded at once for a long-lived one
        (60 days)."""
        short = await super().exchange_code(
            app, code=code, redirect_uri=redirect_uri, code_verifier=code_verifier
        )
        return await self._long_lived(app, short)

    async def _long_lived(self, app: AppCredentials, short: TokenSet) -> TokenSet:
        raise NotImplementedError

    async def _token_call(self, url: str, params: Mapping[str, str]) -> TokenSet:
        """A GET that answers a token (long-lived exchange, refresh): no bearer, Meta's errors."""
        response = await send(self._http, self.wire, "GET", url, params=params)
        raise_for_graph_error(response, self.wire)
        return token_set(json_object(response, self.wire), utc_now(), self.wire)

    async def _call(
        self,
        ctx: CallContext,
        method: str,
        path: str,
        *,
        params: QueryParams | None = None,
        data: Mapping[str, str] | None = None,
        json: Any = None,
    ) -> JsonObject:
        response = await send(
            self._http,
            self.wire,
            method,
            self._url(path),
            token=ctx.access_token,
            ctx=ctx,
            params=params,
            data=data,
            json=json,
        )
        budget = meta_budget(response.headers, utc_now())
        if budget is not None:
            ctx.budget = budget
        raise_for_graph_error(response, self.wire)
        return json_object(response, self.wire)

    async def _mentions(
        self, ctx: CallContext, path: str, fields: str, cursor: str | None
    ) -> tuple[list[JsonObject], str | None]:
        """Tagged posts newer than ``cursor`` (``time|id``), oldest first, and the next cursor."""
        stored = parse_mention_cursor(cursor)
        newest = stored
        found: dict[str, JsonObject] = {}
        params: dict[str, str | int] = {"fields": fields, "limit": PAGE_SIZE}
        if stored is not None:
            params["since"] = int(stored[0].timestamp())
        for _page in range(MAX_MENTION_PAGES):
            body = await self._call(ctx, "GET", path, params=params)
            items = field_list(body, "data")
            fresh = [i for i in items if stored is None or item_key(i) > stored]
            for item in fresh:
                found[field_str(item, "id")] = item
                newest = max(newest or item_key(item), item_key(item))
            after = field_str(field_obj(field_obj(body, "paging"), "cursors"), "after")
            has_next = bool(field_str(field_obj(body, "paging"), "next"))
            if len(fresh) < len(items) or not items or not after or not has_next:
                break
            params["after"] = after
        ordered = sorted(found.values(), key=item_key)
        return ordered, format_mention_cursor(newest) if newest else cursor


class FacebookProvider(_GraphAdapter):
    """A Facebook Page (the Graph API acts for Pages; it cannot read people's profiles)."""

    name: ClassVar[str] = "facebook"
    display_name: ClassVar[str] = "Facebook Pages"
    sandbox_prefix: ClassVar[str] = "/facebook"
    aliases: ClassVar[tuple[str, ...]] = ("fb",)
    text_rule: ClassVar[TextRule] = TextRule(63_206, "characters", 2000)
    one_profile_per_person: ClassVar[bool] = True  # one Facebook option per Contact (Creatio)
    wire: ClassVar[Wire] = FACEBOOK_WIRE
    # Disconnecting one Page forgets its token: Page tokens cannot be revoked one by one, and
    # removing the app's grant (``DELETE /me/permissions``, a user token) would cut off the
    # person's other connected Pages too. A person withdraws the grant in Facebook's settings.
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {
            Capability.OAUTH,
            Capability.LOOKUP_BY_HANDLE,
            Capability.LOOKUP_BY_ID,
            Capability.PROFILE,
            Capability.POSTS,
            Capability.MENTIONS,
            Capability.DM,
            Capability.REPLY,
            Capability.PUBLISH,
            Capability.METRICS,
        }
    )
    capability_notes: ClassVar[Mapping[Capability, str]] = {
        Capability.LOOKUP_BY_HANDLE: "Pages only, not people",
        Capability.LOOKUP_BY_ID: "Pages only, not people",
        Capability.POSTS: "your Pages' posts; other Pages' with Page Public Content Access",
        Capability.MENTIONS: "posts that tag the Page",
        Capability.DM: "Messenger, to people who wrote to the Page",
    }
    capability_requires: ClassVar[Mapping[Capability, str]] = {
        Capability.LOOKUP_BY_HANDLE: PPCA,
        Capability.LOOKUP_BY_ID: PPCA,
        Capability.POSTS: f"pages_read_user_content (App Review); {PPCA}",
        Capability.MENTIONS: "pages_read_engagement, pages_read_user_content (App Review)",
        Capability.DM: "pages_messaging (App Review)",
        Capability.REPLY: "pages_manage_engagement (App Review)",
        Capability.PUBLISH: "pages_manage_posts (App Review)",
        Capability.METRICS: "pages_read_engagement (App Review)",
    }
    # Connecting lists the person's Pages (``managed_accounts``): each picked Page is one
    # connected account holding that Page's own token.
    picks_managed_accounts: ClassVar[bool] = True

    @classmethod
    def build(
        cls,
        http: httpx.AsyncClient,
        sandbox_base: str | None,
        *,
        instance_url: str | None = None,
        options: NetworkOptions,
    ) -> Self:
        return cls(
            http,
            sandbox_base or REAL_FACEBOOK_GRAPH_URL,
            auth_url=sandbox_base or REAL_FACEBOOK_DIALOG_URL,
            token_url=sandbox_base or REAL_FACEBOOK_GRAPH_URL,
        )

    def oauth_endpoints(self) -> OAuthEndpoints:
        return OAuthEndpoints(
            authorize_url=f"{self._auth_base}/{GRAPH_VERSION}/dialog/oauth",
            token_url=f"{self._token}/{GRAPH_VERSION}/oauth/access_token",
            revoke_url=None,
            default_scopes=FACEBOOK_SCOPES,
        )

    async def _long_lived(self, app: AppCredentials, short: TokenSet) -> TokenSet:
        """``fb_exchange_token``: Page tokens read with the long-lived token do not expire."""
        params = {
            "grant_type": "fb_exchange_token",
            "client_id": app.client_id,
            "client_secret": app.client_secret,
            "fb_exchange_token": short.access_token,
        }
        long_lived = await self._token_call(
            f"{self._token}/{GRAPH_VERSION}/oauth/access_token", params
        )
        return TokenSet(long_lived.access_token, None, long_lived.expires_at, short.scopes)

    async def managed_accounts(self, ctx: CallContext) -> list[ManagedAccount]:
        """The Pages the signed-in person manages, each with its Page access token."""
        params: QueryParams = {"fields": MANAGED_PAGE_FIELDS, "limit": 100}
        body = await self._call(ctx, "GET", "me/accounts", params=params)
        return [
            ManagedAccount(page_profile(page), field_str(page, "access_token"))
            for page in field_list(body, "data")
            if field_str(page, "access_token") and field_str(page, "id")
        ]

    async def me(self, ctx: CallContext) -> ProfileData:
        return page_profile(await self._call(ctx, "GET", "me", params={"fields": PAGE_FIELDS}))

    async def lookup_handle(self, ctx: CallContext, handle: str) -> ProfileData:
        alias = _facebook_alias(handle)
        return page_profile(await self._call(ctx, "GET", alias, params={"fields": PAGE_FIELDS}))

    async def lookup_user_id(self, ctx: CallContext, user_id: str) -> ProfileData:
        if not is_ascii_number(user_id):
            raise ProfileGone(f"facebook: Page ids are numeric, not {user_id!r}")
        return page_profile(await self._call(ctx, "GET", user_id, params={"fields": PAGE_FIELDS}))

    async def posts(self, ctx: CallContext, user_id: str, limit: int = 10) -> list[PostData]:
        if not is_ascii_number(user_id):
            raise ProfileGone(f"facebook: Page ids are numeric, not {user_id!r}")
        params: QueryParams = {"fields": FB_POST_FIELDS, "limit": min(max(limit, 1), 100)}
        body = await self._call(ctx, "GET", f"{user_id}/posts", params=params)
        return [facebook_post(p) for p in field_list(body, "data")][:limit]

    async def mentions(self, ctx: CallContext, cursor: str | None) -> MentionPage:
        page_id = await self._own_id(ctx)
        items, next_cursor = await self._mentions(ctx, f"{page_id}/tagged", FB_POST_FIELDS, cursor)
        return MentionPage(posts=[facebook_post(i) for i in items], cursor=next_cursor)

    async def metrics(self, ctx: CallContext, post_id: str) -> PostData:
        return facebook_post(
            await self._call(ctx, "GET", _graph_id(post_id), params={"fields": FB_POST_FIELDS})
        )

    async def publish(self, ctx: CallContext, text: str) -> PostData:
        page_id = await self._own_id(ctx)
        body = await self._call(ctx, "POST", f"{page_id}/feed", data={"message": text})
        return self._own_post(ctx, field_str(body, "id"), text, None)

    async def reply(self, ctx: CallContext, in_reply_to: PostData, text: str) -> PostData:
        """A comment on the post (or a reply to a comment: the same edge)."""
        target = _graph_id(in_reply_to.id)
        body = await self._call(ctx, "POST", f"{target}/comments", data={"message": text})
        return self._own_post(ctx, field_str(body, "id"), text, in_reply_to.id)

    async def send_dm(self, ctx: CallContext, recipient_user_id: str, text: str) -> str:
        page_id = await self._own_id(ctx)
        payload = {
            "recipient": {"id": recipient_user_id},
            "messaging_type": "RESPONSE",
            "message": {"text": text},
        }
        body = await self._call(ctx, "POST", f"{page_id}/messages", json=payload)
        message_id = field_str(body, "message_id")
        if not message_id:
            raise TransientProviderError("facebook: Send API answer without message_id")
        return message_id

    def _own_post(
        self, ctx: CallContext, post_id: str, text: str, in_reply_to_id: str | None
    ) -> PostData:
        if not post_id:
            raise TransientProviderError("facebook: answer without id")
        return PostData(
            network="facebook",
            id=post_id,
            author_user_id=ctx.user_id,
            author_handle=ctx.handle,
            text=text,
            created_at=utc_now(),
            url=f"https://www.facebook.com/{post_id}",
            in_reply_to_id=in_reply_to_id,
        )


class InstagramProvider(_GraphAdapter):
    """An Instagram professional account (Instagram API with Instagram Login).

    Other accounts are reachable only through business discovery, which finds business and
    creator accounts; a personal account answers "cannot find user" like a missing one.
    """

    name: ClassVar[str] = "instagram"
    display_name: ClassVar[str] = "Instagram"
    sandbox_prefix: ClassVar[str] = "/instagram"
    aliases: ClassVar[tuple[str, ...]] = ("insta", "ig")
    text_rule: ClassVar[TextRule] = TextRule(2200, "characters", 1000)
    wire: ClassVar[Wire] = INSTAGRAM_WIRE
    # No lookup by handle and no mentions: business_discovery and /{ig-user}/tags exist only
    # with a Facebook-Login token on graph.facebook.com, not with Instagram Login.
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {
            Capability.OAUTH,
            Capability.REFRESH,
            Capability.PROFILE,
            Capability.POSTS,
            Capability.REPLY,
            Capability.PUBLISH_MEDIA,
            Capability.METRICS,
        }
    )
    capability_notes: ClassVar[Mapping[Capability, str]] = {
        Capability.POSTS: "the connected account's media",
        Capability.PUBLISH_MEDIA: "photos or a reel; no text-only posts",
        Capability.REFRESH: "long-lived tokens (60 days), refreshed before they expire",
    }
    capability_requires: ClassVar[Mapping[Capability, str]] = {
        Capability.REPLY: "instagram_business_manage_comments (App Review)",
        Capability.PUBLISH_MEDIA: "instagram_business_content_publish (App Review)",
    }
    token_in_data_list: ClassVar[bool] = True

    @classmethod
    def build(
        cls,
        http: httpx.AsyncClient,
        sandbox_base: str | None,
        *,
        instance_url: str | None = None,
        options: NetworkOptions,
    ) -> Self:
        return cls(
            http,
            sandbox_base or REAL_INSTAGRAM_GRAPH_URL,
            auth_url=sandbox_base or REAL_INSTAGRAM_AUTH_URL,
            token_url=sandbox_base or REAL_INSTAGRAM_TOKEN_URL,
            poll_interval_s=options.poll_interval_s,
        )

    def __init__(
        self,
        http: httpx.AsyncClient,
        graph_url: str,
        *,
        auth_url: str | None = None,
        token_url: str | None = None,
        poll_interval_s: float = 2.0,
    ) -> None:
        super().__init__(http, graph_url, auth_url=auth_url, token_url=token_url)
        self.poll_interval_s = poll_interval_s

    def oauth_endpoints(self) -> OAuthEndpoints:
        return OAuthEndpoints(
            authorize_url=f"{self._auth_base}/oauth/authorize",
            token_url=f"{self._token}/oauth/access_token",
            revoke_url=None,
            default_scopes=INSTAGRAM_SCOPES,
        )

    async def _long_lived(self, app: AppCredentials, short: TokenSet) -> TokenSet:
        """``ig_exchange_token``; the long-lived token is also what refreshes it: Instagram
        has no separate refresh token."""
        params = {
            "grant_type": "ig_exchange_token",
            "client_secret": app.client_secret,
            "access_token": short.access_token,
        }
        long_lived = await self._token_call(f"{self._base}/access_token", params)
        return _self_refreshing(long_lived, short.scopes)

    async def refresh(self, app: AppCredentials, refresh_token: str) -> TokenSet:
        """``ig_refresh_token``: a long-lived token (24 hours old or more) for a new one."""
        params = {"grant_type": "ig_refresh_token", "access_token": refresh_token}
        fresh = await self._token_call(f"{self._base}/refresh_access_token", params)
        return _self_refreshing(fresh, ())

    async def me(self, ctx: CallContext) -> ProfileData:
        return instagram_profile(
            await self._call(ctx, "GET", "me", params={"fields": IG_USER_FIELDS})
        )

    async def posts(self, ctx: CallContext, user_id: str, limit: int = 10) -> list[PostData]:
        own_id = await self._own_id(ctx)
        if user_id != own_id:
            raise NotSupported("Instagram lists media only of the connected account")
        params: QueryParams = {"fields": IG_MEDIA_FIELDS, "limit": min(max(limit, 1), 100)}
        body = await self._call(ctx, "GET", f"{own_id}/media", params=params)
        return [instagram_media(m) for m in field_list(body, "data")][:limit]

    async def metrics(self, ctx: CallContext, post_id: str) -> PostData:
        return instagram_media(
            await self._call(ctx, "GET", _graph_id(post_id), params={"fields": IG_MEDIA_FIELDS})
        )

    async def reply(self, ctx: CallContext, in_reply_to: PostData, text: str) -> PostData:
        """A comment on a media, or a reply to a comment (``ref == "comment"``)."""
        target = _graph_id(in_reply_to.id)
        edge = "replies" if in_reply_to.ref == "comment" else "comments"
        body = await self._call(ctx, "POST", f"{target}/{edge}", data={"message": text})
        comment_id = field_str(body, "id")
        if not comment_id:
            raise TransientProviderError("instagram: comment answer without id")
        return PostData(
            network="instagram",
            id=comment_id,
            author_user_id=ctx.user_id,
            author_handle=ctx.handle,
            text=text,
            created_at=utc_now(),
            in_reply_to_id=in_reply_to.id,
            ref="comment",
        )

    async def publish_media(
        self, ctx: CallContext, text: str, media_urls: tuple[str, ...]
    ) -> PostData:
        """Create a container (a carousel for several items), then publish it."""
        if not media_urls:
            raise RequestRejected(400, "instagram: a post needs at least one photo or video")
        if len(media_urls) > MAX_CAROUSEL:
            raise RequestRejected(400, f"instagram: at most {MAX_CAROUSEL} items per post")
        own_id = await self._own_id(ctx)
        if len(media_urls) == 1:
            container = await self._container(ctx, own_id, media_urls[0], caption=text)
        else:
            children = [
                await self._container(ctx, own_id, url, carousel_item=True) for url in media_urls
            ]
            data = {"media_type": "CAROUSEL", "children": ",".join(children), "caption": text}
            container = field_str(await self._call(ctx, "POST", f"{own_id}/media", data=data), "id")
        published = await self._call(
            ctx, "POST", f"{own_id}/media_publish", data={"creation_id": container}
        )
        media_id = field_str(published, "id")
        if not media_id:
            raise TransientProviderError("instagram: media_publish answer without id")
        return await self.metrics(ctx, media_id)

    async def _container(
        self,
        ctx: CallContext,
        own_id: str,
        url: str,
        *,
        caption: str | None = None,
        carousel_item: bool = False,
    ) -> str:
        is_video = url.lower().split("?", 1)[0].endswith(VIDEO_SUFFIXES)
        data = {"video_url": url, "media_type": "REELS"} if is_video else {"image_url": url}
        if caption is not None:
            data["caption"] = caption
        if carousel_item:
            data["is_carousel_item"] = "true"
        container = field_str(await self._call(ctx, "POST", f"{own_id}/media", data=data), "id")
        if not container:
            raise TransientProviderError("instagram: container answer without id")
        if is_video:
            await self._until_finished(ctx, container)
        return container

    async def _until_finished(self, ctx: CallContext, container: str) -> None:
        """A video container is IN_PROGRESS until Instagram has processed it; publishing it
        earlier fails. Read ``status_code`` until FINISHED, a bounded number of times."""
        for read in range(CONTAINER_READS):
            if read:
                await asyncio.sleep(self.poll_interval_s)
            status = await self._call(ctx, "GET", container, params={"fields": "status_code"})
            code = field_str(status, "status_code")
            if code == "FINISHED":
                return
            if code in ("ERROR", "EXPIRED"):
                raise RequestRejected(400, f"instagram: the video could not be processed ({code})")
        raise TransientProviderError("instagram: the video is still being processed")


# --- pure payload mapping -------------------------------------------------------------------------


def raise_for_graph_error(response: httpx.Response, wire: Wire) -> None:
    """Meta's error object → typed outcomes (401/5xx were handled by ``send``)."""
    if response.status_code < 400:
        return
    error = field_obj(error_body(response), "error")
    code = field_int(error, "code") or 0
    subcode = field_int(error, "error_subcode") or 0
    message = field_str(error, "message") or f"HTTP {response.status_code}"
    if code in META_THROTTLE_CODES:
        when = meta_retry_at(code, response.headers, utc_now())
        raise RateLimited(when, f"{wire.network}: {message}")
    if code in _DEAD_TOKEN_CODES and _PAGE_TOKEN_HINT in message.lower():
        raise ReconnectRequired(
            f"{wire.network}: this connection holds a user token where Meta needs the Page's "
            f"own token: reconnect it and pick the Page ({message})"
        )
    if code in _DEAD_TOKEN_CODES:
        raise ReconnectRequired(f"{wire.network}: {message}")
    if code in _GONE_CODES or subcode in _GONE_SUBCODES or response.status_code == 404:
        raise ProfileGone(f"{wire.network}: {message}")
    if field_str(error, "is_transient") == "true" or error.get("is_transient") is True:
        raise TransientProviderError(f"{wire.network}: {message}")
    raise RequestRejected(response.status_code, f"{wire.network}: {message}")


def _facebook_alias(handle: str) -> str:
    parsed = parse_profile(handle, "facebook", no_such="Page", not_a="Page")
    return parsed.user_id or parsed.handle


def _self_refreshing(tokens: TokenSet, scopes: tuple[str, ...]) -> TokenSet:
    """Instagram refreshes a long-lived token with itself: it is also the refresh token."""
    return TokenSet(tokens.access_token, tokens.access_token, tokens.expires_at, scopes)


def _graph_id(value: str) -> str:
    """Graph object ids are digits, optionally ``page_post`` joined by one underscore."""
    parts = value.split("_")
    if not value or len(parts) > 2 or not all(is_ascii_number(p) for p in parts):
        raise ProfileGone(f"meta: not a Graph object id: {value!r}")
    return value


def _picture_url(view: Mapping[str, Any]) -> str:
    picture = view.get("picture")
    if isinstance(picture, dict):
        return field_str(field_obj(picture, "data"), "url")
    return picture if isinstance(picture, str) else ""


def page_profile(view: Mapping[str, Any]) -> ProfileData:
    page_id, username = field_str(view, "id"), field_str(view, "username")
    website = field_str(view, "website")
    return ProfileData(
        network="facebook",
        user_id=page_id,
        handle=username or page_id,
        display_name=field_str(view, "name"),
        bio=field_str(view, "about"),
        headline=field_str(view, "category"),
        avatar_url=_picture_url(view),
        followers=field_int(view, "followers_count") or field_int(view, "fan_count"),
        links=(website,) if website else (),
        profile_url=field_str(view, "link")
        or (f"https://www.facebook.com/{username}" if username else ""),
    )


def instagram_profile(view: Mapping[str, Any]) -> ProfileData:
    username = field_str(view, "username")
    website = field_str(view, "website")
    return ProfileData(
        network="instagram",
        user_id=field_str(view, "id"),
        handle=username,
        display_name=field_str(view, "name"),
        bio=field_str(view, "biography"),
        avatar_url=field_str(view, "profile_picture_url"),
        followers=field_int(view, "followers_count"),
        following=field_int(view, "follows_count"),
        post_count=field_int(view, "media_count"),
        links=(website,) if website else (),
        profile_url=f"https://www.instagram.com/{username}" if username else "",
    )


def _summary_count(view: Mapping[str, Any], edge: str) -> int | None:
    return field_int(field_obj(field_obj(view, edge), "summary"), "total_count")


def facebook_post(view: Mapping[str, Any]) -> PostData:
    author = field_obj(view, "from")
    post_id = field_str(view, "id")
    return PostData(
        network="facebook",
        id=post_id,
        author_user_id=field_str(author, "id") or post_id.partition("_")[0],
        author_handle=field_str(author, "username") or field_str(author, "name"),
        text=field_str(view, "message"),
        created_at=field_time(view, "created_time"),
        url=field_str(view, "permalink_url"),
        likes=_summary_count(view, "likes"),
        reposts=field_int(field_obj(view, "shares"), "count"),
        replies=_summary_count(view, "comments"),
    )


def instagram_media(view: Mapping[str, Any]) -> PostData:
    owner = field_obj(view, "owner")
    return PostData(
        network="instagram",
        id=field_str(view, "id"),
        author_user_id=field_str(owner, "id"),
        author_handle=field_str(view, "username"),
        text=field_str(view, "caption"),
        created_at=field_time(view, "timestamp"),
        url=field_str(view, "permalink"),
        likes=field_int(view, "like_count"),
        replies=field_int(view, "comments_count"),
        ref="media",
    )


def item_key(item: Mapping[str, Any]) -> tuple[datetime, str]:
    moment = field_time(item, "created_time") or field_time(item, "timestamp") or EPOCH
    return (moment, field_str(item, "id"))
