"""X (API v2): OAuth 2.0 + PKCE with rotating refresh tokens, users, tweets, mentions, DMs.

X answers "not found" with HTTP 200 and an ``errors`` array (``…/resource-not-found``); an
expired access token is a bare 401, so a 401 here is ``TokenExpired`` (refresh, then retry).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Self

import httpx

from socialcrm.core.numbers import is_ascii_number
from socialcrm.providers.adapter import NetworkOptions, parse_profile
from socialcrm.providers.base import (
    CallContext,
    Capability,
    MentionPage,
    OAuthEndpoints,
    PostData,
    ProfileData,
    ProfileGone,
    TransientProviderError,
)
from socialcrm.providers.oauth import OAuth2Adapter
from socialcrm.providers.outcomes import ReplyNotAllowed, RequestRejected, TokenExpired
from socialcrm.providers.ratelimit import X_HEADERS
from socialcrm.providers.text import TextRule, x_weighted_length
from socialcrm.providers.wire import (
    JsonObject,
    QueryParams,
    Wire,
    field_int,
    field_list,
    field_obj,
    field_str,
    field_time,
    json_object,
    rejected,
    send,
    utc_now,
)

X_WIRE = Wire("x", X_HEADERS, unauthorized=TokenExpired)
REAL_API_URL = "https://api.x.com"
REAL_AUTH_URL = "https://x.com"
DEFAULT_SCOPES = (
    "tweet.read",
    "tweet.write",
    "users.read",
    "dm.read",
    "dm.write",
    "offline.access",
)
USER_FIELDS = (
    "created_at,description,entities,location,profile_image_url,public_metrics,url,verified"
)
TWEET_FIELDS = (
    "created_at,author_id,conversation_id,in_reply_to_user_id,public_metrics,referenced_tweets"
)
DM_FIELDS = "id,text,event_type,created_at,sender_id,dm_conversation_id"
# A first sync (no cursor) or a long outage reads at most this many pages of 100 mentions;
# older ones beyond that are skipped rather than replayed forever.
MAX_MENTION_PAGES = 5
_GONE_TYPES = ("/resource-not-found", "/not-authorized-for-resource")


class XProvider(OAuth2Adapter):
    name: ClassVar[str] = "x"
    display_name: ClassVar[str] = "X"
    sandbox_prefix: ClassVar[str] = "/x"
    aliases: ClassVar[tuple[str, ...]] = ("twitter",)
    text_rule: ClassVar[TextRule] = TextRule(
        280, "weighted characters", 10_000, post_length=x_weighted_length
    )
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {
            Capability.OAUTH,
            Capability.REFRESH,
            Capability.LOOKUP_BY_HANDLE,
            Capability.LOOKUP_BY_ID,
            Capability.PROFILE,
            Capability.POSTS,
            Capability.MENTIONS,
            Capability.DM,
            Capability.REPLY,
            Capability.PUBLISH,
            Capability.METRICS,
            Capability.REVOKE,
        }
    )
    # What X's API tiers allow (declared here; the X adapter's own work is elsewhere).
    capability_requires: ClassVar[Mapping[Capability, str]] = {
        Capability.MENTIONS: "a paid X API tier (Basic or higher)",
    }
    wire: ClassVar[Wire] = X_WIRE
    # X authenticates confidential clients with HTTP Basic. It rotates refresh tokens: the
    # one ``refresh`` returns is the one to store, the old one is dead.
    confidential_auth: ClassVar[str] = "client_secret_basic"
    # Revoking the refresh token also kills the access token (and vice versa).
    revoke_refresh_token: ClassVar[bool] = True

    # --- connecting ---------------------------------------------------------------------------

    @classmethod
    def build(
        cls,
        http: httpx.AsyncClient,
        sandbox_base: str | None,
        *,
        instance_url: str | None = None,
        options: NetworkOptions,
    ) -> Self:
        return cls(http, sandbox_base or REAL_API_URL, auth_base_url=sandbox_base or REAL_AUTH_URL)

    def oauth_endpoints(self) -> OAuthEndpoints:
        return OAuthEndpoints(
            authorize_url=f"{self._auth_base}/i/oauth2/authorize",
            token_url=f"{self._base}/2/oauth2/token",
            revoke_url=f"{self._base}/2/oauth2/revoke",
            default_scopes=DEFAULT_SCOPES,
        )

    # --- reading --------------------------------------------------------------------------------

    async def me(self, ctx: CallContext) -> ProfileData:
        body = await self._call(ctx, "GET", "/2/users/me", params={"user.fields": USER_FIELDS})
        return profile_from_user(_data_object(body))

    async def lookup_handle(self, ctx: CallContext, handle: str) -> ProfileData:
        username = _username(handle)
        body = await self._call(
            ctx, "GET", f"/2/users/by/username/{username}", params={"user.fields": USER_FIELDS}
        )
        return profile_from_user(_data_object(body))

    async def lookup_user_id(self, ctx: CallContext, user_id: str) -> ProfileData:
        _require_numeric(user_id, "user")
        body = await self._call(
            ctx, "GET", f"/2/users/{user_id}", params={"user.fields": USER_FIELDS}
        )
        return profile_from_user(_data_object(body))

    async def posts(self, ctx: CallContext, user_id: str, limit: int = 10) -> list[PostData]:
        _require_numeric(user_id, "user")
        params = {**_tweet_params(), "max_results": min(max(limit, 5), 100)}
        body = await self._call(ctx, "GET", f"/2/users/{user_id}/tweets", params=params)
        known = {ctx.user_id: ctx.handle} if ctx.user_id else {}
        handles = {**known, **_included_handles(body)}
        return [post_from_tweet(t, handles) for t in field_list(body, "data")][:limit]

    async def mentions(self, ctx: CallContext, cursor: str | None) -> MentionPage:
        """Mentions newer than ``cursor`` (a tweet id), paging back with ``next_token``."""
        user_id = await self._own_id(ctx)
        params: dict[str, str | int] = {**_tweet_params(), "max_results": 100}
        if cursor:
            params["since_id"] = cursor
        tweets: dict[str, JsonObject] = {}
        handles: dict[str, str] = {}
        for _page in range(MAX_MENTION_PAGES):
            body = await self._call(ctx, "GET", f"/2/users/{user_id}/mentions", params=params)
            tweets.update({field_str(t, "id"): t for t in field_list(body, "data")})
            handles.update(_included_handles(body))
            next_token = field_str(field_obj(body, "meta"), "next_token")
            if not next_token:
                break
            params["pagination_token"] = next_token
        ordered = sorted(tweets, key=_tweet_order)
        posts = [post_from_tweet(tweets[tweet_id], handles) for tweet_id in ordered]
        return MentionPage(posts=posts, cursor=ordered[-1] if ordered else cursor)

    async def metrics(self, ctx: CallContext, post_id: str) -> PostData:
        _require_numeric(post_id, "post")
        body = await self._call(ctx, "GET", f"/2/tweets/{post_id}", params=_tweet_params())
        return post_from_tweet(_data_object(body), _included_handles(body))

    # --- writing --------------------------------------------------------------------------------

    async def publish(self, ctx: CallContext, text: str) -> PostData:
        body = await self._call(ctx, "POST", "/2/tweets", json={"text": text})
        return self._own_post(ctx, _data_object(body), text, None)

    async def reply(self, ctx: CallContext, in_reply_to: PostData, text: str) -> PostData:
        payload = {"text": text, "reply": {"in_reply_to_tweet_id": in_reply_to.id}}
        try:
            body = await self._call(ctx, "POST", "/2/tweets", json=payload)
        except RequestRejected as exc:
            if exc.status == 403 and _NOT_ENGAGED in str(exc).lower():
                raise ReplyNotAllowed(
                    "x: X lets self-serve API apps (Free, Basic, Pro) reply only to posts whose "
                    "author mentioned or quoted this account; reply on x.com, or send a DM "
                    "if they wrote to you"
                ) from exc
            raise
        return self._own_post(ctx, _data_object(body), text, in_reply_to.id)

    async def send_dm(self, ctx: CallContext, recipient_user_id: str, text: str) -> str:
        _require_numeric(recipient_user_id, "user")
        path = f"/2/dm_conversations/with/{recipient_user_id}/messages"
        body = await self._call(ctx, "POST", path, json={"text": text})
        event_id = field_str(_data_object(body), "dm_event_id")
        if not event_id:
            raise TransientProviderError("x: DM answer without dm_event_id")
        return event_id

    async def dm_history(self, ctx: CallContext, user_id: str, limit: int = 20) -> list[PostData]:
        """``GET /2/dm_conversations/with/:participant_id/dm_events`` (needs ``dm.read``)."""
        _require_numeric(user_id, "user")
        params: dict[str, str | int] = {
            "dm_event.fields": DM_FIELDS,
            "max_results": min(max(limit, 1), 100),
        }
        path = f"/2/dm_conversations/with/{user_id}/dm_events"
        body = await self._call(ctx, "GET", path, params=params)
        return [
            PostData(
                network="x",
                id=field_str(event, "id"),
                author_user_id=field_str(event, "sender_id"),
                author_handle="",
                text=field_str(event, "text"),
                created_at=field_time(event, "created_at"),
            )
            for event in field_list(body, "data")
            if field_str(event, "event_type") == "MessageCreate"
        ][:limit]

    def _own_post(
        self, ctx: CallContext, data: JsonObject, text: str, in_reply_to_id: str | None
    ) -> PostData:
        tweet_id = field_str(data, "id")
        return PostData(
            network="x",
            id=tweet_id,
            author_user_id=ctx.user_id,
            author_handle=ctx.handle,
            text=field_str(data, "text") or text,
            created_at=utc_now(),
            url=_tweet_url(ctx.handle, tweet_id),
            in_reply_to_id=in_reply_to_id,
        )

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
            X_WIRE,
            method,
            self._base + path,
            token=ctx.access_token,
            ctx=ctx,
            params=params,
            json=json,
        )
        if response.status_code == 404:
            raise ProfileGone(f"x: {path} not found")
        if response.status_code >= 400:
            raise rejected(response, X_WIRE)
        body = json_object(response, X_WIRE)
        _raise_for_errors(body)
        return body


_NOT_ENGAGED = "reply to this conversation is not allowed"


# --- pure payload mapping -------------------------------------------------------------------------


def _first_int(metrics: Mapping[str, Any], *names: str) -> int | None:
    """X's API reference names a count one way (``tweet_count``), its OpenAPI specification
    2.167 another (``post_count``): read whichever the answer carries."""
    for name in names:
        value = field_int(metrics, name)
        if value is not None:
            return value
    return None


def _username(handle: str) -> str:
    return parse_profile(handle, "x", no_such="handle", not_a="profile").handle


def _require_numeric(value: str, what: str) -> None:
    if not is_ascii_number(value):
        raise ProfileGone(f"x: no {what} with id {value!r} (X ids are numeric)")


def _tweet_params() -> dict[str, str | int]:
    return {"tweet.fields": TWEET_FIELDS, "expansions": "author_id", "user.fields": "username"}


def _tweet_order(tweet_id: str) -> tuple[int, str]:
    return (int(tweet_id), tweet_id) if is_ascii_number(tweet_id) else (0, tweet_id)


def _raise_for_errors(body: Mapping[str, Any]) -> None:
    """X's HTTP-200 errors: with no ``data`` they are the whole answer."""
    errors = field_list(body, "errors")
    if "data" in body or not errors:
        return
    first = errors[0]
    detail = field_str(first, "detail") or field_str(first, "title")
    if any(field_str(e, "type").endswith(_GONE_TYPES) for e in errors):
        raise ProfileGone(f"x: {detail}")
    raise TransientProviderError(f"x: unexpected error answer: {detail}")


def _data_object(body: Mapping[str, Any]) -> JsonObject:
    data = field_obj(body, "data")
    if not data:
        raise TransientProviderError("x: answer without data")
    return data


def _included_handles(body: Mapping[str, Any]) -> dict[str, str]:
    users = field_list(field_obj(body, "includes"), "users")
    return {field_str(u, "id"): field_str(u, "username") for u in users}


def _tweet_url(handle: str, tweet_id: str) -> str:
    return f"https://x.com/{handle or 'i/web'}/status/{tweet_id}"


def profile_from_user(user: Mapping[str, Any]) -> ProfileData:
    metrics = field_obj(user, "public_metrics")
    url_entities = field_list(field_obj(field_obj(user, "entities"), "url"), "urls")
    links = [field_str(u, "expanded_url") or field_str(u, "url") for u in url_entities]
    username = field_str(user, "username")
    return ProfileData(
        network="x",
        user_id=field_str(user, "id"),
        handle=username,
        display_name=field_str(user, "name"),
        bio=field_str(user, "description"),
        avatar_url=field_str(user, "profile_image_url"),
        followers=field_int(metrics, "followers_count"),
        following=field_int(metrics, "following_count"),
        post_count=_first_int(metrics, "tweet_count", "post_count"),
        links=tuple(link for link in links if link),
        profile_url=f"https://x.com/{username.lower()}",
        location=field_str(user, "location"),
        created_at=field_time(user, "created_at"),
    )


def post_from_tweet(tweet: Mapping[str, Any], handles: Mapping[str, str]) -> PostData:
    tweet_id = field_str(tweet, "id")
    author_id = field_str(tweet, "author_id")
    handle = handles.get(author_id, "")
    metrics = field_obj(tweet, "public_metrics")
    replied_to = [
        field_str(ref, "id")
        for ref in field_list(tweet, "referenced_tweets") or field_list(tweet, "referenced_posts")
        if field_str(ref, "type") == "replied_to"
    ]
    return PostData(
        network="x",
        id=tweet_id,
        author_user_id=author_id,
        author_handle=handle,
        text=field_str(tweet, "text"),
        created_at=field_time(tweet, "created_at"),
        url=_tweet_url(handle, tweet_id),
        in_reply_to_id=replied_to[0] if replied_to else None,
        likes=field_int(metrics, "like_count"),
        reposts=_first_int(metrics, "retweet_count", "repost_count"),
        replies=field_int(metrics, "reply_count"),
        impressions=field_int(metrics, "impression_count"),
    )
