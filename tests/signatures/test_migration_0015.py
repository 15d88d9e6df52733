"""Migration 0015 on an existing database (SQLite, or PostgreSQL when configured): Contacts'
plain phone numbers become typed, the intake columns arrive, and it all goes back down."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import column, inspect, table, text

from socialcrm.core.db import make_engine
from socialcrm.migrations import downgrade, upgrade
from tests.conftest import empty_database

STAMP = "2024-01-01 00:00:00+00"
BEFORE = {
    1: ["+44 20 7946 0958", "+1 415-555-0132"],
    2: [],
    3: [{"number": "+49 30 1234567", "type": "fax"}],  # already typed: left as it is
}


@pytest.fixture
def empty_url(tmp_path: Path) -> Iterator[str]:
    with empty_database(tmp_path, "migration_0015") as url:
        yield url


def _phones(url: str) -> dict[int, object]:
    engine = make_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT id, phones FROM contacts ORDER BY id")).all()
    engine.dispose()
    return {i: json.loads(p) if isinstance(p, str) else p for i, p in rows}


def _columns(url: str, table: str) -> set[str]:
    engine = make_engine(url)
    names = {c["name"] for c in inspect(engine).get_columns(table)}
    engine.dispose()
    return names


def test_0015_types_the_phones_adds_the_intake_columns_and_goes_back_down(
    empty_url: str,
) -> None:
    upgrade(empty_url, "0010")
    upgrade(empty_url, "0006")
    engine = make_engine(empty_url)
    with engine.begin() as conn:
        tenant = {"id": 1, "name": "t", "active": True, "policy": "{}", "created_at": STAMP}
        conn.execute(table("tenants", *map(column, tenant)).insert().values(tenant))
        for contact_id, phones in BEFORE.items():
            conn.execute(
                text(
                    "INSERT INTO contacts (id, tenant_id, name, emails, phones, company, title,"
                    " website, location, handles, tier, enrichment_consent, marketing_consent,"
                    " search_text, created_at, updated_at) VALUES (:id, 1, 'c', '[]', :phones,"
                    " '', '', '', '', '[]', 'standard', false, false, '', :at, :at)"
                ),
                {"id": contact_id, "phones": json.dumps(phones), "at": STAMP},
            )
    engine.dispose()

    upgrade(empty_url)
    assert _phones(empty_url) == {
        1: [
            {"number": "+44 20 7946 0958", "type": "business"},
            {"number": "+1 415-555-0132", "type": "business"},
        ],
        2: [],
        3: [{"number": "+49 30 1234567", "type": "fax"}],
    }
    assert {"error", "imap_uid"} <= _columns(empty_url, "received_emails")
    assert {"sync_owner", "sync_lease_until"} <= _columns(empty_url, "imap_accounts")

    downgrade(empty_url, "0010")
    assert _phones(empty_url) == {1: BEFORE[1], 2: [], 3: ["+49 30 1234567"]}
    assert not {"error", "imap_uid"} & _columns(empty_url, "received_emails")
    assert not {"sync_owner", "sync_lease_until"} & _columns(empty_url, "imap_accounts")
    upgrade(empty_url)
    assert _phones(empty_url)[3] == [{"number": "+49 30 1234567", "type": "business"}]
