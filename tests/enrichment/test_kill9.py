"""kill -9 a real ``socialcrm worker`` mid-run: a new worker resumes from the cursor, with no
duplicate links and no skipped Contacts (SQLite queue; SQLite or PostgreSQL database)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, insert, select

from socialcrm.core.db import Database, utcnow
from socialcrm.core.settings import get_settings
from socialcrm.crm.models import Contact
from socialcrm.enrichment.models import EnrichmentRun, SocialProfileLink
from tests.conftest import TEST_WORLD, committed_database
from tests.connections.flow import api_of_new_tenant
from tests.enrichment.conftest import connect_x

N = 120
SOCIALCRM = Path(sys.executable).with_name("socialcrm")


@pytest.fixture
def committed_db(tmp_path: Path) -> Iterator[tuple[Database, str]]:
    """A database the worker process can see (committed, not a rolled-back test transaction)."""
    with committed_database(tmp_path, "kill") as (db, url):
        yield db, url


def _world() -> dict[str, Any]:
    world = json.loads(TEST_WORLD.read_text())
    world["people"] += [
        {
            "name": f"Worker Person {i}",
            "accounts": [
                {
                    "network": "x",
                    "user_id": str(7000 + i),
                    "handle": f"w{i:04d}",
                    "display_name": f"Worker Person {i}",
                }
            ],
        }
        for i in range(N)
    ]
    return world


def _progress(db: Database) -> tuple[str, int]:
    with db.session(system=True) as session:
        run = session.scalars(select(EnrichmentRun)).first()
        return (run.status, run.processed) if run else ("none", 0)


def _wait_for(db: Database, done: Any, timeout: float) -> tuple[str, int]:
    deadline = time.monotonic() + timeout
    state = _progress(db)
    while time.monotonic() < deadline:
        state = _progress(db)
        if done(state):
            return state
        time.sleep(0.1)
    raise AssertionError(f"timed out at {state}")


def test_a_killed_worker_run_resumes_from_its_cursor(
    committed_db: tuple[Database, str], world_restore: Any, tmp_path: Path
) -> None:
    db, url = committed_db
    world_restore.load_world(_world())
    with api_of_new_tenant(db, "Kill Co") as (api, tenant_id):
        connect_x(api)
    now = utcnow()
    with db.engine.begin() as conn:  # bulk insert: no per-Contact trigger
        conn.execute(
            insert(Contact),
            [
                {
                    "tenant_id": tenant_id,
                    "name": f"Worker Person {i}",
                    "emails": [],
                    "phones": [],
                    "handles": [{"network": "x", "handle": f"w{i:04d}"}],
                    "search_text": "",
                    "created_at": now,
                    "updated_at": now,
                }
                for i in range(N)
            ],
        )
    # Slow answers so the kill lands mid-run.
    world_restore.add_fault(
        network="x", endpoint="lookup_handle", status=200, latency_ms=40, count=100_000
    )
    settings = get_settings()
    env = os.environ | {
        "SOCIALCRM_DATABASE_URL": url,
        "SOCIALCRM_QUEUE_URL": f"sqlite:///{tmp_path}/queue.db",
        "SOCIALCRM_DATA_DIR": str(tmp_path),
        "SOCIALCRM_SECRET_KEYS": ",".join(settings.secret_keys),
        "SOCIALCRM_SANDBOX_URL": world_restore.url,
        "SOCIALCRM_IMMEDIATE_QUEUE": "false",
        "SOCIALCRM_LOG_FORMAT": "json",
        "SOCIALCRM_ENRICHMENT_BATCH_SIZE": "10",
        "SOCIALCRM_ENRICHMENT_LEASE_S": "3",
        "SOCIALCRM_ENRICHMENT_SLICE_S": "30",
    }
    started = subprocess.run(
        [str(SOCIALCRM), "enrich", "run", "--tenant", "Kill Co"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert started.returncode == 0, started.stderr
    log = (tmp_path / "worker.log").open("w")
    worker = subprocess.Popen(
        [str(SOCIALCRM), "worker", "--workers", "2"], env=env, stdout=log, stderr=log
    )
    try:
        _wait_for(db, lambda s: s[1] >= 30, 90)
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(10)
        status, at_kill = _progress(db)
        assert status == "running"  # nobody finished it: the worker died holding the lease
        assert 30 <= at_kill < N
        worker = subprocess.Popen(
            [str(SOCIALCRM), "worker", "--workers", "2"], env=env, stdout=log, stderr=log
        )
        status, processed = _wait_for(db, lambda s: s[0] == "completed", 120)
    finally:
        worker.kill()
        worker.wait(10)
        log.close()
    assert processed == N
    with db.session(system=True) as session:
        per_contact = dict(
            session.execute(
                select(SocialProfileLink.contact_id, func.count()).group_by(
                    SocialProfileLink.contact_id
                )
            ).all()
        )
        contact_ids = list(session.scalars(select(Contact.id)))
    assert sorted(per_contact) == sorted(contact_ids)  # no Contact skipped
    assert set(per_contact.values()) == {1}  # no duplicate links
