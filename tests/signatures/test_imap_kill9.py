"""``kill -9`` a real ``socialcrm worker`` mid-way through an IMAP sync: a new worker resumes
after the last committed message, so no mail is lost and none is taken in twice, and
``last_uid`` always names exactly what is stored (SQLite queue; SQLite or PostgreSQL)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import select

from socialcrm.core.db import Database
from socialcrm.core.settings import get_settings
from socialcrm.signatures import mailboxes
from socialcrm.signatures.models import ReceivedEmail
from socialcrm.tenancy.service import get_or_create_tenant
from tests.conftest import committed_database
from tests.signatures.dovecot import PASSWORD, USER, ImapServer, slow_proxy
from tests.signatures.imap_state import sync_state
from tests.signatures.mail import SIGNED, message

N = 100
SOCIALCRM = Path(sys.executable).with_name("socialcrm")


def _wait_for(
    db: Database, account_id: int, done: Callable[[tuple[int, str | None, list[int]]], bool]
) -> tuple[int, str | None, list[int]]:
    deadline = time.monotonic() + 120
    state = sync_state(db, account_id)
    while time.monotonic() < deadline:
        state = sync_state(db, account_id)
        if done(state):
            return state
        time.sleep(0.05)
    raise AssertionError(f"timed out at last_uid {state[0]}, owner {state[1]}")


def _synced_events(log: Path) -> list[dict[str, Any]]:
    events = []
    for line in log.read_text(errors="replace").splitlines():
        if line.startswith("{") and '"imap_' in line:
            event = json.loads(line)
            if event.get("event") in ("imap_synced", "imap_message_failed"):
                events.append(event)
    return events


def test_a_killed_worker_sync_resumes_after_its_last_committed_message(
    imap_server: ImapServer, tmp_path: Path
) -> None:
    with committed_database(tmp_path, "imapkill") as (db, url):
        _kill_and_resume(db, url, imap_server, tmp_path)


def _kill_and_resume(db: Database, url: str, imap_server: ImapServer, tmp_path: Path) -> None:
    box = f"kill-{uuid.uuid4().hex[:8]}"
    imap_server.append_all(
        [message(body=SIGNED, message_id=f"<{box}-{i}@imap>") for i in range(N)], mailbox=box
    )
    settings = get_settings()
    with slow_proxy(imap_server.ssl_port, delay_s=0.02) as port:
        with db.session(system=True) as session:
            tenant_id = get_or_create_tenant(session, "Kill Mail Co").id
        with db.session(tenant_id=tenant_id) as session:
            account_id = mailboxes.create_imap_account(
                session,
                user_id=None,
                values={
                    "host": "localhost",
                    "port": port,
                    "username": USER,
                    "password": PASSWORD,
                    "mailbox": box,
                },
            ).id
        env = os.environ | {
            "SOCIALCRM_DATABASE_URL": url,
            "SOCIALCRM_QUEUE_URL": f"sqlite:///{tmp_path}/queue.db",
            "SOCIALCRM_DATA_DIR": str(tmp_path),
            "SOCIALCRM_SECRET_KEYS": ",".join(settings.secret_keys),
            "SOCIALCRM_IMMEDIATE_QUEUE": "false",
            "SOCIALCRM_LOG_FORMAT": "json",
            "SOCIALCRM_IMAP_LEASE_S": "3",
            "SOCIALCRM_ALLOW_PRIVATE_FETCH": "127.0.0.0/8",
            "SSL_CERT_FILE": str(imap_server.cafile),  # the worker trusts the test CA
        }
        queued = subprocess.run(
            [
                sys.executable,
                "-c",
                f"from socialcrm.signatures.tasks import sync_mailbox; sync_mailbox({account_id})",
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert queued.returncode == 0, queued.stderr
        first_log, second_log = tmp_path / "worker-1.log", tmp_path / "worker-2.log"
        with first_log.open("w") as out:
            worker = subprocess.Popen(
                [str(SOCIALCRM), "worker", "--workers", "2"], env=env, stdout=out, stderr=out
            )
            try:
                _wait_for(db, account_id, lambda s: s[0] >= 25)
                os.kill(worker.pid, signal.SIGKILL)
            finally:
                worker.kill()
                worker.wait(10)
        at_kill, owner, stored = sync_state(db, account_id)
        assert 25 <= at_kill < N, "the kill must land mid-sync"
        assert owner is not None  # the dead worker still holds the lease: nobody released it
        assert stored == list(range(1, at_kill + 1))  # last_uid names exactly what is stored

        with second_log.open("w") as out:
            worker = subprocess.Popen(
                [str(SOCIALCRM), "worker", "--workers", "2"], env=env, stdout=out, stderr=out
            )
            try:  # its start-up resumes the sync once the dead worker's lease has expired
                _, owner, stored = _wait_for(db, account_id, lambda s: s[0] == N and s[1] is None)
            finally:
                worker.kill()
                worker.wait(10)
    assert stored == list(range(1, N + 1))  # every message once, none lost
    with db.session(system=True) as session:
        ids = session.scalars(select(ReceivedEmail.message_id)).all()
    assert sorted(ids) == sorted(f"<{box}-{i}@imap>" for i in range(N))
    events = _synced_events(second_log)
    assert [e["event"] for e in events] == ["imap_synced"] * len(events)
    # The resumed sync read only what the killed one had not committed: nothing twice.
    assert sum(e["fetched"] for e in events) == N - at_kill
    assert not _synced_events(first_log)  # the killed worker never finished its sync
