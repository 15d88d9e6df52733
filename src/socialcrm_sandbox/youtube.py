"""YouTube Data API v3 under ``/youtube/youtube/v3``: channels, uploads, videos, comments.

A world account is a channel (``UC…``); its posts are videos, replies to a video are
top-level comments (thread = comment id) and replies to those are thread replies. Each call
spends quota units (list 1, insert 50); over the budget the answer is 403 ``quotaExceeded``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from socialcrm_sandbox.callers import caller_account
from socialcrm_sandbox.gate import NetworkError, admit, sandbox_state
from socialcrm_sandbox.paging import as_int, clamp
from socialcrm_sandbox.signals import google_error
from socialcrm_sandbox.times import iso_z
from socialcrm_sandbox.traffic import Family
from socialcrm_sandbox.world import Account, Post, World

router = APIRouter(prefix="/youtube/youtube/v3", tags=["sandbox: youtube"])

LIST_COST = 1
INSERT_COST = 50
COMMENT_PREFIX = "Ugz"
MAX_COMMENT = 10_000


def video_id(post: Post) -> str:
    return f"v{int(post.id):010d}"


def comment_id(post: Post, world: World | None = None) -> str:
    """``Ugz<n>`` for a top-level comment; a reply's id is ``<top-level id>.<n>``, as YouTube's."""
    parent = world.parent_of(post) if world is not None else None
    if parent is not None and parent.in_reply_to_id is not None:
        return f"{comment_id(parent)}.{post.id}"
    return f"{COMMENT_PREFIX}{post.id}"


def _post_for(world: World, public_id: str) -> Post | None:
    if public_id.startswith("v") and public_id[1:].isdigit():
        post = world.post("youtube", str(int(public_id[1:])))
        return post if post is not None and post.in_reply_to_id is None else None
    top, _, reply = public_id.removeprefix(COMMENT_PREFIX).partition(".")
    number = reply or top
    if public_id.startswith(COMMENT_PREFIX) and number.isdigit() and (not reply or top.isdigit()):
        post = world.post("youtube", number)
        return post if post is not None and post.in_reply_to_id is not None else None
    return None


def _is_reply(world: World, comment: Post) -> bool:
    parent = world.parent_of(comment)
    return parent is not None and parent.in_reply_to_id is not None


def _refuse(status: int, reason: str, message: str) -> NetworkError:
    return NetworkError(status, google_error(status, reason, message))


def _caller(request: Request) -> Account:
    message = (
        "Request had invalid authentication credentials. Expected OAuth 2 access token, login "
        "cookie or other valid authentication credential."
    )
    body = google_error(401, "authError", message)
    body["error"]["status"] = "UNAUTHENTICATED"
    return caller_account(request, "youtube", NetworkError(401, body))


def channel_json(account: Account, videos: int) -> dict[str, Any]:
    return {
        "kind": "youtube#channel",
        "etag": f"etag-{account.user_id}",
        "id": account.user_id,
        "snippet": {
            "title": account.display_name,
            "description": account.bio,
            "customUrl": f"@{account.handle}",
            "publishedAt": iso_z(account.created_at),
            "thumbnails": {"default": {"url": account.avatar_url or "", "width": 88, "height": 88}},
            "country": (account.location or "").rpartition(", ")[2][:2].upper() or None,
        },
        "statistics": {
            "viewCount": str(account.followers * 37),
            "subscriberCount": str(account.followers),
            "hiddenSubscriberCount": False,
            "videoCount": str(videos),
        },
        "contentDetails": {
            "relatedPlaylists": {"likes": "", "uploads": "UU" + account.user_id[2:]}
        },
    }


def _list(kind: str, items: list[dict[str, Any]], per_page: int) -> dict[str, Any]:
    return {
        "kind": f"youtube#{kind}ListResponse",
        "etag": f"etag-{kind}-{len(items)}",
        "pageInfo": {"totalResults": len(items), "resultsPerPage": per_page},
        "items": items,
    }


def video_json(post: Post, world: World) -> dict[str, Any]:
    return {
        "kind": "youtube#video",
        "etag": f"etag-{post.id}",
        "id": video_id(post),
        "snippet": {
            "publishedAt": iso_z(post.created_at),
            "channelId": post.author_id,
            "title": post.text,
            "description": "",
        },
        "statistics": {
            "viewCount": str(post.metrics.impressions),
            "likeCount": str(post.metrics.likes),
            "favoriteCount": "0",
            "commentCount": str(world.reply_count(post)),
        },
    }


def comment_json(post: Post, world: World) -> dict[str, Any]:
    author = world.account_by_id("youtube", post.author_id)
    parent = world.parent_of(post)
    snippet: dict[str, Any] = {
        "authorDisplayName": f"@{author.handle}" if author else "",
        "authorChannelUrl": f"http://www.youtube.com/@{author.handle}" if author else "",
        "authorChannelId": {"value": post.author_id},
        "textDisplay": post.text,
        "textOriginal": post.text,
        "canRate": True,
        "viewerRating": "none",
        "likeCount": post.metrics.likes,
        "publishedAt": iso_z(post.created_at),
        "updatedAt": iso_z(post.created_at),
    }
    if parent is not None and parent.in_reply_to_id is not None:
        snippet["parentId"] = comment_id(parent)
    root = world.thread_root(post)
    snippet["videoId"] = video_id(root)
    return {
        "kind": "youtube#comment",
        "etag": f"etag-{post.id}",
        "id": comment_id(post, world),
        "snippet": snippet,
    }


def thread_json(post: Post, world: World) -> dict[str, Any]:
    root = world.thread_root(post)
    return {
        "kind": "youtube#commentThread",
        "etag": f"etag-thread-{post.id}",
        "id": comment_id(post, world),
        "snippet": {
            "channelId": root.author_id,
            "videoId": video_id(root),
            "topLevelComment": comment_json(post, world),
            "canReply": True,
            "totalReplyCount": world.reply_count(post),
            "isPublic": True,
        },
    }


@router.get("/channels")
async def channels(request: Request) -> dict[str, Any]:
    query = request.query_params
    family: Family = "profile" if query.get("mine") or query.get("id") else "lookup_handle"
    await admit(request, "youtube", family, LIST_COST)
    me = _caller(request)
    world = sandbox_state(request).world
    found: list[Account] = []
    if query.get("mine") == "true":
        found = [me]
    elif query.get("id"):
        found = [a for i in query["id"].split(",") if (a := world.account_by_id("youtube", i))]
    elif query.get("forHandle"):
        handle = query["forHandle"].removeprefix("@")
        found = [a for a in [world.account_by_handle("youtube", handle)] if a]
    elif query.get("forUsername"):
        found = [a for a in [world.account_by_handle("youtube", query["forUsername"])] if a]
    else:
        message = "No filter selected. Expected one of: forHandle, forUsername, id, mine"
        raise _refuse(400, "missingRequiredParameter", message)
    items = [channel_json(a, world.posts_count("youtube", a.user_id)) for a in found]
    body = _list("channel", items, 5)
    if not items:
        del body["items"]  # YouTube leaves "items" out when nothing matched
    return body


@router.get("/playlistItems")
async def playlist_items(request: Request) -> dict[str, Any]:
    await admit(request, "youtube", "posts", LIST_COST)
    _caller(request)
    query = request.query_params
    playlist = query.get("playlistId", "")
    world = sandbox_state(request).world
    channel = (
        world.account_by_id("youtube", "UC" + playlist[2:]) if playlist.startswith("UU") else None
    )
    if channel is None:
        message = (
            "The playlist identified with the request's <code>playlistId</code> parameter "
            "cannot be found."
        )
        raise _refuse(404, "playlistNotFound", message)
    per_page = clamp(as_int(query.get("maxResults")), 5, 50, 0)
    videos = [p for p in world.posts_by("youtube", channel.user_id) if p.in_reply_to_id is None]
    items = [
        {
            "kind": "youtube#playlistItem",
            "etag": f"etag-item-{p.id}",
            "id": f"item-{p.id}",
            "snippet": {
                "publishedAt": iso_z(p.created_at),
                "channelId": channel.user_id,
                "title": p.text,
                "description": "",
                "playlistId": playlist,
                "position": index,
                "resourceId": {"kind": "youtube#video", "videoId": video_id(p)},
                "videoOwnerChannelTitle": channel.display_name,
                "videoOwnerChannelId": channel.user_id,
            },
            "contentDetails": {"videoId": video_id(p), "videoPublishedAt": iso_z(p.created_at)},
        }
        for index, p in enumerate(videos[:per_page])
    ]
    body = _list("playlistItem", items, per_page)
    body["pageInfo"]["totalResults"] = len(videos)
    return body


@router.get("/videos")
async def videos(request: Request) -> dict[str, Any]:
    await admit(request, "youtube", "metrics", LIST_COST)
    _caller(request)
    world = sandbox_state(request).world
    ids = [i for i in request.query_params.get("id", "").split(",") if i]
    found = [
        p for p in (_post_for(world, i) for i in ids) if p is not None and p.in_reply_to_id is None
    ]
    return _list("video", [video_json(p, world) for p in found], 5)


@router.get("/commentThreads")
async def comment_threads(request: Request) -> dict[str, Any]:
    await admit(request, "youtube", "posts", LIST_COST)
    _caller(request)
    query = request.query_params
    world = sandbox_state(request).world
    video = _post_for(world, query.get("videoId", ""))
    if video is None:
        message = (
            "The video identified by the <code><a "
            'href="/youtube/v3/docs/commentThreads/list#videoId">videoId</a></code> parameter '
            "could not be found."
        )
        raise _refuse(404, "videoNotFound", message)
    per_page = clamp(as_int(query.get("maxResults")), 20, 100)
    threads = world.replies_to("youtube", video.id)
    return _list("commentThread", [thread_json(p, world) for p in threads[:per_page]], per_page)


@router.get("/comments")
async def list_comments(request: Request) -> dict[str, Any]:
    """comments.list by ``parentId``: the replies in a top-level comment's thread."""
    await admit(request, "youtube", "posts", LIST_COST)
    _caller(request)
    query = request.query_params
    world = sandbox_state(request).world
    parent = _post_for(world, query.get("parentId", ""))
    if parent is None or parent.in_reply_to_id is None or _is_reply(world, parent):
        raise _refuse(
            404,
            "commentNotFound",
            "The comment identified by the parentId parameter could not be found.",
        )
    per_page = clamp(as_int(query.get("maxResults")), 20, 100)
    replies = world.replies_to("youtube", parent.id)
    return _list("comment", [comment_json(p, world) for p in replies[:per_page]], per_page)


class _TopLevel(BaseModel):
    model_config = ConfigDict(extra="ignore")
    snippet: dict[str, Any]


class _ThreadSnippet(BaseModel):
    model_config = ConfigDict(extra="ignore")
    video_id: str = Field(alias="videoId")
    top_level_comment: _TopLevel = Field(alias="topLevelComment")


class ThreadIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    snippet: _ThreadSnippet


class _CommentSnippet(BaseModel):
    model_config = ConfigDict(extra="ignore")
    parent_id: str = Field(alias="parentId")
    text_original: str = Field(alias="textOriginal")


class CommentIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    snippet: _CommentSnippet


def _comment_text(text: object) -> str:
    if not isinstance(text, str) or not text.strip():
        raise _refuse(400, "invalidCommentMetadata", "The comment text must not be empty.")
    if len(text) > MAX_COMMENT:
        raise _refuse(400, "commentTextTooLong", "The comment text is too long.")
    return text


@router.post("/commentThreads")
async def insert_thread(body: ThreadIn, request: Request) -> dict[str, Any]:
    await admit(request, "youtube", "reply", INSERT_COST)
    me = _caller(request)
    world = sandbox_state(request).world
    video = _post_for(world, body.snippet.video_id)
    if video is None or video.in_reply_to_id is not None:
        raise _refuse(
            404,
            "videoNotFound",
            "The video identified by the videoId parameter could not be found.",
        )
    text = _comment_text(body.snippet.top_level_comment.snippet.get("textOriginal"))
    post = world.add_post("youtube", me.user_id, text, in_reply_to_id=video.id)
    return thread_json(post, world)


@router.post("/comments")
async def insert_comment(body: CommentIn, request: Request) -> dict[str, Any]:
    await admit(request, "youtube", "reply", INSERT_COST)
    me = _caller(request)
    world = sandbox_state(request).world
    parent = _post_for(world, body.snippet.parent_id)
    if parent is None or parent.in_reply_to_id is None:
        raise _refuse(
            404,
            "commentNotFound",
            "The comment identified by the parentId parameter could not be found.",
        )
    if _is_reply(world, parent):  # CommentSnippet.parentId: "the top-level comment"
        raise _refuse(
            400,
            "invalidCommentMetadata",
            "The parentId parameter must identify a top-level comment, not a reply.",
        )
    post = world.add_post(
        "youtube", me.user_id, _comment_text(body.snippet.text_original), in_reply_to_id=parent.id
    )
    return comment_json(post, world)
