"""kill -9 a real ``socialcrm worker`` mid-publish and mid-metrics: a new worker takes over
what the dead one held once its leases run out, and each item is done exactly once (SQLite
queue; SQLite or PostgreSQL database)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from huey.api import TaskWrapper
from sqlalchemy import func, select, update

from socialcrm.core.db import Database, utcnow
from socialcrm.core.principal import Principal, Role
from socialcrm.core.queue import make_huey
from socialcrm.core.settings import Settings
from socialcrm.publishing import compose
from socialcrm.publishing import tasks as publishing_tasks
from socialcrm.publishing.models import (
    EngagementDaily,
    MetricsPacing,
    PostTarget,
    ScheduledPost,
    TargetStatus,
)
from socialcrm.tenancy.service import create_api_key, get_or_create_tenant
from tests.conftest import TEST_WORLD, committed_database
from tests.publishing.conftest import connect_brand, fault, sandbox_posts
from tests.worker_process import wait_for, worker_env, workers

POSTS = 16
MEASURED = 40


@pytest.fixture
def world(request: pytest.FixtureRequest, sandbox: Any) -> Iterator[dict[str, Any]]:
    """The sandbox's world for the test (loaded before anything connects to it)."""
    world: dict[str, Any] = json.loads(TEST_WORLD.read_text())
    change = getattr(request, "param", None)
    if change is not None:
        change(world)
    yield world
    sandbox.load_world(json.loads(TEST_WORLD.read_text()))


@pytest.fixture
def brand_x(
    tmp_path: Path, sandbox: Any, world: dict[str, Any]
) -> Iterator[tuple[Database, str, int, int]]:
    """A committed database of its own with an X brand account: (db, url, tenant, account)."""
    sandbox.load_world(world)
    with committed_database(tmp_path, "kill_publish") as (db, url):
        with db.session(system=True) as session:
            tenant = get_or_create_tenant(session, "Kill Publishing")
            _, key = create_api_key(session, tenant=tenant)
            tenant_id = tenant.id
        from socialcrm.app import create_app

        with TestClient(create_app()) as api:
            api.headers["Authorization"] = f"Bearer {key}"
            account_id = int(connect_brand(api, "x")["id"])
        yield db, url, tenant_id, account_id


def _statuses(db: Database) -> Counter[str]:
    with db.session(system=True) as session:
        return Counter(session.scalars(select(PostTarget.status)))


def test_a_killed_worker_mid_publish_publishes_each_target_exactly_once(
    brand_x: tuple[Database, str, int, int], sandbox: Any, tmp_path: Path
) -> None:
    db, url, tenant_id, account_id = brand_x
    principal = Principal(tenant_id=tenant_id, role=Role.ADMIN, user_id=None, api_key_id=0)
    local = (utcnow() + timedelta(minutes=5)).replace(tzinfo=None)
    with db.session(tenant_id=tenant_id) as session:
        for n in range(POSTS):
            compose.compose(
                session,
                principal,
                compose.Composition(
                    text=f"Kill {n}",
                    targets=[compose.TargetSpec(account_id)],
                    action="schedule",
                    local_time=local,
                ),
            )
        session.execute(update(PostTarget).values(due_at=utcnow() - timedelta(seconds=1)))
        target_ids = list(session.scalars(select(PostTarget.id)))
    # X makes each post at once and answers late: a worker killed while it waits has made the
    # post without learning its id, and X refuses a blind re-send as duplicate content.
    fault(
        sandbox, network="x", endpoint="publish", status=200, latency_ms=400, after=True, count=999
    )
    env = worker_env(url, tmp_path, SOCIALCRM_SANDBOX_URL=sandbox.url)
    queue = make_huey(Settings(queue_url=env["SOCIALCRM_QUEUE_URL"], immediate_queue=False))
    task: TaskWrapper = queue.task()(publishing_tasks.publish_target.func)
    for target_id in target_ids:
        task(tenant_id, target_id)
    with workers(env, tmp_path / "worker.log") as running:
        running.start()
        wait_for(
            lambda: _statuses(db),
            lambda s: s["published"] >= 4 and s["publishing"] >= 1,
            90,
        )
        running.kill9()
        at_kill = _statuses(db)
        assert at_kill["publishing"] >= 1  # held by the dead worker: nobody else may touch it
        assert at_kill["published"] < POSTS
        running.start()
        wait_for(lambda: _statuses(db), lambda s: s["published"] == POSTS, 120)
    with db.session(system=True) as session:
        targets = list(session.scalars(select(PostTarget)))
    on_network = {p["text"]: p["id"] for p in sandbox_posts(sandbox, "x")}
    assert len(on_network) == POSTS == len(sandbox_posts(sandbox, "x"))  # one post each
    assert {t.text: t.external_id for t in targets} == on_network  # each adopted or published
    assert sum(t.attempts for t in targets) >= POSTS + at_kill["publishing"]


def _add_measured_posts(world: dict[str, Any]) -> None:
    for person in world["people"]:
        for account in person["accounts"]:
            if account["network"] == "x" and account["handle"] == "ada":
                account["posts"] += [
                    {
                        "id": str(95000 + i),
                        "text": f"Measured {i}",
                        "created_at": "2026-01-01T00:00:00Z",
                        "like_count": i + 1,
                        "repost_count": 2,
                        "impression_count": 100,
                    }
                    for i in range(MEASURED)
                ]


def _metrics_state(db: Database) -> tuple[int, bool]:
    with db.session(system=True) as session:
        read = session.scalar(
            select(func.count()).select_from(PostTarget).where(PostTarget.metrics_at.is_not(None))
        )
        pending = session.scalar(
            select(func.count())
            .select_from(MetricsPacing)
            .where(MetricsPacing.requested_at.is_not(None))
        )
    return int(read or 0), bool(pending)


@pytest.mark.parametrize("world", [_add_measured_posts], indirect=True)
def test_a_killed_worker_mid_metrics_counts_each_post_once(
    brand_x: tuple[Database, str, int, int], sandbox: Any, tmp_path: Path
) -> None:
    db, url, tenant_id, account_id = brand_x
    now = utcnow()
    with db.session(tenant_id=tenant_id) as session:
        posts = [ScheduledPost(text=f"Measured {i}") for i in range(MEASURED)]
        session.add_all(posts)
        session.flush()
        session.add_all(
            PostTarget(
                post_id=post.id,
                social_account_id=account_id,
                network="x",
                text=post.text,
                status=TargetStatus.PUBLISHED,
                external_id=str(95000 + i),
                published_at=now,
            )
            for i, post in enumerate(posts)
        )
        # A cycle asked for a while ago whose task is gone (as after a kill): found at start.
        session.add(
            MetricsPacing(social_account_id=account_id, requested_at=now - timedelta(minutes=2))
        )
    fault(sandbox, network="x", endpoint="metrics", status=200, latency_ms=150, count=999)
    env = worker_env(url, tmp_path, SOCIALCRM_SANDBOX_URL=sandbox.url)
    with workers(env, tmp_path / "worker.log") as running:
        running.start()
        read, _ = wait_for(lambda: _metrics_state(db), lambda s: s[0] >= 10, 90)
        running.kill9()
        read, pending = _metrics_state(db)
        assert pending and read < MEASURED  # the dead worker's cycle, unfinished
        running.start()
        wait_for(lambda: _metrics_state(db), lambda s: s == (MEASURED, False), 120)
    with db.session(system=True) as session:
        likes = dict(session.execute(select(PostTarget.external_id, PostTarget.likes)).all())
        daily = dict(
            session.execute(
                select(PostTarget.external_id, func.sum(EngagementDaily.likes))
                .join(EngagementDaily, EngagementDaily.target_id == PostTarget.id)
                .group_by(PostTarget.external_id)
            ).all()
        )
    expected = {str(95000 + i): i + 1 for i in range(MEASURED)}
    assert likes == expected  # every post read
    assert {k: int(v) for k, v in daily.items()} == expected  # each change counted once
