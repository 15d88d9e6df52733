"""TikTok: Login Kit (OAuth 2.0 with ``client_key``), user info, own videos, Content Posting.

The public API reads only the signed-in creator: there is no lookup of other people by handle
or id, no mentions, no comments and no messages. Publishing takes photos or a video pulled
from URLs, never text alone. Answers carry ``{"data": …, "error": {"code": "ok"|…}}``; limits
are a one-minute sliding window, announced by 429 ``rate_limit_exceeded`` without a reset.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

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


class TikTokProvider(OAuth2Adapter):
    name: ClassVar[str] = "tiktok"
    display_name: ClassVar[str] = "TikTok"
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
        Capability.PUBLISH_MEDIA: "photos or a video from URLs; no text-only posts",
        Capability.METRICS: "the connected creator's own videos",
    }
    wire: ClassVar[Wire] = TIKTOK_WIRE
    # TikTok departs from RFC 6749: the client is "client_key" in every request, scopes are
    # separated by commas, and a revocation names no token type.
    scope_separator: ClassVar[str] = ","
    revoke_type_hint: ClassVar[bool] = False
    # Login Kit's code_challenge is the hex SHA-256 digest of the verifier, not RFC 7636's
    # base64url (developers.tiktok.com/doc/login-kit-desktop); the web flow accepts it too.
    pkce: ClassVar[str | None] = "hex"

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
        if not post_id.isdigit():
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
        """Direct Post from URLs: one video, or up to 35 photos; then read its status once."""
        if not media_urls:
            raise RequestRejected(400, "tiktok: a post needs photos or a video")
        videos = [u for u in media_urls if u.lower().split("?", 1)[0].endswith(VIDEO_SUFFIXES)]
        if videos and len(media_urls) > 1:
            raise RequestRejected(400, "tiktok: a video is posted alone")
        if len(media_urls) > MAX_PHOTOS:
            raise RequestRejected(400, f"tiktok: at most {MAX_PHOTOS} photos per post")
        if not ctx.handle:
            await self._own(ctx)  # the post's URL names the creator
        post_info = {"title": text[:90], "description": text, "privacy_level": "PUBLIC_TO_EVERYONE"}
        if videos:
            path = "/v2/post/publish/video/init/"
            payload: JsonObject = {
                "post_info": {"title": text, "privacy_level": "PUBLIC_TO_EVERYONE"},
                "source_info": {"source": "PULL_FROM_URL", "video_url": videos[0]},
            }
        else:
            path = "/v2/post/publish/content/init/"
            payload = {
                "post_info": post_info,
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
        status = await self._call(
            ctx, "POST", "/v2/post/publish/status/fetch/", json={"publish_id": publish_id}
        )
        return published_post(field_obj(status, "data"), publish_id, text, ctx)

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


def published_post(
    status: Mapping[str, Any], publish_id: str, text: str, ctx: CallContext
) -> PostData:
    """A post still processing keeps the ``publish_id``; a finished one has its video id."""
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
