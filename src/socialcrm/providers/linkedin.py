"""LinkedIn: Sign In with LinkedIn (OpenID Connect) and the Community Management API.

Organisations can be looked up by any member (vanity name, or ``organizationsLookup`` by id),
but only with their lookup fields: the description, ``organizations/{id}`` and an
organisation's posts are for its administrators. Members are closed: only the signed-in
member's own ``userinfo`` can be read, their posts need the restricted ``r_member_social``,
and LinkedIn has no messaging API. Ids are URNs (``urn:li:organization:123``,
``urn:li:person:AbC``). Every ``/rest`` call names a monthly ``LinkedIn-Version`` (YYYYMM),
which LinkedIn retires about a year after release with ``426 NONEXISTENT_VERSION``. Limits
are daily (application and member windows, reset at midnight UTC) and announced by a bare 429
without any reset header.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, ClassVar, Self
from urllib.parse import quote

import httpx

from socialcrm.core.numbers import is_ascii_number
from socialcrm.providers.adapter import NetworkOptions
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
from socialcrm.providers.outcomes import RequestRejected, ScopeMissing, TokenExpired, VersionRetired
from socialcrm.providers.text import TextRule
from socialcrm.providers.wire import (
    JsonObject,
    QueryParams,
    Wire,
    error_summary,
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
# LinkedIn serves each monthly version for about a year: move this (or the setting) forward.
DEFAULT_VERSION = "202610"
VERSION_SETTING = "SOCIALCRM_LINKEDIN_VERSION"
MEMBER_POSTS_SCOPE = "r_member_social"  # restricted: LinkedIn grants it to approved apps only
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


class LinkedInProvider(OAuth2Adapter):
    name: ClassVar[str] = "linkedin"
    display_name: ClassVar[str] = "LinkedIn"
    sandbox_prefix: ClassVar[str] = "/linkedin"
    text_rule: ClassVar[TextRule] = TextRule(3000, "characters", 8000)
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
        Capability.LOOKUP_BY_HANDLE: (
            "organisations only, their lookup fields (no description unless you administer "
            "it); members' profiles are closed"
        ),
        Capability.LOOKUP_BY_ID: "organisations only",
        Capability.POSTS: "organisations you administer, and your own posts",
        Capability.REPLY: "comments",
        Capability.REFRESH: "refresh tokens for Community Management partners",
    }
    capability_requires: ClassVar[Mapping[Capability, str]] = {
        Capability.LOOKUP_BY_HANDLE: "Community Management API access",
        Capability.POSTS: (
            "Community Management API (r_organization_social, organisation admin); a member's "
            "own posts need r_member_social, which LinkedIn grants on request only"
        ),
        Capability.REPLY: "Community Management API (w_member_social)",
        Capability.PUBLISH: "Community Management API (w_member_social)",
        Capability.METRICS: "Community Management API, organisation admin",
    }
    wire: ClassVar[Wire] = LINKEDIN_WIRE
    # LinkedIn documents PKCE only for native apps it enables on request: a web app
    # authenticates with its client secret, and state guards the redirect.
    pkce: ClassVar[str | None] = None
    # ``revoke`` revokes the access token: the refresh token dies with its grant.

    @classmethod
    def build(
        cls,
        http: httpx.AsyncClient,
        sandbox_base: str | None,
        *,
        instance_url: str | None = None,
        options: NetworkOptions,
    ) -> Self:
        return cls(
            http,
            sandbox_base or REAL_API_URL,
            auth_base_url=sandbox_base or REAL_AUTH_URL,
            version=options.linkedin_version,
        )

    def __init__(
        self,
        http: httpx.AsyncClient,
        base_url: str,
        auth_base_url: str | None = None,
        *,
        version: str = DEFAULT_VERSION,
    ) -> None:
        super().__init__(http, base_url, auth_base_url)
        self.version = version or DEFAULT_VERSION

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
        """``organizationsLookup`` (BATCH_GET): any member may read an organisation's lookup
        fields; ``organizations/{id}`` answers 403 to everyone but its administrators."""
        org_id = _organization_id(user_id)
        params: QueryParams = {"ids": [org_id]}
        body = await self._call(ctx, "GET", "/rest/organizationsLookup", params=params)
        found = field_obj(field_obj(body, "results"), org_id)
        if not found:
            raise ProfileGone(f"linkedin: no organisation {org_id}")
        return await self._with_followers(ctx, found)

    async def posts(self, ctx: CallContext, user_id: str, limit: int = 10) -> list[PostData]:
        author = _author_urn(user_id)
        params: QueryParams = {"q": "author", "author": author, "count": min(max(limit, 1), 100)}
        try:
            body = await self._call(ctx, "GET", "/rest/posts", params=params)
        except RequestRejected as exc:
            if exc.status != 403:
                raise
            raise _posts_refused(author) from exc
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
        """One call; the query is Rest.li 2.0 encoded (URNs and ``List(...)``), and ``/rest``
        calls name the configured ``LinkedIn-Version``."""
        headers = (
            {"LinkedIn-Version": self.version, "X-Restli-Protocol-Version": "2.0.0"}
            if versioned
            else None
        )
        query = restli_query(params) if params else ""
        response = await send(
            self._http,
            LINKEDIN_WIRE,
            method,
            self._base + path + (f"?{query}" if query else ""),
            token=ctx.access_token,
            ctx=ctx,
            json=json,
            headers=headers,
        )
        if response.status_code == 426:
            raise VersionRetired(
                self.version,
                VERSION_SETTING,
                f"linkedin: LinkedIn no longer serves API version {self.version} "
                f"({error_summary(response)}): set {VERSION_SETTING} to a current YYYYMM "
                "version (LinkedIn keeps each monthly version about a year)",
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


def restli_value(value: str | int | Sequence[str]) -> str:
    """Rest.li 2.0 URL encoding of one value: strings percent-encoded whole (a URN's colons
    too), lists as ``List(a,b)`` with each item encoded."""
    if isinstance(value, str):
        return quote(value, safe="")
    if isinstance(value, int):
        return str(value)
    return "List(" + ",".join(restli_value(item) for item in value) + ")"


def restli_query(params: QueryParams) -> str:
    return "&".join(f"{quote(key, safe='')}={restli_value(v)}" for key, v in params.items())


def _posts_refused(author: str) -> ScopeMissing | RequestRejected:
    if author.startswith(PERSON_URN):
        return ScopeMissing(
            MEMBER_POSTS_SCOPE,
            f"linkedin: reading a member's posts needs {MEMBER_POSTS_SCOPE}, which LinkedIn "
            "grants only to apps it has approved for it",
        )
    return RequestRejected(
        403,
        f"linkedin: only administrators of {author} may read its posts "
        "(Community Management API, r_organization_social)",
    )


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
    if not is_ascii_number(org_id):
        raise ProfileGone(f"linkedin: organisation ids are numeric, not {user_id!r}")
    return org_id


def _author_urn(user_id: str) -> str:
    if user_id.startswith((ORGANIZATION_URN, PERSON_URN)):
        return user_id
    if is_ascii_number(user_id):
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
