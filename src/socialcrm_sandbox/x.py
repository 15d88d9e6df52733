"""X API v2 under ``/x``: users, timelines, tweets and DMs (OAuth routes live in oauth.py)."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict

from socialcrm_sandbox.gate import NetworkError, admit, bearer_token, sandbox_state
from socialcrm_sandbox.paging import IdWindow, as_int, take_page
from socialcrm_sandbox.signals import x_problem
from socialcrm_sandbox.times import iso_z
from socialcrm_sandbox.world import Account, Post, World
from socialcrm_sandbox.x_shapes import (
    INVALID_REQUEST_TYPE,
    decode_page_token,
    encode_page_token,
    x_invalid_parameter,
    x_not_found,
    x_timeline,
    x_tweet,
    x_user,
)

router = APIRouter(prefix="/x", tags=["sandbox: x"])

_USERNAME = re.compile(r"^[A-Za-z0-9_]{1,15}$")
_ID = re.compile(r"^[0-9]{1,19}$")


class ReplyIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    in_reply_to_tweet_id: str


class TweetIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    text: str = ""
    reply: ReplyIn | None = None


class DirectMessageIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    text: str = ""


def _caller(request: Request) -> Account:
    state = sandbox_state(request)
    value = bearer_token(request)
    token = state.grants.lookup("x", value, "access") if value else None
    if token is None or token.status(state.clock()) != "active":
        raise NetworkError(401, x_problem(401))
    account = state.world.account_by_id("x", token.account_id)
    if account is None:
        raise NetworkError(401, x_problem(401))
    return account


def _check(pattern: re.Pattern[str], parameter: str, value: str) -> None:
    if not pattern.fullmatch(value):
        message = f"The `{parameter}` query parameter value [{value}] is not valid"
        raise NetworkError(400, x_invalid_parameter(parameter, value, message))


def _max_results(raw: str | None, *, low: int = 5, default: int = 10) -> int:
    if raw is None:
        return default
    value = as_int(raw)
    if value is None or not low <= value <= 100:
        message = f"The `max_results` query parameter value [{raw}] is not between {low} and 100"
        raise NetworkError(400, x_invalid_parameter("max_results", raw, message))
    return value


def _id_window(request: Request) -> IdWindow:
    query = request.query_params
    token = query.get("pagination_token")
    below = as_int(query.get("until_id"))
    if token is not None:
        token_id = decode_page_token(token)
        if token_id is None:
            message = f"The `pagination_token` query parameter value [{token}] is not valid"
            raise NetworkError(400, x_invalid_parameter("pagination_token", token, message))
        below = min(int(token_id), below) if below is not None else int(token_id)
    return IdWindow(above=as_int(query.get("since_id")), below=below)


def _timeline(request: Request, posts: list[Post]) -> dict[str, Any]:
    limit = _max_results(request.query_params.get("max_results"))
    page = take_page(posts, lambda p: p.id, _id_window(request), limit)
    world = sandbox_state(request).world
    items = [x_tweet(p, world, spec=_spec(request)) for p in page.items]
    next_token = encode_page_token(page.items[-1].id) if page.has_more else None
    return x_timeline(items, next_token)


def _user(request: Request, account: Account) -> dict[str, Any]:
    world = sandbox_state(request).world
    count = world.posts_count("x", account.user_id)
    return {"data": x_user(account, count, spec=_spec(request))}


@router.get("/2/users/me")
async def users_me(request: Request) -> dict[str, Any]:
    await admit(request, "x", "lookup_handle")
    return _user(request, _caller(request))


@router.get("/2/users/by/username/{username}")
async def user_by_username(username: str, request: Request) -> dict[str, Any]:
    await admit(request, "x", "lookup_handle")
    _caller(request)
    _check(_USERNAME, "username", username)
    account = sandbox_state(request).world.account_by_handle("x", username)
    if account is None:
        return x_not_found("user", "username", username)
    return _user(request, account)


@router.get("/2/users/{user_id}")
async def user_by_id(user_id: str, request: Request) -> dict[str, Any]:
    await admit(request, "x", "profile")
    _caller(request)
    _check(_ID, "id", user_id)
    account = sandbox_state(request).world.account_by_id("x", user_id)
    if account is None:
        return x_not_found("user", "id", user_id)
    return _user(request, account)


@router.get("/2/users/{user_id}/tweets")
async def user_tweets(user_id: str, request: Request) -> dict[str, Any]:
    await admit(request, "x", "posts")
    _caller(request)
    _check(_ID, "id", user_id)
    world = sandbox_state(request).world
    if world.account_by_id("x", user_id) is None:
        return x_not_found("user", "id", user_id)
    return _timeline(request, world.posts_by("x", user_id))


@router.get("/2/users/{user_id}/mentions")
async def user_mentions(user_id: str, request: Request) -> dict[str, Any]:
    await admit(request, "x", "mentions")
    _caller(request)
    _check(_ID, "id", user_id)
    world = sandbox_state(request).world
    if world.account_by_id("x", user_id) is None:
        return x_not_found("user", "id", user_id)
    return _timeline(request, [n.post for n in world.notices_for("x", user_id)])


@router.get("/2/tweets/{tweet_id}")
async def tweet_by_id(tweet_id: str, request: Request) -> dict[str, Any]:
    await admit(request, "x", "metrics")
    _caller(request)
    _check(_ID, "id", tweet_id)
    world = sandbox_state(request).world
    post = world.post("x", tweet_id)
    if post is None:
        return x_not_found("tweet", "id", tweet_id)
    return {"data": x_tweet(post, world, spec=_spec(request))}


def _spec(request: Request) -> bool:
    return sandbox_state(request).x_vocabulary == "spec"


# Self-serve API tiers (Free, Basic, Pro) may reply only where the post's author mentioned or
# quoted the replying account (X's developer announcement, 2025; the wording is X's answer).
REPLY_NOT_ENGAGED = (
    "Reply to this conversation is not allowed because you have not been mentioned or "
    "otherwise engaged by the author of the post you are replying to."
)


def _engaged(world: World, parent: Post, replier: Account) -> bool:
    """The parent's author is the replier, or mentioned the replier in it."""
    if parent.author_id == replier.user_id:
        return True
    return any(a.user_id == replier.user_id for a in world.mentioned_accounts(parent))


@router.post("/2/tweets", status_code=201)
async def create_tweet(body: TweetIn, request: Request) -> JSONResponse:
    await admit(request, "x", "reply" if body.reply else "publish")
    author = _caller(request)
    if not body.text.strip():
        raise NetworkError(400, _invalid_body("text", "Tweet text must not be empty."))
    world = sandbox_state(request).world
    parent_id = body.reply.in_reply_to_tweet_id if body.reply else None
    parent = world.post("x", parent_id) if parent_id is not None else None
    if parent_id is not None and parent is None:
        detail = "You attempted to reply to a Tweet that is deleted or not visible to you."
        raise NetworkError(403, x_problem(403, detail))
    if parent is not None and not _engaged(world, parent, author):
        raise NetworkError(403, x_problem(403, REPLY_NOT_ENGAGED))
    if _repeats_a_recent_tweet(request, author, body.text):
        detail = "You are not allowed to create a Tweet with duplicate content."
        raise NetworkError(403, x_problem(403, detail))
    post = world.add_post("x", author.user_id, body.text, in_reply_to_id=parent_id)
    history = "edit_history_post_ids" if _spec(request) else "edit_history_tweet_ids"
    data = {"id": post.id, "text": post.text, history: [post.id]}
    return JSONResponse({"data": data}, status_code=201)


DUPLICATE_WINDOW_S = 24 * 3600


def _repeats_a_recent_tweet(request: Request, author: Account, text: str) -> bool:
    """X refuses a Tweet identical to one of the author's recent Tweets (403 duplicate
    content): what a blind re-send of a post whose answer was lost runs into."""
    state = sandbox_state(request)
    since = state.clock() - DUPLICATE_WINDOW_S
    return any(
        p.text == text and p.created_at.timestamp() >= since
        for p in state.world.posts_by("x", author.user_id)
    )


@router.post("/2/dm_conversations/with/{participant_id}/messages", status_code=201)
async def send_dm(participant_id: str, body: DirectMessageIn, request: Request) -> JSONResponse:
    await admit(request, "x", "dm")
    sender = _caller(request)
    world = sandbox_state(request).world
    recipient = world.account_by_id("x", participant_id)
    if recipient is None or recipient.user_id == sender.user_id:
        message = f"participant_id [{participant_id}] is not a user you can message"
        raise NetworkError(400, x_invalid_parameter("participant_id", participant_id, message))
    if not body.text.strip():
        raise NetworkError(400, _invalid_body("text", "Message text must not be empty."))
    pair = sorted((sender.user_id, recipient.user_id), key=int)
    conversation_id = f"{pair[0]}-{pair[1]}"
    dm = world.add_dm("x", sender.user_id, recipient.user_id, body.text, conversation_id)
    data = {"dm_conversation_id": conversation_id, "dm_event_id": dm.id}
    return JSONResponse({"data": data}, status_code=201)


@router.get("/2/dm_conversations/with/{participant_id}/dm_events")
async def dm_events(participant_id: str, request: Request) -> dict[str, Any]:
    """The caller's 1:1 conversation with the participant, newest first."""
    await admit(request, "x", "dm")
    caller = _caller(request)
    _check(_ID, "participant_id", participant_id)
    limit = _max_results(request.query_params.get("max_results"), low=1, default=100)
    pair = {caller.user_id, participant_id}
    world = sandbox_state(request).world
    events = [
        {
            "id": dm.id,
            "event_type": "MessageCreate",
            "text": dm.text,
            "sender_id": dm.sender_id,
            "created_at": iso_z(dm.created_at),
            "dm_conversation_id": dm.conversation_id,
        }
        for dm in reversed(world.dms("x"))
        if {dm.sender_id, dm.recipient_id} == pair
    ][:limit]
    meta = {"result_count": len(events)}
    return {"data": events, "meta": meta} if events else {"meta": meta}


def _invalid_body(field: str, message: str) -> dict[str, Any]:
    return {
        "errors": [{"parameters": {field: []}, "message": message}],
        "title": "Invalid Request",
        "detail": "One or more parameters to your request was invalid.",
        "type": INVALID_REQUEST_TYPE,
    }
