"""Listening fixtures: a local receiver for outbound webhooks."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from socialcrm.core.settings import get_settings


class WebhookReceiver(BaseHTTPRequestHandler):
    """Records each POST; answers with the queued statuses, then 200."""

    answers: list[int] = []
    seen: list[tuple[dict[str, str], bytes]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).seen.append((dict(self.headers), body))
        self.send_response(type(self).answers.pop(0) if type(self).answers else 200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture
def receiver() -> Iterator[str]:
    """The URL of a receiver on loopback (private addresses allowed for the test)."""
    server = HTTPServer(("127.0.0.1", 0), WebhookReceiver)
    WebhookReceiver.seen, WebhookReceiver.answers = [], []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings = get_settings()
    previous = settings.allow_private_fetch
    settings.allow_private_fetch = ["127.0.0.1/32"]
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    finally:
        settings.allow_private_fetch = previous
        server.shutdown()
