"""LinkedIn under ``/linkedin``: OpenID userinfo and the Community Management API (``/rest``).

Every ``/rest`` call must name a ``LinkedIn-Version`` that is active: LinkedIn serves each
monthly version for about a year, so one older than twelve months (or not yet released) is
refused with ``426 NONEXISTENT_VERSION``. Organisations are found by vanity name and by
``organizationsLookup`` (lookup fields only, no description, unless the caller administers
the organisation); ``organizations/{id}`` and an organisation's posts answer 403 to anyone
but its administrators; a member's posts need ``r_member_social``. Members' profiles are not
served (LinkedIn closes them), there is no messaging. Posts are ``urn:li:share:<id>``;
comments come from ``socialActions``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from socialcrm_sandbox.callers import caller_account, caller_grant
from socialcrm_sandbox.gate import NetworkError, admit, sandbox_state
from socialcrm_sandbox.paging import as_int, clamp
from socialcrm_sandbox.signals import linkedin_error
from socialcrm_sandbox.world import Account, Post, World

router = APIRouter(prefix="/linkedin", tags=["sandbox: linkedin"])

ORG = "urn:li:organization:"
PERSON = "urn:li:person:"
SHARE = "urn:li:share:"
MAX_COMMENTARY = 3000
VERSION_LIFETIME_MONTHS = 12
_VERSION = re.compile(r"(\d{4})(\d{2})(?:\.\d{2})?")


class CommentMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")
    text: str = ""


class CommentIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    actor: str
    object: str | None = None
    message: CommentMessage


class PostIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    author: str
    commentary: str = ""
    visibility: str = "PUBLIC"
    lifecycle_state: str = Field(default="PUBLISHED", alias="lifecycleState")


def _refuse(status: int, message: str, code: str | None = None) -> NetworkError:
    return NetworkError(status, linkedin_error(status, message, code))


def _caller(request: Request) -> Account:
    return caller_account(request, "linkedin", NetworkError(401, linkedin_error(401)))


def _scopes(request: Request) -> tuple[Account, tuple[str, ...]]:
    account, token = caller_grant(request, "linkedin", NetworkError(401, linkedin_error(401)))
    return account, token.scope


def version_is_active(version: str, now: datetime) -> bool:
    """Released (not in the future) and at most a year old, by calendar month."""
    match = _VERSION.fullmatch(version)
    if match is None:
        return False
    age = (now.year - int(match[1])) * 12 + now.month - int(match[2])
    return 1 <= int(match[2]) <= 12 and 0 <= age < VERSION_LIFETIME_MONTHS


def check_version(request: Request) -> None:
    """What LinkedIn does with the ``LinkedIn-Version`` header of a ``/rest`` call."""
    version = request.headers.get("linkedin-version", "")
    if not version:
        raise _refuse(
            400,
            "A version must be present. Please specify a version by adding the "
            "LinkedIn-Version header.",
            "VERSION_MISSING",
        )
    now = datetime.fromtimestamp(sandbox_state(request).clock(), tz=UTC)
    if not version_is_active(version, now):
        shown = f"{version[:6]}01" if _VERSION.fullmatch(version) else version
        raise _refuse(426, f"Requested version {shown} is not active", "NONEXISTENT_VERSION")


def _access_denied(resource: str) -> NetworkError:
    return NetworkError(
        403,
        linkedin_error(403, f"Not enough permissions to access: {resource}", "ACCESS_DENIED")
        | {"serviceErrorCode": 100},
    )


def urn_of(account: Account) -> str:
    return f"{ORG if account.account_type == 'organization' else PERSON}{account.user_id}"


def _account_for_urn(world: World, urn: str) -> Account | None:
    for prefix in (ORG, PERSON):
        if urn.startswith(prefix):
            found = world.account_by_id("linkedin", urn.removeprefix(prefix))
            if found is not None and urn_of(found) == urn:
                return found
    return None


def _post_for_urn(world: World, urn: str) -> Post | None:
    post_id = urn.removeprefix(SHARE) if urn.startswith(SHARE) else ""
    return world.post("linkedin", post_id) if post_id.isdigit() else None


def _localized(value: str) -> dict[str, Any]:
    return {"localized": {"en_US": value}, "preferredLocale": {"country": "US", "language": "en"}}


def organization_json(account: Account, *, admin: bool = True) -> dict[str, Any]:
    """The organisation as its administrators see it; others get the lookup fields only."""
    body: dict[str, Any] = {
        "id": int(account.user_id),
        "$URN": urn_of(account),
        "vanityName": account.handle,
        "localizedName": account.display_name,
        "name": _localized(account.display_name),
        "localizedWebsite": account.website or "",
        "primaryOrganizationType": "NONE",
        "locations": [],
    }
    if admin:
        body |= {"localizedDescription": account.bio, "description": _localized(account.bio)}
    if account.location:
        city, _, country = account.location.partition(", ")
        body["locations"] = [
            {"locationType": "HEADQUARTERS", "address": {"city": city, "country": country}}
        ]
    return body


def share_json(post: Post, world: World) -> dict[str, Any]:
    author = world.account_by_id("linkedin", post.author_id)
    stamp = int(post.created_at.timestamp() * 1000)
    return {
        "id": f"{SHARE}{post.id}",
        "author": urn_of(author) if author else "",
        "commentary": post.text,
        "visibility": "PUBLIC",
        "lifecycleState": "PUBLISHED",
        "distribution": {"feedDistribution": "MAIN_FEED", "targetEntities": []},
        "createdAt": stamp,
        "publishedAt": stamp,
        "lastModifiedAt": stamp,
        "isReshareDisabledByAuthor": False,
    }


def comment_json(post: Post, parent: Post, world: World) -> dict[str, Any]:
    author = world.account_by_id("linkedin", post.author_id)
    stamp = int(post.created_at.timestamp() * 1000)
    return {
        "id": post.id,
        "commentUrn": f"urn:li:comment:(urn:li:activity:{parent.id},{post.id})",
        "actor": urn_of(author) if author else "",
        "object": f"{SHARE}{parent.id}",
        "message": {"text": post.text},
        "created": {"time": stamp},
        "lastModified": {"time": stamp},
    }


@router.get("/v2/userinfo")
async def userinfo(request: Request) -> dict[str, Any]:
    await admit(request, "linkedin", "profile")
    me = _caller(request)
    given, _, family = me.person_name.partition(" ")
    info: dict[str, Any] = {
        "sub": me.user_id,
        "name": me.person_name,
        "given_name": given,
        "family_name": family,
        "picture": me.avatar_url or "",
        "locale": {"country": "US", "language": "en"},
    }
    if me.emails:
        info |= {"email": me.emails[0], "email_verified": True}
    return info


@router.get("/rest/organizations")
async def organizations_by_vanity(request: Request) -> dict[str, Any]:
    check_version(request)
    await admit(request, "linkedin", "lookup_handle")
    me = _caller(request)
    query = request.query_params
    if query.get("q") != "vanityName" or not query.get("vanityName"):
        raise _refuse(
            400, "Invalid query: q=vanityName and vanityName are required", "ILLEGAL_ARGUMENT"
        )
    found = sandbox_state(request).world.account_by_handle("linkedin", query["vanityName"])
    elements = (
        [organization_json(found, admin=found.administered_by(me.handle))]
        if found and found.account_type == "organization"
        else []
    )
    return {"elements": elements, "paging": {"count": 10, "start": 0, "links": []}}


@router.get("/rest/organizations/{org_id}")
async def organization(org_id: str, request: Request) -> dict[str, Any]:
    """Administrators only: everyone else gets 403 (organizationsLookup is theirs)."""
    check_version(request)
    await admit(request, "linkedin", "profile")
    me = _caller(request)
    found = sandbox_state(request).world.account_by_id("linkedin", org_id)
    if found is None or found.account_type != "organization":
        raise _refuse(404, f"Organization {org_id} does not exist", "NOT_FOUND")
    if not found.administered_by(me.handle):
        raise _access_denied(f"organizations.GET.{request.headers['linkedin-version']}")
    return organization_json(found)


_LIST = re.compile(r"List\(([^()]*)\)")


@router.get("/rest/organizationsLookup")
async def organizations_lookup(request: Request) -> dict[str, Any]:
    """BATCH_GET ``ids=List(1,2)``: any member, lookup fields only (no description)."""
    check_version(request)
    await admit(request, "linkedin", "profile")
    me = _caller(request)
    ids = _LIST.fullmatch(request.query_params.get("ids", ""))
    if ids is None or not ids[1]:
        raise _refuse(400, "ids must be a Rest.li list: ids=List(123,456)", "ILLEGAL_ARGUMENT")
    world = sandbox_state(request).world
    results: dict[str, Any] = {}
    errors: dict[str, Any] = {}
    for org_id in ids[1].split(","):
        found = world.account_by_id("linkedin", org_id) if org_id.isdigit() else None
        if found is None or found.account_type != "organization":
            errors[org_id] = {"status": 404, "message": f"Organization {org_id} does not exist"}
        else:
            results[org_id] = organization_json(found, admin=found.administered_by(me.handle))
    statuses = {k: 200 for k in results} | {k: 404 for k in errors}
    return {"results": results, "statuses": statuses, "errors": errors}


@router.get("/rest/networkSizes/{urn}")
async def network_size(urn: str, request: Request) -> dict[str, Any]:
    check_version(request)
    await admit(request, "linkedin", "profile")
    _caller(request)
    if request.query_params.get("edgeType") != "COMPANY_FOLLOWED_BY_MEMBER":
        raise _refuse(400, "edgeType must be COMPANY_FOLLOWED_BY_MEMBER", "ILLEGAL_ARGUMENT")
    found = _account_for_urn(sandbox_state(request).world, unquote(urn))
    if found is None or found.account_type != "organization":
        raise _refuse(404, f"{unquote(urn)} does not exist", "NOT_FOUND")
    return {"firstDegreeSize": found.followers}


@router.get("/rest/posts")
async def posts_by_author(request: Request) -> dict[str, Any]:
    check_version(request)
    await admit(request, "linkedin", "posts")
    me, scopes = _scopes(request)
    query = request.query_params
    world = sandbox_state(request).world
    author = _account_for_urn(world, query.get("author", ""))
    if query.get("q") != "author" or author is None:
        raise _refuse(
            400, "q=author needs the URN of an existing member or organization", "ILLEGAL_ARGUMENT"
        )
    resource = f"partnerApiPostsExternal.FINDER-author.{request.headers['linkedin-version']}"
    if author.account_type == "organization":
        allowed = "r_organization_social" in scopes and author.administered_by(me.handle)
    else:
        allowed = "r_member_social" in scopes and author.user_id == me.user_id
    if not allowed:
        raise _access_denied(resource)
    count = clamp(as_int(query.get("count")), 10, 100)
    start = as_int(query.get("start")) or 0
    shares = [p for p in world.posts_by("linkedin", author.user_id) if p.in_reply_to_id is None]
    page = shares[start : start + count]
    return {
        "elements": [share_json(p, world) for p in page],
        "paging": {"start": start, "count": count, "total": len(shares), "links": []},
    }


@router.get("/rest/posts/{urn}")
async def post_by_urn(urn: str, request: Request) -> dict[str, Any]:
    check_version(request)
    await admit(request, "linkedin", "metrics")
    _caller(request)
    world = sandbox_state(request).world
    post = _post_for_urn(world, unquote(urn))
    if post is None or post.in_reply_to_id is not None:
        raise _refuse(404, f"Post {unquote(urn)} does not exist", "NOT_FOUND")
    return share_json(post, world)


@router.post("/rest/posts", status_code=201)
async def create_post(body: PostIn, request: Request) -> Response:
    check_version(request)
    await admit(request, "linkedin", "publish")
    me = _caller(request)
    world = sandbox_state(request).world
    author = _account_for_urn(world, body.author)
    if author is None or author.user_id != me.user_id:
        raise _refuse(403, f"Not enough permissions to post as {body.author}", "ACCESS_DENIED")
    text = body.commentary.strip()
    if not text or len(body.commentary) > MAX_COMMENTARY:
        raise _refuse(
            422, f"commentary must be 1-{MAX_COMMENTARY} characters", "UNPROCESSABLE_ENTITY"
        )
    post = world.add_post("linkedin", author.user_id, body.commentary)
    return Response(
        status_code=201,
        headers={"x-restli-id": f"{SHARE}{post.id}", "x-linkedin-id": f"{SHARE}{post.id}"},
    )


@router.get("/rest/socialActions/{urn}")
async def social_actions(urn: str, request: Request) -> dict[str, Any]:
    check_version(request)
    await admit(request, "linkedin", "metrics")
    _caller(request)
    world = sandbox_state(request).world
    post = _post_for_urn(world, unquote(urn))
    if post is None:
        raise _refuse(404, f"{unquote(urn)} does not exist", "NOT_FOUND")
    comments = world.reply_count(post)
    return {
        "target": f"{SHARE}{post.id}",
        "likesSummary": {"totalLikes": post.metrics.likes, "likedByCurrentUser": False},
        "commentsSummary": {
            "totalFirstLevelComments": comments,
            "aggregatedTotalComments": comments,
        },
    }


@router.post("/rest/socialActions/{urn}/comments", status_code=201)
async def create_comment(urn: str, body: CommentIn, request: Request) -> JSONResponse:
    check_version(request)
    await admit(request, "linkedin", "reply")
    me = _caller(request)
    world = sandbox_state(request).world
    parent = _post_for_urn(world, unquote(urn))
    if parent is None:
        raise _refuse(404, f"{unquote(urn)} does not exist", "NOT_FOUND")
    actor = _account_for_urn(world, body.actor)
    if actor is None or actor.user_id != me.user_id:
        raise _refuse(403, f"Not enough permissions to comment as {body.actor}", "ACCESS_DENIED")
    if not body.message.text.strip():
        raise _refuse(422, "message.text must not be empty", "UNPROCESSABLE_ENTITY")
    post = world.add_post("linkedin", actor.user_id, body.message.text, in_reply_to_id=parent.id)
    return JSONResponse(comment_json(post, parent, world), status_code=201)
