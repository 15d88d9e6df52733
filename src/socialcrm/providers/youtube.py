"""YouTube Data API v3: channels (by handle or id), uploads, video statistics, comment threads.

Google OAuth 2.0 with PKCE and refresh tokens. The API has no mentions and no messaging, and
publishing means uploading a video file, which a text post cannot be. Every call costs quota
units from a daily budget reset at midnight Pacific time; an exhausted budget is HTTP 403
``quotaExceeded`` (or ``dailyLimitExceeded``), mapped here to the next Pacific midnight. Too
many calls in a short span is ``rateLimitExceeded``/``userRateLimitExceeded`` (403) or a plain
429: that is over in moments, so it backs off briefly (``Retry-After`` when sent) instead of
parking the work until tomorrow (YouTube Data API "Errors" reference, checked 2026-12-07).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any, ClassVar, Self

import httpx

from socialcrm.core.numbers import is_ascii_number
from socialcrm.providers.adapter import NetworkOptions, parse_profile
from socialcrm.providers.base import (
    AppCredentials,
    CallContext,
    Capability,
    OAuthEndpoints,
    PostData,
    ProfileData,
    ProfileGone,
    RateLimited,
    TokenSet,
    TransientProviderError,
)
from socialcrm.providers.handles import InvalidHandle, parse_handle
from socialcrm.providers.limits import NO_RATE_HEADERS, next_pacific_midnight
from socialcrm.providers.oauth import OAuth2Adapter
from socialcrm.providers.outcomes import RequestRejected, TokenExpired
from socialcrm.providers.ratelimit import rate_limited
from socialcrm.providers.text import TextRule
from socialcrm.providers.wire import (
    JsonObject,
    QueryParams,
    Wire,
    error_body,
    field_list,
    field_obj,
    field_str,
    field_time,
    json_object,
    send,
    utc_now,
)

YOUTUBE_WIRE = Wire("youtube", NO_RATE_HEADERS, unauthorized=TokenExpired)
REAL_API_URL = "https://www.googleapis.com"
REAL_AUTH_URL = "https://accounts.google.com"
REAL_TOKEN_URL = "https://oauth2.googleapis.com"  # noqa: S105 - a URL
API_PATH = "/youtube/v3"
DEFAULT_SCOPES = (
    "https://www.googleapis.com/auth/youtube.readonly",
    "https://www.googleapis.com/auth/youtube.force-ssl",
)
CHANNEL_PARTS = "snippet,statistics,contentDetails"
QUOTA_REASONS = frozenset({"quotaExceeded", "dailyLimitExceeded"})  # until Pacific midnight
BURST_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded"})  # a short backoff
BURST_BACKOFF = timedelta(seconds=30)
_GONE_REASONS = frozenset(
    {"channelNotFound", "videoNotFound", "commentNotFound", "commentThreadNotFound"}
)


class YouTubeProvider(OAuth2Adapter):
    name: ClassVar[str] = "youtube"
    display_name: ClassVar[str] = "YouTube"
    sandbox_prefix: ClassVar[str] = "/youtube"
    aliases: ClassVar[tuple[str, ...]] = ("yt",)
    text_rule: ClassVar[TextRule] = TextRule(10_000, "characters", 10_000)
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {
            Capability.OAUTH,
            Capability.REFRESH,
            Capability.LOOKUP_BY_HANDLE,
            Capability.LOOKUP_BY_ID,
            Capability.PROFILE,
            Capability.POSTS,
            Capability.REPLY,
            Capability.METRICS,
            Capability.REVOKE,
        }
    )
    capability_notes: ClassVar[Mapping[Capability, str]] = {
        Capability.POSTS: "uploaded videos",
        Capability.REPLY: "comments on videos and replies to comments",
    }
    capability_requires: ClassVar[Mapping[Capability, str]] = {
        Capability.REPLY: "the youtube.force-ssl scope, for which Google verifies the app",
    }
    wire: ClassVar[Wire] = YOUTUBE_WIRE
    # Google issues a refresh token only for offline access, once per consent.
    authorize_params: ClassVar[tuple[tuple[str, str], ...]] = (
        ("access_type", "offline"),
        ("prompt", "consent"),
    )
    # Google's revocation endpoint takes the bare token: no client authentication, no type;
    # revoking the refresh token ends the whole grant.
    revoke_auth: ClassVar[str | None] = "none"
    revoke_type_hint: ClassVar[bool] = False
    revoke_refresh_token: ClassVar[bool] = True

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
            sandbox_base or REAL_API_URL,
            auth_url=sandbox_base or REAL_AUTH_URL,
            token_url=sandbox_base or REAL_TOKEN_URL,
        )

    def __init__(
        self,
        http: httpx.AsyncClient,
        api_url: str,
        *,
        auth_url: str | None = None,
        token_url: str | None = None,
    ) -> None:
        super().__init__(http, api_url, auth_url)
        self._api = self._base + API_PATH
        self._token = (token_url or api_url).rstrip("/")

    # --- connecting ---------------------------------------------------------------------------

    def oauth_endpoints(self) -> OAuthEndpoints:
        return OAuthEndpoints(
            authorize_url=f"{self._auth_base}/o/oauth2/v2/auth",
            token_url=f"{self._token}/token",
            revoke_url=f"{self._token}/revoke",
            default_scopes=DEFAULT_SCOPES,
        )

    async def refresh(self, app: AppCredentials, refresh_token: str) -> TokenSet:
        """Google keeps the refresh token; the answer carries only a new access token."""
        fresh = await super().refresh(app, refresh_token)
        if fresh.refresh_token:
            return fresh
        return TokenSet(fresh.access_token, refresh_token, fresh.expires_at, fresh.scopes)

    # --- reading --------------------------------------------------------------------------------

    async def me(self, ctx: CallContext) -> ProfileData:
        return await self._channel(ctx, {"mine": "true"})

    async def lookup_handle(self, ctx: CallContext, handle: str) -> ProfileData:
        parsed = parse_profile(handle, "youtube", no_such="channel", not_a="channel")
        if parsed.kind == "channel":
            return await self._channel(ctx, {"id": parsed.handle})
        if parsed.kind == "user":
            return await self._channel(ctx, {"forUsername": parsed.handle})
        return await self._channel(ctx, {"forHandle": f"@{parsed.handle}"})

    async def lookup_user_id(self, ctx: CallContext, user_id: str) -> ProfileData:
        return await self._channel(ctx, {"id": _channel_id(user_id)})

    async def posts(self, ctx: CallContext, user_id: str, limit: int = 10) -> list[PostData]:
        """The channel's latest uploads (playlistItems: 1 unit, unlike search's 100)."""
        uploads = "UU" + _channel_id(user_id)[2:]
        params: QueryParams = {
            "part": "snippet,contentDetails",
            "playlistId": uploads,
            "maxResults": min(max(limit, 1), 50),
        }
        body = await self._call(ctx, "GET", "/playlistItems", params=params)
        return [video_from_playlist_item(i) for i in field_list(body, "items")][:limit]

    async def metrics(self, ctx: CallContext, post_id: str) -> PostData:
        params: QueryParams = {"part": "snippet,statistics", "id": post_id}
        items = field_list(await self._call(ctx, "GET", "/videos", params=params), "items")
        if not items:
            raise ProfileGone(f"youtube: no video {post_id!r}")
        return video_from_resource(items[0])

    async def comment_threads(
        self, ctx: CallContext, video_id: str, limit: int = 20
    ) -> list[PostData]:
        """Top-level comments on a video, newest first (each one a thread to reply into)."""
        params: QueryParams = {
            "part": "snippet",
            "videoId": video_id,
            "order": "time",
            "maxResults": min(max(limit, 1), 100),
        }
        body = await self._call(ctx, "GET", "/commentThreads", params=params)
        return [comment_from_thread(t) for t in field_list(body, "items")][:limit]

    # --- writing --------------------------------------------------------------------------------

    async def reply(self, ctx: CallContext, in_reply_to: PostData, text: str) -> PostData:
        """On a video: a new comment thread. On a comment: a reply in its thread."""
        if in_reply_to.ref == "comment":
            # Replies have no replies of their own: ``parentId`` must be the thread's top-level
            # comment (comments.insert), and a reply's id is ``<top-level id>.<reply id>``.
            top_level = thread_id(in_reply_to.id)
            payload: JsonObject = {"snippet": {"parentId": top_level, "textOriginal": text}}
            body = await self._call(
                ctx, "POST", "/comments", params={"part": "snippet"}, json=payload
            )
            return comment_from_resource(body, in_reply_to_id=top_level)
        payload = {
            "snippet": {
                "videoId": in_reply_to.id,
                "topLevelComment": {"snippet": {"textOriginal": text}},
            }
        }
        body = await self._call(
            ctx, "POST", "/commentThreads", params={"part": "snippet"}, json=payload
        )
        return comment_from_thread(body)

    # --- plumbing ---------------------------------------------------------------------------------

    async def _channel(self, ctx: CallContext, selector: Mapping[str, str]) -> ProfileData:
        params: QueryParams = {"part": CHANNEL_PARTS, **selector}
        items = field_list(await self._call(ctx, "GET", "/channels", params=params), "items")
        if not items:  # YouTube answers 200 with no items for an unknown channel
            raise ProfileGone(f"youtube: no channel for {dict(selector)}")
        return channel_profile(items[0])

    async def _call(
        self,
        ctx: CallContext,
        method: str,
        path: str,
        *,
        params: QueryParams | None = None,
        json: Any = None,
    ) -> JsonObject:
        response = await send(
            self._http,
            YOUTUBE_WIRE,
            method,
            self._api + path,
            token=ctx.access_token,
            ctx=ctx,
            params=params,
            json=json,
        )
        raise_for_google_error(response)
        return json_object(response, YOUTUBE_WIRE)


# --- pure payload mapping -------------------------------------------------------------------------


def google_error_reasons(body: Mapping[str, Any]) -> tuple[str, ...]:
    error = field_obj(body, "error")
    return tuple(field_str(e, "reason") for e in field_list(error, "errors"))


def raise_for_google_error(response: httpx.Response) -> None:
    """``{"error": {"code", "message", "errors": [{"domain", "reason"}]}}`` → outcomes."""
    status = response.status_code
    if status < 400:
        return
    body = error_body(response)
    reasons = google_error_reasons(body)
    message = field_str(field_obj(body, "error"), "message")
    if status == 403 and QUOTA_REASONS.intersection(reasons):
        when = next_pacific_midnight(utc_now())
        raise RateLimited(when, f"youtube: quota exhausted until {when.isoformat()}")
    if status == 403 and BURST_REASONS.intersection(reasons):
        raise rate_limited(response.headers, NO_RATE_HEADERS, utc_now(), BURST_BACKOFF)
    if status == 404 or _GONE_REASONS.intersection(reasons):
        raise ProfileGone(f"youtube: {message or 'not found'}")
    raise RequestRejected(status, f"youtube: {message or f'HTTP {status}'} {list(reasons)}")


def thread_id(comment_id: str) -> str:
    """The top-level comment of a comment's thread: a reply's id is ``<top>.<reply>``."""
    return comment_id.partition(".")[0]


def _channel_id(user_id: str) -> str:
    try:
        parsed = parse_handle(user_id, "youtube")
    except InvalidHandle as exc:
        raise ProfileGone(f"youtube: channel ids are UC + 22 characters ({exc})") from exc
    if parsed is None or parsed.kind != "channel":
        raise ProfileGone(f"youtube: channel ids are UC + 22 characters, not {user_id!r}")
    return parsed.handle


def _count(stats: Mapping[str, Any], key: str) -> int | None:
    """YouTube sends counts as decimal strings (they exceed 2^53 for big channels)."""
    value = stats.get(key)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return int(value) if isinstance(value, str) and is_ascii_number(value) else None


def channel_profile(channel: Mapping[str, Any]) -> ProfileData:
    snippet = field_obj(channel, "snippet")
    stats = field_obj(channel, "statistics")
    custom = field_str(snippet, "customUrl")
    channel_id = field_str(channel, "id")
    hidden = stats.get("hiddenSubscriberCount") is True
    thumbnails = field_obj(snippet, "thumbnails")
    avatar = field_str(field_obj(thumbnails, "high"), "url") or field_str(
        field_obj(thumbnails, "default"), "url"
    )
    return ProfileData(
        network="youtube",
        user_id=channel_id,
        handle=custom.removeprefix("@") or channel_id,
        display_name=field_str(snippet, "title"),
        bio=field_str(snippet, "description"),
        avatar_url=avatar,
        followers=None if hidden else _count(stats, "subscriberCount"),
        post_count=_count(stats, "videoCount"),
        profile_url=f"https://www.youtube.com/{custom}"
        if custom.startswith("@")
        else f"https://www.youtube.com/channel/{channel_id}",
        location=field_str(snippet, "country"),
        created_at=field_time(snippet, "publishedAt"),
    )


def _video_url(video_id: str) -> str:
    return f"https://www.youtube.com/watch?v={video_id}"


def video_from_playlist_item(item: Mapping[str, Any]) -> PostData:
    snippet = field_obj(item, "snippet")
    details = field_obj(item, "contentDetails")
    video_id = field_str(details, "videoId") or field_str(
        field_obj(snippet, "resourceId"), "videoId"
    )
    return PostData(
        network="youtube",
        id=video_id,
        author_user_id=field_str(snippet, "videoOwnerChannelId") or field_str(snippet, "channelId"),
        author_handle="",
        text=field_str(snippet, "title"),
        created_at=field_time(details, "videoPublishedAt") or field_time(snippet, "publishedAt"),
        url=_video_url(video_id),
        ref="video",
    )


def video_from_resource(video: Mapping[str, Any]) -> PostData:
    snippet = field_obj(video, "snippet")
    stats = field_obj(video, "statistics")
    video_id = field_str(video, "id")
    return PostData(
        network="youtube",
        id=video_id,
        author_user_id=field_str(snippet, "channelId"),
        author_handle="",
        text=field_str(snippet, "title"),
        created_at=field_time(snippet, "publishedAt"),
        url=_video_url(video_id),
        likes=_count(stats, "likeCount"),
        replies=_count(stats, "commentCount"),
        impressions=_count(stats, "viewCount"),
        ref="video",
    )


def comment_from_resource(comment: Mapping[str, Any], in_reply_to_id: str | None) -> PostData:
    snippet = field_obj(comment, "snippet")
    comment_id = field_str(comment, "id")
    video_id = field_str(snippet, "videoId")
    if not comment_id:
        raise TransientProviderError("youtube: comment without id")
    return PostData(
        network="youtube",
        id=comment_id,
        author_user_id=field_str(field_obj(snippet, "authorChannelId"), "value"),
        author_handle=field_str(snippet, "authorDisplayName").removeprefix("@"),
        text=field_str(snippet, "textOriginal") or field_str(snippet, "textDisplay"),
        created_at=field_time(snippet, "publishedAt"),
        url=f"{_video_url(video_id)}&lc={comment_id}" if video_id else "",
        in_reply_to_id=in_reply_to_id or field_str(snippet, "parentId") or video_id or None,
        likes=_count(snippet, "likeCount"),
        ref="comment",
    )


def comment_from_thread(thread: Mapping[str, Any]) -> PostData:
    snippet = field_obj(thread, "snippet")
    top = field_obj(snippet, "topLevelComment")
    video_id = field_str(snippet, "videoId")
    top_snippet = {"videoId": video_id, **field_obj(top, "snippet")}
    comment = comment_from_resource({**top, "snippet": top_snippet}, video_id or None)
    replies = _count(snippet, "totalReplyCount")
    return PostData(
        network=comment.network,
        id=comment.id,
        author_user_id=comment.author_user_id,
        author_handle=comment.author_handle,
        text=comment.text,
        created_at=comment.created_at,
        url=comment.url,
        in_reply_to_id=comment.in_reply_to_id,
        likes=comment.likes,
        replies=replies,
        ref="comment",
    )
