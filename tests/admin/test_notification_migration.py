"""Migration 0020 on an existing database (SQLite, or PostgreSQL when configured): existing
notices keep everything and name no subject; the new columns go again on the way down."""

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
    with empty_database(tmp_path, "notification_subjects") as url:
        yield url


def columns(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return {c["name"] for c in inspect(engine).get_columns("notifications")}
    finally:
        engine.dispose()


def test_0020_adds_the_subject_to_existing_notices_and_goes_back_down(empty_url: str) -> None:
    upgrade(empty_url, "0010")
    engine = make_engine(empty_url)
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
                "INSERT INTO notifications (tenant_id, kind, message, link, created_at)"
                " VALUES (1, 'reconnect_required', 'reconnect @a', '/connections#account-1', :at)"
            ),
            {"at": STAMP},
        )
    engine.dispose()

    upgrade(empty_url, "0020")
    assert {"subject_type", "subject_id"} <= columns(empty_url)
    engine = make_engine(empty_url)
    with engine.connect() as conn:
        row = conn.execute(
            text("SELECT kind, message, link, subject_type, subject_id FROM notifications")
        ).one()
    engine.dispose()
    assert tuple(row) == (
        "reconnect_required",
        "reconnect @a",
        "/connections#account-1",
        None,
        None,
    )

    downgrade(empty_url, "0020-1")
    assert not {"subject_type", "subject_id"} & columns(empty_url)
    upgrade(empty_url)  # and up again, with every other branch
    assert {"subject_type", "subject_id"} <= columns(empty_url)
