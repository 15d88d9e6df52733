"""Migration 0014 on an existing database (SQLite, or PostgreSQL when configured): a job left
``running`` by a worker that died before chunk leases existed gets its chunk rows, so the
first sweep resumes it; finished jobs get none; the migration also goes back down."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import column, inspect, table, text

from socialcrm.core.db import Database, make_engine
from socialcrm.discovery import chunks
from socialcrm.migrations import downgrade, upgrade
from tests.conftest import empty_database

STAMP = "2024-01-01 00:00:00+00"
TENANTS = table("tenants", *map(column, ("id", "name", "active", "policy", "created_at")))


def _seed(url: str) -> None:
    """Before 0014: a job stuck ``running`` at 1 of 3 items (two chunks), a completed one."""
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(
            TENANTS.insert().values(id=1, name="t", active=True, policy="{}", created_at=STAMP)
        )
        for job_id, status in (("a" * 36, "running"), ("b" * 36, "completed")):
            conn.execute(
                text(
                    "INSERT INTO discovery_jobs (id, tenant_id, job_type, status, items_count,"
                    " dropped_count, ef_cost, chunks_total, processed_count, found_count,"
                    " failed_count, input_columns, error, created_by, created_at)"
                    " VALUES (:id, 1, 'socials', :status, 3, 0, 0.00165, 2, 1, 1, 0, '[]',"
                    " '', 'test', :at)"
                ),
                {"id": job_id, "status": status, "at": STAMP},
            )
            for position, chunk in ((0, 0), (1, 0), (2, 1)):
                conn.execute(
                    text(
                        "INSERT INTO discovery_items (tenant_id, job_id, position, chunk, data,"
                        " site_url, http_fallback, status, profiles, failure, failure_detail,"
                        " pages) VALUES (1, :job, :position, :chunk, '{}', 'https://a.example/',"
                        " false, :status, '{}', '', '', 0)"
                    ),
                    {
                        "job": job_id,
                        "position": position,
                        "chunk": chunk,
                        "status": "done" if position == 0 or status == "completed" else "pending",
                    },
                )
    engine.dispose()


def test_jobs_left_running_get_chunks_to_resume_and_the_migration_goes_down(
    tmp_path: Path,
) -> None:
    with empty_database(tmp_path, "chunk_migration") as url:
        _migrate_up_and_down(url)


def _migrate_up_and_down(empty_url: str) -> None:
    upgrade(empty_url, "0004")
    upgrade(empty_url, "0010")
    _seed(empty_url)
    upgrade(empty_url)
    db = Database(make_engine(empty_url))
    try:
        assert sorted((job[0], chunk) for _, job, chunk in chunks.chunks_to_resume(db)) == [
            ("a", 0),
            ("a", 1),
        ]
        assert chunks.chunks_to_resume(db) == []  # enqueued once
    finally:
        db.engine.dispose()
    downgrade(empty_url, "0010")
    engine = make_engine(empty_url)
    try:
        assert "discovery_chunks" not in inspect(engine).get_table_names()
        assert "discovery_items" in inspect(engine).get_table_names()
    finally:
        engine.dispose()
    upgrade(empty_url)
