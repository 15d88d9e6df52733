"""The sandbox ASGI app: X, Mastodon and Bluesky emulators plus the ``/_sandbox`` control plane."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from socialcrm_sandbox import bluesky, control, graph, linkedin, mastodon, tiktok, x, youtube
from socialcrm_sandbox.gate import LateFaultMiddleware, NetworkError, RateHeadersMiddleware
from socialcrm_sandbox.oauth import ALL_OAUTH, oauth_router
from socialcrm_sandbox.schema import Network, load_world_spec
from socialcrm_sandbox.signals import error_body, mastodon_error, reason_phrase, xrpc_error
from socialcrm_sandbox.state import SandboxState
from socialcrm_sandbox.times import Clock, system_clock
from socialcrm_sandbox.x_shapes import INVALID_REQUEST_TYPE

_PREFIXES: tuple[tuple[str, Network], ...] = (
    ("/x/", "x"),
    ("/mastodon/", "mastodon"),
    ("/bsky/", "bluesky"),
    ("/linkedin/", "linkedin"),
    ("/facebook/", "facebook"),
    ("/instagram/", "instagram"),
    ("/youtube/", "youtube"),
    ("/tiktok/", "tiktok"),
)


def network_of_path(path: str) -> Network | None:
    return next((network for prefix, network in _PREFIXES if path.startswith(prefix)), None)


def invalid_request_body(network: Network | None, message: str) -> tuple[int, dict[str, Any]]:
    """How each network (and the control plane) answers a malformed request."""
    if network == "x":
        body = {
            "errors": [{"message": message}],
            "title": "Invalid Request",
            "detail": "One or more parameters to your request was invalid.",
            "type": INVALID_REQUEST_TYPE,
        }
        return 400, body
    if network == "mastodon":
        return 422, mastodon_error(422, f"Validation failed: {message}")
    if network == "bluesky":
        return 400, xrpc_error(400, "InvalidRequest", message)
    if network is not None:
        return 400, error_body(network, 400) | _with_message(network, message)
    envelope = {"code": "validation_error", "message": message, "details": {}}
    return 422, {"error": envelope}


def _with_message(network: Network, message: str) -> dict[str, Any]:
    """The network's 400 body, saying what was wrong."""
    body = error_body(network, 400)
    if network == "linkedin":
        return {"message": message}
    inner = body.get("error")
    return {"error": {**inner, "message": message}} if isinstance(inner, dict) else {}


async def _network_error(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, NetworkError)
    return JSONResponse(error.body, status_code=error.status)


async def _validation_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    problems = "; ".join(
        f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', 'invalid')}"
        for e in error.errors()
    )
    status, body = invalid_request_body(network_of_path(request.url.path), problems)
    return JSONResponse(body, status_code=status)


async def _http_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    network = network_of_path(request.url.path)
    if network is not None:
        body = error_body(network, error.status_code)
    else:
        code = "not_found" if error.status_code == 404 else "http_error"
        body = {"error": {"code": code, "message": reason_phrase(error.status_code), "details": {}}}
    return JSONResponse(body, status_code=error.status_code, headers=error.headers)


def create_app(
    world: dict[str, Any] | Path | None = None, *, clock: Clock = system_clock
) -> FastAPI:
    """A sandbox app seeded with ``world`` (a dict, a JSON file, or None for the demo world)."""
    app = FastAPI(
        title="socialcrm sandbox",
        description=(
            "Local emulator of X API v2, Mastodon, Bluesky, LinkedIn, Facebook Pages, "
            "Instagram, YouTube Data API v3 and TikTok (see docs/providers.md)."
        ),
        version="1",
    )
    app.state.sandbox = SandboxState(load_world_spec(world), clock)
    app.add_middleware(LateFaultMiddleware)  # inside: its answers get the rate headers too
    app.add_middleware(RateHeadersMiddleware)
    app.add_exception_handler(NetworkError, _network_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    for router in (
        control.router,
        *(oauth_router(paths) for paths in ALL_OAUTH),
        x.router,
        mastodon.router,
        bluesky.router,
        bluesky.plc_router,
        linkedin.router,
        graph.facebook,
        graph.instagram,
        graph.instagram_tokens,
        youtube.router,
        tiktok.router,
    ):
        app.include_router(router)
    return app
