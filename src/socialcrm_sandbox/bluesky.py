"""Bluesky's XRPC methods under ``/bsky/xrpc``: sessions, AppView reads, records, chat."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict

from socialcrm_sandbox.bluesky_shapes import (
    POST_COLLECTION,
    notification_view,
    post_id_for,
    post_view,
    profile_basic,
    profile_listed,
    profile_view,
    split_uri,
    strong_ref,
)
from socialcrm_sandbox.gate import NetworkError, admit, bearer_token, sandbox_state
from socialcrm_sandbox.grants import Issued, TokenKind
from socialcrm_sandbox.paging import IdWindow, as_int, clamp, take_page
from socialcrm_sandbox.signals import xrpc_error
from socialcrm_sandbox.times import from_epoch, iso_z
from socialcrm_sandbox.world import Account, Post

router = APIRouter(prefix="/bsky/xrpc", tags=["sandbox: bluesky"])

DEFAULT_APP_PASSWORD = "app-password"  # noqa: S105 - the documented sandbox password
# An app password created without "Allow access to your direct messages" (any account).
BASIC_APP_PASSWORD = "basic-app-password"  # noqa: S105 - the documented sandbox password
PRIVILEGED_SCOPES = frozenset({"com.atproto.appPassPrivileged", "com.atproto.access"})


class SessionIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    identifier: str
    password: str


class RecordIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    repo: str
    collection: str
    record: dict[str, Any]


class MessageIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    text: str


class SendMessageIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    convoId: str  # the lexicon's camelCase field name
    message: MessageIn


def _invalid(message: str) -> NetworkError:
    return NetworkError(400, xrpc_error(400, "InvalidRequest", message))


def _caller(request: Request, kind: TokenKind = "access") -> Account:
    value = bearer_token(request)
    if value is None:
        raise NetworkError(401, xrpc_error(401))
    state = sandbox_state(request)
    token = state.grants.lookup("bluesky", value, kind)
    if token is None:
        raise NetworkError(401, xrpc_error(401, "InvalidToken", "Token could not be verified"))
    status = token.status(state.clock())
    if status == "expired":
        raise NetworkError(400, xrpc_error(400, "ExpiredToken", "Token has expired"))
    if status == "revoked":
        raise NetworkError(401, xrpc_error(401, "InvalidToken", "Token has been revoked"))
    account = state.world.account_by_id("bluesky", token.account_id)
    if account is None:
        raise NetworkError(401, xrpc_error(401, "InvalidToken", "Token could not be verified"))
    return account


def _chat_caller(request: Request) -> Account:
    """chat.bsky.* is a privileged method: a plain app password's session is refused."""
    account = _caller(request)
    token = sandbox_state(request).grants.lookup("bluesky", bearer_token(request) or "", "access")
    if token is None or not PRIVILEGED_SCOPES.intersection(token.scope):
        raise NetworkError(400, xrpc_error(400, "InvalidToken", "Bad token method"))
    return account


def _optional_caller(request: Request) -> None:
    """Public AppView reads need no session, but a bad one is still refused."""
    if bearer_token(request) is not None:
        _caller(request)


def _profile(request: Request, account: Account) -> dict[str, Any]:
    world = sandbox_state(request).world
    return profile_view(account, world.posts_count("bluesky", account.user_id))


def _actor(request: Request, actor: str) -> Account:
    world = sandbox_state(request).world
    actor = actor.strip().removeprefix("@")
    if actor.startswith("did:"):
        account = world.account_by_id("bluesky", actor)
    else:
        account = world.account_by_handle("bluesky", actor)
    if account is None:
        raise _invalid("Profile not found")
    return account


def _session_json(account: Account, issued: Issued) -> dict[str, Any]:
    refresh = issued.refresh.value if issued.refresh else ""
    return {
        "did": account.user_id,
        "handle": account.handle,
        "accessJwt": issued.access.value,
        "refreshJwt": refresh,
    }


def _post_at(request: Request, uri: str) -> Post | None:
    parts = split_uri(uri)
    if parts is None or parts[1] != POST_COLLECTION:
        return None
    authority, _, rkey = parts
    world = sandbox_state(request).world
    author = (
        world.account_by_id("bluesky", authority)
        if authority.startswith("did:")
        else world.account_by_handle("bluesky", authority)
    )
    post_id = post_id_for(rkey)
    if author is None or post_id is None:
        return None
    post = world.post("bluesky", post_id)
    return post if post is not None and post.author_id == author.user_id else None


def _cursor_window(request: Request) -> IdWindow:
    return IdWindow(below=as_int(request.query_params.get("cursor")))


# -- sessions ----------------------------------------------------------------------------


@router.post("/com.atproto.server.createSession")
async def create_session(body: SessionIn, request: Request) -> dict[str, Any]:
    await admit(request, "bluesky", "token")
    state = sandbox_state(request)
    account = _account_for_login(request, body.identifier)
    expected = (account.app_password if account else None) or DEFAULT_APP_PASSWORD
    if account is None or body.password not in (expected, BASIC_APP_PASSWORD):
        message = "Invalid identifier or password"
        raise NetworkError(401, xrpc_error(401, "AuthenticationRequired", message))
    issued = state.grants.create_session(
        account.user_id, privileged=body.password != BASIC_APP_PASSWORD
    )
    return {**_session_json(account, issued), "active": True}


def _account_for_login(request: Request, identifier: str) -> Account | None:
    world = sandbox_state(request).world
    ident = identifier.strip().removeprefix("@")
    if ident.startswith("did:"):
        return world.account_by_id("bluesky", ident)
    if "@" in ident:
        wanted = ident.lower()
        owners = [a for a in world.accounts("bluesky") if wanted in (e.lower() for e in a.emails)]
        return owners[0] if owners else None
    return world.account_by_handle("bluesky", ident)


@router.post("/com.atproto.server.refreshSession")
async def refresh_session(request: Request) -> dict[str, Any]:
    await admit(request, "bluesky", "token")
    account = _caller(request, "refresh")
    value = bearer_token(request) or ""
    issued = sandbox_state(request).grants.refresh_session(value)
    if not isinstance(issued, Issued):
        raise NetworkError(401, xrpc_error(401, "InvalidToken", "Token has been revoked"))
    return _session_json(account, issued)


@router.post("/com.atproto.server.deleteSession")
async def delete_session(request: Request) -> Response:
    await admit(request, "bluesky", "revoke")
    _caller(request, "refresh")
    sandbox_state(request).grants.revoke("bluesky", bearer_token(request) or "", None)
    return Response(status_code=200)


@router.get("/com.atproto.server.getSession")
async def get_session(request: Request) -> dict[str, Any]:
    await admit(request, "bluesky", "lookup_handle")
    account = _caller(request)
    return {"did": account.user_id, "handle": account.handle}


# -- identity and profiles ---------------------------------------------------------------


@router.get("/com.atproto.identity.resolveHandle")
async def resolve_handle(request: Request, handle: str = "") -> dict[str, Any]:
    await admit(request, "bluesky", "lookup_handle")
    _optional_caller(request)
    account = sandbox_state(request).world.account_by_handle("bluesky", handle.strip())
    if account is None:
        raise _invalid("Unable to resolve handle")
    return {"did": account.user_id}


@router.get("/app.bsky.actor.getProfile")
async def get_profile(request: Request, actor: str = "") -> dict[str, Any]:
    await admit(request, "bluesky", "profile" if actor.startswith("did:") else "lookup_handle")
    _optional_caller(request)
    if not actor:
        raise _invalid('Error: Params must have the property "actor"')
    return _profile(request, _actor(request, actor))


@router.get("/app.bsky.actor.searchActors")
async def search_actors(request: Request, q: str = "", term: str = "") -> dict[str, Any]:
    await admit(request, "bluesky", "search")
    _optional_caller(request)
    limit = clamp(as_int(request.query_params.get("limit")), 25, 100)
    offset = as_int(request.query_params.get("cursor")) or 0
    found = sandbox_state(request).world.search_accounts("bluesky", q or term)
    page = found[offset : offset + limit]
    answer: dict[str, Any] = {"actors": [profile_listed(a) for a in page]}
    if offset + limit < len(found):
        answer["cursor"] = str(offset + limit)
    return answer


# -- feeds and notifications -------------------------------------------------------------


@router.get("/app.bsky.feed.getAuthorFeed")
async def get_author_feed(request: Request, actor: str = "") -> dict[str, Any]:
    await admit(request, "bluesky", "posts")
    _optional_caller(request)
    author = _actor(request, actor)
    world = sandbox_state(request).world
    limit = clamp(as_int(request.query_params.get("limit")), 50, 100)
    posts = world.posts_by("bluesky", author.user_id)
    page = take_page(posts, lambda p: p.id, _cursor_window(request), limit)
    answer: dict[str, Any] = {"feed": [{"post": post_view(p, world)} for p in page.items]}
    if page.has_more:
        answer["cursor"] = page.items[-1].id
    return answer


@router.get("/app.bsky.feed.getPosts")
async def get_posts(request: Request) -> dict[str, Any]:
    await admit(request, "bluesky", "metrics")
    _optional_caller(request)
    uris = request.query_params.getlist("uris") or request.query_params.getlist("uris[]")
    if len(uris) > 25:
        raise _invalid("uris must not have more than 25 elements")
    world = sandbox_state(request).world
    found = (_post_at(request, uri) for uri in uris)
    return {"posts": [post_view(p, world) for p in found if p is not None]}


@router.get("/app.bsky.notification.listNotifications")
async def list_notifications(request: Request) -> dict[str, Any]:
    await admit(request, "bluesky", "mentions")
    account = _caller(request)
    world = sandbox_state(request).world
    reasons = request.query_params.getlist("reasons") or request.query_params.getlist("reasons[]")
    notices = [
        n
        for n in world.notices_for("bluesky", account.user_id)
        if not reasons or n.reason in reasons
    ]
    limit = clamp(as_int(request.query_params.get("limit")), 50, 100)
    page = take_page(notices, lambda n: n.post.id, _cursor_window(request), limit)
    answer: dict[str, Any] = {"notifications": [notification_view(n, world) for n in page.items]}
    if page.has_more:
        answer["cursor"] = page.items[-1].post.id
    return answer


# -- writing -----------------------------------------------------------------------------


@router.post("/com.atproto.repo.createRecord")
async def create_record(body: RecordIn, request: Request) -> dict[str, Any]:
    await admit(request, "bluesky", "reply" if "reply" in body.record else "publish")
    author = _caller(request)
    if body.repo not in (author.user_id, author.handle):
        raise NetworkError(401, xrpc_error(401))
    if body.collection != POST_COLLECTION:
        raise _invalid(f"Unsupported collection in the sandbox: {body.collection}")
    text = body.record.get("text")
    if not isinstance(text, str):
        raise _invalid(f'Invalid {POST_COLLECTION} record: Record must have the property "text"')
    parent = _reply_parent(request, body.record.get("reply"))
    world = sandbox_state(request).world
    post = world.add_post(
        "bluesky", author.user_id, text, in_reply_to_id=parent.id if parent else None
    )
    return strong_ref(post)


def _reply_parent(request: Request, reply: object) -> Post | None:
    if reply is None:
        return None
    parent_ref = reply.get("parent") if isinstance(reply, dict) else None
    uri = parent_ref.get("uri") if isinstance(parent_ref, dict) else None
    parent = _post_at(request, uri) if isinstance(uri, str) else None
    if parent is None:
        raise _invalid(f"Could not locate record: {uri}")
    return parent


# -- chat (chat.bsky.convo.*, proxied by the PDS) ----------------------------------------


@router.get("/chat.bsky.convo.getConvoForMembers")
async def get_convo_for_members(request: Request) -> dict[str, Any]:
    await admit(request, "bluesky", "dm")
    caller = _chat_caller(request)
    dids = request.query_params.getlist("members") or request.query_params.getlist("members[]")
    if not dids:
        raise _invalid('Error: Params must have the property "members"')
    members = [caller] + [_actor(request, did) for did in dids if did != caller.user_id]
    world = sandbox_state(request).world
    convo_id = world.open_convo("bluesky", [m.user_id for m in members])
    convo = {
        "id": convo_id,
        "rev": "0",
        "members": [profile_basic(m) for m in members],
        "muted": False,
        "unreadCount": 0,
    }
    return {"convo": convo}


@router.post("/chat.bsky.convo.sendMessage")
async def send_message(body: SendMessageIn, request: Request) -> dict[str, Any]:
    await admit(request, "bluesky", "dm")
    sender = _chat_caller(request)
    world = sandbox_state(request).world
    members = world.convo_members(body.convoId)
    if members is None or sender.user_id not in members:
        raise _invalid("Convo not found")
    if not body.message.text.strip():
        raise _invalid("Message text must not be empty")
    sent = [
        world.add_dm("bluesky", sender.user_id, did, body.message.text, body.convoId)
        for did in members
        if did != sender.user_id
    ]
    message_id = sent[0].id if sent else "0"
    sent_at = (
        iso_z(sent[0].created_at) if sent else iso_z(from_epoch(sandbox_state(request).clock()))
    )
    return {
        "id": message_id,
        "rev": message_id,
        "text": body.message.text,
        "sender": {"did": sender.user_id},
        "sentAt": sent_at,
    }


@router.api_route("/{nsid}", methods=["GET", "POST"])
async def not_implemented(nsid: str) -> Response:
    """Any other XRPC method: what a PDS answers for a method it does not serve."""
    raise NetworkError(
        501, xrpc_error(501, "MethodNotImplemented", f"Method Not Implemented: {nsid}")
    )


# -- the PLC directory: DID documents naming each account's PDS ---------------------------

plc_router = APIRouter(prefix="/plc", tags=["sandbox: plc directory"])


@plc_router.get("/{did}")
async def did_document(did: str, request: Request) -> JSONResponse:
    """What plc.directory answers for a ``did:plc`` (atproto.com/specs/did)."""
    account = sandbox_state(request).world.account_by_id("bluesky", did)
    if account is None or not did.startswith("did:plc:"):
        return JSONResponse({"message": f"DID not registered: {did}"}, status_code=404)
    pds = str(request.base_url).rstrip("/") + "/bsky"
    return JSONResponse(
        {
            "@context": ["https://www.w3.org/ns/did/v1"],
            "id": did,
            "alsoKnownAs": [f"at://{account.handle}"],
            "verificationMethod": [],
            "service": [
                {"id": "#atproto_pds", "type": "AtprotoPersonalDataServer", "serviceEndpoint": pds}
            ],
        }
    )
