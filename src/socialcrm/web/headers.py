"""Security headers on every response of the app: pages, API answers, errors, static files.

- No other site may frame a page (``X-Frame-Options`` for old browsers, CSP
  ``frame-ancestors`` for the rest): a framed form could be clicked through (clickjacking).
- The CSP loads scripts, styles, fonts and fetches from this origin only. Inline scripts stay
  allowed: the pages' small scripts and ``onclick`` handlers are inline (moving them to files
  would allow a nonce-only policy). Images may come from any http(s) host: avatars are the
  networks'; ``data:`` is Swagger UI's icons.
- ``nosniff``: a stored file is never run as another type; ``Referrer-Policy: same-origin``:
  a Contact's address is never sent to the network whose link or avatar the page shows.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self' 'unsafe-inline'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: https: http:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "frame-ancestors 'none'",
    ]
)
SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


class SecurityHeaders:
    """Pure ASGI (a ``BaseHTTPMiddleware`` would buffer the live event streams). A header a
    route set itself is kept."""

    def __init__(self, app: ASGIApp, *, https: bool = False) -> None:
        self.app = app
        self.headers = dict(SECURITY_HEADERS)
        if https:  # browsers ignore it over http; over https it keeps them there
            self.headers["Strict-Transport-Security"] = "max-age=31536000"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.headers.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)
