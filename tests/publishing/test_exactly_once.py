"""Exactly once with several workers racing on a committed database (SQLite or PostgreSQL),
through threads and through real queue consumers (embedded SQLite queue, Redis)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from huey.api import TaskWrapper
from sqlalchemy import Engine, select, update

from socialcrm.core.db import Database, utcnow
from socialcrm.core.principal import Principal, Role
from socialcrm.core.queue import make_huey
from socialcrm.core.settings import Settings
from socialcrm.publishing import compose, sending
from socialcrm.publishing import tasks as publishing_tasks
from socialcrm.publishing.models import PostTarget, TargetStatus
from socialcrm.tenancy.models import Tenant
from socialcrm.tenancy.service import create_api_key
from tests.conftest import committed_tenant
from tests.publishing.conftest import connect_brand, sandbox_posts

POSTS_PER_ACCOUNT = 8


@pytest.fixture
def committed(
    committed_engine: Engine, sandbox: object
) -> Iterator[tuple[Database, int, list[int]]]:
    """A tenant with three brand accounts, committed for real; removed afterwards."""
    db = Database(committed_engine)
    with committed_tenant(db, "Exactly once") as tenant_id:
        with db.session(system=True) as session:
            tenant = session.get(Tenant, tenant_id)
            assert tenant is not None
            key = create_api_key(session, tenant=tenant, role=Role.ADMIN)[1]
        from socialcrm.app import create_app

        with TestClient(create_app()) as client:
            client.headers["Authorization"] = f"Bearer {key}"
            accounts = [int(connect_brand(client, n)["id"]) for n in ("x", "mastodon", "bluesky")]
        yield db, tenant_id, accounts


def _due_now(db: Database, tenant_id: int, accounts: list[int]) -> list[int]:
    """Compose posts scheduled a minute ahead, then move their time into the past."""
    principal = Principal(tenant_id=tenant_id, role=Role.ADMIN, user_id=None, api_key_id=0)
    local = (utcnow() + timedelta(minutes=5)).replace(tzinfo=None)
    with db.session(tenant_id=tenant_id) as session:
        for n in range(POSTS_PER_ACCOUNT):
            compose.compose(
                session,
                principal,
                compose.Composition(
                    text=f"Race {n}",
                    targets=[compose.TargetSpec(a, f"Race {n} on {a}") for a in accounts],
                    action="schedule",
                    local_time=local,
                    time_zone="UTC",
                ),
            )
        session.execute(
            update(PostTarget)
            .values(due_at=utcnow() - timedelta(seconds=1))
            .execution_options(synchronize_session=False)
        )
        return list(session.scalars(select(PostTarget.id)))


def _assert_each_published_once(
    db: Database, tenant_id: int, target_ids: list[int], sandbox: object
) -> None:
    with db.session(tenant_id=tenant_id) as session:
        targets = list(session.scalars(select(PostTarget).where(PostTarget.id.in_(target_ids))))
    assert {t.status for t in targets} == {TargetStatus.PUBLISHED}
    assert all(t.attempts == 1 for t in targets)
    on_network = Counter(p["text"] for p in sandbox_posts(sandbox))
    assert sum(on_network.values()) == len(target_ids)
    assert set(on_network.values()) == {1}
    assert len({t.external_id for t in targets}) == len(target_ids)


def test_four_racing_workers_publish_each_target_exactly_once(
    committed: tuple[Database, int, list[int]], sandbox: object
) -> None:
    db, tenant_id, accounts = committed
    target_ids = _due_now(db, tenant_id, accounts)

    due = sending.due_targets(db, utcnow())
    assert sorted(target_id for _, target_id in due) == sorted(target_ids)

    def worker(n: int) -> Counter[str]:
        outcomes: Counter[str] = Counter()
        # Every worker walks the whole due list: maximal contention on every claim.
        for tid, target_id in due:
            outcomes[sending.publish_target(db, tid, target_id, worker=f"w{n}")] += 1
        return outcomes

    with ThreadPoolExecutor(max_workers=4) as pool:
        totals = sum((f.result() for f in [pool.submit(worker, n) for n in range(4)]), Counter())
    assert totals["published"] == len(target_ids)
    assert totals["published"] + totals["skipped"] == 4 * len(target_ids)
    _assert_each_published_once(db, tenant_id, target_ids, sandbox)


@pytest.fixture(params=["sqlite-queue", "redis-queue"])
def queue_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "redis-queue":
        return str(request.getfixturevalue("redis_url"))
    return f"sqlite:///{tmp_path}/publish-queue.db"


def test_queue_consumers_on_two_machines_publish_each_target_exactly_once(
    committed: tuple[Database, int, list[int]], sandbox: object, queue_url: str, tmp_path: Path
) -> None:
    """Each target is enqueued twice (its ETA job and the periodic dispatcher); two consumers
    with two worker threads each stand for two machines."""
    db, tenant_id, accounts = committed
    target_ids = _due_now(db, tenant_id, accounts)
    queue = make_huey(Settings(queue_url=queue_url, data_dir=tmp_path, immediate_queue=False))
    queue.flush()
    task: TaskWrapper = queue.task()(publishing_tasks.publish_target.func)
    results = [task(tenant_id, target_id) for target_id in target_ids for _ in range(2)]
    consumers = [
        queue.create_consumer(workers=2, worker_type="thread", periodic=False) for _ in range(2)
    ]
    for consumer in consumers:
        consumer.start()
    try:
        outcomes = Counter(r.get(blocking=True, timeout=60) for r in results)
    finally:
        for consumer in consumers:
            consumer.stop(graceful=True)
    assert outcomes == Counter({"published": len(target_ids), "skipped": len(target_ids)})
    _assert_each_published_once(db, tenant_id, target_ids, sandbox)
