"""Migration 0011 on an existing database (SQLite, or PostgreSQL when configured): Contacts
get a preferred channel, a language and ``profile_updated_at`` (from ``updated_at``), the
contact search still works, and it goes back down."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import inspect, text

from socialcrm.core.db import make_engine
from socialcrm.migrations import downgrade, upgrade
from tests.conftest import empty_database

UPDATED = "2024-01-02 00:00:00+00"


def test_0011_adds_the_contact_preferences_and_goes_back_down(tmp_path: Path) -> None:
    with empty_database(tmp_path, "preferences_migration") as url:
        upgrade(url, "0010")
        engine = make_engine(url)
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO tenants (id, name, active, policy, created_at)"
                    " VALUES (1, 't', true, '{}', :at)"
                ),
                {"at": UPDATED},
            )
            conn.execute(
                text(
                    "INSERT INTO contacts (id, tenant_id, name, emails, phones, company, title,"
                    " website, location, handles, tier, enrichment_consent, marketing_consent,"
                    " search_text, created_at, updated_at) VALUES (1, 1, 'Ada', '[]', '[]', '',"
                    " '', '', '', '[]', 'gold', false, false, 'ada lovelace', :at, :at)"
                ),
                {"at": UPDATED},
            )
        engine.dispose()

        upgrade(url)
        engine = make_engine(url)
        with engine.connect() as conn:
            row = conn.execute(
                text(
                    "SELECT preferred_channel, language, profile_updated_at = updated_at"
                    " FROM contacts WHERE id = 1"
                )
            ).one()
            assert (row[0], row[1], bool(row[2])) == (None, None, True)
        engine.dispose()

        downgrade(url, "0010")
        engine = make_engine(url)
        columns = {c["name"] for c in inspect(engine).get_columns("contacts")}
        assert not columns & {"preferred_channel", "language", "profile_updated_at"}
        with engine.connect() as conn:
            assert conn.execute(text("SELECT name FROM contacts")).scalar() == "Ada"
        engine.dispose()
        upgrade(url)
