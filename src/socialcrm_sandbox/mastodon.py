"""Mastodon's REST API under ``/mastodon`` (OAuth routes live in oauth.py)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from socialcrm_sandbox.bodies import read_fields, text_field
from socialcrm_sandbox.gate import NetworkError, admit, bearer_token, sandbox_state
from socialcrm_sandbox.grants import Token, scope_covers
from socialcrm_sandbox.mastodon_shapes import (
    link_header,
    mastodon_account,
    mastodon_notification,
    mastodon_status,
)
from socialcrm_sandbox.paging import IdWindow, Page, as_int, clamp, take_page
from socialcrm_sandbox.signals import mastodon_error
from socialcrm_sandbox.traffic import Family
from socialcrm_sandbox.world import Account, Post, Visibility

router = APIRouter(prefix="/mastodon", tags=["sandbox: mastodon"])

ADMIN_SCOPE = "admin:read:accounts"
MANAGE_USERS_ROLES = frozenset({"moderator", "admin"})
# The instance the sandbox plays (the product's default, DEFAULT_MASTODON_INSTANCE): its own
# accounts may also be named user@mastodon.social.
STANDS_FOR = "mastodon.social"
VISIBILITIES: tuple[Visibility, ...] = ("public", "unlisted", "private", "direct")


def instance_url(request: Request) -> str:
    return str(request.base_url).rstrip("/") + "/mastodon"


def _token(request: Request) -> Token | None:
    """The caller's valid token; None without one; 401 for a bad one (even on public reads)."""
    value = bearer_token(request)
    if value is None:
        return None
    state = sandbox_state(request)
    token = state.grants.lookup("mastodon", value, "access")
    if token is None or token.status(state.clock()) != "active":
        raise NetworkError(401, mastodon_error(401))
    return token


def _caller(request: Request) -> tuple[Account, Token]:
    token = _token(request)
    if token is None:
        raise NetworkError(401, mastodon_error(401))
    account = sandbox_state(request).world.account_by_id("mastodon", token.account_id)
    if account is None:
        raise NetworkError(401, mastodon_error(401))
    return account, token


def _account_json(request: Request, account: Account) -> dict[str, Any]:
    world = sandbox_state(request).world
    count = world.posts_count("mastodon", account.user_id)
    return mastodon_account(account, instance_url(request), count)


def _window(request: Request) -> IdWindow:
    query = request.query_params
    min_id = as_int(query.get("min_id"))
    above = min_id if min_id is not None else as_int(query.get("since_id"))
    return IdWindow(above=above, below=as_int(query.get("max_id")), oldest_first=min_id is not None)


def _paged(request: Request, path: str, page: Page[Post], items: list[Any]) -> JSONResponse:
    response = JSONResponse(items)
    kept = [
        (k, v)
        for k, v in request.query_params.multi_items()
        if k not in ("max_id", "min_id", "since_id")
    ]
    newest = page.items[0].id if page.items else None
    oldest = page.items[-1].id if page.items else None
    link = link_header(f"{instance_url(request)}{path}", urlencode(kept), newest, oldest)
    if link is not None:
        response.headers["Link"] = link
    return response


@router.post("/api/v1/apps")
async def register_app(request: Request) -> dict[str, Any]:
    await admit(request, "mastodon", "apps")
    fields = await read_fields(request)
    raw_uris = fields.get("redirect_uris") or ""
    uris = raw_uris if isinstance(raw_uris, list) else str(raw_uris).split()
    name = text_field(fields, "client_name")
    if not uris or not name:
        raise NetworkError(422, mastodon_error(422, "Validation failed: can't be blank"))
    scopes = (text_field(fields, "scopes") or "read").split()
    app = sandbox_state(request).grants.register_app("mastodon", uris, name=name, scopes=scopes)
    return {
        "id": app.id,
        "name": app.name,
        "website": text_field(fields, "website"),
        "client_id": app.client_id,
        "client_secret": app.client_secret,
        "redirect_uri": "\n".join(app.redirect_uris),
        "redirect_uris": list(app.redirect_uris),
        "scopes": list(app.scopes or ()),
    }


@router.get("/api/v1/accounts/verify_credentials")
async def verify_credentials(request: Request) -> dict[str, Any]:
    await admit(request, "mastodon", "lookup_handle")
    account, _ = _caller(request)
    return _account_json(request, account)


@router.get("/api/v1/accounts/lookup")
async def lookup_account(request: Request, acct: str = "") -> dict[str, Any]:
    await admit(request, "mastodon", "lookup_handle")
    _token(request)
    account = _by_acct(request, acct)
    if account is None or not _known(request, account):
        # lookup skips WebFinger: a remote account this instance has not seen is a 404
        raise NetworkError(404, mastodon_error(404))
    return _account_json(request, account)


def _by_acct(request: Request, acct: str) -> Account | None:
    """The account for ``user`` (this instance) or ``user@host`` (a remote one)."""
    user, _, host = acct.strip().removeprefix("@").partition("@")
    local = host.lower() in ("", _host(request), STANDS_FOR)
    handle = user if local else f"{user}@{host}"
    return sandbox_state(request).world.account_by_handle("mastodon", handle)


def _host(request: Request) -> str:
    return (request.url.hostname or "").lower() + (
        f":{request.url.port}" if request.url.port else ""
    )


def _remote(account: Account) -> bool:
    return "@" in account.handle


def _known(request: Request, account: Account) -> bool:
    return not _remote(account) or account.user_id in sandbox_state(request).mastodon_known_remote


@router.get("/api/v1/accounts/{account_id}")
async def account_by_id(account_id: str, request: Request) -> dict[str, Any]:
    await admit(request, "mastodon", "profile")
    _token(request)
    account = sandbox_state(request).world.account_by_id("mastodon", account_id)
    if account is None:
        raise NetworkError(404, mastodon_error(404))
    return _account_json(request, account)


@router.get("/api/v1/accounts/{account_id}/statuses")
async def account_statuses(account_id: str, request: Request) -> JSONResponse:
    await admit(request, "mastodon", "posts")
    _token(request)
    world = sandbox_state(request).world
    if world.account_by_id("mastodon", account_id) is None:
        raise NetworkError(404, mastodon_error(404))
    limit = clamp(as_int(request.query_params.get("limit")), 20, 40)
    page = take_page(
        world.posts_by("mastodon", account_id), lambda p: p.id, _window(request), limit
    )
    items = [mastodon_status(p, world, instance_url(request)) for p in page.items]
    return _paged(request, f"/api/v1/accounts/{account_id}/statuses", page, items)


@router.get("/api/v2/search")
async def search(request: Request, q: str = "") -> dict[str, Any]:
    await admit(request, "mastodon", "search")
    token = _token(request)  # resolving remote accounts needs a user token
    found: list[dict[str, Any]] = []
    if request.query_params.get("type") in (None, "accounts"):
        query = request.query_params
        limit = clamp(as_int(query.get("limit")), 40, 80)
        offset = as_int(query.get("offset")) or 0
        state = sandbox_state(request)
        accounts = [a for a in state.world.search_accounts("mastodon", q) if _known(request, a)]
        resolving = query.get("resolve") in ("true", "1") and token is not None
        exact = _by_acct(request, q) if "@" in q.strip().removeprefix("@") else None
        if resolving and exact is not None and _remote(exact) and not _known(request, exact):
            state.mastodon_known_remote.add(exact.user_id)  # WebFinger: now known here
        if exact is not None and _known(request, exact) and exact not in accounts:
            accounts.insert(0, exact)  # an exact user@host names that account first
        found = [_account_json(request, a) for a in accounts[offset : offset + limit]]
    return {"accounts": found, "statuses": [], "hashtags": []}


@router.get("/api/v1/admin/accounts")
@router.get("/api/v2/admin/accounts")
async def admin_accounts(request: Request, email: str | None = None) -> list[dict[str, Any]]:
    await admit(request, "mastodon", "lookup_email")
    caller, token = _caller(request)
    if not scope_covers(token.scope, ADMIN_SCOPE):
        raise NetworkError(403, mastodon_error(403))
    if caller.account_type not in MANAGE_USERS_ROLES:  # the scope alone is not enough
        raise NetworkError(403, mastodon_error(403))
    world = sandbox_state(request).world
    if email is not None:
        # Mastodon's ``User.matches_email``: a case-insensitive PREFIX match (ILIKE 'value%')
        prefix = email.strip().lower()
        matches = [
            (a, shown)
            for a in world.accounts("mastodon")
            if a.email_visible and not _remote(a)  # registered here with those addresses
            for shown in a.emails
            if shown.lower().startswith(prefix)
        ]
    else:
        matches = [
            (a, a.emails[0]) for a in world.accounts("mastodon") if a.email_visible and a.emails
        ]
    return [
        {
            "id": a.user_id,
            "username": a.handle,
            "email": shown,
            "account": _account_json(request, a),
        }
        for a, shown in matches
    ]


@router.get("/api/v1/notifications")
async def notifications(request: Request) -> JSONResponse:
    await admit(request, "mastodon", "mentions")
    account, _ = _caller(request)
    query = request.query_params
    types = query.getlist("types[]") or query.getlist("types")
    excluded = query.getlist("exclude_types[]") or query.getlist("exclude_types")
    world = sandbox_state(request).world
    wanted = (not types or "mention" in types) and "mention" not in excluded
    # The default NotificationPolicy (4.3) filters private mentions from people the account
    # does not follow: customers' direct messages stay hidden without ``include_filtered``.
    include_filtered = query.get("include_filtered") in ("true", "1")
    posts = [
        n.post
        for n in world.notices_for("mastodon", account.user_id, addressed=True)
        if n.reason == "mention" and (include_filtered or n.post.visibility != "direct")
    ]
    limit = clamp(as_int(query.get("limit")), 40, 80)
    page = take_page(posts if wanted else [], lambda p: p.id, _window(request), limit)
    items = [mastodon_notification(p, world, instance_url(request)) for p in page.items]
    return _paged(request, "/api/v1/notifications", page, items)


@router.get("/api/v1/statuses/{status_id}")
async def status_by_id(status_id: str, request: Request) -> dict[str, Any]:
    await admit(request, "mastodon", "metrics")
    _token(request)
    world = sandbox_state(request).world
    post = world.post("mastodon", status_id)
    if post is None:
        raise NetworkError(404, mastodon_error(404))
    return mastodon_status(post, world, instance_url(request))


@router.post("/api/v1/statuses")
async def create_status(request: Request) -> dict[str, Any]:
    fields = await read_fields(request)
    text = text_field(fields, "status") or ""
    reply_to = text_field(fields, "in_reply_to_id") or None
    visibility = text_field(fields, "visibility") or "public"
    family: Family = "dm" if visibility == "direct" else "reply" if reply_to else "publish"
    await admit(request, "mastodon", family)
    author, _ = _caller(request)
    if visibility not in VISIBILITIES:
        message = "Validation failed: Visibility is not included in the list"
        raise NetworkError(422, mastodon_error(422, message))
    if not text.strip():
        raise NetworkError(422, mastodon_error(422, "Validation failed: Text can't be blank"))
    world = sandbox_state(request).world
    if reply_to is not None and world.post("mastodon", reply_to) is None:
        raise NetworkError(404, mastodon_error(404))
    post = world.add_post(
        "mastodon",
        author.user_id,
        text,
        visibility=_visibility(visibility),
        in_reply_to_id=reply_to,
    )
    if post.visibility == "direct":
        conversation = world.thread_root(post).id
        for recipient in world.mentioned_accounts(post):
            if recipient.user_id != author.user_id:
                world.add_dm("mastodon", author.user_id, recipient.user_id, text, conversation)
    return mastodon_status(post, world, instance_url(request))


def _visibility(value: str) -> Visibility:
    for known in VISIBILITIES:
        if known == value:
            return known
    return "public"


# --- the instance: version, limits, OAuth server metadata ------------------------------------

MAX_CHARACTERS = 500


@router.get("/api/v1/instance")
async def instance_v1(request: Request) -> dict[str, Any]:
    state = sandbox_state(request)
    return {
        "uri": _host(request),
        "title": "socialcrm sandbox",
        "short_description": "A local Mastodon for tests and the demo.",
        "description": "",
        "email": "admin@sandbox.invalid",
        "version": state.mastodon_version,
        "urls": {"streaming_api": ""},
        "stats": {
            "user_count": len(state.world.accounts("mastodon")),
            "status_count": 0,
            "domain_count": 1,
        },
        "thumbnail": None,
        "languages": ["en"],
        "registrations": False,
        "approval_required": False,
        "invites_enabled": False,
        "configuration": {"statuses": {"max_characters": MAX_CHARACTERS}},
        "contact_account": None,
        "rules": [],
    }


@router.get("/api/v2/instance")
async def instance_v2(request: Request) -> dict[str, Any]:
    state = sandbox_state(request)
    return {
        "domain": _host(request),
        "title": "socialcrm sandbox",
        "version": state.mastodon_version,
        "source_url": "https://github.com/mastodon/mastodon",
        "description": "A local Mastodon for tests and the demo.",
        "usage": {"users": {"active_month": len(state.world.accounts("mastodon"))}},
        "thumbnail": {"url": f"{instance_url(request)}/thumbnail.png"},
        "languages": ["en"],
        "configuration": {
            "urls": {"streaming": ""},
            "statuses": {
                "max_characters": MAX_CHARACTERS,
                "max_media_attachments": 4,
                "characters_reserved_per_url": 23,
            },
        },
        "registrations": {"enabled": False, "approval_required": False, "message": None},
        "contact": {"email": "admin@sandbox.invalid", "account": None},
        "rules": [],
        # API versions arrived with 4.3.0 (2); older instances leave the key out.
        **({"api_versions": {"mastodon": 2}} if state.mastodon_has_pkce() else {}),
    }


@router.get("/.well-known/oauth-authorization-server")
async def oauth_server_metadata(request: Request) -> dict[str, Any]:
    """RFC 8414 metadata, served from Mastodon 4.3 on (older instances: 404)."""
    if not sandbox_state(request).mastodon_has_pkce():
        raise NetworkError(404, mastodon_error(404))
    base = instance_url(request)
    return {
        "issuer": f"{base}/",
        "authorization_endpoint": f"{base}/oauth/authorize",
        "token_endpoint": f"{base}/oauth/token",
        "revocation_endpoint": f"{base}/oauth/revoke",
        "app_registration_endpoint": f"{base}/api/v1/apps",
        "scopes_supported": ["read", "write", "follow", "push", ADMIN_SCOPE],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query", "fragment", "form_post"],
        "code_challenge_methods_supported": ["S256"],
        "grant_types_supported": ["authorization_code", "client_credentials"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
    }
