"""Bluesky (atproto XRPC): app-password sessions, profiles, feeds, notifications, chat.

Authenticated calls go to the account's own PDS (which proxies ``app.bsky.*``); when a
separate public AppView is configured, plain reads go there without a token. An expired access
JWT is 400 ``ExpiredToken`` → ``TokenExpired`` (refresh with ``refresh`` and retry).

Logging in happens at the account's PDS, found as atproto identity resolution prescribes
(atproto.com/specs/did and /specs/handle): handle → DID (``resolveHandle`` on the AppView),
DID → DID document (the PLC directory for ``did:plc``, ``/.well-known/did.json`` for
``did:web``), and its ``#atproto_pds`` service endpoint. bsky.social is only the fallback (an
email address as identifier cannot be resolved; Bluesky's entryway then finds the account).

Direct messages (``chat.bsky.*``, proxied by the PDS) need an app password created with
"Allow access to your direct messages": such a session's JWT scope is
``com.atproto.appPassPrivileged``; a plain app password's (``com.atproto.appPass``) is refused
with 400 ``InvalidToken`` "Bad token method", which becomes a ``ScopeMissing`` that says so.

One module: one adapter class for the atproto XRPC API (the Provider protocol for Bluesky),
with its identity resolution and session handling, which every call depends on.
"""

from __future__ import annotations

import base64
import json as jsonlib
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Self

import httpx

from socialcrm.providers.adapter import AdapterBase, NetworkOptions, parse_profile
from socialcrm.providers.base import (
    AppCredentials,
    CallContext,
    Capability,
    MentionPage,
    PostData,
    ProfileData,
    ProfileGone,
    ReconnectRequired,
    TokenSet,
    TransientProviderError,
)
from socialcrm.providers.outcomes import RequestRejected, ScopeMissing, TokenExpired
from socialcrm.providers.ratelimit import BLUESKY_HEADERS
from socialcrm.providers.text import TextRule
from socialcrm.providers.wire import (
    EPOCH,
    JsonObject,
    QueryParams,
    Wire,
    error_body,
    field_int,
    field_list,
    field_obj,
    field_str,
    field_time,
    format_mention_cursor,
    json_object,
    parse_mention_cursor,
    rejected,
    send,
    utc_now,
)

BLUESKY_WIRE = Wire("bluesky", BLUESKY_HEADERS)
REAL_PDS_URL = "https://bsky.social"
REAL_APPVIEW_URL = "https://public.api.bsky.app"
REAL_PLC_URL = "https://plc.directory"
DM_SCOPE = "com.atproto.appPassPrivileged"  # an app password allowed to read and send DMs
FULL_SCOPE = "com.atproto.access"  # a full login (not an app password)
ACCESS_TOKEN_LIFETIME = timedelta(hours=2)  # when the access token is not a readable JWT
CHAT_PROXY = {"atproto-proxy": "did:web:api.bsky.chat#bsky_chat"}
POST_COLLECTION = "app.bsky.feed.post"
MENTION_REASONS = frozenset({"mention", "reply"})
PAGE_SIZE = 50
MAX_MENTION_PAGES = 5
_GONE_ERRORS = frozenset(
    {"NotFound", "ActorNotFound", "RecordNotFound", "AccountDeactivated", "AccountTakedown"}
)
_GONE_MESSAGES = ("not found", "unable to resolve")


class BlueskyProvider(AdapterBase):
    name: ClassVar[str] = "bluesky"
    display_name: ClassVar[str] = "Bluesky"
    sandbox_prefix: ClassVar[str] = "/bsky"
    aliases: ClassVar[tuple[str, ...]] = ("bsky",)
    text_rule: ClassVar[TextRule] = TextRule(300, "graphemes", 1000)
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {
            Capability.APP_PASSWORD,
            Capability.REFRESH,
            Capability.LOOKUP_BY_HANDLE,
            Capability.LOOKUP_BY_ID,
            Capability.SEARCH_PEOPLE,
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
    capability_requires: ClassVar[Mapping[Capability, str]] = {
        Capability.DM: "an app password created with access to direct messages",
    }

    @classmethod
    def build(
        cls,
        http: httpx.AsyncClient,
        sandbox_base: str | None,
        *,
        instance_url: str | None = None,
        options: NetworkOptions,
    ) -> Self:
        """``instance_url``: the account's PDS, when not the default one."""
        if sandbox_base is not None:  # the sandbox is PDS, AppView and PLC directory in one
            root = sandbox_base.removesuffix(cls.sandbox_prefix)
            return cls(http, instance_url or sandbox_base, plc_url=f"{root}/plc")
        return cls(http, instance_url or REAL_PDS_URL, appview_url=REAL_APPVIEW_URL)

    @classmethod
    def looks_like_user_id(cls, value: str) -> bool:
        """A DID (``did:plc:…``, ``did:web:…``), not a handle."""
        return value.startswith("did:")

    def __init__(
        self,
        http: httpx.AsyncClient,
        pds_url: str,
        appview_url: str | None = None,
        plc_url: str = REAL_PLC_URL,
    ) -> None:
        self._http = http
        self._pds = pds_url.rstrip("/")
        self._appview = (appview_url or pds_url).rstrip("/")
        self._public_reads = self._appview != self._pds
        self._plc = plc_url.rstrip("/")

    # --- sessions ---------------------------------------------------------------------------------

    async def login_with_app_password(self, identifier: str, password: str) -> TokenSet:
        """A session at the account's own PDS (``TokenSet.service_url``: store it)."""
        ident = identifier.strip().removeprefix("@")
        pds = await self.resolve_pds(ident) or self._pds
        body = await self._xrpc(
            "POST",
            pds,
            "com.atproto.server.createSession",
            json={"identifier": ident, "password": password},
        )
        self._pds = pds
        return replace(session_tokens(body, utc_now()), service_url=pds)

    async def resolve_pds(self, identifier: str) -> str | None:
        """The PDS hosting a handle or DID; ``None`` for an email address or an identity
        whose DID document names no PDS."""
        if "@" in identifier:
            return None
        did = identifier if identifier.startswith("did:") else await self._did_of(identifier)
        if did.startswith("did:plc:"):
            document = await self._json_get(f"{self._plc}/{did}")
        elif did.startswith("did:web:"):
            host = did.removeprefix("did:web:").replace("%3A", ":")
            document = await self._json_get(f"https://{host}/.well-known/did.json")
        else:
            raise ProfileGone(f"bluesky: unsupported DID method in {did!r}")
        return pds_endpoint(document)

    async def _did_of(self, handle: str) -> str:
        for base in dict.fromkeys([self._appview, self._pds]):
            try:
                answer = await self._xrpc(
                    "GET", base, "com.atproto.identity.resolveHandle", params={"handle": handle}
                )
            except ProfileGone:
                continue
            did = field_str(answer, "did")
            if did.startswith("did:"):
                return did
        raise ProfileGone(f"bluesky: the handle {handle!r} does not resolve to an account")

    async def _json_get(self, url: str) -> JsonObject:
        response = await send(self._http, BLUESKY_WIRE, "GET", url)
        if response.status_code == 404:
            raise ProfileGone(f"bluesky: no DID document at {url}")
        if response.status_code >= 400:
            raise rejected(response, BLUESKY_WIRE)
        return json_object(response, BLUESKY_WIRE)

    async def refresh(self, app: AppCredentials, refresh_token: str) -> TokenSet:
        """refreshSession rotates the refresh JWT; an expired one means reconnecting."""
        try:
            body = await self._xrpc(
                "POST", self._pds, "com.atproto.server.refreshSession", token=refresh_token
            )
        except TokenExpired as exc:
            raise ReconnectRequired("bluesky: refresh token expired") from exc
        return session_tokens(body, utc_now())

    async def revoke(self, app: AppCredentials, tokens: TokenSet) -> None:
        """deleteSession with the refresh JWT; a session already dead counts as revoked."""
        if not tokens.refresh_token:
            return
        try:
            await self._xrpc(
                "POST",
                self._pds,
                "com.atproto.server.deleteSession",
                token=tokens.refresh_token,
                expect_body=False,
            )
        except ReconnectRequired:
            return

    # --- reading --------------------------------------------------------------------------------

    async def me(self, ctx: CallContext) -> ProfileData:
        session = await self._xrpc(
            "GET", self._pds, "com.atproto.server.getSession", ctx=ctx, token=ctx.access_token
        )
        return await self.lookup_user_id(ctx, field_str(session, "did"))

    async def lookup_handle(self, ctx: CallContext, handle: str) -> ProfileData:
        return await self._profile(ctx, actor_for_lookup(handle))

    async def lookup_user_id(self, ctx: CallContext, user_id: str) -> ProfileData:
        if not user_id.startswith("did:"):
            raise ProfileGone(f"bluesky: user ids are DIDs, not {user_id!r}")
        return await self._profile(ctx, user_id)

    async def search_people(
        self, ctx: CallContext, query: str, limit: int = 10
    ) -> list[ProfileData]:
        params: QueryParams = {"q": query, "limit": min(max(limit, 1), 100)}
        body = await self._read(ctx, "app.bsky.actor.searchActors", params)
        return [profile_from_view(a) for a in field_list(body, "actors")][:limit]

    async def posts(self, ctx: CallContext, user_id: str, limit: int = 10) -> list[PostData]:
        params: QueryParams = {"actor": user_id, "limit": min(max(limit, 1), 100)}
        body = await self._read(ctx, "app.bsky.feed.getAuthorFeed", params)
        own = [item for item in field_list(body, "feed") if not item.get("reason")]
        return [post_from_view(field_obj(item, "post")) for item in own][:limit]

    async def mentions(self, ctx: CallContext, cursor: str | None) -> MentionPage:
        """Mentions and replies newer than ``cursor`` (``indexedAt|uri``), oldest first."""
        stored = parse_mention_cursor(cursor)
        newest = stored
        found: dict[str, JsonObject] = {}
        params: dict[str, str | int] = {"limit": PAGE_SIZE}
        for _page in range(MAX_MENTION_PAGES):
            body = await self._xrpc(
                "GET",
                self._pds,
                "app.bsky.notification.listNotifications",
                ctx=ctx,
                token=ctx.access_token,
                params=params,
            )
            notes = field_list(body, "notifications")
            fresh = [n for n in notes if stored is None or notification_key(n) > stored]
            for note in fresh:
                newest = max(newest or notification_key(note), notification_key(note))
                if field_str(note, "reason") in MENTION_REASONS:
                    found[field_str(note, "uri")] = note
            next_cursor = field_str(body, "cursor")
            if len(fresh) < len(notes) or not notes or not next_cursor:
                break
            params["cursor"] = next_cursor
        ordered = sorted(found.values(), key=notification_key)
        posts = [post_from_notification(n) for n in ordered]
        return MentionPage(posts=posts, cursor=format_mention_cursor(newest) if newest else cursor)

    async def metrics(self, ctx: CallContext, post_id: str) -> PostData:
        return post_from_view(await self._post_view(ctx, post_id))

    # --- writing --------------------------------------------------------------------------------

    async def publish(self, ctx: CallContext, text: str) -> PostData:
        return await self._create_post(ctx, text, reply=None)

    async def reply(self, ctx: CallContext, in_reply_to: PostData, text: str) -> PostData:
        """The thread root comes from the parent's own record (a reply to a reply)."""
        parent_view = await self._post_view(ctx, in_reply_to.id)
        parent = {"uri": field_str(parent_view, "uri"), "cid": field_str(parent_view, "cid")}
        root = field_obj(field_obj(field_obj(parent_view, "record"), "reply"), "root") or parent
        return await self._create_post(ctx, text, reply={"root": root, "parent": parent})

    async def send_dm(self, ctx: CallContext, recipient_user_id: str, text: str) -> str:
        if token_scope(ctx.access_token) not in (DM_SCOPE, FULL_SCOPE, None):
            raise _no_dm_access()
        try:
            convo = await self._xrpc(
                "GET",
                self._pds,
                "chat.bsky.convo.getConvoForMembers",
                ctx=ctx,
                token=ctx.access_token,
                params={"members": recipient_user_id},
                headers=CHAT_PROXY,
            )
        except RequestRejected as exc:
            if "bad token" in str(exc).lower():
                raise _no_dm_access() from exc
            raise
        convo_id = field_str(field_obj(convo, "convo"), "id")
        message = await self._xrpc(
            "POST",
            self._pds,
            "chat.bsky.convo.sendMessage",
            ctx=ctx,
            token=ctx.access_token,
            json={"convoId": convo_id, "message": {"text": text}},
            headers=CHAT_PROXY,
        )
        message_id = field_str(message, "id")
        if not message_id:
            raise TransientProviderError("bluesky: sendMessage answer without id")
        return message_id

    async def _create_post(
        self, ctx: CallContext, text: str, reply: Mapping[str, Any] | None
    ) -> PostData:
        if not ctx.user_id:
            session = await self._xrpc(
                "GET", self._pds, "com.atproto.server.getSession", ctx=ctx, token=ctx.access_token
            )
            ctx.user_id, ctx.handle = field_str(session, "did"), field_str(session, "handle")
        now = utc_now()
        record: JsonObject = {
            "$type": POST_COLLECTION,
            "text": text,
            "createdAt": atproto_time(now),
        }
        if reply is not None:
            record["reply"] = dict(reply)
        created = await self._xrpc(
            "POST",
            self._pds,
            "com.atproto.repo.createRecord",
            ctx=ctx,
            token=ctx.access_token,
            json={"repo": ctx.user_id, "collection": POST_COLLECTION, "record": record},
        )
        uri, cid = field_str(created, "uri"), field_str(created, "cid")
        parent_uri = field_str(field_obj(reply or {}, "parent"), "uri")
        return PostData(
            network="bluesky",
            id=uri,
            author_user_id=ctx.user_id,
            author_handle=ctx.handle,
            text=text,
            created_at=now,
            url=post_url(ctx.handle or ctx.user_id, uri),
            in_reply_to_id=parent_uri or None,
            ref=f"{uri}|{cid}",
        )

    # --- plumbing ---------------------------------------------------------------------------------

    async def _profile(self, ctx: CallContext, actor: str) -> ProfileData:
        return profile_from_view(
            await self._read(ctx, "app.bsky.actor.getProfile", {"actor": actor})
        )

    async def _post_view(self, ctx: CallContext, uri: str) -> JsonObject:
        if not uri.startswith("at://"):
            raise ProfileGone(f"bluesky: post ids are at:// URIs, not {uri!r}")
        body = await self._read(ctx, "app.bsky.feed.getPosts", {"uris": [uri]})
        views = field_list(body, "posts")
        if not views:
            raise ProfileGone(f"bluesky: post {uri} not found")
        return views[0]

    async def _read(self, ctx: CallContext, nsid: str, params: QueryParams) -> JsonObject:
        if self._public_reads:
            return await self._xrpc("GET", self._appview, nsid, ctx=ctx, params=params)
        return await self._xrpc(
            "GET", self._pds, nsid, ctx=ctx, token=ctx.access_token, params=params
        )

    async def _xrpc(
        self,
        method: str,
        base: str,
        nsid: str,
        *,
        ctx: CallContext | None = None,
        token: str | None = None,
        params: QueryParams | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        expect_body: bool = True,
    ) -> JsonObject:
        response = await send(
            self._http,
            BLUESKY_WIRE,
            method,
            f"{base}/xrpc/{nsid}",
            token=token,
            ctx=ctx,
            params=params,
            json=json,
            headers=headers,
        )
        raise_for_xrpc_error(response)
        return json_object(response, BLUESKY_WIRE) if expect_body else {}


# --- pure payload mapping -------------------------------------------------------------------------


def raise_for_xrpc_error(response: httpx.Response) -> None:
    """XRPC errors are ``{"error": Name, "message": …}``; 401/429/5xx are handled by ``send``."""
    if response.status_code < 400:
        return
    body = error_body(response)
    error, message = field_str(body, "error"), field_str(body, "message")
    if error == "ExpiredToken":
        raise TokenExpired(f"bluesky: {message or 'token expired'}")
    gone_message = any(m in message.lower() for m in _GONE_MESSAGES)
    if (
        response.status_code == 404
        or error in _GONE_ERRORS
        or (error == "InvalidRequest" and gone_message)
    ):
        raise ProfileGone(f"bluesky: {message or error or 'not found'}")
    raise rejected(response, BLUESKY_WIRE)


def _no_dm_access() -> ScopeMissing:
    return ScopeMissing(
        DM_SCOPE,
        "bluesky: this app password has no access to direct messages; create one with "
        '"Allow access to your direct messages" (Settings → Privacy and security → App '
        "passwords) and reconnect the account with it",
    )


def pds_endpoint(document: Mapping[str, Any]) -> str | None:
    """The ``#atproto_pds`` service endpoint of a DID document (atproto.com/specs/did)."""
    for service in field_list(document, "service"):
        if (
            field_str(service, "id").endswith("#atproto_pds")
            and field_str(service, "type") == "AtprotoPersonalDataServer"
        ):
            endpoint = field_str(service, "serviceEndpoint").rstrip("/")
            if endpoint.startswith(("https://", "http://")):
                return endpoint
    return None


def token_scope(token: str) -> str | None:
    """The ``scope`` claim of a session JWT, read without verifying it; None if unreadable."""
    claims = _jwt_claims(token)
    scope = claims.get("scope") if claims else None
    return scope if isinstance(scope, str) else None


def _jwt_claims(token: str) -> dict[str, Any] | None:
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        padded = parts[1] + "=" * (-len(parts[1]) % 4)
        claims = jsonlib.loads(base64.urlsafe_b64decode(padded))
    except (ValueError, OverflowError, OSError):
        return None
    return claims if isinstance(claims, dict) else None


def actor_for_lookup(handle: str) -> str:
    return parse_profile(handle, "bluesky", no_such="handle", not_a="profile").handle


def jwt_expiry(token: str, now: datetime) -> datetime:
    """The ``exp`` claim of a JWT, read without verifying it; else ``now + 2 h``."""
    exp = (_jwt_claims(token) or {}).get("exp")
    if isinstance(exp, int | float) and not isinstance(exp, bool):
        try:
            return datetime.fromtimestamp(exp, tz=UTC)
        except (ValueError, OverflowError, OSError):
            pass
    return now + ACCESS_TOKEN_LIFETIME


def session_tokens(body: Mapping[str, Any], now: datetime) -> TokenSet:
    access = field_str(body, "accessJwt")
    if not access:
        raise TransientProviderError("bluesky: session answer without accessJwt")
    scope = token_scope(access)
    return TokenSet(
        access_token=access,
        refresh_token=field_str(body, "refreshJwt") or None,
        expires_at=jwt_expiry(access, now),
        scopes=(scope,) if scope else (),
    )


def atproto_time(moment: datetime) -> str:
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def notification_key(note: Mapping[str, Any]) -> tuple[datetime, str]:
    return (field_time(note, "indexedAt") or EPOCH, field_str(note, "uri"))


def post_url(actor: str, uri: str) -> str:
    return f"https://bsky.app/profile/{actor}/post/{uri.rsplit('/', 1)[-1]}"


def profile_from_view(view: Mapping[str, Any]) -> ProfileData:
    handle = field_str(view, "handle")
    return ProfileData(
        network="bluesky",
        user_id=field_str(view, "did"),
        handle=handle,
        display_name=field_str(view, "displayName"),
        bio=field_str(view, "description"),
        avatar_url=field_str(view, "avatar"),
        followers=field_int(view, "followersCount"),
        following=field_int(view, "followsCount"),
        post_count=field_int(view, "postsCount"),
        profile_url=f"https://bsky.app/profile/{handle or field_str(view, 'did')}",
        created_at=field_time(view, "createdAt"),
    )


def _post_from_record(
    uri: str, cid: str, author: Mapping[str, Any], record: Mapping[str, Any]
) -> PostData:
    handle, did = field_str(author, "handle"), field_str(author, "did")
    parent = field_obj(field_obj(record, "reply"), "parent")
    return PostData(
        network="bluesky",
        id=uri,
        author_user_id=did,
        author_handle=handle,
        text=field_str(record, "text"),
        created_at=field_time(record, "createdAt"),
        url=post_url(handle or did, uri),
        in_reply_to_id=field_str(parent, "uri") or None,
        ref=f"{uri}|{cid}",
    )


def post_from_view(view: Mapping[str, Any]) -> PostData:
    post = _post_from_record(
        field_str(view, "uri"),
        field_str(view, "cid"),
        field_obj(view, "author"),
        field_obj(view, "record"),
    )
    return replace(
        post,
        likes=field_int(view, "likeCount"),
        reposts=field_int(view, "repostCount"),
        replies=field_int(view, "replyCount"),
    )


def post_from_notification(note: Mapping[str, Any]) -> PostData:
    return _post_from_record(
        field_str(note, "uri"),
        field_str(note, "cid"),
        field_obj(note, "author"),
        field_obj(note, "record"),
    )
