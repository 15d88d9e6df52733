"""IMAP sync against a real dovecot-imapd: SSL and STARTTLS, UID-incremental, restart-safe."""

from __future__ import annotations

import os
import uuid
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from socialcrm.core.db import Database, utcnow
from socialcrm.signatures import intake
from socialcrm.signatures.imap import ImapError, SyncUnderWay, sync_account
from tests.signatures.dovecot import PASSWORD, USER, ImapServer
from tests.signatures.imap_state import set_account, sync_state
from tests.signatures.mail import SIGNED, message


def add_account(
    api: TestClient, port: int, security: str, password: str = PASSWORD, mailbox: str = "INBOX"
) -> int:
    response = api.post(
        "/api/imap-accounts",
        json={
            "host": "localhost",
            "port": port,
            "security": security,
            "username": USER,
            "password": password,
            "mailbox": mailbox,
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


def overflowing_date(message_id: str) -> bytes:
    """The mail that stopped intake for good: ``email.utils`` overflows on its year."""
    return (
        b"From: Megan Carter <megan.carter@brightpath.io>\r\n"
        b"Date: Mon, 1 Jan 99999999999999999999 10:00:00 +0000\r\n"
        b"Subject: crafted date\r\nMessage-ID: " + message_id.encode() + b"\r\n\r\n"
        b"Hi,\r\n\r\nBest regards,\r\nMegan Carter\r\nM: +1 (628) 555-0187\r\n"
    )


def test_unreadable_mail_is_kept_as_failed_and_the_mailbox_moves_on(
    api: TestClient,
    database: Database,
    imap_server: ImapServer,
    loopback_allowed: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    box = f"poison-{uuid.uuid4().hex[:8]}"
    real_analyse = intake.analyse

    def analyse_with_a_defect(parsed, **kwargs):  # type: ignore[no-untyped-def]
        if parsed.subject == "trips a defect":  # stands for a parser bug nobody knows yet
            raise RuntimeError("defect")
        return real_analyse(parsed, **kwargs)

    monkeypatch.setattr(intake, "analyse", analyse_with_a_defect)
    imap_server.append_all(
        [
            message(body=SIGNED, message_id=f"<{box}-1@imap>"),
            overflowing_date(f"<{box}-2@imap>"),
            f"{box}: just some words, no header at all\r\n".encode(),
            message(subject="trips a defect", message_id=f"<{box}-4@imap>"),
            message(body=SIGNED, message_id=f"<{box}-5@imap>"),
        ],
        mailbox=box,
    )
    account = add_account(api, imap_server.ssl_port, "ssl", mailbox=box)

    result = sync_account(database, account, ssl_context=imap_server.context())
    assert (result.fetched, result.stored, result.failed, result.last_uid) == (5, 3, 2, 5)
    state = api.get("/api/imap-accounts").json()[0]
    assert state["last_uid"] == 5 and state["last_error"] == "" and not state["syncing"]

    read = {e["message_id"]: e for e in api.get("/api/emails?failed=false").json()["items"]}
    assert set(read) == {f"<{box}-1@imap>", f"<{box}-2@imap>", f"<{box}-5@imap>"}
    crafted = read[f"<{box}-2@imap>"]
    assert crafted["sent_at"] is None and "the Date header cannot be read" in crafted["warnings"]
    assert crafted["participants"][0]["email"] == "megan.carter@brightpath.io"

    failed = api.get("/api/emails?failed=true").json()["items"]
    assert [(f["imap_uid"], f["source"]) for f in failed] == [(4, "imap"), (3, "imap")]
    assert failed[0]["error"] == "the message could not be processed (RuntimeError)"
    assert failed[0]["subject"] == "trips a defect"
    assert "not an RFC 822 message" in failed[1]["error"]

    again = sync_account(database, account, ssl_context=imap_server.context())
    assert (again.fetched, again.stored, again.failed) == (0, 0, 0)


def mailbox_of(api: TestClient, imap_server: ImapServer, prefix: str, count: int) -> int:
    """An account on a mailbox of its own holding ``count`` plain messages (UIDs 1..count)."""
    box = f"{prefix}-{uuid.uuid4().hex[:8]}"
    imap_server.append_all([message(message_id=f"<{box}-{i}@imap>") for i in range(count)], box)
    return add_account(api, imap_server.ssl_port, "ssl", mailbox=box)


def test_one_sync_of_a_mailbox_at_a_time_and_a_dead_ones_lease_expires(
    api: TestClient, database: Database, imap_server: ImapServer, loopback_allowed: None
) -> None:
    account = mailbox_of(api, imap_server, "lease", 3)
    later = utcnow() + timedelta(minutes=1)
    set_account(database, account, sync_owner="worker-elsewhere", sync_lease_until=later)
    assert api.get("/api/imap-accounts").json()[0]["syncing"] is True
    with pytest.raises(SyncUnderWay):
        sync_account(database, account, ssl_context=imap_server.context())
    assert sync_state(database, account) == (0, "worker-elsewhere", [])

    # That worker died a while ago: its lease has run out.
    set_account(database, account, sync_lease_until=utcnow() - timedelta(seconds=1))
    result = sync_account(database, account, ssl_context=imap_server.context())
    assert (result.stored, result.last_uid) == (3, 3)
    assert sync_state(database, account) == (3, None, [1, 2, 3])  # released when done


def test_a_sync_that_lost_its_lease_stops_without_keeping_the_next_message(
    api: TestClient, database: Database, imap_server: ImapServer, loopback_allowed: None
) -> None:
    account = mailbox_of(api, imap_server, "stolen", 4)

    def stall_past_the_lease(done: int, _total: int) -> None:
        if done == 2:  # meanwhile another worker found the lease expired and took over
            set_account(database, account, sync_owner="the-other-worker")

    with pytest.raises(SyncUnderWay, match="took this mailbox over"):
        sync_account(
            database, account, ssl_context=imap_server.context(), progress=stall_past_the_lease
        )
    assert sync_state(database, account) == (2, "the-other-worker", [1, 2])
