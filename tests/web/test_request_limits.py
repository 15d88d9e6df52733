"""Request bodies on a real server: authenticated before they are read, capped while they stream.

Raw sockets against uvicorn, because the point is what the server does before the client has
finished sending: each refused request sends only the start of its body and then waits for the
answer. A server that read the body first would wait for the rest (the socket times out and
the test fails).
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient

from socialcrm.core.db import Database, make_engine, set_database
from socialcrm.core.principal import Role
from socialcrm.migrations import upgrade
from socialcrm.tenancy.service import create_api_key, get_or_create_tenant
from socialcrm.web.limits import BODY_LIMITS, DEFAULT_BODY_LIMIT, MiB
from tests.live import live_app

HUNDRED_MB = 100 * 1024 * 1024
CHUNK = 64 * 1024


@dataclass(frozen=True)
class Site:
    base: str
    key: str


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    url = f"sqlite:///{tmp_path}/limits.db"
    upgrade(url)
    db = Database(make_engine(url))
    set_database(db)
    try:
        with db.session(system=True) as session:
            tenant = get_or_create_tenant(session, "Limits Co")
            key = create_api_key(session, tenant=tenant, role=Role.ADMIN)[1]
        with live_app() as base:
            yield Site(base, key)
    finally:
        set_database(None)
        db.engine.dispose()


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: dict[str, Any]


class Connection:
    """One raw HTTP/1.1 connection: send any bytes, read one answer at a time."""

    def __init__(self, base: str) -> None:
        parts = urlsplit(base)
        self.sock = socket.create_connection((parts.hostname, parts.port), timeout=30)
        self.buffer = b""

    def send(self, head: str, body: Iterable[bytes] = ()) -> None:
        """The request head (if any), then ``body`` (not necessarily all the head announces)."""
        if head:
            self.sock.sendall(head.replace("\n", "\r\n").encode() + b"\r\n")
        for piece in body:
            self.sock.sendall(piece)

    def answer(self) -> Answer:
        """The next answer; a server still waiting for the body never gives it (time-out)."""
        while b"\r\n\r\n" not in self.buffer:
            self.buffer += self._recv()
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        headers = dict(line.lower().split(": ", 1) for line in header_lines)
        length = int(headers["content-length"])
        while len(self.buffer) < length:
            self.buffer += self._recv()
        payload, self.buffer = self.buffer[:length], self.buffer[length:]
        return Answer(int(status_line.split()[1]), headers, json.loads(payload))

    def closed_by_server(self) -> bool:
        try:
            return self._recv(fail_on_end=False) == b""
        except ConnectionResetError:
            return True

    def _recv(self, *, fail_on_end: bool = True) -> bytes:
        data = self.sock.recv(65536)
        assert data or not fail_on_end, "the server closed the connection without an answer"
        return data

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def connection(site: Site) -> Iterator[Connection]:
    opened = Connection(site.base)
    yield opened
    opened.close()


def chunked(size: int) -> Iterator[bytes]:
    """``size`` bytes of a chunked body, without the final empty chunk (never finished)."""
    left = size
    while left > 0:
        piece = min(CHUNK, left)
        yield b"%x\r\n" % piece + b"x" * piece + b"\r\n"
        left -= piece


def post_head(path: str, *, key: str | None, length: int | None) -> str:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json"]
    if key is not None:
        lines.append(f"Authorization: Bearer {key}")
    lines.append(
        f"Content-Length: {length}" if length is not None else "Transfer-Encoding: chunked"
    )
    return "\n".join(lines) + "\n"


def assert_envelope(answer: Answer, status: int, code: str) -> None:
    assert answer.status == status, answer
    assert answer.body["error"]["code"] == code, answer.body


@pytest.mark.parametrize("key", [None, "", "scrm_not-a-key"])
def test_an_api_body_without_a_valid_key_is_refused_before_it_is_read(
    connection: Connection, key: str | None
) -> None:
    """900 KB announced, 64 KB sent: the 401 comes without the rest. The connection stays
    open, the server drops the rest as it comes, and the next request on it is answered."""
    connection.send(post_head("/api/contacts", key=key, length=900_000), [b"x" * CHUNK])
    answer = connection.answer()
    assert_envelope(answer, 401, "unauthenticated")
    assert "connection" not in answer.headers
    connection.send("", [b"x" * (900_000 - CHUNK)])
    connection.send("GET /api/contacts HTTP/1.1\nHost: 127.0.0.1\n")
    assert_envelope(connection.answer(), 401, "unauthenticated")


def test_a_chunked_api_body_without_a_key_is_refused_before_it_is_read(
    connection: Connection,
) -> None:
    """Nothing of the body sent: the 401 comes, and the connection is closed (a chunked
    body has no end the server could wait for)."""
    connection.send(post_head("/api/contacts", key=None, length=None))
    answer = connection.answer()
    assert_envelope(answer, 401, "unauthenticated")
    assert answer.headers.get("connection") == "close"
    assert connection.closed_by_server()


@pytest.mark.parametrize("key", [True, False])
def test_a_body_announced_over_the_cap_is_refused_at_once(
    site: Site, connection: Connection, key: bool
) -> None:
    """100 MB announced, none of it sent: 413 and the connection closed, with or without a
    key."""
    connection.send(post_head("/api/contacts", key=site.key if key else None, length=HUNDRED_MB))
    answer = connection.answer()
    assert_envelope(answer, 413, "payload_too_large")
    assert answer.body["error"]["details"] == {"limit_bytes": DEFAULT_BODY_LIMIT}
    assert answer.headers.get("connection") == "close"
    assert connection.closed_by_server()


def test_a_chunked_body_is_cut_off_at_the_cap(site: Site, connection: Connection) -> None:
    """A never-ending chunked body with a valid key: 413 once the cap is passed."""
    head = post_head("/api/contacts", key=site.key, length=None)
    connection.send(head, chunked(DEFAULT_BODY_LIMIT + 1))
    answer = connection.answer()
    assert_envelope(answer, 413, "payload_too_large")
    assert answer.headers.get("connection") == "close"


def test_the_webhook_receiver_caps_while_streaming(site: Site, connection: Connection) -> None:
    auth = {"Authorization": f"Bearer {site.key}"}
    made = httpx.post(
        f"{site.base}/api/listening/webhook-endpoints",
        headers=auth,
        json={"style": "meta", "network": "facebook"},
        timeout=30,
    )
    assert made.status_code == 201, made.text
    path = urlsplit(made.json()["url"]).path
    connection.send(post_head(path, key=None, length=None), chunked(DEFAULT_BODY_LIMIT + 1))
    answer = connection.answer()
    assert_envelope(answer, 413, "payload_too_large")
    assert answer.headers.get("connection") == "close"


def test_bodies_under_the_caps_still_go_through(site: Site) -> None:
    auth = {"Authorization": f"Bearer {site.key}"}
    created = httpx.post(
        f"{site.base}/api/contacts", headers=auth, json={"name": "Ada Lovelace"}, timeout=30
    )
    assert created.status_code == 201, created.text
    # A raw message of 2 MiB: over the JSON cap, under the 25 MiB of email intake.
    raw = (
        b"From: Bob <bob@example.com>\r\nTo: ada@example.com\r\nSubject: big\r\n"
        b"Message-ID: <big@example.com>\r\n\r\n" + b"hello world\r\n" * (2 * MiB // 13)
    )
    assert len(raw) > 2 * MiB - 100
    mail = httpx.post(
        f"{site.base}/api/emails",
        headers={**auth, "Content-Type": "message/rfc822"},
        content=raw,
        timeout=60,
    )
    assert mail.status_code == 201, mail.text[:300]


def test_a_nul_in_the_address_is_a_client_error(api: TestClient) -> None:
    for url in ("/api/contacts?q=ab%00c", "/api/contacts?q=%00%00%00", "/contacts?q=%00"):
        answer = api.get(url)
        assert answer.status_code == 400, (url, answer.text)
        assert answer.json()["error"]["code"] == "validation_error"


def _json_of_size(size: int, items: str) -> bytes:
    """A JSON object of at least ``size`` bytes: a list ``items`` of more objects than any
    route takes (10,000 discovery items, 1,000 senders), so a body that is read is a 400."""
    one = b'{"site_web": "https://example.com/' + b"p" * 100 + b'"}'
    count = max(size // (len(one) + 1) + 1, 10_001)
    return b'{"' + items.encode() + b'": [' + b",".join([one] * count) + b"]}"


@pytest.mark.parametrize(
    ("path", "items", "cap"),
    [
        ("/api/contacts", "emails", DEFAULT_BODY_LIMIT),
        ("/api/jobs/socials", "items", BODY_LIMITS[("POST", "/api/jobs/socials")]),
        ("/api/v1/resolve:batch", "requests", BODY_LIMITS[("POST", "/api/v1/resolve:batch")]),
    ],
)
def test_each_route_reads_up_to_its_own_cap(
    api: TestClient, path: str, items: str, cap: int
) -> None:
    """Just over 1 MiB is read where a route needs more (its own checks answer: too many
    items), and refused where it does not; just over a route's own cap is refused."""
    over_default = _json_of_size(DEFAULT_BODY_LIMIT + 1, items)
    answer = api.post(path, content=over_default, headers={"Content-Type": "application/json"})
    if cap == DEFAULT_BODY_LIMIT:
        assert answer.status_code == 413, answer.text[:300]
    else:
        assert answer.status_code == 400, answer.text[:300]
        assert answer.json()["error"]["code"] == "validation_error"
    over_cap = _json_of_size(cap + 1, items)
    answer = api.post(path, content=over_cap, headers={"Content-Type": "application/json"})
    assert answer.status_code == 413, answer.text[:300]
    assert answer.json()["error"] == {
        "code": "payload_too_large",
        "message": f"the request body may have at most {cap} bytes",
        "details": {"limit_bytes": cap},
    }


def test_a_ui_form_over_the_cap_is_refused(app_client: TestClient) -> None:
    answer = app_client.post(
        "/login", data={"email": "a@b.test", "password": "x" * (DEFAULT_BODY_LIMIT + 1)}
    )
    assert answer.status_code == 413
