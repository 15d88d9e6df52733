"""LinkedIn: Sign In with LinkedIn (OpenID Connect) and the Community Management API.

Organisations are public to the API (lookup by vanity name or id, follower counts, posts);
members are not: only the signed-in member's own ``userinfo`` can be read, and LinkedIn has
no messaging API. Ids are URNs (``urn:li:organization:123``, ``urn:li:person:AbC``). Limits
are daily (application and member windows, reset at midnight UTC) and announced by a bare 429
without any reset header.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import quote

import httpx

from socialcrm.providers.base import (
    CallContext,
    Capability,
    NotSupported,
    OAuthEndpoints,
    PostData,
    ProfileData,
    ProfileGone,
    TransientProviderError,
)
from socialcrm.providers.handles import InvalidHandle, parse_handle
from socialcrm.providers.limits import NO_RATE_HEADERS, next_utc_midnight
from socialcrm.providers.oauth import OAuth2Adapter
from socialcrm.providers.outcomes import TokenExpired
from socialcrm.providers.wire import (
    JsonObject,
    QueryParams,
    Wire,
    field_int,
    field_list,
    field_obj,
    field_str,
    json_object,
    rejected,
    send,
    utc_now,
)

LINKEDIN_WIRE = Wire(
    "linkedin", NO_RATE_HEADERS, unauthorized=TokenExpired, window_end=next_utc_midnight
)
REAL_API_URL = "https://api.linkedin.com"
REAL_AUTH_URL = "https://www.linkedin.com"
LINKEDIN_VERSION = "202410"
ORGANIZATION_URN = "urn:li:organization:"
PERSON_URN = "urn:li:person:"
DEFAULT_SCOPES = (
    "openid",
    "profile",
    "email",
    "r_organization_social",
    "w_organization_social",
    "w_member_social",
    "rw_organization_admin",
)
_VERSION_HEADERS = {"LinkedIn-Version": LINKEDIN_VERSION, "X-Restli-Protocol-Version": "2.0.0"}


class LinkedInProvider(OAuth2Adapter):
    name: ClassVar[str] = "linkedin"
    display_name: ClassVar[str] = "LinkedIn"
    one_profile_per_person: ClassVar[bool] = True  # the User Agreement allows one profile
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {
            Capability.OAUTH,
            Capability.REFRESH,
            Capability.LOOKUP_BY_HANDLE,
            Capability.LOOKUP_BY_ID,
            Capability.PROFILE,
            Capability.POSTS,
            Capability.REPLY,
            Capability.PUBLISH,
            Capability.METRICS,
            Capability.REVOKE,
        }
    )
    capability_notes: ClassVar[Mapping[Capability, str]] = {
        Capability.LOOKUP_BY_HANDLE: "organisations only; members' profiles are closed",
        Capability.LOOKUP_BY_ID: "organisations only",
        Capability.POSTS: "organisations' and the member's own posts",
        Capability.REPLY: "comments",
        Capability.REFRESH: "refresh tokens for Community Management partners",
    }
    wire: ClassVar[Wire] = LINKEDIN_WIRE
    # ``revoke`` revokes the access token: the refresh token dies with its grant.

    # --- connecting ---------------------------------------------------------------------------

    def oauth_endpoints(self) -> OAuthEndpoints:
        return OAuthEndpoints(
            authorize_url=f"{self._auth_base}/oauth/v2/authorization",
            token_url=f"{self._auth_base}/oauth/v2/accessToken",
            revoke_url=f"{self._auth_base}/oauth/v2/revoke",
            default_scopes=DEFAULT_SCOPES,
        )

    # --- reading --------------------------------------------------------------------------------

    async def me(self, ctx: CallContext) -> ProfileData:
        return member_from_userinfo(await self._call(ctx, "GET", "/v2/userinfo", versioned=False))

    async def lookup_handle(self, ctx: CallContext, handle: str) -> ProfileData:
        kind, vanity = _vanity(handle)
        if kind == "in":
            raise NotSupported("LinkedIn does not open members' profiles to lookup by handle")
        params: QueryParams = {"q": "vanityName", "vanityName": vanity}
        body = await self._call(ctx, "GET", "/rest/organizations", params=params)
        found = field_list(body, "elements")
        if not found:
            raise ProfileGone(f"linkedin: no organisation {vanity!r}")
        return await self._with_followers(ctx, found[0])

    async def lookup_user_id(self, ctx: CallContext, user_id: str) -> ProfileData:
        org_id = _organization_id(user_id)
        return await self._with_followers(
            ctx, await self._call(ctx, "GET", f"/rest/organizations/{org_id}")
        )

    async def posts(self, ctx: CallContext, user_id: str, limit: int = 10) -> list[PostData]:
        author = _author_urn(user_id)
        params: QueryParams = {"q": "author", "author": author, "count": min(max(limit, 1), 100)}
        body = await self._call(ctx, "GET", "/rest/posts", params=params)
        return [post_from_share(p) for p in field_list(body, "elements")][:limit]

    async def metrics(self, ctx: CallContext, post_id: str) -> PostData:
        urn = _share_urn(post_id)
        post = await self._call(ctx, "GET", f"/rest/posts/{quote(urn, safe='')}")
        actions = await self._call(ctx, "GET", f"/rest/socialActions/{quote(urn, safe='')}")
        return with_social_actions(post_from_share(post), actions)

    # --- writing --------------------------------------------------------------------------------

    async def publish(self, ctx: CallContext, text: str) -> PostData:
        author = await self._own_id(ctx)
        payload = {
            "author": author,
            "commentary": text,
            "visibility": "PUBLIC",
            "distribution": {
                "feedDistribution": "MAIN_FEED",
                "targetEntities": [],
                "thirdPartyDistributionChannels": [],
            },
            "lifecycleState": "PUBLISHED",
            "isReshareDisabledByAuthor": False,
        }
        response = await self._send(ctx, "POST", "/rest/posts", json=payload)
        urn = response.headers.get("x-restli-id", "")
        if not urn:
            raise TransientProviderError("linkedin: created post without x-restli-id")
        return PostData(
            network="linkedin",
            id=urn,
            author_user_id=author,
            author_handle=ctx.handle,
            text=text,
            created_at=utc_now(),
            url=share_url(urn),
        )

    async def reply(self, ctx: CallContext, in_reply_to: PostData, text: str) -> PostData:
        """A comment on the post, as the connected member or organisation."""
        urn = _share_urn(in_reply_to.id)
        actor = await self._own_id(ctx)
        payload = {"actor": actor, "object": urn, "message": {"text": text}}
        path = f"/rest/socialActions/{quote(urn, safe='')}/comments"
        comment = json_object(await self._send(ctx, "POST", path, json=payload), LINKEDIN_WIRE)
        comment_urn = field_str(comment, "commentUrn") or field_str(comment, "id")
        if not comment_urn:
            raise TransientProviderError("linkedin: comment answer without commentUrn")
        return PostData(
            network="linkedin",
            id=comment_urn,
            author_user_id=actor,
            author_handle=ctx.handle,
            text=text,
            created_at=utc_now(),
            url=share_url(urn),
            in_reply_to_id=urn,
        )

    # --- plumbing ---------------------------------------------------------------------------------

    async def _with_followers(self, ctx: CallContext, org: Mapping[str, Any]) -> ProfileData:
        urn = f"{ORGANIZATION_URN}{field_str(org, 'id')}"
        size = await self._call(
            ctx,
            "GET",
            f"/rest/networkSizes/{quote(urn, safe='')}",
            params={"edgeType": "COMPANY_FOLLOWED_BY_MEMBER"},
        )
        return organization_profile(org, field_int(size, "firstDegreeSize"))

    async def _send(
        self,
        ctx: CallContext,
        method: str,
        path: str,
        *,
        params: QueryParams | None = None,
        json: Any = None,
        versioned: bool = True,
    ) -> httpx.Response:
        response = await send(
            self._http,
            LINKEDIN_WIRE,
            method,
            self._base + path,
            token=ctx.access_token,
            ctx=ctx,
            params=params,
            json=json,
            headers=_VERSION_HEADERS if versioned else None,
        )
        if response.status_code == 404:
            raise ProfileGone(f"linkedin: {path} not found")
        if response.status_code >= 400:
            raise rejected(response, LINKEDIN_WIRE)
        return response

    async def _call(
        self,
        ctx: CallContext,
        method: str,
        path: str,
        *,
        params: QueryParams | None = None,
        versioned: bool = True,
    ) -> JsonObject:
        response = await self._send(ctx, method, path, params=params, versioned=versioned)
        return json_object(response, LINKEDIN_WIRE)


# --- pure payload mapping -------------------------------------------------------------------------


def _vanity(handle: str) -> tuple[str, str]:
    """``(kind, slug)``; a bare name is an organisation's vanity name."""
    text = handle.strip()
    if "/" not in text and "linkedin.com" not in text.lower():
        text = f"company/{text}"
    try:
        parsed = parse_handle(text, "linkedin")
    except InvalidHandle as exc:
        raise ProfileGone(f"linkedin: no such profile ({exc})") from exc
    if parsed is None:
        raise ProfileGone(f"linkedin: not a profile: {handle!r}")
    return parsed.kind or "company", parsed.handle


def _organization_id(user_id: str) -> str:
    org_id = user_id.removeprefix(ORGANIZATION_URN)
    if user_id.startswith(PERSON_URN):
        raise NotSupported("LinkedIn does not open members' profiles to lookup by id")
    if not org_id.isdigit():
        raise ProfileGone(f"linkedin: organisation ids are numeric, not {user_id!r}")
    return org_id


def _author_urn(user_id: str) -> str:
    if user_id.startswith((ORGANIZATION_URN, PERSON_URN)):
        return user_id
    if user_id.isdigit():
        return f"{ORGANIZATION_URN}{user_id}"
    raise ProfileGone(f"linkedin: not an author URN: {user_id!r}")


def _share_urn(post_id: str) -> str:
    if not post_id.startswith(("urn:li:share:", "urn:li:ugcPost:")):
        raise ProfileGone(f"linkedin: post ids are share or ugcPost URNs, not {post_id!r}")
    return post_id


def share_url(urn: str) -> str:
    return f"https://www.linkedin.com/feed/update/{urn}/"


def _localized(view: Mapping[str, Any], key: str) -> str:
    """``localizedName`` or the first value of the ``name.localized`` map."""
    direct = field_str(view, f"localized{key[0].upper()}{key[1:]}")
    if direct:
        return direct
    values = field_obj(field_obj(view, key), "localized")
    first = next(iter(values.values()), "") if values else ""
    return first if isinstance(first, str) else ""


def organization_profile(org: Mapping[str, Any], followers: int | None) -> ProfileData:
    vanity = field_str(org, "vanityName")
    website = _localized(org, "website")
    locations = field_list(org, "locations")
    address = field_obj(locations[0], "address") if locations else {}
    location = ", ".join(
        part for part in (field_str(address, "city"), field_str(address, "country")) if part
    )
    return ProfileData(
        network="linkedin",
        user_id=f"{ORGANIZATION_URN}{field_str(org, 'id')}",
        handle=vanity,
        display_name=_localized(org, "name"),
        bio=_localized(org, "description"),
        followers=followers,
        links=(website,) if website else (),
        profile_url=f"https://www.linkedin.com/company/{vanity}" if vanity else "",
        location=location,
    )


def member_from_userinfo(info: Mapping[str, Any]) -> ProfileData:
    """OpenID ``userinfo``: the member's own name, picture and (verified) email."""
    sub = field_str(info, "sub")
    if not sub:
        raise TransientProviderError("linkedin: userinfo without sub")
    email = field_str(info, "email") if info.get("email_verified") is True else ""
    return ProfileData(
        network="linkedin",
        user_id=f"{PERSON_URN}{sub}",
        handle=sub,
        display_name=field_str(info, "name"),
        avatar_url=field_str(info, "picture"),
        email=email or None,
    )


def _epoch_ms(value: Any) -> datetime | None:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return datetime.fromtimestamp(value / 1000, tz=UTC)
    return None


def post_from_share(post: Mapping[str, Any]) -> PostData:
    urn = field_str(post, "id")
    return PostData(
        network="linkedin",
        id=urn,
        author_user_id=field_str(post, "author"),
        author_handle="",
        text=field_str(post, "commentary"),
        created_at=_epoch_ms(post.get("publishedAt")) or _epoch_ms(post.get("createdAt")),
        url=share_url(urn),
        in_reply_to_id=None,
    )


def with_social_actions(post: PostData, actions: Mapping[str, Any]) -> PostData:
    likes = field_int(field_obj(actions, "likesSummary"), "totalLikes")
    comments = field_obj(actions, "commentsSummary")
    replies = field_int(comments, "aggregatedTotalComments")
    if replies is None:
        replies = field_int(comments, "totalFirstLevelComments")
    return replace(post, likes=likes, replies=replies)
