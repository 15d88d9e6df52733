"""Bluesky (atproto) JSON shapes: AT URIs, fake CIDs, ProfileView, PostView, notifications."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from socialcrm_sandbox.times import iso_z
from socialcrm_sandbox.world import Account, Notice, Post, World

POST_COLLECTION = "app.bsky.feed.post"
_TID_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"
_TID_LENGTH = 13


def rkey_for(post_id: str) -> str:
    """A TID-shaped record key (13 sortable base32 characters) that encodes the post id."""
    number, chars = int(post_id), []
    for _ in range(_TID_LENGTH):
        chars.append(_TID_ALPHABET[number & 31])
        number >>= 5
    return "".join(reversed(chars))


def post_id_for(rkey: str) -> str | None:
    if len(rkey) != _TID_LENGTH or any(c not in _TID_ALPHABET for c in rkey):
        return None
    number = 0
    for char in rkey:
        number = (number << 5) | _TID_ALPHABET.index(char)
    return str(number)


def post_uri(post: Post) -> str:
    return f"at://{post.author_id}/{POST_COLLECTION}/{rkey_for(post.id)}"


def split_uri(uri: str) -> tuple[str, str, str] | None:
    """``(authority, collection, rkey)`` of an ``at://`` URI."""
    parts = uri.removeprefix("at://").split("/") if uri.startswith("at://") else []
    return (parts[0], parts[1], parts[2]) if len(parts) == 3 else None


def post_cid(post: Post) -> str:
    """A CIDv1-shaped (dag-cbor, sha256, base32) content id, stable for the post's content."""
    digest = hashlib.sha256(f"{post_uri(post)}\n{post.text}".encode()).digest()
    return "bafyrei" + base64.b32encode(digest).decode("ascii").rstrip("=").lower()


def strong_ref(post: Post) -> dict[str, str]:
    return {"uri": post_uri(post), "cid": post_cid(post)}


# The lexicons' three profile views (app.bsky.actor.defs): what each carries beyond the basic.
_BASIC = ("did", "handle", "displayName", "avatar", "createdAt")
_VIEW = (*_BASIC, "description", "indexedAt")


def profile_basic(account: Account) -> dict[str, Any]:
    """#profileViewBasic: a post's or notification's author, a chat member. No counts."""
    return {k: v for k, v in profile_view(account, 0).items() if k in _BASIC}


def profile_listed(account: Account) -> dict[str, Any]:
    """#profileView: an entry of searchActors. No counts."""
    return {k: v for k, v in profile_view(account, 0).items() if k in _VIEW}


def profile_view(account: Account, posts_count: int) -> dict[str, Any]:
    """#profileViewDetailed (getProfile); optional fields are left out when empty, as the
    AppView does."""
    view: dict[str, Any] = {
        "did": account.user_id,
        "handle": account.handle,
        "displayName": account.display_name,
        "description": account.bio or None,
        "avatar": account.avatar_url,
        "followersCount": account.followers,
        "followsCount": account.following,
        "postsCount": posts_count,
        "createdAt": iso_z(account.created_at),
        "indexedAt": iso_z(account.created_at),
    }
    return {k: v for k, v in view.items() if v is not None}


def author_view(world: World, did: str) -> dict[str, Any]:
    account = world.account_by_id("bluesky", did)
    if account is None:  # pragma: no cover - readable posts have live authors
        raise LookupError(did)
    return profile_basic(account)


def post_record(post: Post, world: World) -> dict[str, Any]:
    record: dict[str, Any] = {
        "$type": POST_COLLECTION,
        "text": post.text,
        "createdAt": iso_z(post.created_at),
    }
    parent = world.parent_of(post)
    if parent is not None:
        record["reply"] = {
            "root": strong_ref(world.thread_root(post)),
            "parent": strong_ref(parent),
        }
    return record


def post_view(post: Post, world: World) -> dict[str, Any]:
    return {
        **strong_ref(post),
        "author": author_view(world, post.author_id),
        "record": post_record(post, world),
        "replyCount": world.reply_count(post),
        "repostCount": post.metrics.reposts,
        "likeCount": post.metrics.likes,
        "quoteCount": post.metrics.quotes,
        "indexedAt": iso_z(post.created_at),
    }


def notification_view(notice: Notice, world: World) -> dict[str, Any]:
    post = notice.post
    view: dict[str, Any] = {
        **strong_ref(post),
        "author": author_view(world, post.author_id),
        "reason": notice.reason,
        "record": post_record(post, world),
        "isRead": False,
        "indexedAt": iso_z(post.created_at),
    }
    parent = world.parent_of(post)
    if notice.reason == "reply" and parent is not None:
        view["reasonSubject"] = post_uri(parent)
    return view
