"""Local websites for crawler tests: a threaded HTTP server on an ephemeral loopback port."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

Route = Callable[["Handler"], None]


@dataclass
class Site:
    """Routes by path; every request is recorded as (path, User-Agent)."""

    routes: dict[str, Route] = field(default_factory=dict)
    seen: list[tuple[str, str]] = field(default_factory=list)
    host: str = "127.0.0.1"
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def page(
        self,
        path: str,
        body: str | bytes,
        *,
        status: int = 200,
        content_type: str = "text/html; charset=utf-8",
    ) -> None:
        data = body.encode() if isinstance(body, str) else body

        def route(handler: Handler) -> None:
            handler.reply(status, data, {"Content-Type": content_type})

        self.routes[path] = route

    def redirect(self, path: str, location: str, status: int = 302) -> None:
        def route(handler: Handler) -> None:
            handler.reply(status, b"", {"Location": location})

        self.routes[path] = route

    def slow(
        self,
        path: str,
        seconds: float,
        body: str = "<html>late</html>",
        content_type: str = "text/html",
    ) -> None:
        def route(handler: Handler) -> None:
            time.sleep(seconds)
            handler.reply(200, body.encode(), {"Content-Type": content_type})

        self.routes[path] = route

    def huge(self, path: str, head: bytes, size: int) -> None:
        def route(handler: Handler) -> None:
            handler.send_response(200)
            handler.send_header("Content-Type", "text/html")
            handler.send_header("Content-Length", str(len(head) + size))
            handler.end_headers()
            try:
                handler.wfile.write(head)
                block = b"<p>" + b"x" * 65530 + b"</p>"
                sent = 0
                while sent < size:
                    handler.wfile.write(block)
                    sent += len(block)
            except (BrokenPipeError, ConnectionResetError):
                pass

        self.routes[path] = route


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def do_GET(self) -> None:
        site = self.server.site
        site.seen.append((self.path, self.headers.get("User-Agent", "")))
        route = site.routes.get(self.path.split("?", 1)[0])
        if route is None:
            self.reply(404, b"<html><body>not found</body></html>", {"Content-Type": "text/html"})
            return
        route(self)

    def reply(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    site: Site


@contextmanager
def serve_site(site: Site | None = None, host: str = "127.0.0.1") -> Iterator[Site]:
    site = site or Site()
    server = _Server((host, 0), Handler)
    server.site = site
    site.host, site.port = host, server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
