"""Meta's Graph API under ``/facebook/v26.0`` (Pages) and ``/instagram/v26.0`` (professional
accounts, Instagram Login): nodes, edges, publishing, comments, Messenger, tokens.

Facebook Login signs in a *person*: their token lists the Pages they manage with each Page's
own token (``/me/accounts``), and only a Page token may act as the Page (a user token gets
``(#190) This method must be called with a Page Access Token``). Short-lived tokens trade for
long-lived ones (``fb_exchange_token``, ``ig_exchange_token``; Instagram's refresh with
``ig_refresh_token``). The Instagram-Login host has no ``business_discovery`` and no
``/tags`` edge (Facebook Login only), and a video container is ``IN_PROGRESS`` for its first
two reads: publishing it earlier fails. Errors are Graph error objects; over a budget a call
gets code 32 (Page) or 80002 (Instagram account), and every answer carries ``X-App-Usage`` /
``X-Business-Use-Case-Usage``.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from starlette.datastructures import State

from socialcrm_sandbox.bodies import read_fields, text_field
from socialcrm_sandbox.callers import caller_account, caller_grant
from socialcrm_sandbox.gate import NetworkError, admit, bearer_token, sandbox_state
from socialcrm_sandbox.schema import Network
from socialcrm_sandbox.signals import graph_error
from socialcrm_sandbox.world import Account, Post, World

GRAPH_VERSION = "v26.0"
LONG_LIVED_S = 60 * 24 * 3600.0  # Meta's long-lived user tokens: 60 days
CONTAINER_PROCESSING_READS = 2  # a video container answers IN_PROGRESS this often
PAGE_SIZE_MAX = 100
MAX_TEXT = 63_206  # Facebook's post length limit
MAX_CAPTION = 2_200  # Instagram's caption limit
_DISCOVERY = re.compile(r"business_discovery\.username\(([A-Za-z0-9._]{1,30})\)")
_NODE = re.compile(r"[0-9]{1,20}(?:_[0-9]{1,20})?")


def _graph_time(post: Post) -> str:
    return post.created_at.strftime("%Y-%m-%dT%H:%M:%S+0000")


def _refuse(status: int, code: int, message: str, subcode: int | None = None) -> NetworkError:
    return NetworkError(status, graph_error(code, message, subcode))


def _unsupported(node: str) -> NetworkError:
    message = (
        f"Unsupported get request. Object with ID '{node}' does not exist, cannot be loaded "
        "due to missing permissions, or does not support this operation."
    )
    return _refuse(400, 100, message, 33)


def _caller(request: Request, network: Network) -> Account:
    refusal = _refuse(401, 190, "Invalid OAuth access token - Cannot parse access token")
    return caller_account(request, network, refusal)


def _page_caller(request: Request) -> Account:
    """Acting as a Page takes that Page's own token, never the user token that listed it."""
    me = _caller(request, "facebook")
    if me.account_type != "page":
        raise _refuse(400, 190, "(#190) This method must be called with a Page Access Token")
    return me


def _token_value(request: Request) -> str:
    return bearer_token(request) or request.query_params.get("access_token", "")


async def _fields(request: Request) -> dict[str, Any]:
    """Graph POSTs take parameters from the query string or the body (form or JSON)."""
    return {**dict(request.query_params), **await read_fields(request)}


@dataclass
class _Container:
    owner_id: str
    caption: str
    media_url: str
    is_video: bool
    children: list[str] = field(default_factory=list)
    carousel_item: bool = False
    reads: int = 0  # status reads so far: a video is processed over time

    def status_code(self) -> str:
        if self.is_video and self.reads <= CONTAINER_PROCESSING_READS:
            return "IN_PROGRESS"
        return "FINISHED"


def _containers(request: Request) -> dict[str, _Container]:
    state: State = request.app.state
    if not hasattr(state, "instagram_containers"):
        state.instagram_containers = {}
    found: dict[str, _Container] = state.instagram_containers
    return found


def _post_of(world: World, network: Network, node: str) -> Post | None:
    if not _NODE.fullmatch(node):
        return None
    author, _, post_id = node.rpartition("_")
    post = world.post(network, post_id)
    if post is None or (author and post.author_id != author):
        return None
    return post


def _page(network: Network, items: list[Post], request: Request, render: Any) -> dict[str, Any]:
    query = request.query_params
    limit = max(1, min(int(query.get("limit", "25") or 25), PAGE_SIZE_MAX))
    since = query.get("since", "")
    after = query.get("after", "")
    chosen = [p for p in items if not since.isdigit() or p.created_at.timestamp() >= int(since)]
    if after.isdigit():
        chosen = [p for p in chosen if int(p.id) < int(after)]
    page = chosen[:limit]
    body: dict[str, Any] = {"data": [render(p) for p in page]}
    if page:
        cursors = {"before": page[0].id, "after": page[-1].id}
        body["paging"] = {"cursors": cursors}
        if len(chosen) > limit:
            base = str(request.url).split("?", 1)[0]
            body["paging"]["next"] = f"{base}?limit={limit}&after={page[-1].id}"
    return body


# --- Facebook Pages -------------------------------------------------------------------------------


def page_json(account: Account, posts: int) -> dict[str, Any]:
    return {
        "id": account.user_id,
        "name": account.display_name,
        "username": account.handle,
        "about": account.bio,
        "category": account.headline or "Company",
        "fan_count": account.followers,
        "followers_count": account.followers,
        "link": f"https://www.facebook.com/{account.handle}",
        "website": account.website or "",
        "picture": {
            "data": {"url": account.avatar_url or "", "is_silhouette": not account.avatar_url}
        },
        "posts_count": posts,
    }


def facebook_post_json(post: Post, world: World) -> dict[str, Any]:
    author = world.account_by_id("facebook", post.author_id)
    node = f"{post.author_id}_{post.id}"
    return {
        "id": node,
        "message": post.text,
        "created_time": _graph_time(post),
        "permalink_url": f"https://www.facebook.com/{node}",
        "from": {"name": author.display_name if author else "", "id": post.author_id},
        "shares": {"count": post.metrics.reposts},
        "likes": {
            "data": [],
            "summary": {"total_count": post.metrics.likes, "can_like": True, "has_liked": False},
        },
        "comments": {
            "data": [],
            "summary": {
                "order": "ranked",
                "total_count": world.reply_count(post),
                "can_comment": True,
            },
        },
    }


facebook = APIRouter(prefix=f"/facebook/{GRAPH_VERSION}", tags=["sandbox: facebook"])


def _page_account(world: World, node: str) -> Account | None:
    account = (
        world.account_by_id("facebook", node)
        if node.isdigit()
        else world.account_by_handle("facebook", node)
    )
    return account if account is not None and account.account_type == "page" else None


@facebook.get("/oauth/access_token")
async def facebook_long_lived(request: Request) -> dict[str, Any]:
    """``grant_type=fb_exchange_token``: a short-lived user token for a 60-day one."""
    await admit(request, "facebook", "token")
    query = request.query_params
    state = sandbox_state(request)
    app = state.grants.app("facebook", query.get("client_id", ""))
    secret = query.get("client_secret", "")
    if query.get("grant_type") != "fb_exchange_token" or app is None or app.client_secret != secret:
        raise _refuse(400, 101, "Error validating application. Invalid application ID.")
    short = state.grants.lookup("facebook", query.get("fb_exchange_token", ""), "access")
    made = (
        state.grants.derive("facebook", short.value, ttl=LONG_LIVED_S)
        if short is not None and short.client_id == app.client_id
        else None
    )
    if made is None:
        raise _refuse(400, 190, "Error validating access token: The session has been invalidated.")
    return {"access_token": made.value, "token_type": "bearer", "expires_in": int(LONG_LIVED_S)}


@facebook.get("/me")
async def facebook_me(request: Request) -> dict[str, Any]:
    """A Page token reads the Page; a user token reads the person (id and name only)."""
    await admit(request, "facebook", "profile")
    me = _caller(request, "facebook")
    if me.account_type != "page":
        return {"id": me.user_id, "name": me.display_name}
    return page_json(me, sandbox_state(request).world.posts_count("facebook", me.user_id))


@facebook.get("/me/accounts")
async def facebook_accounts(request: Request) -> dict[str, Any]:
    """The Pages the person manages, each with a Page token of the same grant (which does
    not expire when the user token is long-lived)."""
    await admit(request, "facebook", "profile")
    me, token = caller_grant(request, "facebook", _refuse(401, 190, "Invalid OAuth access token"))
    if me.account_type == "page":
        raise _refuse(
            400, 100, "(#100) Tried accessing nonexisting field (accounts) on node type (Page)"
        )
    state = sandbox_state(request)
    lifetime = (token.expires_at or token.issued_at) - token.issued_at
    remaining = None if lifetime >= LONG_LIVED_S / 2 else (token.expires_at or 0) - state.clock()
    pages = [
        a
        for a in state.world.accounts("facebook")
        if a.account_type == "page" and a.administered_by(me.handle)
    ]
    data = []
    for page in sorted(pages, key=lambda a: a.user_id):
        page_token = state.grants.derive(
            "facebook", token.value, account_id=page.user_id, ttl=remaining
        )
        if page_token is None:
            raise _refuse(401, 190, "Invalid OAuth access token")
        posts = state.world.posts_count("facebook", page.user_id)
        shown = {k: v for k, v in page_json(page, posts).items() if k in _MANAGED_FIELDS}
        data.append(
            shown
            | {
                "access_token": page_token.value,
                "tasks": ["MANAGE", "CREATE_CONTENT", "MODERATE", "MESSAGING"],
            }
        )
    return {"data": data, "paging": {"cursors": {"before": "QVFI", "after": "QVFI"}}}


_MANAGED_FIELDS = frozenset({"id", "name", "username", "category", "picture"})


@facebook.delete("/me/permissions")
async def facebook_remove_grant(request: Request) -> dict[str, Any]:
    """Removes the app's whole grant: every token it was given dies."""
    await admit(request, "facebook", "revoke")
    _caller(request, "facebook")
    grants = sandbox_state(request).grants
    value = bearer_token(request) or request.query_params.get("access_token", "")
    token = grants.lookup("facebook", value, "access")
    if token is not None:
        grants.revoke("facebook", value, token.client_id)
    return {"success": True}


@facebook.get("/{node}")
async def facebook_node(node: str, request: Request) -> dict[str, Any]:
    world = sandbox_state(request).world
    if "_" in node:
        await admit(request, "facebook", "metrics")
        _caller(request, "facebook")
        post = _post_of(world, "facebook", node)
        if post is None:
            raise _unsupported(node)
        return facebook_post_json(post, world)
    await admit(request, "facebook", "profile" if node.isdigit() else "lookup_handle")
    _caller(request, "facebook")
    page = _page_account(world, node)
    if page is None and node.isdigit():
        raise _unsupported(node)
    if page is None:
        message = f"(#803) Some of the aliases you requested do not exist: {node}"
        raise _refuse(404, 803, message)
    return page_json(page, world.posts_count("facebook", page.user_id))


@facebook.get("/{page_id}/posts")
async def facebook_posts(page_id: str, request: Request) -> dict[str, Any]:
    await admit(request, "facebook", "posts")
    _caller(request, "facebook")
    world = sandbox_state(request).world
    page = _page_account(world, page_id)
    if page is None:
        raise _unsupported(page_id)
    own = [p for p in world.posts_by("facebook", page.user_id) if p.in_reply_to_id is None]
    return _page("facebook", own, request, lambda p: facebook_post_json(p, world))


@facebook.get("/{page_id}/tagged")
async def facebook_tagged(page_id: str, request: Request) -> dict[str, Any]:
    await admit(request, "facebook", "mentions")
    me = _page_caller(request)
    if page_id != me.user_id:
        raise _refuse(403, 10, "(#10) This endpoint requires the Page's own access token")
    world = sandbox_state(request).world
    tagged = [n.post for n in world.notices_for("facebook", me.user_id)]
    return _page("facebook", tagged, request, lambda p: facebook_post_json(p, world))


@facebook.post("/{page_id}/feed")
async def facebook_publish(page_id: str, request: Request) -> dict[str, Any]:
    fields = await _fields(request)
    await admit(request, "facebook", "publish")
    me = _page_caller(request)
    if page_id not in (me.user_id, "me"):
        raise _refuse(
            403, 200, "(#200) The user hasn't authorized the application to perform this action"
        )
    message = text_field(fields, "message") or ""
    if not message.strip() or len(message) > MAX_TEXT:
        raise _refuse(400, 100, "(#100) Invalid parameter: message must be 1-63206 characters")
    post = sandbox_state(request).world.add_post("facebook", me.user_id, message)
    return {"id": f"{me.user_id}_{post.id}"}


@facebook.post("/{node}/comments")
async def facebook_comment(node: str, request: Request) -> dict[str, Any]:
    fields = await _fields(request)
    await admit(request, "facebook", "reply")
    me = _page_caller(request)
    world = sandbox_state(request).world
    parent = _post_of(world, "facebook", node)
    if parent is None:
        raise _unsupported(node)
    message = text_field(fields, "message") or ""
    if not message.strip():
        raise _refuse(400, 100, "(#100) Invalid parameter: message must not be empty")
    post = world.add_post("facebook", me.user_id, message, in_reply_to_id=parent.id)
    return {"id": f"{parent.author_id}_{post.id}"}


@facebook.post("/{page_id}/messages")
async def facebook_message(page_id: str, request: Request) -> dict[str, Any]:
    fields = await _fields(request)
    await admit(request, "facebook", "dm")
    me = _page_caller(request)
    world = sandbox_state(request).world
    recipient_field = fields.get("recipient")
    message_field = fields.get("message")
    recipient_id = str(recipient_field.get("id", "")) if isinstance(recipient_field, dict) else ""
    text = str(message_field.get("text", "")) if isinstance(message_field, dict) else ""
    recipient = world.account_by_id("facebook", recipient_id) if recipient_id.isdigit() else None
    if page_id != me.user_id or recipient is None or recipient.user_id == me.user_id:
        raise _refuse(400, 100, "(#100) No matching user found", 2018001)
    if not text.strip():
        raise _refuse(400, 100, "(#100) Param message[text] must be non-empty")
    conversation = world.open_convo("facebook", [me.user_id, recipient.user_id])
    dm = world.add_dm("facebook", me.user_id, recipient.user_id, text, conversation)
    return {"recipient_id": recipient.user_id, "message_id": f"m_{dm.id}"}


# --- Instagram ------------------------------------------------------------------------------------


def ig_user_json(account: Account, media: int) -> dict[str, Any]:
    return {
        "id": account.user_id,
        "user_id": account.user_id,
        "username": account.handle,
        "name": account.display_name,
        "biography": account.bio,
        "followers_count": account.followers,
        "follows_count": account.following,
        "media_count": media,
        "profile_picture_url": account.avatar_url or "",
        "website": account.website or "",
        "account_type": (account.account_type or "business").upper(),
    }


def ig_media_json(post: Post, world: World) -> dict[str, Any]:
    author = world.account_by_id("instagram", post.author_id)
    username = author.handle if author else ""
    if post.in_reply_to_id is not None:  # a comment
        return {
            "id": post.id,
            "text": post.text,
            "timestamp": _graph_time(post),
            "username": username,
            "like_count": post.metrics.likes,
            "parent_id": post.in_reply_to_id,
        }
    return {
        "id": post.id,
        "caption": post.text,
        "timestamp": _graph_time(post),
        "permalink": f"https://www.instagram.com/p/C{int(post.id):010d}/",
        "like_count": post.metrics.likes,
        "comments_count": world.reply_count(post),
        "username": username,
        "media_type": "IMAGE",
        "owner": {"id": post.author_id},
    }


instagram = APIRouter(prefix=f"/instagram/{GRAPH_VERSION}", tags=["sandbox: instagram"])


@instagram.get("/me")
async def instagram_me(request: Request) -> dict[str, Any]:
    await admit(request, "instagram", "profile")
    me = _caller(request, "instagram")
    return ig_user_json(me, sandbox_state(request).world.posts_count("instagram", me.user_id))


@instagram.get("/{node}")
async def instagram_node(node: str, request: Request) -> dict[str, Any]:
    world = sandbox_state(request).world
    fields = request.query_params.get("fields", "")
    discovery = _DISCOVERY.search(fields)
    await admit(request, "instagram", "lookup_handle" if discovery else "metrics")
    me = _caller(request, "instagram")
    if discovery is not None:
        # Business discovery is a Facebook-Login feature (graph.facebook.com, an IG user
        # linked to a Page); the Instagram-Login host does not know the field.
        raise _refuse(
            400,
            100,
            "(#100) Tried accessing nonexisting field (business_discovery) on node type (User)",
        )
    container = _containers(request).get(node)
    if container is not None and container.owner_id == me.user_id:
        container.reads += 1
        return {"id": node, "status_code": container.status_code()}
    if node == me.user_id:
        return ig_user_json(me, world.posts_count("instagram", me.user_id))
    post = world.post("instagram", node) if node.isdigit() else None
    if post is None:
        raise _unsupported(node)
    return ig_media_json(post, world)


@instagram.get("/{user_id}/media")
async def instagram_media(user_id: str, request: Request) -> dict[str, Any]:
    await admit(request, "instagram", "posts")
    me = _caller(request, "instagram")
    if user_id != me.user_id:
        raise _unsupported(user_id)
    world = sandbox_state(request).world
    own = [p for p in world.posts_by("instagram", me.user_id) if p.in_reply_to_id is None]
    return _page("instagram", own, request, lambda p: ig_media_json(p, world))


@instagram.get("/{user_id}/tags")
async def instagram_tags(user_id: str, request: Request) -> dict[str, Any]:
    """The tags edge exists only with Facebook Login (graph.facebook.com)."""
    await admit(request, "instagram", "mentions")
    _caller(request, "instagram")
    raise _refuse(400, 2500, "Unknown path components: /tags")


@instagram.post("/{user_id}/media")
async def instagram_container(user_id: str, request: Request) -> dict[str, Any]:
    fields = await _fields(request)
    await admit(request, "instagram", "publish")
    me = _caller(request, "instagram")
    if user_id != me.user_id:
        raise _unsupported(user_id)
    caption = text_field(fields, "caption") or ""
    if len(caption) > MAX_CAPTION:
        raise _refuse(400, 100, "(#100) The caption is too long (2200 characters at most)")
    containers = _containers(request)
    media_type = (text_field(fields, "media_type") or "").upper()
    if media_type == "CAROUSEL":
        children = (text_field(fields, "children") or "").split(",")
        if not 2 <= len(children) <= 10 or any(
            c not in containers or not containers[c].carousel_item for c in children
        ):
            raise _refuse(400, 100, "(#100) children must name 2-10 carousel item containers")
        made = _Container(me.user_id, caption, "", False, children)
    else:
        url = text_field(fields, "video_url") or text_field(fields, "image_url") or ""
        if not url.startswith(("https://", "http://")):
            raise _refuse(400, 9004, "Only photo or video can be accepted as media type.")
        carousel_item = text_field(fields, "is_carousel_item") == "true"
        made = _Container(me.user_id, caption, url, "video_url" in fields, [], carousel_item)
    container_id = str(17_000_000_000 + secrets.randbelow(10**9))
    containers[container_id] = made
    return {"id": container_id}


@instagram.post("/{user_id}/media_publish")
async def instagram_publish(user_id: str, request: Request) -> dict[str, Any]:
    fields = await _fields(request)
    await admit(request, "instagram", "publish")
    me = _caller(request, "instagram")
    container = _containers(request).get(text_field(fields, "creation_id") or "")
    if user_id != me.user_id or container is None or container.owner_id != me.user_id:
        raise _refuse(400, 100, "(#100) The parameter creation_id is required and must be yours")
    if container.carousel_item:
        raise _refuse(400, 100, "(#100) A carousel item is published through its carousel")
    if container.status_code() != "FINISHED":
        raise _refuse(
            400, 9007, "The media is not ready for publishing, please wait for a moment", 2207027
        )
    post = sandbox_state(request).world.add_post("instagram", me.user_id, container.caption)
    del _containers(request)[text_field(fields, "creation_id") or ""]
    return {"id": post.id}


async def _instagram_comment(node: str, request: Request, *, on_comment: bool) -> dict[str, Any]:
    fields = await _fields(request)
    await admit(request, "instagram", "reply")
    me = _caller(request, "instagram")
    world = sandbox_state(request).world
    parent = world.post("instagram", node) if node.isdigit() else None
    if parent is None or (parent.in_reply_to_id is not None) != on_comment:
        raise _unsupported(node)
    message = text_field(fields, "message") or ""
    if not message.strip():
        raise _refuse(400, 100, "(#100) Param message must be non-empty")
    post = world.add_post("instagram", me.user_id, message, in_reply_to_id=parent.id)
    return {"id": post.id}


@instagram.post("/{media_id}/comments")
async def instagram_comment(media_id: str, request: Request) -> dict[str, Any]:
    return await _instagram_comment(media_id, request, on_comment=False)


@instagram.post("/{comment_id}/replies")
async def instagram_reply(comment_id: str, request: Request) -> dict[str, Any]:
    return await _instagram_comment(comment_id, request, on_comment=True)


# --- Instagram Login's token endpoints (graph.instagram.com, unversioned) -----------------------

instagram_tokens = APIRouter(prefix="/instagram", tags=["sandbox: instagram"])


@instagram_tokens.get("/access_token")
async def instagram_long_lived(request: Request) -> dict[str, Any]:
    """``grant_type=ig_exchange_token``: the short-lived token (an hour) for a 60-day one."""
    await admit(request, "instagram", "token")
    query = request.query_params
    grants = sandbox_state(request).grants
    short = grants.lookup("instagram", query.get("access_token", ""), "access")
    app = grants.app("instagram", short.client_id or "") if short is not None else None
    if query.get("grant_type") != "ig_exchange_token" or app is None:
        raise _refuse(400, 100, "(#100) Invalid grant_type or access_token")
    if app.client_secret != query.get("client_secret", ""):
        raise _refuse(400, 101, "Error validating client secret.")
    made = grants.derive("instagram", query.get("access_token", ""), ttl=LONG_LIVED_S)
    if made is None:
        raise _refuse(400, 190, "Error validating access token")
    return {"access_token": made.value, "token_type": "bearer", "expires_in": int(LONG_LIVED_S)}


@instagram_tokens.get("/refresh_access_token")
async def instagram_refresh(request: Request) -> dict[str, Any]:
    """``grant_type=ig_refresh_token``: a valid long-lived token for a new 60-day one."""
    await admit(request, "instagram", "token")
    query = request.query_params
    grants = sandbox_state(request).grants
    old = grants.lookup("instagram", query.get("access_token", ""), "access")
    long_lived = old is not None and (old.expires_at or 0) - old.issued_at >= LONG_LIVED_S / 2
    if query.get("grant_type") != "ig_refresh_token" or old is None or not long_lived:
        raise _refuse(400, 190, "Error validating access token: only long-lived tokens refresh")
    made = grants.derive("instagram", old.value, ttl=LONG_LIVED_S)
    if made is None:
        raise _refuse(400, 190, "Error validating access token: Session has expired")
    return {"access_token": made.value, "token_type": "bearer", "expires_in": int(LONG_LIVED_S)}
