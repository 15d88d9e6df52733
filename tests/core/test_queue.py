"""The job queue: commit first, then enqueue; real consumers on SQLite and Redis."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from huey import Huey
from huey.api import TaskWrapper

from socialcrm.connections.models import AccountStatus, ProviderApp, SocialAccount
from socialcrm.connections.tasks import revoke_at_provider
from socialcrm.core.db import Database, make_engine, set_database, utcnow
from socialcrm.core.queue import enqueue_after_commit, huey, make_huey
from socialcrm.core.settings import Settings
from socialcrm.migrations import upgrade
from socialcrm.tenancy.service import get_or_create_tenant
from tests.connections.flow import world_app

CALLS: list[str] = []


@huey.task()
def remember(value: str) -> None:
    CALLS.append(value)


def test_jobs_run_only_after_the_commit(database: Database) -> None:
    CALLS.clear()
    with database.session(system=True) as session:
        enqueue_after_commit(session, remember, "committed")
        assert CALLS == []  # not before the commit
    assert CALLS == ["committed"]


def test_jobs_of_a_rolled_back_unit_of_work_are_dropped(database: Database) -> None:
    CALLS.clear()
    with pytest.raises(RuntimeError), database.session(system=True) as session:
        enqueue_after_commit(session, remember, "lost")
        raise RuntimeError("boom")
    with database.session(system=True):
        pass
    assert CALLS == []


def test_a_released_savepoint_is_not_the_commit(database: Database) -> None:
    """Savepoints inside a unit of work (the identity sync runs some before every commit)
    neither hand the jobs over early nor drop them when they roll back."""
    CALLS.clear()
    with database.session(system=True) as session:
        enqueue_after_commit(session, remember, "after the commit")
        with session.begin_nested():
            pass
        assert CALLS == []
        with pytest.raises(RuntimeError), session.begin_nested():
            raise RuntimeError("one step failed")
        assert CALLS == []
    assert CALLS == ["after the commit"]


@pytest.fixture
def committed_db(tmp_path: Path) -> Iterator[Database]:
    """A real, committed database: a consumer thread must see what the producer wrote."""
    url = f"sqlite:///{tmp_path}/queue-test.db"
    upgrade(url)
    db = Database(make_engine(url))
    set_database(db)
    try:
        yield db
    finally:
        set_database(None)
        db.engine.dispose()


def _revoked_account(db: Database) -> tuple[int, int]:
    app = world_app("x")
    with db.session(system=True) as session:
        tenant = get_or_create_tenant(session, "Queue")
        session.info.update(system=False, tenant_id=tenant.id)
        session.add(
            ProviderApp(
                provider="x", client_id=app["client_id"], client_secret=app["client_secret"]
            )
        )
        account = SocialAccount(
            provider="x",
            external_user_id="1001",
            handle="ada",
            access_token="stale-access",
            refresh_token="stale-refresh",
            status=AccountStatus.REVOKED,
            revoked_at=utcnow(),
        )
        session.add(account)
        session.flush()
        return tenant.id, account.id


def _run_through(queue: Huey, db: Database, ids: tuple[int, int]) -> None:
    task: TaskWrapper = queue.task(retries=2, retry_delay=1)(revoke_at_provider.func)
    consumer = queue.create_consumer(workers=2, worker_type="thread", periodic=False)
    consumer.start()
    try:
        result = task(*ids)
        assert result.get(blocking=True, timeout=20) is True
    finally:
        consumer.stop(graceful=True)
    with db.session(system=True) as session:
        account = session.get(SocialAccount, ids[1])
        assert account is not None
        assert account.access_token is None
        assert account.provider_revoked is True


@pytest.mark.usefixtures("sandbox")
def test_a_task_runs_through_the_embedded_sqlite_queue(
    committed_db: Database, tmp_path: Path
) -> None:
    queue = make_huey(
        Settings(queue_url=f"sqlite:///{tmp_path}/q.db", data_dir=tmp_path, immediate_queue=False)
    )
    _run_through(queue, committed_db, _revoked_account(committed_db))


@pytest.mark.usefixtures("sandbox")
def test_a_task_runs_through_the_real_redis_queue(
    committed_db: Database, redis_url: str, tmp_path: Path
) -> None:
    queue = make_huey(Settings(queue_url=redis_url, data_dir=tmp_path, immediate_queue=False))
    queue.flush()
    _run_through(queue, committed_db, _revoked_account(committed_db))
