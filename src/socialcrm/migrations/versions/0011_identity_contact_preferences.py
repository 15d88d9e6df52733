"""contacts: preferred channel, language and when the profile data last changed

The identity resolve answer carries a Contact's preferences (channel, language) and tells an
agent when its profile data changed recently. ``profile_updated_at`` moves only when a person
(or an import) changes profile data, not when the identity graph writes a handle back, so it
is a column of its own; existing Contacts take their ``updated_at``.

The columns are nullable, so SQLite adds them in place: no rebuild of ``contacts``, whose
search triggers (0002) a rebuild would drop.

Revision ID: 0011
Revises: 0010
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import socialcrm.core.db

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("contacts", sa.Column("preferred_channel", sa.String(20), nullable=True))
    op.add_column("contacts", sa.Column("language", sa.String(35), nullable=True))
    op.add_column(
        "contacts",
        sa.Column(
            "profile_updated_at", socialcrm.core.db.UTCDateTime(timezone=True), nullable=True
        ),
    )
    op.execute("UPDATE contacts SET profile_updated_at = updated_at")


def downgrade() -> None:
    for name in ("profile_updated_at", "language", "preferred_channel"):
        op.drop_column("contacts", name)  # in place on SQLite too (ALTER TABLE DROP COLUMN)
