"""social accounts: a lease that serialises token refreshes, instead of a row lock

Refreshes of one account must not overlap (X refresh tokens are single-use), but holding the
account row locked while the network answers also held SQLite's one write lock, so every other
writer waited (then failed with "database is locked"). A refresh now claims the account for a
short time in a transaction of its own, calls the network with no transaction open, and
records the new tokens in another.

The column is nullable, so SQLite adds it in place and PostgreSQL without rewriting the table.

Revision ID: 0012
Revises: 0010
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import socialcrm.core.db

revision: str = "0012"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "social_accounts",
        sa.Column(
            "refresh_claimed_until", socialcrm.core.db.UTCDateTime(timezone=True), nullable=True
        ),
    )


def downgrade() -> None:
    with op.batch_alter_table("social_accounts") as batch:
        batch.drop_column("refresh_claimed_until")
