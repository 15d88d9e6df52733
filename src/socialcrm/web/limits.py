"""Request limits at the door, before any route runs.

- Every request body is capped while it streams: a declared ``Content-Length`` over the cap is
  answered 413 at once, unread; a chunked body is cut off at the cap (413).
- An API request that carries a body is authenticated first: without a valid key it is a 401
  before one byte of the body is read (FastAPI parses a JSON body before any dependency runs,
  so the route's own authentication would come after a body of any size).
- A NUL in the address (path or query) is a 400: no parameter may hold one, SQLite's FTS5 reads
  its query as a C string and PostgreSQL refuses it in text.

A pure ASGI middleware: it wraps ``receive`` and never buffers (``BaseHTTPMiddleware`` would).
A refused body is never handed to the app. When its rest is known and within the cap (a
``Content-Length`` under it), the connection stays open and the server discards that rest as
it arrives (no memory; the client reads its answer cleanly); when it is unbounded (chunked) or
over the cap, the connection is closed.
"""

from __future__ import annotations

from typing import Final

import structlog
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from socialcrm.core.db import get_database
from socialcrm.core.errors import AppError, Unauthenticated, ValidationFailed, envelope
from socialcrm.core.numbers import ascii_number
from socialcrm.core.web.context import Authenticator, authenticator, bearer_token
from socialcrm.signatures.routes import MAX_MESSAGE_BYTES

log = structlog.get_logger(__name__)

MiB: Final = 1024 * 1024
DEFAULT_BODY_LIMIT: Final = 1 * MiB  # every JSON body and UI form, and the webhook receiver
# Larger caps, only where a route needs one (method and exact path).
BODY_LIMITS: Final[dict[tuple[str, str], int]] = {
    # A raw RFC 822 message with its attachments (the route checks the same number).
    ("POST", "/api/emails"): MAX_MESSAGE_BYTES,
    # A discovery job: up to 10,000 items, each an object with its site_web and whatever keys
    # the caller's spreadsheet had (kept into the results).
    ("POST", "/api/jobs/socials"): 16 * MiB,
    # Up to 1,000 senders, each with its handle and the message that came in.
    ("POST", "/api/v1/resolve:batch"): 8 * MiB,
}
# API routes that also take the UI's login session (EventSource sends cookies, not keys): they
# authenticate themselves; none of them reads a body.
SESSION_API_PATHS: Final = frozenset({"/api/notifications/stream"})


def body_limit(method: str, path: str) -> int:
    return BODY_LIMITS.get((method, path), DEFAULT_BODY_LIMIT)


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` when a streaming body passes its cap; answered 413."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body may have at most {limit} bytes")
        self.limit = limit


def _too_large(limit: int) -> JSONResponse:
    return JSONResponse(
        envelope(
            "payload_too_large",
            f"the request body may have at most {limit} bytes",
            {"limit_bytes": limit},
        ),
        413,
        headers={"Connection": "close"},
    )


def _refusal(exc: AppError, *, close: bool) -> JSONResponse:
    return JSONResponse(
        envelope(exc.code, exc.message, exc.details),
        exc.status_code,
        headers={"Connection": "close"} if close else None,
    )


def _authenticate(auth: Authenticator, token: str) -> None:
    """The route's own check (``core.web.context.api_context``), which also warms the key cache."""
    with get_database().session(system=True) as session:
        auth.api_key(session, token)


async def _refuse_unauthenticated(scope: Scope) -> AppError | None:
    """Why an API request with a body is refused before its body is read, or None."""
    request = Request(scope)
    token = bearer_token(request)
    if not token:
        return Unauthenticated("send an API key as 'Authorization: Bearer <key>'")
    auth = authenticator(request)  # the app's, installed by the composition root
    if auth.remembered_api_key(token) is not None:
        return None
    try:
        await run_in_threadpool(_authenticate, auth, token)
    except AppError as exc:
        return exc
    except Exception as exc:  # the database is failing: the route's own check answers that
        log.warning("early_authentication_failed", error_type=type(exc).__name__)
    return None


def _has_nul(scope: Scope) -> bool:
    query: bytes = scope.get("query_string", b"")
    return "\x00" in scope["path"] or b"%00" in query or b"\x00" in query


class RequestLimits:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        limit = body_limit(scope["method"], scope["path"])
        declared = ascii_number(headers.get("content-length", ""), max_digits=18)
        if declared is not None and declared > limit:
            await _too_large(limit)(scope, receive, send)
            return
        # Refusing a chunked body closes its connection (what is left of it is unbounded);
        # the rest of a body of known length under the cap is discarded as it arrives.
        chunked = declared is None and "transfer-encoding" in headers
        if _has_nul(scope):
            refused = ValidationFailed("a NUL character is not allowed in the address")
            await _refusal(refused, close=chunked)(scope, receive, send)
            return
        path: str = scope["path"]
        if (chunked or declared) and path.startswith("/api/") and path not in SESSION_API_PATHS:
            refusal = await _refuse_unauthenticated(scope)
            if refusal is not None:
                await _refusal(refusal, close=chunked)(scope, receive, send)
                return
        await self._counted(scope, receive, send, limit)

    async def _counted(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        received = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, watched_send)
        except BodyTooLarge as exc:  # read outside a route (no exception handler saw it)
            if started:
                raise
            await _too_large(exc.limit)(scope, receive, send)


def install_request_limits(app: FastAPI) -> None:
    """Add the limits as the outermost middleware, and their 413 to the error envelope."""

    async def _body_too_large(_request: Request, exc: Exception) -> JSONResponse:
        return _too_large(exc.limit if isinstance(exc, BodyTooLarge) else DEFAULT_BODY_LIMIT)

    app.add_exception_handler(BodyTooLarge, _body_too_large)
    app.add_middleware(RequestLimits)
