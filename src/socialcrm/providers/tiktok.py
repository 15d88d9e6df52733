"""TikTok: Login Kit (OAuth 2.0 with ``client_key``), user info, own videos, Content Posting.

The public API reads only the signed-in creator: there is no lookup of other people by handle
or id, no mentions, no comments and no messages. Publishing takes photos or a video pulled
from URLs, never text alone: Direct Post first reads ``creator_info`` and posts with one of
the creator's privacy levels (``SELF_ONLY`` while TikTok has not audited the app), then reads
the publish status until the post exists. Answers carry ``{"data": …, "error": {"code":
"ok"|…}}``; limits are a one-minute sliding window, announced by 429 ``rate_limit_exceeded``
without a reset.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Self

import httpx

from socialcrm.core.numbers import is_ascii_number
from socialcrm.providers.adapter import NetworkOptions
from socialcrm.providers.base import (
    AppCredentials,
    CallContext,
    Capability,
    OAuthEndpoints,
    PostData,
    ProfileData,
    ProfileGone,
    ReconnectRequired,
    TransientProviderError,
)
from socialcrm.providers.limits import NO_RATE_HEADERS
from socialcrm.providers.oauth import OAuth2Adapter
from socialcrm.providers.outcomes import RequestRejected, TokenExpired
from socialcrm.providers.text import TextRule
from socialcrm.providers.wire import (
    JsonObject,
    QueryParams,
    Wire,
    field_int,
    field_list,
    field_obj,
    field_str,
    json_object,
    send,
    utc_now,
)


def _one_minute(now: datetime) -> datetime:
    return now + timedelta(minutes=1)


TIKTOK_WIRE = Wire("tiktok", NO_RATE_HEADERS, unauthorized=TokenExpired, window_end=_one_minute)
REAL_API_URL = "https://open.tiktokapis.com"
REAL_AUTH_URL = "https://www.tiktok.com"
DEFAULT_SCOPES = ("user.info.basic", "user.info.profile", "user.info.stats", "video.list")
PUBLISH_SCOPE = "video.publish"
USER_FIELDS = (
    "open_id,union_id,avatar_url,display_name,bio_description,profile_deep_link,"
    "is_verified,username,follower_count,following_count,likes_count,video_count"
)
VIDEO_FIELDS = (
    "id,title,video_description,create_time,share_url,like_count,comment_count,"
    "share_count,view_count"
)
VIDEO_SUFFIXES = (".mp4", ".mov", ".webm")
MAX_PHOTOS = 35
_DEAD_TOKEN_CODES = frozenset({"access_token_invalid", "scope_not_authorized"})
AUDIT_SETTING = "SOCIALCRM_TIKTOK_AUDITED"
PRIVATE = "SELF_ONLY"
# From most to least public: an audited app posts with the first one the creator allows.
PRIVACY_PREFERENCE = (
    "PUBLIC_TO_EVERYONE",
    "MUTUAL_FOLLOW_FRIENDS",
    "FOLLOWER_OF_CREATOR",
    PRIVATE,
)
STATUS_READS = 10  # status/fetch allows 30 a minute per token
_REFUSALS = {
    "unaudited_client_can_only_post_to_private_accounts": (
        f"TikTok lets an app it has not audited post only SELF_ONLY; unset {AUDIT_SETTING} "
        "until TikTok has audited this app"
    ),
    "privacy_level_option_mismatch": "the privacy level is not one the creator allows",
}


class TikTokProvider(OAuth2Adapter):
    name: ClassVar[str] = "tiktok"
    display_name: ClassVar[str] = "TikTok"
    sandbox_prefix: ClassVar[str] = "/tiktok"
    text_rule: ClassVar[TextRule] = TextRule(2200, "characters", 1000)
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {
            Capability.OAUTH,
            Capability.REFRESH,
            Capability.PROFILE,
            Capability.POSTS,
            Capability.PUBLISH_MEDIA,
            Capability.METRICS,
            Capability.REVOKE,
        }
    )
    capability_notes: ClassVar[Mapping[Capability, str]] = {
        Capability.POSTS: "the connected creator's own videos",
        Capability.PUBLISH_MEDIA: (
            "photos or a video from URLs; no text-only posts; private (SELF_ONLY) until "
            "TikTok has audited the app"
        ),
        Capability.METRICS: "the connected creator's own public videos",
    }
    capability_requires: ClassVar[Mapping[Capability, str]] = {
        Capability.POSTS: "TikTok app review of the video.list scope",
        Capability.PUBLISH_MEDIA: (
            "Content Posting API (video.publish) and TikTok's audit for posts others can see"
        ),
        Capability.METRICS: "TikTok app review of the video.list scope",
    }
    wire: ClassVar[Wire] = TIKTOK_WIRE
    # TikTok departs from RFC 6749: the client is "client_key" in every request, scopes are
    # separated by commas, and a revocation names no token type.
    scope_separator: ClassVar[str] = ","
    revoke_type_hint: ClassVar[bool] = False
    # Login Kit's code_challenge is the hex SHA-256 digest of the verifier, not RFC 7636's
    # base64url (developers.tiktok.com/doc/login-kit-desktop); the web flow accepts it too.
    pkce: ClassVar[str | None] = "hex"

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
            auth_base_url=sandbox_base or REAL_AUTH_URL,
            audited=options.tiktok_audited,
            poll_interval_s=options.poll_interval_s,
        )

    def __init__(
        self,
        http: httpx.AsyncClient,
        base_url: str,
        auth_base_url: str | None = None,
        *,
        audited: bool = False,
        poll_interval_s: float = 2.0,
    ) -> None:
        super().__init__(http, base_url, auth_base_url)
        self.audited = audited
        self.poll_interval_s = poll_interval_s

    # --- connecting ---------------------------------------------------------------------------

    def oauth_endpoints(self) -> OAuthEndpoints:
        return OAuthEndpoints(
            authorize_url=f"{self._auth_base}/v2/auth/authorize/",
            token_url=f"{self._base}/v2/oauth/token/",
            revoke_url=f"{self._base}/v2/oauth/revoke/",
            default_scopes=(*DEFAULT_SCOPES, PUBLISH_SCOPE),
        )

    def _client_params(self, app: AppCredentials) -> tuple[tuple[str, str], ...]:
        return (("client_key", app.client_id),)

    # --- reading --------------------------------------------------------------------------------

    async def me(self, ctx: CallContext) -> ProfileData:
        body = await self._call(ctx, "GET", "/v2/user/info/", params={"fields": USER_FIELDS})
        return profile_from_user(field_obj(field_obj(body, "data"), "user"))

    async def posts(self, ctx: CallContext, user_id: str, limit: int = 10) -> list[PostData]:
        """Only the connected creator's own videos are listable."""
        own_id, own_handle = await self._own_ids(ctx)
        if user_id not in (own_id, ""):
            raise ProfileGone("tiktok: only the connected creator's videos can be listed")
        body = await self._call(
            ctx,
            "POST",
            "/v2/video/list/",
            params={"fields": VIDEO_FIELDS},
            json={"max_count": min(max(limit, 1), 20)},
        )
        videos = field_list(field_obj(body, "data"), "videos")
        return [video_post(v, own_id, own_handle) for v in videos][:limit]

    async def metrics(self, ctx: CallContext, post_id: str) -> PostData:
        """A video's counts; a ``publish_id`` (a post not public, or still processing) is
        resolved through the publish status first."""
        if is_publish_id(post_id):
            return await self._published(ctx, post_id)
        if not is_ascii_number(post_id):
            raise ProfileGone(f"tiktok: video ids are numeric, not {post_id!r}")
        own_id, own_handle = await self._own_ids(ctx)
        body = await self._call(
            ctx,
            "POST",
            "/v2/video/query/",
            params={"fields": VIDEO_FIELDS},
            json={"filters": {"video_ids": [post_id]}},
        )
        videos = field_list(field_obj(body, "data"), "videos")
        if not videos:
            raise ProfileGone(f"tiktok: no video {post_id} of the connected creator")
        return video_post(videos[0], own_id, own_handle)

    # --- writing --------------------------------------------------------------------------------

    async def publish_media(
        self, ctx: CallContext, text: str, media_urls: tuple[str, ...]
    ) -> PostData:
        """Direct Post from URLs (one video, or up to 35 photos) with a privacy level the
        creator allows, then read the status until the post exists (or stays private)."""
        if not media_urls:
            raise RequestRejected(400, "tiktok: a post needs photos or a video")
        videos = [u for u in media_urls if u.lower().split("?", 1)[0].endswith(VIDEO_SUFFIXES)]
        if videos and len(media_urls) > 1:
            raise RequestRejected(400, "tiktok: a video is posted alone")
        if len(media_urls) > MAX_PHOTOS:
            raise RequestRejected(400, f"tiktok: at most {MAX_PHOTOS} photos per post")
        if not ctx.handle:
            await self._own(ctx)  # the post's URL names the creator
        creator = await self._call(ctx, "POST", "/v2/post/publish/creator_info/query/", json={})
        options = field_str_list(field_obj(creator, "data"), "privacy_level_options")
        privacy = choose_privacy(options, audited=self.audited)
        if videos:
            path = "/v2/post/publish/video/init/"
            payload: JsonObject = {
                "post_info": {"title": text, "privacy_level": privacy},
                "source_info": {"source": "PULL_FROM_URL", "video_url": videos[0]},
            }
        else:
            path = "/v2/post/publish/content/init/"
            payload = {
                "post_info": {"title": text[:90], "description": text, "privacy_level": privacy},
                "source_info": {
                    "source": "PULL_FROM_URL",
                    "photo_cover_index": 0,
                    "photo_images": list(media_urls),
                },
                "post_mode": "DIRECT_POST",
                "media_type": "PHOTO",
            }
        created = await self._call(ctx, "POST", path, json=payload)
        publish_id = field_str(field_obj(created, "data"), "publish_id")
        if not publish_id:
            raise TransientProviderError("tiktok: publish answer without publish_id")
        status: JsonObject = {}
        for read in range(STATUS_READS):
            if read:
                await asyncio.sleep(self.poll_interval_s)
            status = await self._status(ctx, publish_id)
            if is_final(status):
                break
        return published_post(status, publish_id, text, ctx)

    async def _status(self, ctx: CallContext, publish_id: str) -> JsonObject:
        body = await self._call(
            ctx, "POST", "/v2/post/publish/status/fetch/", json={"publish_id": publish_id}
        )
        return field_obj(body, "data")

    async def _published(self, ctx: CallContext, publish_id: str) -> PostData:
        """What became of a post known by its ``publish_id``."""
        status = await self._status(ctx, publish_id)
        if field_str(status, "status") == "FAILED":
            raise ProfileGone(f"tiktok: publishing {publish_id} failed")
        post = published_post(status, publish_id, "", ctx)
        if post.id != publish_id:
            return await self.metrics(ctx, post.id)
        if not is_final(status):
            raise TransientProviderError("tiktok: the post is still being processed")
        return post

    # --- plumbing ---------------------------------------------------------------------------------

    async def _own_ids(self, ctx: CallContext) -> tuple[str, str]:
        """The connected creator's open_id and username (read once per call context)."""
        if not ctx.user_id or not ctx.handle:
            await self._own(ctx)
        return ctx.user_id, ctx.handle

    async def _own(self, ctx: CallContext) -> ProfileData:
        profile = await self.me(ctx)
        ctx.user_id, ctx.handle = profile.user_id, profile.handle
        return profile

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
            TIKTOK_WIRE,
            method,
            self._base + path,
            token=ctx.access_token,
            ctx=ctx,
            params=params,
            json=json,
        )
        body = json_object(response, TIKTOK_WIRE)
        raise_for_tiktok_error(response.status_code, body)
        return body


# --- pure payload mapping -------------------------------------------------------------------------


def raise_for_tiktok_error(status: int, body: Mapping[str, Any]) -> None:
    """``error.code`` is ``"ok"`` on success, whatever the HTTP status says."""
    error = field_obj(body, "error")
    code = field_str(error, "code") or ("ok" if status < 400 else f"http_{status}")
    if code == "ok":
        return
    message = f"tiktok: {code} ({field_str(error, 'message')})"
    if code in _REFUSALS:
        raise RequestRejected(status if status >= 400 else 403, f"{message}: {_REFUSALS[code]}")
    if code in _DEAD_TOKEN_CODES:
        raise ReconnectRequired(message)
    if status == 404 or code in {"not_found", "video_not_found", "user_not_found"}:
        raise ProfileGone(message)
    raise RequestRejected(status if status >= 400 else 400, message)


def profile_from_user(user: Mapping[str, Any]) -> ProfileData:
    open_id = field_str(user, "open_id")
    if not open_id:
        raise TransientProviderError("tiktok: user info without open_id")
    username = field_str(user, "username")
    return ProfileData(
        network="tiktok",
        user_id=open_id,
        handle=username or open_id,
        display_name=field_str(user, "display_name"),
        bio=field_str(user, "bio_description"),
        avatar_url=field_str(user, "avatar_url"),
        followers=field_int(user, "follower_count"),
        following=field_int(user, "following_count"),
        post_count=field_int(user, "video_count"),
        profile_url=field_str(user, "profile_deep_link")
        or (f"https://www.tiktok.com/@{username}" if username else ""),
    )


def video_post(video: Mapping[str, Any], owner_id: str, owner_handle: str) -> PostData:
    created = field_int(video, "create_time")
    return PostData(
        network="tiktok",
        id=field_str(video, "id"),
        author_user_id=owner_id,
        author_handle=owner_handle,
        text=field_str(video, "video_description") or field_str(video, "title"),
        created_at=datetime.fromtimestamp(created, tz=UTC) if created else None,
        url=field_str(video, "share_url"),
        likes=field_int(video, "like_count"),
        reposts=field_int(video, "share_count"),
        replies=field_int(video, "comment_count"),
        impressions=field_int(video, "view_count"),
    )


def field_str_list(data: Mapping[str, Any], key: str) -> list[str]:
    value = data.get(key)
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def choose_privacy(options: Sequence[str], *, audited: bool) -> str:
    """``SELF_ONLY`` for an unaudited app; else the most public level the creator allows."""
    wanted = [PRIVATE] if not audited else [p for p in PRIVACY_PREFERENCE if p in options]
    if not wanted or wanted[0] not in options:
        raise RequestRejected(
            403, f"tiktok: the creator allows none of {wanted or list(PRIVACY_PREFERENCE)}"
        )
    return wanted[0]


def is_publish_id(post_id: str) -> bool:
    """TikTok's publish ids (``v_pub_url~v2-1.…``), never all digits like a video id."""
    return bool(post_id) and not post_id.isdigit() and "~" in post_id


def is_final(status: Mapping[str, Any]) -> bool:
    return field_str(status, "status") in ("PUBLISH_COMPLETE", "FAILED")


def published_post(
    status: Mapping[str, Any], publish_id: str, text: str, ctx: CallContext
) -> PostData:
    """A public post has its video id; a private one (``SELF_ONLY``: TikTok never shows it
    an id) or one still processing keeps its ``publish_id``, which ``metrics`` resolves."""
    state = field_str(status, "status")
    if state == "FAILED":
        reason = field_str(status, "fail_reason") or "unknown"
        raise RequestRejected(400, f"tiktok: publishing failed ({reason})")
    # The API spells it "publicaly_available_post_id".
    ids = status.get("publicaly_available_post_id")
    post_ids = [str(i) for i in ids] if isinstance(ids, list) else []
    post_id = post_ids[0] if post_ids else publish_id
    url = f"https://www.tiktok.com/@{ctx.handle}/video/{post_id}" if post_ids and ctx.handle else ""
    return PostData(
        network="tiktok",
        id=post_id,
        author_user_id=ctx.user_id,
        author_handle=ctx.handle,
        text=text,
        created_at=utc_now(),
        url=url,
        ref=publish_id,
    )
