"""Migration 0019 on an existing database (SQLite, or PostgreSQL when configured): typed
emails, a Lead's owner (a routed social Lead keeps whom it was routed to), and Activities on
a Lead; the rows pointing at Leads survive (no table rebuild), and it goes back down."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from socialcrm.core.db import make_engine
from socialcrm.migrations import downgrade, upgrade
from tests.conftest import empty_database

STAMP = "2024-01-01 00:00:00+00"


@pytest.fixture
def empty_url(tmp_path: Path) -> Iterator[str]:
    with empty_database(tmp_path, "records_migration") as url:
        yield url


def _seed(url: str) -> None:
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO tenants (id, name, active, policy, created_at)"
                " VALUES (1, 't', true, '{}', :at)"
            ),
            {"at": STAMP},
        )
        conn.execute(
            text(
                "INSERT INTO users (id, tenant_id, email, name, role, password_hash, active,"
                " created_at) VALUES (5, 1, 'a@b.c', 'A', 'agent', 'x', true, :at)"
            ),
            {"at": STAMP},
        )
        for lead_id in (1, 2):
            conn.execute(
                text(
                    "INSERT INTO leads (id, tenant_id, name, source, status, notes, created_at,"
                    " updated_at) VALUES (:id, 1, 'L', 'social:x:mention', 'new', '', :at, :at)"
                ),
                {"id": lead_id, "at": STAMP},
            )
        conn.execute(
            text(
                "INSERT INTO listening_social_leads (tenant_id, lead_id, network, author_user_id,"
                " author_handle, form_id, assignee_id, routing_reason, created_at)"
                " VALUES (1, 1, 'x', '42', 'p', '', 5, 'rule owner', :at)"
            ),
            {"at": STAMP},
        )
        conn.execute(
            text(
                "INSERT INTO activities (tenant_id, kind, subject, body, external_id, created_at,"
                " updated_at) VALUES (1, 'note', 's', 'b', '', :at, :at)"
            ),
            {"at": STAMP},
        )
    engine.dispose()


def test_0019_adds_the_columns_backfills_owners_and_goes_back_down(empty_url: str) -> None:
    upgrade(empty_url, "0019-1")
    _seed(empty_url)
    upgrade(empty_url)
    engine = make_engine(empty_url)
    with engine.connect() as conn:
        owners = dict(conn.execute(text("SELECT id, owner_id FROM leads ORDER BY id")).all())
        assert owners == {1: 5, 2: None}
        assert conn.execute(text("SELECT count(*) FROM activities")).scalar() == 1
        assert conn.execute(text("SELECT count(*) FROM listening_social_leads")).scalar() == 1
    columns = {c["name"] for c in inspect(engine).get_columns("contacts")}
    assert "email_types" in columns
    engine.dispose()

    downgrade(empty_url, "0019-1")
    engine = make_engine(empty_url)
    inspector = inspect(engine)
    assert "owner_id" not in {c["name"] for c in inspector.get_columns("leads")}
    assert "lead_id" not in {c["name"] for c in inspector.get_columns("activities")}
    assert "email_types" not in {c["name"] for c in inspector.get_columns("contacts")}
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM leads")).scalar() == 2
    engine.dispose()
    upgrade(empty_url)  # and up again
