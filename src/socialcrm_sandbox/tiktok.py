"""TikTok's Open API under ``/tiktok/v2``: Login Kit user info, own videos, Content Posting.

Every answer is ``{"data": …, "error": {"code": "ok", "message": "", "log_id": …}}``.
Only the token's own creator is readable. Direct Post takes one of the creator's
``privacy_level_options`` (from ``creator_info/query``; anything else is 403
``privacy_level_option_mismatch``), and an app TikTok has not audited may post only
``SELF_ONLY`` (403 ``unaudited_client_can_only_post_to_private_accounts``). A post is
processed before it exists: its first status read says ``PROCESSING_DOWNLOAD``, the next
``PUBLISH_COMPLETE``, with ``publicaly_available_post_id`` only for a public post. Over the
budget: 429 ``rate_limit_exceeded``.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request

from socialcrm_sandbox.bodies import read_fields
from socialcrm_sandbox.callers import caller_account, caller_grant
from socialcrm_sandbox.gate import NetworkError, admit, sandbox_state
from socialcrm_sandbox.signals import tiktok_error
from socialcrm_sandbox.world import Account, Post, World

router = APIRouter(prefix="/tiktok/v2", tags=["sandbox: tiktok"])

USER_FIELDS = frozenset(
    [
        "open_id",
        "union_id",
        "avatar_url",
        "avatar_url_100",
        "avatar_large_url",
        "display_name",
        "bio_description",
        "profile_deep_link",
        "is_verified",
        "username",
        "follower_count",
        "following_count",
        "likes_count",
        "video_count",
    ]
)
VIDEO_FIELDS = frozenset(
    [
        "id",
        "create_time",
        "cover_image_url",
        "share_url",
        "video_description",
        "duration",
        "height",
        "width",
        "title",
        "embed_html",
        "embed_link",
        "like_count",
        "comment_count",
        "share_count",
        "view_count",
    ]
)
PRIVACY_LEVELS = ("PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "SELF_ONLY")
PRIVATE = "SELF_ONLY"


def _ok(data: dict[str, Any]) -> dict[str, Any]:
    return {"data": data, "error": {"code": "ok", "message": "", "log_id": secrets.token_hex(16)}}


def _refuse(status: int, code: str, message: str) -> NetworkError:
    return NetworkError(status, tiktok_error(code, message))


_INVALID_TOKEN = (
    "access_token_invalid",
    "The access token is invalid or not found in the request.",
)


def _caller(request: Request) -> Account:
    return caller_account(request, "tiktok", _refuse(401, *_INVALID_TOKEN))


def _caller_app_audited(request: Request) -> tuple[Account, bool]:
    """The creator and whether the token's app passed TikTok's audit."""
    account, token = caller_grant(request, "tiktok", _refuse(401, *_INVALID_TOKEN))
    app = sandbox_state(request).grants.app("tiktok", token.client_id or "")
    return account, app is not None and app.audited


def _wanted(request: Request, allowed: frozenset[str]) -> list[str]:
    fields = [f for f in request.query_params.get("fields", "").split(",") if f]
    unknown = [f for f in fields if f not in allowed]
    if not fields or unknown:
        raise _refuse(400, "invalid_params", f"Invalid fields: {','.join(unknown) or '(none)'}")
    return fields


def user_json(account: Account, world: World) -> dict[str, Any]:
    videos = world.posts_by("tiktok", account.user_id)
    return {
        "open_id": account.user_id,
        "union_id": f"union-{account.user_id}",
        "avatar_url": account.avatar_url or "",
        "avatar_url_100": account.avatar_url or "",
        "avatar_large_url": account.avatar_url or "",
        "display_name": account.display_name,
        "bio_description": account.bio,
        "profile_deep_link": f"https://vm.tiktok.com/{account.handle}/",
        "is_verified": False,
        "username": account.handle,
        "follower_count": account.followers,
        "following_count": account.following,
        "likes_count": sum(p.metrics.likes for p in videos),
        "video_count": len(videos),
    }


def video_json(post: Post, world: World) -> dict[str, Any]:
    author = world.account_by_id("tiktok", post.author_id)
    handle = author.handle if author else ""
    return {
        "id": post.id,
        "create_time": int(post.created_at.timestamp()),
        "cover_image_url": f"https://p16-sign.tiktokcdn.com/{post.id}.jpeg",
        "share_url": f"https://www.tiktok.com/@{handle}/video/{post.id}",
        "video_description": post.text,
        "title": post.text[:90],
        "duration": 15,
        "height": 1920,
        "width": 1080,
        "embed_link": f"https://www.tiktok.com/player/v1/{post.id}",
        "like_count": post.metrics.likes,
        "comment_count": world.reply_count(post),
        "share_count": post.metrics.reposts,
        "view_count": post.metrics.impressions,
    }


def _only(fields: list[str], full: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in full.items() if k in fields}


@router.get("/user/info/")
async def user_info(request: Request) -> dict[str, Any]:
    await admit(request, "tiktok", "profile")
    me = _caller(request)
    fields = _wanted(request, USER_FIELDS)
    return _ok({"user": _only(fields, user_json(me, sandbox_state(request).world))})


@router.post("/video/list/")
async def video_list(request: Request) -> dict[str, Any]:
    body = await read_fields(request)
    await admit(request, "tiktok", "posts")
    me = _caller(request)
    fields = _wanted(request, VIDEO_FIELDS)
    max_count = body.get("max_count", 10)
    if not isinstance(max_count, int) or not 1 <= max_count <= 20:
        raise _refuse(400, "invalid_params", "max_count must be between 1 and 20")
    cursor = body.get("cursor")
    world = sandbox_state(request).world
    videos = [p for p in world.posts_by("tiktok", me.user_id) if p.in_reply_to_id is None]
    if isinstance(cursor, int):
        videos = [p for p in videos if int(p.created_at.timestamp() * 1000) < cursor]
    page = videos[:max_count]
    next_cursor = int(page[-1].created_at.timestamp() * 1000) if page else 0
    return _ok(
        {
            "videos": [_only(fields, video_json(p, world)) for p in page],
            "cursor": next_cursor,
            "has_more": len(videos) > max_count,
        }
    )


@router.post("/video/query/")
async def video_query(request: Request) -> dict[str, Any]:
    body = await read_fields(request)
    await admit(request, "tiktok", "metrics")
    me = _caller(request)
    fields = _wanted(request, VIDEO_FIELDS)
    filters = body.get("filters")
    ids = filters.get("video_ids") if isinstance(filters, dict) else None
    if not isinstance(ids, list) or not 1 <= len(ids) <= 20:
        raise _refuse(400, "invalid_params", "filters.video_ids must list 1-20 video ids")
    world = sandbox_state(request).world
    found = [world.post("tiktok", str(i)) for i in ids]
    own = [p for p in found if p is not None and p.author_id == me.user_id]
    return _ok({"videos": [_only(fields, video_json(p, world)) for p in own]})


@dataclass
class _Publish:
    owner_id: str
    post_id: str
    privacy: str
    reads: int = 0


def _publishes(request: Request) -> dict[str, _Publish]:
    state = request.app.state
    if not hasattr(state, "tiktok_publishes"):
        state.tiktok_publishes = {}
    found: dict[str, _Publish] = state.tiktok_publishes
    return found


@router.post("/post/publish/creator_info/query/")
async def creator_info(request: Request) -> dict[str, Any]:
    await admit(request, "tiktok", "profile")
    me = _caller(request)
    return _ok(
        {
            "creator_avatar_url": me.avatar_url or "",
            "creator_username": me.handle,
            "creator_nickname": me.display_name,
            "privacy_level_options": list(PRIVACY_LEVELS),
            "comment_disabled": False,
            "duet_disabled": False,
            "stitch_disabled": False,
            "max_video_post_duration_sec": 600,
        }
    )


def _start_publish(request: Request, me: Account, text: str, privacy: str) -> dict[str, Any]:
    world = sandbox_state(request).world
    if privacy == PRIVATE:
        post = world.add_post("tiktok", me.user_id, text, visibility="private")
    else:
        post = world.add_post("tiktok", me.user_id, text)
    publish_id = f"v_pub_url~v2-1.{secrets.randbelow(10**18)}"
    _publishes(request)[publish_id] = _Publish(me.user_id, post.id, privacy)
    return _ok({"publish_id": publish_id})


def _privacy(body: dict[str, Any], audited: bool) -> tuple[dict[str, Any], str]:
    info = body.get("post_info")
    level = info.get("privacy_level") if isinstance(info, dict) else None
    if not isinstance(info, dict) or not isinstance(level, str):
        raise _refuse(400, "invalid_param", "post_info.privacy_level is required")
    if level not in PRIVACY_LEVELS:
        raise _refuse(
            403,
            "privacy_level_option_mismatch",
            "privacy_level is not one of the creator's privacy_level_options",
        )
    if level != PRIVATE and not audited:
        raise _refuse(
            403,
            "unaudited_client_can_only_post_to_private_accounts",
            "Unaudited clients can only post with SELF_ONLY visibility until the app passes "
            "TikTok's audit.",
        )
    return info, level


@router.post("/post/publish/content/init/")
async def publish_photos(request: Request) -> dict[str, Any]:
    body = await read_fields(request)
    await admit(request, "tiktok", "publish")
    me, audited = _caller_app_audited(request)
    info, privacy = _privacy(body, audited)
    source = body.get("source_info")
    photos = source.get("photo_images") if isinstance(source, dict) else None
    if (
        body.get("media_type") != "PHOTO"
        or not isinstance(source, dict)
        or source.get("source") != "PULL_FROM_URL"
        or not isinstance(photos, list)
        or not 1 <= len(photos) <= 35
        or not all(isinstance(u, str) and u.startswith("https://") for u in photos)
    ):
        raise _refuse(400, "invalid_param", "PHOTO posts pull 1-35 https:// images")
    text = str(info.get("description") or info.get("title") or "")
    return _start_publish(request, me, text, privacy)


@router.post("/post/publish/video/init/")
async def publish_video(request: Request) -> dict[str, Any]:
    body = await read_fields(request)
    await admit(request, "tiktok", "publish")
    me, audited = _caller_app_audited(request)
    info, privacy = _privacy(body, audited)
    source = body.get("source_info")
    url = source.get("video_url") if isinstance(source, dict) else None
    if not isinstance(url, str) or not url.startswith("https://"):
        raise _refuse(400, "invalid_param", "source_info.video_url must be an https:// URL")
    return _start_publish(request, me, str(info.get("title") or ""), privacy)


@router.post("/post/publish/status/fetch/")
async def publish_status(request: Request) -> dict[str, Any]:
    """Processing on the first read, complete from the second; a public id only if public."""
    body = await read_fields(request)
    await admit(request, "tiktok", "publish")
    me = _caller(request)
    found = _publishes(request).get(str(body.get("publish_id", "")))
    if found is None:
        raise _refuse(400, "invalid_publish_id", "The publish_id does not exist")
    if found.owner_id != me.user_id:
        raise _refuse(
            400,
            "token_not_authorized_for_specified_publish_id",
            "The access token is not authorized for this publish_id",
        )
    found.reads += 1
    if found.reads == 1:
        return _ok({"status": "PROCESSING_DOWNLOAD", "downloaded_bytes": 0})
    data: dict[str, Any] = {"status": "PUBLISH_COMPLETE", "downloaded_bytes": 1024}
    if found.privacy == "PUBLIC_TO_EVERYONE":
        data["publicaly_available_post_id"] = [int(found.post_id)]
    return _ok(data)
