"""IMAP sync against a real dovecot-imapd: SSL and STARTTLS, UID-incremental, restart-safe."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from socialcrm.core.db import Database
from socialcrm.core.settings import get_settings
from socialcrm.signatures.imap import ImapError, sync_account
from tests.conftest import unavailable
from tests.signatures.dovecot import PASSWORD, USER, ImapServer, run_dovecot
from tests.signatures.mail import SIGNED, message


@pytest.fixture(scope="module")
def imap_server() -> Iterator[ImapServer]:
    if shutil.which("dovecot") is None and not Path("/usr/sbin/dovecot").exists():
        unavailable("dovecot-imapd")
    if os.geteuid() != 0:
        unavailable("root (the dovecot test's mail user is the dovecot account)")
    # Under /tmp itself: dovecot's unprivileged processes must reach the files (pytest's own
    # temporary folders are private to root).
    directory = Path(tempfile.mkdtemp(prefix="socialcrm-dovecot-"))
    try:
        with run_dovecot(directory) as server:
            yield server
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def loopback_allowed() -> Iterator[None]:
    settings = get_settings()
    previous = settings.allow_private_fetch
    settings.allow_private_fetch = ["127.0.0.0/8", "::1/128"]
    try:
        yield
    finally:
        settings.allow_private_fetch = previous


def add_account(api: TestClient, port: int, security: str, password: str = PASSWORD) -> int:
    response = api.post(
        "/api/imap-accounts",
        json={
            "host": "localhost",
            "port": port,
            "security": security,
            "username": USER,
            "password": password,
        },
    )
    assert response.status_code == 201, response.text
    assert "password" not in response.json()
    return int(response.json()["id"])


def test_sync_is_incremental_by_uid_and_survives_a_restart(
    api: TestClient, database: Database, imap_server: ImapServer, loopback_allowed: None
) -> None:
    folder = f"run{os.getpid()}-{id(database)}"
    for i in range(2):
        imap_server.append(message(body=SIGNED, message_id=f"<{folder}-{i}@imap>"))
    account = add_account(api, imap_server.ssl_port, "ssl")

    first = sync_account(database, account, ssl_context=imap_server.context())
    assert first.stored >= 2
    stored_ids = {e["message_id"] for e in api.get("/api/emails").json()["items"]}
    assert {f"<{folder}-0@imap>", f"<{folder}-1@imap>"} <= stored_ids
    state = api.get("/api/imap-accounts").json()[0]
    assert state["last_uid"] == first.last_uid and state["last_error"] == ""

    imap_server.append(message(body=SIGNED, message_id=f"<{folder}-2@imap>"))
    # A new call reads its position from the database: what a restarted worker does.
    second = sync_account(database, account, ssl_context=imap_server.context())
    assert (second.fetched, second.stored) == (1, 1)
    third = sync_account(database, account, ssl_context=imap_server.context())
    assert third.fetched == 0

    # The same mailbox over STARTTLS: every message is seen, none is stored twice.
    starttls = add_account(api, imap_server.plain_port, "starttls")
    again = sync_account(database, starttls, ssl_context=imap_server.context())
    assert again.fetched >= 3 and again.stored == 0
    assert len(api.get("/api/emails").json()["items"]) == len(stored_ids) + 1

    # The stored password is encrypted at rest.
    with database.session(system=True) as session:
        raw = session.execute(text("SELECT password FROM imap_accounts")).scalars().all()
    assert raw and all(PASSWORD not in value for value in raw)


def test_wrong_password_is_a_clear_error_on_the_account(
    api: TestClient, database: Database, imap_server: ImapServer, loopback_allowed: None
) -> None:
    account = add_account(api, imap_server.ssl_port, "ssl", password="wrong-password")
    with pytest.raises(ImapError, match="refused the login"):
        sync_account(database, account, ssl_context=imap_server.context())
    state = api.get("/api/imap-accounts").json()[0]
    assert "refused the login" in state["last_error"]


def test_untrusted_certificate_is_refused(
    api: TestClient, database: Database, imap_server: ImapServer, loopback_allowed: None
) -> None:
    account = add_account(api, imap_server.ssl_port, "ssl")
    with pytest.raises(ImapError, match="cannot reach"):
        sync_account(database, account)  # the system trust store does not know our test CA


def test_internal_hosts_are_refused_unless_allowed(api: TestClient) -> None:
    response = api.post(
        "/api/imap-accounts",
        json={"host": "127.0.0.1", "port": 993, "username": "u", "password": "p"},
    )
    assert response.status_code == 400
    assert "internal address" in response.json()["error"]["message"]


def test_sync_endpoint_queues_and_runs(
    api: TestClient, imap_server: ImapServer, loopback_allowed: None
) -> None:
    account = add_account(api, imap_server.ssl_port, "ssl")
    # The queue runs inline in tests; with the system trust store the sync fails cleanly and
    # records why on the account instead of crashing the worker.
    response = api.post(f"/api/imap-accounts/{account}/sync")
    assert response.status_code == 202
    assert api.get("/api/imap-accounts").json()[0]["last_error"]
    assert api.post("/api/imap-accounts/99999/sync").status_code == 404
