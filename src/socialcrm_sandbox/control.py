"""The sandbox's own control plane under ``/_sandbox`` (no auth: it is a test double)."""

from __future__ import annotations

import hashlib
from dataclasses import asdict
from html import escape
from typing import Annotated, Any, Literal, get_args

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse, Response
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from socialcrm_sandbox.bluesky_shapes import post_cid, post_uri
from socialcrm_sandbox.gate import NetworkError, sandbox_state
from socialcrm_sandbox.schema import Network, OAuthNetwork, load_world_spec
from socialcrm_sandbox.times import iso_z
from socialcrm_sandbox.traffic import ANY_FAMILY, Budget, Family, Fault
from socialcrm_sandbox.world import DirectMessage, Post, World

router = APIRouter(prefix="/_sandbox", tags=["sandbox: control"])

FAMILIES = frozenset(get_args(Family)) | {ANY_FAMILY}


def known_family(value: str) -> str:
    if value not in FAMILIES:
        raise ValueError(f"endpoint must be one of {sorted(FAMILIES)}")
    return value


EndpointFamily = Annotated[str, AfterValidator(known_family)]


def control_error(status: int, code: str, message: str, **details: Any) -> NetworkError:
    """socialcrm's own error envelope, used for the control plane."""
    return NetworkError(status, {"error": {"code": code, "message": message, "details": details}})


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FaultIn(_In):
    network: Network
    endpoint: EndpointFamily = ANY_FAMILY
    status: int = Field(ge=100, le=599)
    retry_after: int | None = Field(default=None, ge=0)
    count: int = Field(default=1, ge=1)
    latency_ms: int = Field(default=0, ge=0, le=120_000)
    after: bool = False


class BudgetIn(_In):
    network: Network
    limit: int = Field(ge=0)
    window_s: int = Field(ge=1)
    endpoint: EndpointFamily = ANY_FAMILY


class PostIn(_In):
    network: Network
    author_handle: str
    text: str
    public: bool = True
    in_reply_to_id: str | None = None


class ConfigIn(_In):
    token_ttl_s: float | None = Field(default=None, ge=0)
    mastodon_version: str | None = Field(default=None, pattern=r"^[0-9]+\.[0-9]+\.[0-9]+$")
    x_vocabulary: Literal["classic", "spec"] | None = None


class AppIn(_In):
    network: OAuthNetwork
    redirect_uris: list[str] = Field(min_length=1)
    client_id: str | None = None
    client_secret: str | None = None
    name: str | None = None
    scopes: list[str] | None = None
    audited: bool = False


def sandbox_post(post: Post, world: World) -> dict[str, Any]:
    author = world.account_by_id(post.network, post.author_id)
    shown: dict[str, Any] = {
        "id": post.id,
        "network": post.network,
        "author_id": post.author_id,
        "author_handle": author.handle if author else None,
        "text": post.text,
        "created_at": iso_z(post.created_at),
        "public": post.public,
        "visibility": post.visibility,
        "in_reply_to_id": post.in_reply_to_id,
    }
    if post.network == "bluesky":
        shown |= {"uri": post_uri(post), "cid": post_cid(post)}
    return shown


def sandbox_dm(dm: DirectMessage, world: World) -> dict[str, Any]:
    sender = world.account_by_id(dm.network, dm.sender_id)
    recipient = world.account_by_id(dm.network, dm.recipient_id)
    return {
        "id": dm.id,
        "network": dm.network,
        "conversation_id": dm.conversation_id,
        "sender_id": dm.sender_id,
        "sender_handle": sender.handle if sender else None,
        "recipient_id": dm.recipient_id,
        "recipient_handle": recipient.handle if recipient else None,
        "text": dm.text,
        "created_at": iso_z(dm.created_at),
    }


@router.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/avatars/{name}.svg", response_class=Response)
async def avatar(name: Annotated[str, Path(pattern=r"^[a-z0-9-]{1,60}$")]) -> Response:
    """A profile picture for a world's account (``/_sandbox/avatars/maya-okafor.svg``): the
    initials on a colour of the name's own, so the demo shows faces without any outside host."""
    initials = "".join(part[0] for part in name.split("-") if part)[:2].upper()
    hue = int(hashlib.sha256(name.encode()).hexdigest()[:4], 16) % 360
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" width="96" height="96" viewBox="0 0 96 96">'
        f'<rect width="96" height="96" fill="hsl({hue} 45% 42%)"/>'
        '<text x="48" y="60" font-family="system-ui, sans-serif" font-size="38" '
        f'font-weight="600" fill="#fff" text-anchor="middle">{escape(initials)}</text></svg>'
    )
    return Response(svg, media_type="image/svg+xml", headers={"Cache-Control": "max-age=86400"})


@router.post("/reset")
async def reset(request: Request) -> dict[str, str]:
    sandbox_state(request).reset()
    return {"status": "reset"}


@router.post("/world")
async def replace_world(request: Request) -> dict[str, Any]:
    try:
        spec = load_world_spec(await request.json())
    except (ValidationError, ValueError) as error:
        raise control_error(
            422, "validation_error", "Invalid world file.", reason=str(error)
        ) from error
    sandbox_state(request).replace_world(spec)
    return {"status": "loaded", "people": len(spec.people), "apps": len(spec.apps)}


@router.post("/faults", status_code=201)
async def add_fault(body: FaultIn, request: Request) -> dict[str, Any]:
    fault = Fault(**body.model_dump())
    sandbox_state(request).traffic.add_fault(fault)
    return asdict(fault)


@router.get("/faults")
async def list_faults(request: Request) -> list[dict[str, Any]]:
    return [asdict(f) for f in sandbox_state(request).traffic.faults()]


@router.delete("/faults")
async def clear_faults(request: Request) -> dict[str, str]:
    sandbox_state(request).traffic.clear_faults()
    return {"status": "cleared"}


@router.post("/budget", status_code=201)
async def set_budget(body: BudgetIn, request: Request) -> dict[str, Any]:
    budget = Budget(**body.model_dump())
    sandbox_state(request).traffic.set_budget(budget)
    return asdict(budget)


@router.get("/budget")
async def list_budgets(request: Request) -> list[dict[str, Any]]:
    return [asdict(b) for b in sandbox_state(request).traffic.budgets()]


@router.delete("/budget")
async def clear_budgets(request: Request) -> dict[str, str]:
    sandbox_state(request).traffic.clear_budgets()
    return {"status": "cleared"}


@router.post("/posts", status_code=201)
async def add_post(body: PostIn, request: Request) -> dict[str, Any]:
    world = sandbox_state(request).world
    author = world.account_by_handle(body.network, body.author_handle)
    if author is None:
        raise control_error(404, "not_found", "No such account.", handle=body.author_handle)
    if body.in_reply_to_id is not None and world.post(body.network, body.in_reply_to_id) is None:
        raise control_error(404, "not_found", "No such post.", id=body.in_reply_to_id)
    post = world.add_post(
        body.network,
        author.user_id,
        body.text,
        visibility="public" if body.public else "private",
        in_reply_to_id=body.in_reply_to_id,
        origin="sandbox",
    )
    return sandbox_post(post, world)


@router.get("/posts")
async def created_posts(request: Request, network: Network | None = None) -> list[dict[str, Any]]:
    world = sandbox_state(request).world
    return [sandbox_post(p, world) for p in world.created_posts(network)]


@router.get("/dms")
async def dms(request: Request, network: Network | None = None) -> list[dict[str, Any]]:
    world = sandbox_state(request).world
    return [sandbox_dm(d, world) for d in world.dms(network)]


@router.get("/tokens")
async def tokens(request: Request, network: Network | None = None) -> dict[str, Any]:
    return {"network": network, **sandbox_state(request).grants.counts(network)}


@router.get("/calls")
async def calls(
    request: Request, network: Network | None = None, endpoint: str | None = None
) -> dict[str, Any]:
    found = sandbox_state(request).traffic.calls(network, endpoint)
    rows = [{"network": n, "endpoint": e, "count": c} for (n, e), c in sorted(found.items())]
    return {"count": sum(found.values()), "calls": rows}


@router.post("/config")
async def config(body: ConfigIn, request: Request) -> dict[str, Any]:
    state = sandbox_state(request)
    if body.token_ttl_s is not None:
        state.grants.set_access_ttl(body.token_ttl_s)
    if body.mastodon_version is not None:
        state.mastodon_version = body.mastodon_version
    if body.x_vocabulary is not None:
        state.x_vocabulary = body.x_vocabulary
    return {
        "token_ttl_s": state.grants.access_ttl_s,
        "mastodon_version": state.mastodon_version,
        "x_vocabulary": state.x_vocabulary,
    }


@router.post("/apps", status_code=201)
async def register_app(body: AppIn, request: Request) -> JSONResponse:
    grants = sandbox_state(request).grants
    status = 201
    redirect_uris = list(body.redirect_uris)
    existing = grants.app(body.network, body.client_id) if body.client_id is not None else None
    if existing is not None:
        # Like a developer portal: the app's owner (who knows its secret) may add redirect URIs.
        if existing.client_secret is None or existing.client_secret != body.client_secret:
            raise control_error(
                409, "conflict", "client_id already registered.", client_id=body.client_id
            )
        redirect_uris = list(dict.fromkeys([*existing.redirect_uris, *redirect_uris]))
        status = 200
    app = grants.register_app(
        body.network,
        redirect_uris,
        name=body.name,
        client_id=body.client_id,
        client_secret=body.client_secret,
        scopes=body.scopes,
        audited=body.audited,
    )
    shown = asdict(app)
    shown["redirect_uris"] = list(app.redirect_uris)
    shown["scopes"] = list(app.scopes) if app.scopes is not None else None
    return JSONResponse(shown, status_code=status)
