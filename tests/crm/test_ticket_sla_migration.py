"""Migration 0010 on an existing database (SQLite, or PostgreSQL when configured): the SLA
clock columns arrive, existing social Tickets get their due time and first response, and
old overdue Tickets are marked breached without escalating; it also goes back down."""

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
    with empty_database(tmp_path, "sla_migration") as url:
        yield url


def _seed(url: str) -> None:
    """Before 0010: four social Tickets, one answered through engage, one closed."""
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO tenants (id, name, active, policy, created_at)"
                " VALUES (1, 't', true, '{}', :at)"
            ),
            {"at": STAMP},
        )
        for ticket_id, status, due in [
            (1, "open", "2024-01-01 08:00:00+00"),  # overdue, unanswered
            (2, "open", "2024-01-01 08:00:00+00"),  # answered by engage
            (3, "closed", "2024-01-01 08:00:00+00"),  # handled without a reply
            (4, "open", "2999-01-01 00:00:00+00"),  # still running
        ]:
            conn.execute(
                text(
                    "INSERT INTO tickets (id, tenant_id, subject, description, status, priority,"
                    " queue, created_at, updated_at)"
                    " VALUES (:id, 1, 's', '', :status, 'low', 'general', :at, :updated)"
                ),
                {
                    "id": ticket_id,
                    "status": status,
                    "at": STAMP,
                    "updated": "2024-01-02 00:00:00+00",
                },
            )
            conn.execute(
                text(
                    "INSERT INTO listening_social_tickets (tenant_id, ticket_id, network,"
                    " conversation_id, tier, first_response_due_at, created_at)"
                    " VALUES (1, :id, 'x', 'c', 'guest', :due, :at)"
                ),
                {"id": ticket_id, "due": due, "at": STAMP},
            )
        conn.execute(
            text(
                "INSERT INTO engage_ticket_first_responses (tenant_id, ticket_id, responded_at)"
                " VALUES (1, 2, '2024-01-01 01:00:00+00')"
            )
        )
    engine.dispose()


def test_0010_adds_and_backfills_the_sla_clock_and_goes_back_down(empty_url: str) -> None:
    upgrade(empty_url, "0009")
    upgrade(empty_url, "0008")
    _seed(empty_url)
    upgrade(empty_url)
    engine = make_engine(empty_url)
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT id, first_response_due_at IS NOT NULL, first_responded_at IS NOT NULL,"
                " sla_breached_at IS NOT NULL FROM tickets ORDER BY id"
            )
        ).all()
    assert [tuple(bool(v) if i else v for i, v in enumerate(r)) for r in rows] == [
        (1, True, False, True),  # marked breached, quietly
        (2, True, True, False),
        (3, True, True, False),
        (4, True, False, False),
    ]
    indexes = {ix["name"] for ix in inspect(engine).get_indexes("tickets")}
    assert "ix_tickets_sla_running" in indexes
    social = {c["name"] for c in inspect(engine).get_columns("listening_social_tickets")}
    assert "first_response_due_at" not in social  # one clock: the Ticket's
    engine.dispose()

    downgrade(empty_url, "0009")
    engine = make_engine(empty_url)
    columns = {c["name"] for c in inspect(engine).get_columns("tickets")}
    assert not columns & {"first_response_due_at", "first_responded_at", "sla_breached_at"}
    with engine.connect() as conn:  # the Tickets themselves survive the way down
        assert conn.execute(text("SELECT count(*) FROM tickets")).scalar() == 4
        restored = conn.execute(
            text(
                "SELECT count(*) FROM listening_social_tickets WHERE first_response_due_at IS NULL"
            )
        ).scalar()
        assert restored == 0  # the social Tickets' due times are back
    engine.dispose()
    upgrade(empty_url)
