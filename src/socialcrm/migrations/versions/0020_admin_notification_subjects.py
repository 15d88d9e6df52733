"""notifications: the thing a notice is about, so a resolved thing clears its notices

A "needs reconnecting" notice names its account, a "first response overdue" notice its
Ticket; when the account is reconnected or the Ticket answered, the notices about it go.
Existing notices name nothing (they clear by age only).

The columns are nullable, so SQLite adds them in place (no table rebuild).

Revision ID: 0020
Revises: 0010
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("notifications", sa.Column("subject_type", sa.String(40), nullable=True))
    op.add_column("notifications", sa.Column("subject_id", sa.String(64), nullable=True))
    op.create_index(
        "ix_notifications_subject", "notifications", ["subject_type", "subject_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_notifications_subject", table_name="notifications")
    for name in ("subject_id", "subject_type"):
        op.drop_column("notifications", name)  # in place on SQLite too (ALTER TABLE DROP COLUMN)
