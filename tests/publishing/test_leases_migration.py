"""Migration 0013 (leases) on an existing database, SQLite or PostgreSQL: a target already in
``publishing`` starts its look-up window at its claim and is free to be taken over; the way
down drops only the new columns."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from socialcrm.connections.models import Ownership, SocialAccount
from socialcrm.core.db import Database, make_engine
from socialcrm.migrations import downgrade, upgrade
from socialcrm.publishing.models import PostTarget, ScheduledPost, TargetStatus
from socialcrm.tenancy.service import get_or_create_tenant
from tests.conftest import empty_database

CLAIMED = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
NEW = {
    "pub_targets": {"lease_owner", "lease_until", "started_at"},
    "pub_metrics_pacing": {"lease_owner", "lease_until", "requested_at"},
    "listening_webhook_deliveries": {"lease_owner", "lease_until"},
}


@pytest.fixture
def url(tmp_path: Path) -> Iterator[str]:
    with empty_database(tmp_path, "leases_migration") as url:
        yield url


def _columns(url: str) -> dict[str, set[str]]:
    engine = make_engine(url)
    try:
        return {t: {c["name"] for c in inspect(engine).get_columns(t)} for t in NEW}
    finally:
        engine.dispose()


def _seed(url: str) -> None:
    db = Database(make_engine(url))
    with db.session(system=True) as session:
        tenant = get_or_create_tenant(session, "Migrating")
        account = SocialAccount(
            tenant_id=tenant.id,
            provider="x",
            external_user_id="1",
            handle="ada",
            ownership=Ownership.BRAND,
        )
        post = ScheduledPost(tenant_id=tenant.id, text="In flight")
        session.add_all([account, post])
        session.flush()
        session.add(
            PostTarget(
                tenant_id=tenant.id,
                post_id=post.id,
                social_account_id=account.id,
                network="x",
                text="In flight",
                status=TargetStatus.PUBLISHING,
                claimed_at=CLAIMED,
            )
        )
    db.engine.dispose()


def test_0013_adds_leases_and_goes_back_down(url: str) -> None:
    upgrade(url)
    _seed(url)
    downgrade(url, "0013-1")
    assert all(not (have & NEW[t]) for t, have in _columns(url).items())
    upgrade(url)
    assert all(NEW[t] <= have for t, have in _columns(url).items())
    engine = make_engine(url)
    status = next(
        c for c in inspect(engine).get_columns("engage_messages") if c["name"] == "status"
    )
    assert status["type"].length == 20  # room for "unconfirmed"
    with engine.connect() as conn:
        row = conn.execute(text("SELECT status, started_at, lease_until FROM pub_targets")).one()
    engine.dispose()
    started = row[1] if isinstance(row[1], datetime) else datetime.fromisoformat(str(row[1]))
    assert row[0] == "publishing" and row[2] is None  # free: the dispatcher takes it over
    assert started.replace(tzinfo=started.tzinfo or UTC) == CLAIMED
