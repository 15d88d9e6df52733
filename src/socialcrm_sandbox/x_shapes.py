"""X API v2 JSON shapes: users, tweets, timelines, lookup errors."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from socialcrm_sandbox.signals import X_NOT_FOUND_TYPE
from socialcrm_sandbox.times import iso_z
from socialcrm_sandbox.world import Account, Post, World

DEFAULT_AVATAR = "https://abs.twimg.com/sticky/default_profile_images/default_profile_normal.png"
INVALID_REQUEST_TYPE = "https://api.twitter.com/2/problems/invalid-request"


def x_user(account: Account, tweet_count: int, *, spec: bool = False) -> dict[str, Any]:
    """``spec``: in the vocabulary of X's OpenAPI specification 2.167 (``post_count``) rather
    than the API reference's (``tweet_count``); see docs/providers.md."""
    links = list(account.links) or ([account.website] if account.website else [])
    return {
        "id": account.user_id,
        "name": account.display_name,
        "username": account.handle,
        "description": account.bio,
        "profile_image_url": account.avatar_url or DEFAULT_AVATAR,
        "location": account.location or "",
        "url": links[0] if links else "",
        "created_at": iso_z(account.created_at),
        "verified": False,
        "public_metrics": {
            "followers_count": account.followers,
            "following_count": account.following,
            ("post_count" if spec else "tweet_count"): tweet_count,
            "listed_count": 0,
        },
        "entities": {"url": {"urls": [_url_entity(link) for link in links]}},
    }


def _url_entity(link: str) -> dict[str, Any]:
    display = link.removeprefix("https://").removeprefix("http://")
    return {"start": 0, "end": 23, "url": link, "expanded_url": link, "display_url": display}


def x_tweet(post: Post, world: World, *, spec: bool = False) -> dict[str, Any]:
    parent = world.parent_of(post)
    tweet: dict[str, Any] = {
        "id": post.id,
        "text": post.text,
        "created_at": iso_z(post.created_at),
        "author_id": post.author_id,
        "conversation_id": world.thread_root(post).id,
        ("edit_history_post_ids" if spec else "edit_history_tweet_ids"): [post.id],
        "public_metrics": {
            ("repost_count" if spec else "retweet_count"): post.metrics.reposts,
            "reply_count": world.reply_count(post),
            "like_count": post.metrics.likes,
            "quote_count": post.metrics.quotes,
            "impression_count": post.metrics.impressions,
            **({"bookmark_count": 0} if spec else {}),
        },
    }
    if parent is not None:
        tweet["in_reply_to_user_id"] = parent.author_id
        references = "referenced_posts" if spec else "referenced_tweets"
        tweet[references] = [{"type": "replied_to", "id": parent.id}]
    return tweet


def x_timeline(page: list[dict[str, Any]], next_token: str | None) -> dict[str, Any]:
    if not page:
        return {"meta": {"result_count": 0}}
    meta: dict[str, Any] = {
        "result_count": len(page),
        "newest_id": page[0]["id"],
        "oldest_id": page[-1]["id"],
    }
    if next_token is not None:
        meta["next_token"] = next_token
    return {"data": page, "meta": meta}


def x_not_found(resource: str, parameter: str, value: str) -> dict[str, Any]:
    """X answers a missing user or tweet with HTTP 200 and this ``errors`` array."""
    return {
        "errors": [
            {
                "value": value,
                "detail": f"Could not find {resource} with {parameter}: [{value}].",
                "title": "Not Found Error",
                "resource_type": resource,
                "parameter": parameter,
                "resource_id": value,
                "type": X_NOT_FOUND_TYPE,
            }
        ]
    }


def x_invalid_parameter(parameter: str, value: str, message: str) -> dict[str, Any]:
    """X's 400 body for a query or path parameter it rejects."""
    return {
        "errors": [{"parameters": {parameter: [value]}, "message": message}],
        "title": "Invalid Request",
        "detail": "One or more parameters to your request was invalid.",
        "type": INVALID_REQUEST_TYPE,
    }


def encode_page_token(before_id: str) -> str:
    return base64.urlsafe_b64encode(f"before:{before_id}".encode()).decode().rstrip("=")


def decode_page_token(token: str) -> str | None:
    """The id a page token continues below, or None if the token is not one of ours."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    prefix, _, value = raw.partition(":")
    return value if prefix == "before" and value.isdigit() else None
