"""contact search: a trigram index behind `GET /api/contacts?q=`

SQLite: an external-content FTS5 table with the trigram tokenizer, kept in step by triggers.
PostgreSQL: a GIN trigram index (pg_trgm), which plain `LIKE '%…%'` uses; when the extension
cannot be created (no privilege) the search still works, unindexed.

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SQLITE_UP = [
    "CREATE VIRTUAL TABLE contacts_search USING fts5("
    "search_text, content='contacts', content_rowid='id', tokenize='trigram')",
    "CREATE TRIGGER contacts_search_ai AFTER INSERT ON contacts BEGIN "
    "INSERT INTO contacts_search(rowid, search_text) VALUES (new.id, new.search_text); END",
    "CREATE TRIGGER contacts_search_ad AFTER DELETE ON contacts BEGIN "
    "INSERT INTO contacts_search(contacts_search, rowid, search_text) "
    "VALUES ('delete', old.id, old.search_text); END",
    "CREATE TRIGGER contacts_search_au AFTER UPDATE OF search_text ON contacts BEGIN "
    "INSERT INTO contacts_search(contacts_search, rowid, search_text) "
    "VALUES ('delete', old.id, old.search_text); "
    "INSERT INTO contacts_search(rowid, search_text) VALUES (new.id, new.search_text); END",
    "INSERT INTO contacts_search(contacts_search) VALUES ('rebuild')",
]
SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS contacts_search_au",
    "DROP TRIGGER IF EXISTS contacts_search_ad",
    "DROP TRIGGER IF EXISTS contacts_search_ai",
    "DROP TABLE IF EXISTS contacts_search",
]


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for statement in SQLITE_UP:
            op.execute(statement)
        return
    if bind.dialect.name == "postgresql":
        try:
            with bind.begin_nested():
                bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public"))
        except sa.exc.DBAPIError:
            return  # no privilege: search stays a sequential scan
        schema = bind.scalar(
            sa.text(
                "SELECT n.nspname FROM pg_extension e "
                "JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm'"
            )
        )
        op.execute(
            "CREATE INDEX IF NOT EXISTS ix_contacts_search_trgm "
            f'ON contacts USING gin (search_text "{schema}".gin_trgm_ops)'
        )


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for statement in SQLITE_DOWN:
            op.execute(statement)
    elif bind.dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_contacts_search_trgm")
